import { assert, assertEquals, assertMatch, rejects } from "../_assert.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import { applyView, planView } from "../../lib/cli/views.ts";
import {
  parsePlanDocument,
  type PlanDocument,
} from "../../lib/engine/plan_document.ts";
import type { ApplyStepsResult } from "../../lib/engine/executor.ts";

function plan(): PlanDocument {
  return {
    format_version: "1",
    kfplan_version: "0.1.0",
    created_at: "2026-11-30T10:00:00.000Z",
    cluster: { offline: false, server: "https://k:6443", context: "c" },
    summary: {
      create: 1,
      update: 0,
      replace: 0,
      delete: 0,
      no_op: 0,
      unknown_steps: 0,
      errors: 0,
      steps: 1,
    },
    steps: [{
      id: "app",
      title: "App",
      needs: [],
      action: "create",
      options_digest: `sha256:${"0".repeat(64)}`,
      options: {},
      changes: [{
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: "kubeflow",
        name: "settings",
        action: "create",
        diff: [],
      }],
      findings: [],
      warnings: [],
      unknowns: [],
      observed: [],
    }],
  };
}

function result(outcome: ApplyStepsResult["outcome"]): ApplyStepsResult {
  return {
    ok: true,
    outcome,
    plan: plan(),
    summary: { done: ["app"], skipped: [], failed: [], not_started: [] },
    outputs: {},
    checkpointPath: ".kfplan/checkpoint-c-0123.json",
  };
}

Deno.test("the plan view prints the JSON document or the human plan with the saved-file note", () => {
  const json = capturedIO();
  planView(json, { json: true }).plan(plan(), { savedTo: "p.json" });
  assertEquals(parsePlanDocument(json.stdout()).steps[0].id, "app");
  const human = capturedIO();
  const view = planView(human, { json: false });
  view.plan(plan(), { savedTo: "p.json" });
  view.warn("be careful");
  assertMatch(human.stdout(), /\+ v1 ConfigMap kubeflow\/settings/);
  assertMatch(
    human.stdout(),
    /To apply exactly this plan: deno task apply p\.json/,
  );
  assertEquals(human.stderr(), "warning: be careful\n");
});

Deno.test("the human apply view shows the plan once, asks, and reports how it ended", async () => {
  const io = capturedIO({ stdinIsTerminal: true, input: ["yes"] });
  const view = applyView(io, {
    json: false,
    yes: false,
    steps: [{ id: "app", title: "App" }],
  });
  const at = "2026-11-30T10:00:00.000Z";
  view.onEvent({ type: "plan", plan: plan(), at });
  view.onEvent({ type: "plan", plan: plan(), at });
  assertEquals(io.stdout().match(/kfplan will perform/g)?.length, 1);
  assert(await view.confirm(plan()));
  assertMatch(io.stdout(), /Only 'yes' will be accepted/);
  view.finish(result("applied"));
  assertMatch(io.stdout(), /Checkpoint: \.kfplan\/checkpoint-c-0123\.json/);
  const nothing = capturedIO();
  applyView(nothing, { json: false, yes: true, steps: [] }).finish(
    result("nothing-to-do"),
  );
  assertMatch(nothing.stdout(), /Nothing to apply/);
});

Deno.test("the apply views refuse to go on without a way to confirm", async () => {
  const noTty = applyView(capturedIO(), { json: false, yes: false, steps: [] });
  const e = await rejects(() => noTty.confirm(plan()));
  assertMatch(e.message, /stdin is not a terminal\. Re-run with --yes/);
  const json = applyView(capturedIO(), { json: true, yes: false, steps: [] });
  const j = await rejects(() => json.confirm(plan()));
  assertMatch(j.message, /--json needs --yes/);
  const declined = capturedIO({ stdinIsTerminal: true, input: ["no"] });
  const view = applyView(declined, { json: false, yes: false, steps: [] });
  assertEquals(await view.confirm(plan()), false);
});

Deno.test("the JSON apply view writes one event per line, the plan first", () => {
  const io = capturedIO();
  const view = applyView(io, { json: true, yes: true, steps: [] });
  const at = "2026-11-30T10:00:00.000Z";
  view.onEvent({ type: "plan", plan: plan(), at });
  view.onEvent({ type: "step-start", id: "app", title: "App", at });
  const lines = io.stdout().trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(lines.map((l) => l.type), ["plan", "step-start"]);
  assertEquals(lines[0].plan.steps[0].id, "app");
});
