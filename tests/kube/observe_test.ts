import { assert } from "../_assert.ts";
import { unchangedSinceApplied } from "../../lib/kube/observe.ts";
import type { KubeObject } from "../../lib/kube/types.ts";

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
