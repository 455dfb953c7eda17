import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { planSteps, stepAction } from "../../lib/engine/planner.ts";
import { emptyPlan, type Step } from "../../lib/engine/types.ts";
import { CheckpointStore, NO_CLUSTER } from "../../lib/engine/checkpoint.ts";
import { loadDigestKey } from "../../lib/engine/secret_digest.ts";
import { stepOptionsDigest } from "../../lib/engine/planner.ts";
import { testStep } from "./_steps.ts";
import { tempDir } from "../_shared.ts";

Deno.test("a step whose plan throws gets an error entry and the rest still plans", async () => {
  const calls: string[] = [];
  const { document } = await planSteps([
    testStep("kf", {
      planError:
        "kustomize is not installed; get it with `deno task cluster build-tools` or set KFPLAN_KUSTOMIZE",
      calls,
    }),
    testStep("users", {
      needs: ["kf"],
      calls,
      plan: {
        changes: [{
          apiVersion: "v1",
          kind: "Namespace",
          name: "u",
          action: "create",
          diff: [],
        }],
      },
    }),
    testStep("other", { calls }),
  ]);
  assertEquals(calls.sort(), ["plan:kf", "plan:other", "plan:users"]);
  const kf = document.steps.find((s) => s.id === "kf")!;
  assertEquals(kf.action, "error");
  assertMatch(kf.error!, /kustomize is not installed; get it/);
  assertEquals(document.summary.errors, 1);
  assertEquals(document.summary.create, 1);
});

Deno.test("offline planning hands steps offline: true and says so in the document", async () => {
  let seen: boolean | undefined;
  const step: Step = {
    ...testStep("a"),
    plan(ctx) {
      seen = ctx.offline && ctx.kube === undefined;
      return Promise.resolve({
        ...emptyPlan(),
        unknowns: ["LoadBalancer address"],
      });
    },
  };
  const { document } = await planSteps([step], {
    offlineReason: "no kubeconfig",
  });
  assertEquals(seen, true);
  assertEquals(document.cluster, { offline: true, reason: "no kubeconfig" });
  assertEquals(document.steps[0].action, "unknown");
  assertEquals(document.summary.unknown_steps, 1);
});

Deno.test("upstream outputs are unknown at plan time unless checkpointed and verified", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const up = testStep("up");
  const seen: unknown[] = [];
  const down: Step = {
    ...testStep("down", { needs: ["up"] }),
    plan(ctx) {
      seen.push(ctx.outputs);
      return Promise.resolve(emptyPlan());
    },
  };
  await planSteps([up, down], { checkpointDir: dir });
  const store = await CheckpointStore.open(dir, NO_CLUSTER);
  await store.update("up", {
    status: "verified",
    options_digest: stepOptionsDigest(
      up,
      (await loadDigestKey(undefined, { stateDir: dir })).digester,
    ),
    outputs: { address: "10.0.0.1" },
    attempts: 1,
  });
  await planSteps([up, down], { checkpointDir: dir });
  assertEquals(seen, [{}, { up: { address: "10.0.0.1" } }]);
});

Deno.test("stepAction picks the most disruptive change", () => {
  const c = (action: "create" | "update" | "replace" | "delete" | "no-op") => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    name: action,
    action,
    diff: [],
  });
  assertEquals(
    stepAction({
      ...emptyPlan(),
      changes: [c("create"), c("replace"), c("update")],
    }),
    "replace",
  );
  assertEquals(stepAction({ ...emptyPlan(), changes: [c("no-op")] }), "no-op");
  assert(stepAction(emptyPlan()) === "no-op");
});
