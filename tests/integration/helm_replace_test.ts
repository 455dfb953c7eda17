/**
 * A Helm-based step carries out a `-/+` replacement: a changed Deployment selector
 * (which helm would patch and fail on) is planned as `replace` by the server's
 * dry-run answer, deleted before `helm upgrade`, and installed again by helm with
 * the new selector. The NFS provisioner chart, as a non-default class, on the shared
 * control plane.
 */

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { withNfsRelease } from "./_nfs_release.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import { planObjects } from "../../lib/kube/apply_set.ts";
import { helmGetManifest } from "../../lib/tools/helm.ts";

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
  fn: () =>
    withNfsRelease(
      "nfs-replace",
      async ({ cluster, kube, helm, namespace, release, step, context }) => {
        await step.apply(
          context(),
          await step.plan(context()),
        );
        const plan = await step.plan(context());
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

        const outputs = await step.apply(context(), plan);
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
      },
    ),
});
