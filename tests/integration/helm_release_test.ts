/**
 * A Helm-based step installs the objects its plan holds: a marker added to the
 * planned Deployment after planning reaches the cluster and the release's manifest
 * (`helm get manifest`), which it would not if apply rendered the chart again. The
 * NFS provisioner chart, as a non-default class, on the shared control plane.
 */

import { assertEquals, assertMatch } from "../_assert.ts";
import { sharedChart } from "../_shared.ts";
import { useCluster } from "../cluster/harness.ts";
import type { StepContext } from "../../lib/engine/types.ts";
import type { KubeClient } from "../../lib/kube/types.ts";
import { storageStep } from "../../lib/steps/storage.ts";
import {
  findHelm,
  helmGetManifest,
  helmUninstall,
} from "../../lib/tools/helm.ts";

const MARKER = "kfplan.test/from-the-plan";

function context(workDir: string, kube: KubeClient): StepContext {
  return {
    kube,
    offline: false,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir,
    signal: new AbortController().signal,
  };
}

Deno.test({
  name:
    "helm release: apply installs the planned manifest, a marker added to the plan included",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await useCluster();
    const { kube } = cluster;
    const helm = await findHelm();
    const id = crypto.randomUUID().slice(0, 6);
    const namespace = `nfs-plan-${id}`;
    const release = `nfs-plan-${id}`;
    const workDir = await Deno.makeTempDir({ prefix: "kfplan-helm-plan-" });
    const step = storageStep({
      chart: { path: sharedChart("nfs-subdir-external-provisioner-4.0.18") },
      namespace,
      release,
      nfs: { server: "192.0.2.10", path: "/export/kfplan" },
      storageClass: { name: `nfs-plan-${id}`, default: false },
    }, { kubeconfig: cluster.kubeconfig, helm });
    try {
      const plan = await step.plan(context(workDir, kube));
      const deployment = plan.desired?.find((o) => o.kind === "Deployment");
      assertEquals(deployment?.metadata.namespace, namespace);
      deployment!.metadata.labels = {
        ...deployment!.metadata.labels,
        [MARKER]: "yes",
      };
      const outputs = await step.apply(context(workDir, kube), plan);
      assertEquals(outputs.status, "deployed");
      const live = await kube.get({
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace,
        name: deployment!.metadata.name,
      });
      assertEquals(live?.metadata.labels?.[MARKER], "yes");
      const manifest = await helmGetManifest(helm, {
        kubeconfig: cluster.kubeconfig,
        release,
        namespace,
      });
      assertEquals(
        manifest.find((o) => o.kind === "Deployment")?.metadata.labels
          ?.[MARKER],
        "yes",
      );
      // The post-renderer's scratch files (they may hold Secret values) are gone.
      assertEquals(await Array.fromAsync(Deno.readDir(workDir)), []);
      // A plan without desired objects (built by hand) still applies, from the chart.
      const { desired: _d, ...byHand } = plan;
      await step.apply(context(workDir, kube), byHand);
      const again = await kube.get({
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace,
        name: deployment!.metadata.name,
      });
      assertEquals(again?.metadata.labels?.[MARKER], undefined);
      assertMatch(String(again?.metadata.labels?.app), /nfs/);
    } finally {
      await helmUninstall(helm, {
        kubeconfig: cluster.kubeconfig,
        release,
        namespace,
      }).catch(() => false);
      await kube.delete({
        apiVersion: "v1",
        kind: "Namespace",
        name: namespace,
      })
        .catch(() => false);
      await Deno.remove(workDir, { recursive: true });
    }
  },
});
