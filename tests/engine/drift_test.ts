import { assert, assertEquals, assertMatch } from "../_assert.ts";
import {
  driftReport,
  renderDrift,
  unchangedSinceVerified,
} from "../../lib/engine/drift.ts";
import type {
  PlanChange,
  PlanDocument,
} from "../../lib/engine/plan_document.ts";
import type {
  Checkpoint,
  CheckpointStep,
} from "../../lib/engine/checkpoint.ts";
import type { Inventory } from "../../lib/kube/inventory.ts";
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

/** The doc's step `app` with its digests, as planned and as last verified. */
function planned(digests: { options?: string; desired?: string } = {}) {
  const document = doc();
  Object.assign(document.steps[0], {
    options_digest: digests.options ?? "sha256:opts",
    desired_digest: digests.desired ?? "hmac-sha256:desired",
  });
  document.steps[0].changes.push({
    apiVersion: "v1",
    kind: "Secret",
    namespace: "ns",
    name: "old",
    action: "delete",
    diff: [],
  } as PlanChange);
  return document;
}

const verifiedEntry: CheckpointStep = {
  status: "verified",
  options_digest: "sha256:opts",
  inputs_digest: "sha256:inputs",
  desired_digest: "hmac-sha256:desired",
  attempts: 1,
};

function checkpointOf(entry: CheckpointStep): Checkpoint {
  return {
    format_version: "3",
    cluster: { server: "https://k", context: "k" },
    steps: { app: entry },
  };
}

// Applied by Helm: nothing in the observation, everything in the inventory.
const inventory: Inventory = {
  step: "app",
  applySetId: "applyset-x-v1",
  entries: [
    // Recorded under another version of the group: still the same member.
    {
      apiVersion: "apps/v1beta2",
      kind: "Deployment",
      namespace: "ns",
      name: "web",
      uid: "u1",
      state: "applied",
    },
    {
      apiVersion: "v1",
      kind: "Service",
      namespace: "ns",
      name: "web",
      state: "applied",
    },
    // Recorded before an apply that never confirmed it: not known to be applied.
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: "ns",
      name: "settings",
      state: "pending",
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      namespace: "ns",
      name: "old",
      state: "applied",
    },
  ],
};

function helmDrift(
  entry: CheckpointStep,
  digests: { options?: string; desired?: string; inputs?: string } = {},
) {
  return driftReport(planned(digests), new Map([["app", stats([])]]), {
    checkpoint: checkpointOf(entry),
    inputsDigests: new Map([["app", digests.inputs ?? "sha256:inputs"]]),
    inventories: new Map([["app", inventory]]),
  });
}

Deno.test("a step unchanged since verified: its plan's creates and updates of applied inventory members are drift, deletes are not", () => {
  const report = helmDrift(verifiedEntry);
  assertEquals(
    report.steps.map((s) => s.changes.map((c) => `${c.action} ${c.kind}`)),
    [["update Deployment", "create Service"]],
  );
  assertEquals(report.drifted, 2);
  assertMatch(renderDrift(report), /~ Service ns\/web: deleted out of band/);
});

Deno.test("no drift from the inventory once the configuration moved (options, inputs, desired state) or the step is not verified", () => {
  const cases: [string, ReturnType<typeof helmDrift>][] = [
    ["options", helmDrift(verifiedEntry, { options: "sha256:other" })],
    ["desired", helmDrift(verifiedEntry, { desired: "hmac-sha256:other" })],
    ["inputs", helmDrift(verifiedEntry, { inputs: "sha256:other" })],
    ["failed", helmDrift({ ...verifiedEntry, status: "failed" })],
    [
      "no desired digest recorded",
      helmDrift({ ...verifiedEntry, desired_digest: undefined }),
    ],
  ];
  for (const [why, report] of cases) {
    assertEquals(report.drifted, 0, why);
  }
  // Without a checkpoint, or without an inventory, nothing is known to be unchanged or owned.
  assertEquals(driftReport(planned(), new Map()).drifted, 0);
  assertEquals(
    driftReport(planned(), new Map(), {
      checkpoint: checkpointOf(verifiedEntry),
    }).drifted,
    0,
  );
});

Deno.test("unchangedSinceVerified: verified with the same options, inputs and desired digest", () => {
  const step = {
    options_digest: "sha256:opts",
    desired_digest: "hmac-sha256:desired",
  };
  assert(
    unchangedSinceVerified(step, {
      entry: verifiedEntry,
      inputsDigest: "sha256:inputs",
    }),
  );
  // Inputs unknown on either side do not count against it (as for the executor's skip).
  assert(unchangedSinceVerified(step, { entry: verifiedEntry }));
  assert(!unchangedSinceVerified(step, { entry: undefined }));
  assert(
    !unchangedSinceVerified({ ...step, desired_digest: undefined }, {
      entry: verifiedEntry,
    }),
  );
  assert(
    !unchangedSinceVerified(step, {
      entry: { ...verifiedEntry, status: "applied" },
    }),
  );
});
