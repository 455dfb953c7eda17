/**
 * Engine overheads at Kubeflow scale (611 objects, the v1.10.2 example):
 * planning + canonical JSON, human rendering, and durable checkpoint writes.
 *
 *     deno bench -A bench/engine_bench.ts
 *
 * @module
 */

import { CheckpointStore } from "../lib/engine/checkpoint.ts";
import { planSteps } from "../lib/engine/planner.ts";
import { serializePlanDocument } from "../lib/engine/plan_document.ts";
import { renderPlan } from "../lib/cli/render_plan.ts";
import {
  emptyPlan,
  type ResourceChange,
  type Step,
} from "../lib/engine/types.ts";

const KINDS = [
  "Deployment",
  "Service",
  "ConfigMap",
  "ServiceAccount",
  "Role",
  "RoleBinding",
];

function changes(n: number, action: "create" | "update"): ResourceChange[] {
  return Array.from({ length: n }, (_, i) => ({
    apiVersion: i % 6 === 0 ? "apps/v1" : "v1",
    kind: KINDS[i % KINDS.length],
    namespace: `ns-${i % 20}`,
    name: `object-${i}`,
    action,
    diff: action === "update"
      ? [{ path: "spec.replicas", before: 1, after: 2 }]
      : [],
  }));
}

function bigStep(action: "create" | "update"): Step {
  const planned = changes(611, action);
  return {
    id: "kubeflow",
    title: "Kubeflow manifests",
    needs: [],
    options: { version: "v1.10.2" },
    plan: () =>
      Promise.resolve({
        ...emptyPlan(),
        changes: planned,
        observed: planned.map((c) => ({
          ...c,
          resourceVersion: "1",
          uid: c.name,
        })),
      }),
    apply: () => Promise.resolve({}),
    verify: () => Promise.resolve({ checks: [] }),
  };
}

Deno.bench("plan + serialize 611 objects", async () => {
  const { document } = await planSteps([bigStep("update")], {
    offlineReason: "bench",
  });
  serializePlanDocument(document);
});

Deno.bench("render 611 creates (grouped)", async (b) => {
  const { document } = await planSteps([bigStep("create")], {
    offlineReason: "bench",
  });
  b.start();
  renderPlan(document);
  b.end();
});

Deno.bench("render 611 updates with field diffs", async (b) => {
  const { document } = await planSteps([bigStep("update")], {
    offlineReason: "bench",
  });
  b.start();
  renderPlan(document);
  b.end();
});

Deno.bench(
  "durable checkpoint update (temp, fsync, rename, fsync dir)",
  async (b) => {
    const dir = Deno.makeTempDirSync();
    const store = await CheckpointStore.open(dir, {
      server: "bench",
      context: "bench",
    });
    b.start();
    await store.update("step", {
      status: "verified",
      options_digest: "x",
      attempts: 1,
    });
    b.end();
    Deno.removeSync(dir, { recursive: true });
  },
);
