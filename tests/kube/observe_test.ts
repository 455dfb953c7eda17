import { assert, assertEquals } from "../_assert.ts";
import {
  observingClient,
  unchangedSinceApplied,
} from "../../lib/kube/observe.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { refOf } from "../../lib/kube/object_ref.ts";

const desired: KubeObject = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "kf", labels: { app: "web" } },
  spec: { replicas: 1 },
};
const digest = (o: KubeObject) => JSON.stringify(o);
const record = {
  resourceVersion: "10",
  generation: 2,
  digest: digest(desired),
};

function live(meta: Partial<KubeObject["metadata"]>): KubeObject {
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      resourceVersion: "10",
      generation: 2,
      ...meta,
    },
  };
}

Deno.test("an object not written since kfplan applied it is unchanged", () => {
  assert(unchangedSinceApplied(live({}), desired, record, { digest }));
});

Deno.test("status-only writes keep it unchanged; spec or label changes do not", () => {
  assert(
    unchangedSinceApplied(live({ resourceVersion: "11" }), desired, record, {
      digest,
    }),
  );
  assert(
    !unchangedSinceApplied(
      live({ resourceVersion: "12", generation: 3 }),
      desired,
      record,
      { digest },
    ),
  );
  assert(
    !unchangedSinceApplied(
      live({ resourceVersion: "12", labels: { app: "other" } }),
      desired,
      record,
      { digest },
    ),
  );
});

Deno.test("a changed desired state or a kind without generation is not taken on trust", () => {
  const other = { ...desired, spec: { replicas: 2 } };
  assert(!unchangedSinceApplied(live({}), other, record, { digest }));
  const noGeneration = { resourceVersion: "10", digest: digest(desired) };
  assert(
    !unchangedSinceApplied(
      live({ resourceVersion: "11" }),
      desired,
      noGeneration,
      { digest },
    ),
  );
});

Deno.test("drift is an unchanged desired state the server would change; a config change is not drift", async () => {
  const liveWeb = live({ resourceVersion: "11", generation: 3 });
  // Only what observingClient calls: discovery, LIST, and the dry-run diff.
  const kube = {
    resourceFor: (apiVersion: string, kind: string) =>
      Promise.resolve({ apiVersion, kind, resource: "x", namespaced: true }),
    list: () => Promise.resolve([liveWeb]),
    diff: () =>
      Promise.resolve({
        action: "update" as const,
        diff: [{ path: "spec.replicas", before: 3, after: 1 }],
      }),
  } as unknown as KubeClient;
  const observed = observingClient(kube, {
    lastApplied: { "apps/v1 Deployment kf/web": record },
    digest,
  });
  await observed.diff(desired);
  assertEquals(observed.stats().drifted, ["apps/v1 Deployment kf/web"]);
  assert(observed.recorded(refOf(desired)));

  const changed = { ...desired, spec: { replicas: 2 } };
  const again = observingClient(kube, {
    lastApplied: { "apps/v1 Deployment kf/web": record },
    digest,
  });
  await again.diff(changed);
  assertEquals(again.stats().drifted, []);
});
