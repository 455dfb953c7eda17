/**
 * A Helm-based step carries out a `-/+` replacement: a changed Deployment selector
 * (which helm would patch and fail on) is planned as `replace` by the server's
 * dry-run answer, deleted before `helm upgrade`, and installed again by helm with
 * the new selector. The NFS provisioner chart, as a non-default class, on the shared
 * control plane.
 */

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { sharedChart } from "../_shared.ts";
import { useCluster } from "../cluster/harness.ts";
import type { StepContext } from "../../lib/engine/types.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { planObjects } from "../../lib/kube/apply_set.ts";
import { storageStep } from "../../lib/steps/storage.ts";
import {
  findHelm,
  helmGetManifest,
  helmUninstall,
} from "../../lib/tools/helm.ts";

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

/** The Deployment with `app: <app>` as its selector and pod labels. */
function relabelled(deployment: KubeObject, app: string): KubeObject {
  const copy = structuredClone(deployment);
  const spec = copy.spec as {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> } };
  };
  spec.selector.matchLabels = { ...spec.selector.matchLabels, app };
  spec.template.metadata.labels = { ...spec.template.metadata.labels, app };
  return copy;
}

Deno.test({
  name:
    "helm release: a changed Deployment selector is planned -/+ and replaced before helm upgrade",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await useCluster();
    const { kube } = cluster;
    const helm = await findHelm();
    const id = crypto.randomUUID().slice(0, 6);
    const namespace = `nfs-replace-${id}`;
    const release = `nfs-replace-${id}`;
    const workDir = await Deno.makeTempDir({ prefix: "kfplan-helm-replace-" });
    const step = storageStep({
      chart: { path: sharedChart("nfs-subdir-external-provisioner-4.0.18") },
      namespace,
      release,
      nfs: { server: "192.0.2.10", path: "/export/kfplan" },
      storageClass: { name: `nfs-replace-${id}`, default: false },
    }, { kubeconfig: cluster.kubeconfig, helm });
    try {
      await step.apply(
        context(workDir, kube),
        await step.plan(context(workDir, kube)),
      );
      const plan = await step.plan(context(workDir, kube));
      const index = plan.desired!.findIndex((o) => o.kind === "Deployment");
      const before = plan.desired![index];
      const ref = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace,
        name: before.metadata.name,
      };
      const uid = (await kube.get(ref))?.metadata.uid;
      // As a chart upgrade that renames the selector would render it.
      const moved = relabelled(before, "nfs-moved");
      plan.desired![index] = moved;
      const [change] = (await planObjects(kube, [moved])).changes;
      assertEquals(change.action, "replace");
      assertMatch(change.reason ?? "", /immutable field spec\.selector/);
      plan.changes = plan.changes.map((c) =>
        c.kind === "Deployment" ? change : c
      );

      const outputs = await step.apply(context(workDir, kube), plan);
      assertEquals(outputs.status, "deployed");
      const live = await kube.get(ref);
      assert(live && live.metadata.uid !== uid, "deleted and created again");
      assertEquals(
        (live.spec as { selector: { matchLabels: Record<string, string> } })
          .selector.matchLabels.app,
        "nfs-moved",
      );
      const manifest = await helmGetManifest(helm, {
        kubeconfig: cluster.kubeconfig,
        release,
        namespace,
      });
      assertEquals(
        (manifest.find((o) => o.kind === "Deployment")?.spec as {
          selector: { matchLabels: Record<string, string> };
        }).selector.matchLabels.app,
        "nfs-moved",
      );
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
