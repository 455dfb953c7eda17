import { assertEquals, assertMatch } from "../_assert.ts";
import {
  compareSavedPlan,
  StalePlanError,
} from "../../lib/engine/saved_plan.ts";
import type { PlanDocument, PlanStep } from "../../lib/engine/plan_document.ts";

const digest = (c: string) => `sha256:${c.repeat(64)}`;

function step(over: Partial<PlanStep> = {}): PlanStep {
  return {
    id: "web",
    title: "web",
    needs: [],
    action: "update",
    options_digest: digest("a"),
    options: {},
    changes: [{
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: "kf",
      name: "web",
      action: "update",
      diff: [{ path: "spec.replicas", before: 1, after: 3 }],
    }],
    findings: [],
    warnings: [],
    unknowns: [],
    observed: [{
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: "kf",
      name: "web",
      resourceVersion: "10",
      uid: "u1",
    }],
    desired_digest: "d1",
    ...over,
  };
}

function doc(
  steps: PlanStep[],
  cluster: PlanDocument["cluster"] = {
    offline: false,
    server: "https://k:6443",
    context: "c",
  },
): PlanDocument {
  return {
    format_version: "1",
    kfplan_version: "0.1.0",
    created_at: "2026-01-01T00:00:00.000Z",
    cluster,
    summary: {
      create: 0,
      update: 1,
      replace: 0,
      delete: 0,
      no_op: 0,
      unknown_steps: 0,
      errors: 0,
      steps: steps.length,
    },
    steps,
  };
}

Deno.test("an unchanged plan has no problems", () => {
  assertEquals(compareSavedPlan(doc([step()]), doc([step()])), []);
});

Deno.test("each kind of difference is named", () => {
  const fresh = doc([
    step({
      options_digest: digest("b"),
      observed: [{
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace: "kf",
        name: "web",
        resourceVersion: "11",
        uid: "u1",
      }],
      changes: [{
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace: "kf",
        name: "web",
        action: "update",
        diff: [{ path: "spec.replicas", before: 2, after: 3 }],
      }],
      desired_digest: "d2",
    }),
    step({ id: "new" }),
  ]);
  const problems = compareSavedPlan(doc([step()]), fresh);
  assertEquals(problems, [
    `web: options changed since the plan (${digest("a").slice(0, 19)} -> ${
      digest("b").slice(0, 19)
    })`,
    "web: apps/v1 Deployment kf/web changed since the plan (resourceVersion 10 -> 11)",
    "web: apps/v1 Deployment kf/web: the field changes differ from the saved plan",
    "web: desired state changed since the plan (desired_digest differs)",
    "new: step is in the configuration but not in the saved plan",
  ]);
});

Deno.test("re-created, vanished and appeared objects are named", () => {
  const absent = {
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: "kf",
    name: "cm",
  };
  const saved = doc([step({
    observed: [{ ...absent }, {
      apiVersion: "v1",
      kind: "Service",
      namespace: "kf",
      name: "svc",
      resourceVersion: "5",
      uid: "s1",
    }, {
      apiVersion: "v1",
      kind: "Secret",
      namespace: "kf",
      name: "s",
      resourceVersion: "7",
      uid: "x1",
    }],
  })]);
  const fresh = doc([step({
    observed: [{ ...absent, resourceVersion: "3", uid: "c1" }, {
      apiVersion: "v1",
      kind: "Service",
      namespace: "kf",
      name: "svc",
    }, {
      apiVersion: "v1",
      kind: "Secret",
      namespace: "kf",
      name: "s",
      resourceVersion: "9",
      uid: "x2",
    }],
  })]);
  const problems = compareSavedPlan(saved, fresh);
  assertEquals(problems, [
    "web: v1 ConfigMap kf/cm appeared since the plan (now resourceVersion 3)",
    "web: v1 Service kf/svc disappeared since the plan (was resourceVersion 5)",
    "web: v1 Secret kf/s was deleted and re-created since the plan (uid x1 -> x2)",
  ]);
});

Deno.test("offline plans and other clusters are refused up front", () => {
  const offline = compareSavedPlan(
    doc([step()], { offline: true, reason: "no kubeconfig" }),
    doc([step()]),
  );
  assertMatch(
    offline[0],
    /made offline \(no kubeconfig\).*Plan against the cluster first/,
  );
  const other = compareSavedPlan(
    doc([step()], {
      offline: false,
      server: "https://other:6443",
      context: "prod",
    }),
    doc([step()]),
  );
  assertMatch(
    other[0],
    /made for another cluster: it belongs to cluster prod \(https:\/\/other:6443\), not c \(https:\/\/k:6443\)/,
  );
  assertMatch(
    new StalePlanError(other, "plan.json").message,
    /refusing to apply plan\.json/,
  );
});

Deno.test("with a generation, status-only updates do not make a plan stale; spec changes do", () => {
  const observed = (resourceVersion: string, generation: number) =>
    step({
      observed: [{
        apiVersion: "apps/v1",
        kind: "Deployment",
        namespace: "kf",
        name: "web",
        resourceVersion,
        uid: "u1",
        generation,
      }],
    });
  // A controller wrote status: resourceVersion moved, generation did not.
  assertEquals(
    compareSavedPlan(doc([observed("10", 4)]), doc([observed("57", 4)])),
    [],
  );
  assertEquals(
    compareSavedPlan(doc([observed("10", 4)]), doc([observed("58", 5)])),
    [
      "web: apps/v1 Deployment kf/web changed since the plan (generation 4 -> 5)",
    ],
  );
});
