import { assertEquals, assertMatch } from "../_assert.ts";
import { driftReport, renderDrift } from "../../lib/engine/drift.ts";
import type { PlanDocument } from "../../lib/engine/plan_document.ts";
import type { ObservationStats } from "../../lib/kube/observe.ts";

const change = (kind: string, name: string, action: "create" | "update") => ({
  apiVersion: kind === "Deployment" ? "apps/v1" : "v1",
  kind,
  namespace: "ns",
  name,
  action,
  diff: action === "update"
    ? [{ path: "spec.replicas", before: 3, after: 1 }]
    : [],
});

function doc(): PlanDocument {
  return {
    created_at: "2026-11-30T12:00:00.000Z",
    steps: [
      {
        id: "app",
        changes: [
          change("Deployment", "web", "update"),
          change("Service", "web", "create"),
          change("ConfigMap", "settings", "update"),
        ],
      },
      { id: "broken", changes: [], error: "no cluster" },
    ],
  } as unknown as PlanDocument;
}

const stats = (drifted: string[]): ObservationStats => ({
  lists: 1,
  dryRuns: 3,
  unchanged: 0,
  drifted,
});

Deno.test("driftReport keeps only the changes of drifted objects (config changes are not drift)", () => {
  const report = driftReport(
    doc(),
    new Map([[
      "app",
      stats(["apps/v1 Deployment ns/web", "v1 Service ns/web"]),
    ]]),
  );
  assertEquals(report.drifted, 2);
  assertEquals(report.steps[0].changes.map((c) => c.kind), [
    "Deployment",
    "Service",
  ]);
  assertEquals(report.errors, [{ id: "broken", error: "no cluster" }]);
  const text = renderDrift(report);
  assertMatch(text, /~ Deployment ns\/web: changed out of band/);
  assertMatch(text, /spec\.replicas: 3 -> 1/);
  assertMatch(text, /~ Service ns\/web: deleted out of band/);
  assertMatch(text, /Drift: 2 object\(s\)/);
});

Deno.test("no drifted objects: an empty report that says so", () => {
  const report = driftReport(doc(), new Map([["app", stats([])]]));
  assertEquals(report.drifted, 0);
  assertEquals(report.steps, []);
  assertMatch(renderDrift(report), /No drift/);
});
