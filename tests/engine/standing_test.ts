import { assertEquals, assertMatch } from "../_assert.ts";
import { stepStanding } from "../../lib/engine/standing.ts";
import type { CheckpointStep } from "../../lib/engine/checkpoint.ts";

const verified: CheckpointStep = {
  status: "verified",
  options_digest: "sha256:o",
  inputs_digest: "sha256:i",
  desired_digest: "hmac-sha256:d",
  verified_at: "2026-11-30T09:00:00.000Z",
  attempts: 1,
};

Deno.test("a verified step is current only when its fresh plan shows nothing to do", () => {
  const s = stepStanding({
    entry: verified,
    optionsDigest: "sha256:o",
    inputsDigest: "sha256:i",
    plan: { action: "no-op", desiredDigest: "hmac-sha256:d" },
  });
  assertEquals(s.kind, "current");
  assertMatch(s.reason, /^unchanged, verified at 2026-11-30T09:00:00\.000Z$/);
  for (const action of ["update", "create", "replace"] as const) {
    assertEquals(
      stepStanding({
        entry: verified,
        optionsDigest: "sha256:o",
        plan: { action },
      }),
      { kind: "outstanding", reason: "its plan shows changes" },
      action,
    );
  }
  // A prune (an object its inventory has and its render lacks) is work to do too.
  assertEquals(
    stepStanding({
      entry: verified,
      optionsDigest: "sha256:o",
      plan: { action: "delete" },
    }),
    {
      kind: "outstanding",
      reason: "its plan deletes objects it no longer renders",
    },
  );
  assertEquals(
    stepStanding({
      entry: verified,
      optionsDigest: "sha256:o",
      plan: { action: "unknown" },
    }).kind,
    "outstanding",
  );
});

Deno.test("changed options, inputs or desired state make a verified step outstanding", () => {
  const base = { entry: verified, optionsDigest: "sha256:o" };
  assertMatch(
    stepStanding({ ...base, optionsDigest: "sha256:x" }).reason,
    /options changed/,
  );
  assertMatch(
    stepStanding({ ...base, inputsDigest: "sha256:other" }).reason,
    /outputs of the steps it needs changed/,
  );
  assertMatch(
    stepStanding({
      ...base,
      plan: { action: "no-op", desiredDigest: "hmac-sha256:rotated" },
    }).reason,
    /desired state changed/,
  );
});

Deno.test("without a fresh plan a verified step is only recorded, never current", () => {
  const s = stepStanding({ entry: verified, optionsDigest: "sha256:o" });
  assertEquals(s.kind, "recorded");
});

Deno.test("steps never verified, failed or interrupted are outstanding with the reason", () => {
  assertEquals(
    stepStanding({ entry: undefined, optionsDigest: "x" }).reason,
    "never applied",
  );
  assertMatch(
    stepStanding({
      entry: { ...verified, status: "failed", last_error: "boom\nmore" },
      optionsDigest: "sha256:o",
      plan: { action: "no-op" },
    }).reason,
    /^the last attempt failed: boom$/,
  );
  assertMatch(
    stepStanding({
      entry: { ...verified, status: "applying" },
      optionsDigest: "sha256:o",
    }).reason,
    /interrupted/,
  );
  assertEquals(
    stepStanding({
      entry: verified,
      optionsDigest: "sha256:o",
      plan: { action: "error" },
    }).kind,
    "outstanding",
  );
});
