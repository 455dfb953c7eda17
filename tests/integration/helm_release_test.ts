/**
 * A Helm-based step installs the objects its plan holds: a marker added to the
 * planned Deployment after planning reaches the cluster and the release's manifest
 * (`helm get manifest`), which it would not if apply rendered the chart again. The
 * NFS provisioner chart, as a non-default class, on the shared control plane.
 */

import { assertEquals, assertMatch } from "../_assert.ts";
import { withNfsRelease } from "./_nfs_release.ts";
import { findHelm, helmGetManifest } from "../../lib/tools/helm.ts";
import { sharedChart } from "../_shared.ts";
import { useCluster } from "../cluster/harness.ts";
import { createKubeClient } from "../../lib/kube/client.ts";
import { planRelease } from "../../lib/steps/helm_release.ts";
import type { StepContext } from "../../lib/engine/types.ts";

const MARKER = "kfplan.test/from-the-plan";

Deno.test({
  name:
    "helm release: apply installs the planned manifest, a marker added to the plan included",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withNfsRelease(
      "nfs-plan",
      async (
        { cluster, kube, helm, namespace, release, workDir, step, context },
      ) => {
        const plan = await step.plan(context());
        const deployment = plan.desired?.find((o) => o.kind === "Deployment");
        assertEquals(deployment?.metadata.namespace, namespace);
        deployment!.metadata.labels = {
          ...deployment!.metadata.labels,
          [MARKER]: "yes",
        };
        const outputs = await step.apply(context(), plan);
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
        await step.apply(context(), byHand);
        const again = await kube.get({
          apiVersion: "apps/v1",
          kind: "Deployment",
          namespace,
          name: deployment!.metadata.name,
        });
        assertEquals(again?.metadata.labels?.[MARKER], undefined);
        assertMatch(String(again?.metadata.labels?.app), /nfs/);
      },
    ),
});

Deno.test("helm release: a namespace label another tool set is a conflict in the plan, taken only with --force-conflicts", async () => {
  const cluster = await useCluster();
  const namespace = `lb-${crypto.randomUUID().slice(0, 6)}`;
  // Made by hand first: `kubectl apply --server-side` writes as "kubectl".
  const kubectl = createKubeClient({
    kubeconfig: cluster.kubeconfig,
    fieldManager: "kubectl",
  });
  await kubectl.apply({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: namespace,
      labels: { "pod-security.kubernetes.io/enforce": "baseline" },
    },
  });
  const spec = {
    release: "metallb",
    namespace,
    chart: { path: sharedChart("metallb-0.15.3") },
    values: { speaker: { enabled: false } },
    namespaceLabels: { "pod-security.kubernetes.io/enforce": "privileged" },
  };
  const ctx = (policy?: StepContext["policy"]): StepContext => ({
    kube: cluster.kube,
    offline: false,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: Deno.makeTempDirSync(),
    signal: new AbortController().signal,
    policy,
  });
  try {
    const helm = await findHelm();
    const plan = await planRelease(ctx(), spec, {
      helm,
      kubeconfig: cluster.kubeconfig,
    });
    const ns = plan.changes[0];
    assertEquals([ns.kind, ns.name, ns.action], [
      "Namespace",
      namespace,
      "update",
    ]);
    assertEquals(ns.blocked, true);
    assertMatch(
      ns.reason ?? "",
      /pod-security\.kubernetes\.io\/enforce.*"kubectl".*--force-conflicts/,
    );
    // Chart objects are helm's to apply: none of them is judged by kfplan's manager.
    assertEquals(plan.changes.filter((c) => c.blocked).length, 1);
    const forced = await planRelease(ctx({ forceConflicts: true }), spec, {
      helm,
      kubeconfig: cluster.kubeconfig,
      rendered: plan.rendered,
    });
    assertEquals(forced.changes[0].blocked, undefined);
    assertMatch(forced.changes[0].reason ?? "", /taken by --force-conflicts/);
  } finally {
    await cluster.kube.delete({
      apiVersion: "v1",
      kind: "Namespace",
      name: namespace,
    });
  }
});
