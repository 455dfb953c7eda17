import { assert, assertEquals } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import { applyObjects, planObjects } from "../../lib/kube/apply_set.ts";
import { observingClient } from "../../lib/kube/observe.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { canonicalJson } from "../../lib/engine/digest.ts";

function objects(ns: string): KubeObject[] {
  const configMaps = Array.from({ length: 12 }, (_, i) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `settings-${i}`, namespace: ns, labels: { app: "kf" } },
    data: { index: String(i) },
  }));
  return [
    ...configMaps,
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns, labels: { app: "kf" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "web", image: "nginx:1.27" }] },
        },
      },
    },
  ];
}

Deno.test("a plan after apply reads in bulk and dry-runs nothing, yet sees every out-of-band change", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("kfplan-observe");
  const desired = objects(ns);
  const digest = (o: KubeObject) => canonicalJson(o) ?? "";

  const applying = observingClient(kube, { digest });
  await applyObjects(applying, desired, { timeoutMs: 60_000 });
  const lastApplied = applying.appliedRecords();
  assertEquals(Object.keys(lastApplied).length, desired.length);

  // Nothing changed: one LIST per kind and namespace, no dry-run.
  const quiet = observingClient(kube, { lastApplied, digest });
  const plan = await planObjects(quiet, desired);
  assert(plan.changes.every((c) => c.action === "no-op"));
  assertEquals(quiet.stats(), {
    lists: 2,
    dryRuns: 0,
    unchanged: desired.length,
    drifted: [],
  });
  assertEquals(plan.observed.length, desired.length);
  assert(plan.observed.every((o) => o.resourceVersion && o.uid));

  // Out-of-band: a ConfigMap edited, a label removed, the Deployment scaled, a
  // ConfigMap deleted. Each is dry-run again and shows in the plan.
  await edit(kube, desired[0], (o) => ({ ...o, data: { index: "edited" } }));
  await edit(kube, desired[1], (o) => ({
    ...o,
    metadata: { ...o.metadata, labels: {} },
  }));
  await edit(kube, desired[12], (o) => ({
    ...o,
    spec: { ...(o.spec as Record<string, unknown>), replicas: 3 },
  }));
  await kube.delete(ref(desired[2]));

  const drifted = observingClient(kube, { lastApplied, digest });
  const again = await planObjects(drifted, desired);
  const changed = again.changes.filter((c) => c.action !== "no-op").map((c) =>
    `${c.action} ${c.kind} ${c.name}`
  ).sort();
  assertEquals(changed, [
    "create ConfigMap settings-2",
    "update ConfigMap settings-0",
    "update ConfigMap settings-1",
    "update Deployment web",
  ]);
  assertEquals(drifted.stats().dryRuns, 4);
  // Each of them is drift: the desired state is the one kfplan applied.
  assertEquals(drifted.stats().drifted.length, 4);
  assert(drifted.stats().drifted.some((key) => key.endsWith("/web")));

  // A desired state that changed is dry-run even though the live object did not move.
  const changedDesired = desired.map((o, i) =>
    i === 5 ? { ...o, data: { index: "new" } } : o
  );
  const next = observingClient(kube, { lastApplied, digest });
  const third = await planObjects(next, changedDesired);
  assertEquals(
    third.changes.find((c) => c.name === "settings-5")?.action,
    "update",
  );
  // A config change is not drift.
  assert(!next.stats().drifted.some((key) => key.endsWith("/settings-5")));
});

/**
 * A hand edit as `kubectl edit` makes it: read, change, replace; again when a
 * controller wrote the object in between (409).
 */
async function edit(
  kube: KubeClient,
  object: KubeObject,
  change: (live: KubeObject) => KubeObject,
): Promise<void> {
  for (let attempt = 1;; attempt++) {
    const live = await kube.get(ref(object));
    try {
      await kube.replace(change(live!));
      return;
    } catch (e) {
      if ((e as { status?: number }).status !== 409 || attempt >= 10) throw e;
    }
  }
}

function ref(o: KubeObject) {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    namespace: o.metadata.namespace,
    name: o.metadata.name,
  };
}
