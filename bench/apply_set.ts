/**
 * Plan and apply times of the Kubernetes layer on a real manifest set: cert-manager as
 * shipped in Kubeflow v1.10.2 (49 objects: 6 CRDs, RBAC, 3 Deployments, webhooks), on
 * the test control plane.
 *
 *     deno run -A bench/apply_set.ts [--manifests ../shared/kubeflow-manifests]
 *
 * Prints: planning with nothing installed (every object a dry-run create), the ordered
 * apply including CRD and webhook-backend waits and Deployment availability, and
 * re-planning the installed set (every object a no-op).
 *
 * @module
 */

import { minimist } from "../lib/deps.ts";
import { parseAllDocuments } from "../lib/deps.ts";
import { startCluster } from "../tests/cluster/harness.ts";
import { applyObjects, planObjects } from "../lib/kube/apply_set.ts";
import type { KubeObject } from "../lib/kube/types.ts";

async function main(args: string[]): Promise<number> {
  const flags = minimist(args, { string: ["manifests"] });
  const root = flags.manifests ??
    new URL("../../shared/kubeflow-manifests", import.meta.url).pathname;
  const file =
    `${root}/v1.10.2/common/cert-manager/base/upstream/cert-manager.yaml`;
  const objects = parseAllDocuments(await Deno.readTextFile(file))
    .map((d) => d.toJS() as KubeObject)
    .filter((o) => o?.kind);
  const cluster = await startCluster({});
  try {
    const time = async (label: string, fn: () => Promise<unknown>) => {
      const start = performance.now();
      const result = await fn();
      console.log(`${label}: ${Math.round(performance.now() - start)} ms`);
      return result;
    };
    const fresh = await time(
      `plan ${objects.length} objects, none installed`,
      () => planObjects(cluster.kube, objects, {}),
    ) as Awaited<ReturnType<typeof planObjects>>;
    await time(
      "apply (CRDs Established, webhook backend ready, Deployments Available)",
      () => applyObjects(cluster.kube, objects, { waitForWorkloads: true }),
    );
    const again = await time(
      "plan again, all installed",
      () => planObjects(cluster.kube, objects, {}),
    ) as Awaited<ReturnType<typeof planObjects>>;
    const count = (p: typeof fresh) =>
      Object.entries(
        p.changes.reduce<Record<string, number>>((acc, c) => {
          acc[c.action] = (acc[c.action] ?? 0) + 1;
          return acc;
        }, {}),
      ).map(([k, v]) => `${v} ${k}`).join(", ");
    console.log(`first plan: ${count(fresh)}; second plan: ${count(again)}`);
  } finally {
    await cluster.stop();
  }
  return 0;
}

if (import.meta.main) main(Deno.args).then((code) => Deno.exit(code));
