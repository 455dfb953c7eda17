/**
 * A Helm-based step installs the objects its plan holds: a marker added to the
 * planned Deployment after planning reaches the cluster and the release's manifest
 * (`helm get manifest`), which it would not if apply rendered the chart again. The
 * NFS provisioner chart, as a non-default class, on the shared control plane.
 */

import { assertEquals, assertMatch } from "../_assert.ts";
import { withNfsRelease } from "./_nfs_release.ts";
import { helmGetManifest } from "../../lib/tools/helm.ts";

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
