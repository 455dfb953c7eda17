import { loadDigestKey } from "../../lib/engine/secret_digest.ts";
import { stepOptionsDigest } from "../../lib/engine/planner.ts";
import { assert, assertEquals, assertMatch, rejects } from "../_assert.ts";
import {
  applySteps,
  PlanFailedError,
  type RunEvent,
  verifySteps,
} from "../../lib/engine/executor.ts";
import {
  CheckpointStore,
  NO_CLUSTER,
  readCheckpoint,
} from "../../lib/engine/checkpoint.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { renderPlan } from "../../lib/cli/render_plan.ts";
import { serializePlanDocument } from "../../lib/engine/plan_document.ts";
import type { Step } from "../../lib/engine/types.ts";
import { testStep } from "./_steps.ts";
import { tempDir } from "../_shared.ts";

Deno.test("apply plans every step once, then applies and verifies in dependency order; a step whose inputs changed is planned again", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const calls: string[] = [];
  const steps = [
    testStep("b", { needs: ["a"], calls }),
    testStep("a", { calls, outputs: { ip: "10.0.0.7" } }),
  ];
  const seen: Record<string, unknown>[] = [];
  steps[0] = {
    ...steps[0],
    plan: (ctx) => (seen.push(ctx.outputs), testStep("b", { calls }).plan(ctx)),
  };
  const result = await applySteps(steps, { checkpointDir: dir });
  assert(result.ok);
  // b was planned before a had outputs; once a produced them, b is planned again
  // with them, and only b: a is applied from the plan made for the run.
  assertEquals(calls, [
    "plan:a",
    "plan:b",
    "apply:a",
    "verify:a",
    "plan:b",
    "apply:b",
    "verify:b",
  ]);
  assertEquals(seen, [{}, { a: { ip: "10.0.0.7" } }]);
  const cp = await readCheckpoint(result.checkpointPath, NO_CLUSTER);
  assertEquals(cp.steps.a.status, "verified");
  assertEquals(cp.steps.a.outputs, { ip: "10.0.0.7" });
  assert(cp.steps.a.verified_at);
});

Deno.test("re-run skips verified steps with unchanged options, retries the failed one, continues", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const calls: string[] = [];
  const events: RunEvent[] = [];
  let broken = true;
  const flaky: Step = {
    ...testStep("b", { needs: ["a"], calls }),
    apply: () => {
      calls.push("apply:b");
      return broken
        ? Promise.reject(new Error("webhook not ready"))
        : Promise.resolve({});
    },
  };
  const steps = [
    testStep("a", { calls }),
    flaky,
    testStep("c", { needs: ["b"], calls }),
    testStep("x", { calls }),
  ];
  const first = await applySteps(steps, { checkpointDir: dir });
  assertEquals(first.ok, false);
  assertEquals(first.summary.done, ["a", "x"]);
  assertEquals(first.summary.failed, [{ id: "b", error: "webhook not ready" }]);
  assertEquals(first.summary.not_started, [{
    id: "c",
    reason: "skipped: dependency b failed",
  }]);

  broken = false;
  calls.length = 0;
  const second = await applySteps(steps, {
    checkpointDir: dir,
    onEvent: (e) => events.push(e),
  });
  assert(second.ok);
  assertEquals(second.summary.skipped, ["a", "x"]);
  assertEquals(second.summary.done, ["b", "c"]);
  // Current steps are planned (that is how drift shows) but not applied again.
  assertEquals(
    calls.filter((c) => c.endsWith(":a") || c.endsWith(":x")),
    ["plan:a", "plan:x"],
  );
  const skip = events.find((e) => e.type === "step-skipped" && e.id === "a");
  assertMatch(
    (skip as { reason: string }).reason,
    /^unchanged, verified at \d{4}-.* — skipped$/,
  );
  const cp = await readCheckpoint(second.checkpointPath, NO_CLUSTER);
  assertEquals(cp.steps.b.attempts, 2);
  assertEquals(cp.steps.b.last_error, undefined);
});

Deno.test("a verified step whose fresh plan shows changes is applied again, not skipped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const calls: string[] = [];
    const events: RunEvent[] = [];
    let drift = false;
    const base = testStep("a", { calls });
    const step: Step = {
      ...base,
      async plan(ctx) {
        const plan = await base.plan(ctx);
        if (!drift) return plan;
        return {
          ...plan,
          changes: [{
            apiVersion: "apps/v1",
            kind: "Deployment",
            namespace: "kubeflow",
            name: "centraldashboard",
            action: "update",
            diff: [{ path: "spec.replicas", before: 3, after: 1 }],
          }],
        };
      },
    };
    assert((await applySteps([step], { checkpointDir: dir })).ok);
    drift = true; // someone scaled the Deployment by hand
    calls.length = 0;
    const second = await applySteps([step], {
      checkpointDir: dir,
      onEvent: (e) => events.push(e),
    });
    assert(second.ok);
    assertEquals(second.outcome, "applied");
    assertEquals(second.summary.done, ["a"]);
    assertEquals(calls, ["plan:a", "apply:a", "verify:a"]);
    assert(!events.some((e) => e.type === "step-skipped"));
    drift = false;
    calls.length = 0;
    const third = await applySteps([step], { checkpointDir: dir });
    assertEquals(third.outcome, "nothing-to-do");
    assertEquals(calls, ["plan:a"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a declined confirmation applies nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const calls: string[] = [];
    const shown: string[] = [];
    const result = await applySteps([testStep("a", { calls })], {
      checkpointDir: dir,
      confirm: (plan) => {
        shown.push(plan.steps.map((s) => s.id).join());
        return Promise.resolve(false);
      },
    });
    assertEquals(result.outcome, "cancelled");
    assertEquals(shown, ["a"]);
    assertEquals(calls, ["plan:a"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("changed options re-apply the step", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const calls: string[] = [];
  await applySteps([testStep("a", { calls, options: { replicas: 1 } })], {
    checkpointDir: dir,
  });
  await applySteps([testStep("a", { calls, options: { replicas: 2 } })], {
    checkpointDir: dir,
  });
  assertEquals(calls.filter((c) => c === "apply:a").length, 2);
});

Deno.test("verify failure fails the step and lists the failed checks", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const events: RunEvent[] = [];
  const result = await applySteps(
    [testStep("a", {
      failChecks: ["deployment available", "endpoints ready"],
    })],
    { checkpointDir: dir, onEvent: (e) => events.push(e) },
  );
  assertEquals(result.ok, false);
  assertMatch(
    result.summary.failed[0].error,
    /verify of a failed: deployment available \(not ready\); endpoints ready/,
  );
  const failed = events.find((e) => e.type === "step-failed") as Extract<
    RunEvent,
    { type: "step-failed" }
  >;
  assertEquals(failed.failed_checks?.map((c) => c.name), [
    "deployment available",
    "endpoints ready",
  ]);
  const cp = await readCheckpoint(result.checkpointPath, NO_CLUSTER);
  assertEquals(cp.steps.a.status, "failed");
});

Deno.test("an interrupted step (applying) is applied again on resume", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const calls: string[] = [];
  const step = testStep("a", { calls });
  const store = await CheckpointStore.open(dir, NO_CLUSTER);
  const { digester } = await loadDigestKey(undefined, { stateDir: dir });
  await store.update("a", {
    status: "applying",
    options_digest: stepOptionsDigest(step, digester),
    attempts: 1,
  });
  const result = await applySteps([step], { checkpointDir: dir });
  assert(result.ok);
  assertEquals(calls, ["plan:a", "apply:a", "verify:a"]);
});

Deno.test("verifySteps reports per step and marks drifted steps failed", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await applySteps([testStep("a"), testStep("b")], { checkpointDir: dir });
  const result = await verifySteps([
    testStep("a"),
    testStep("b", { failChecks: ["pods ready"] }),
  ], { checkpointDir: dir });
  assertEquals(result.ok, false);
  assertEquals(result.steps.map((s) => [s.id, s.ok]), [["a", true], [
    "b",
    false,
  ]]);
  const cp = await readCheckpoint(
    (await CheckpointStore.open(dir, NO_CLUSTER)).path,
    NO_CLUSTER,
  );
  assertEquals(cp.steps.b.status, "failed");
  assertEquals(cp.steps.a.status, "verified");
});

Deno.test("a planted secret appears in no plan, JSON, checkpoint, event or log", async () => {
  const secret = "Planted-Secret-9f8e7d";
  await using tmp = await tempDir();
  const dir = tmp.path;
  const logs: string[] = [];
  const events: string[] = [];
  const leaky: Step = {
    id: "dex",
    title: "Dex",
    needs: [],
    options: { users: [{ email: "a@example.com", password: secret }] },
    sensitive: ["users[*].password"],
    sensitiveOutputs: ["adminPassword"],
    plan: () =>
      Promise.resolve({
        changes: [{
          apiVersion: "v1",
          kind: "Secret",
          namespace: "auth",
          name: "dex-passwords",
          action: "update",
          diff: [{ path: "stringData.password", before: "old", after: secret }],
        }, {
          apiVersion: "v1",
          kind: "ConfigMap",
          namespace: "auth",
          name: "dex",
          action: "update",
          diff: [{
            path: "data.config",
            before: "x",
            after: `pw ${secret}`,
            sensitive: true,
          }],
        }],
        findings: [],
        warnings: [],
        unknowns: [],
        observed: [],
      }),
    apply: (ctx) => {
      ctx.log.info(`setting password ${secret}`);
      return Promise.resolve({ adminPassword: secret, user: "a@example.com" });
    },
    verify: () => Promise.reject(new Error(`login with ${secret} failed`)),
  };
  const { document } = await planSteps([leaky], { offlineReason: "test" });
  const artifacts = [renderPlan(document), serializePlanDocument(document)];
  const result = await applySteps([leaky], {
    checkpointDir: dir,
    onEvent: (e) => events.push(JSON.stringify(e)),
    log: {
      info: (m) => logs.push(m),
      warn: (m) => logs.push(m),
      debug: (m) => logs.push(m),
    },
  });
  artifacts.push(
    await Deno.readTextFile(result.checkpointPath),
    ...events,
    ...logs,
    JSON.stringify(result.summary),
  );
  for (const a of artifacts) {
    assert(!a.includes(secret), `secret leaked into: ${a.slice(0, 200)}`);
  }
  assert(
    logs.some((l) => l.includes("setting password (sensitive)")),
    logs.join("\n"),
  );
  assertMatch(artifacts[1], /\(sensitive, hmac:[0-9a-f]{8}\)/);
  assertEquals(result.summary.failed.length, 1);
});

Deno.test("secrets a step resolves itself are scrubbed once registered with ctx.addSecret", async () => {
  const secret = "resolved-from-env-7c1d";
  await using tmp = await tempDir();
  const dir = tmp.path;
  const events: string[] = [];
  const step: Step = {
    ...testStep("oidc"),
    plan: (ctx) => {
      ctx.addSecret?.(secret);
      return Promise.reject(new Error(`client secret ${secret} rejected`));
    },
  };
  const { document, scrubber } = await planSteps([step]);
  assert(!serializePlanDocument(document).includes(secret));
  assertEquals(scrubber.scrub(`x ${secret}`), "x (sensitive)");
  // A plan that fails refuses the whole apply before anything is written; its
  // error, the plan event and every other event are scrubbed.
  const error = await rejects(() =>
    applySteps([step], {
      checkpointDir: dir,
      onEvent: (e) => events.push(JSON.stringify(e)),
    })
  );
  assert(error instanceof PlanFailedError);
  assertMatch(error.message, /client secret \(sensitive\) rejected/);
  assert(events.length > 0);
  for (const t of events) assert(!t.includes(secret), t);
});
