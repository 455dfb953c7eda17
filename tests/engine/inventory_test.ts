import { assertEquals } from "../_assert.ts";
import {
  applyLabellingClient,
  claimDesired,
  labellingClient,
  ownedObjects,
  planStepPrune,
  stepOwnPlan,
} from "../../lib/engine/_inventory.ts";
import { KubeApiError } from "../../lib/kube/errors.ts";
import { emptyPlan, type StepPlan } from "../../lib/engine/types.ts";
import { applySetIdOf, PART_OF_LABEL } from "../../lib/kube/inventory.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";

const ID = "applyset-test-v1";

function objects(): KubeObject[] {
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "mine", namespace: "a", labels: { app: "x" } },
    },
    {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "someone-elses", annotations: { default: "false" } },
    },
    {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "gpu-1", labels: { config: "a" } },
    },
  ];
}

function plan(): StepPlan {
  return {
    ...emptyPlan(),
    desired: objects(),
    patched: [{
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      name: "someone-elses",
    }],
  };
}

Deno.test("a step owns its desired objects except what it only patches and nodes", () => {
  assertEquals(ownedObjects(plan())?.map((o) => o.metadata.name), ["mine"]);
  assertEquals(ownedObjects(emptyPlan()), undefined);
  const p = plan();
  claimDesired(p, ID);
  assertEquals(p.desired?.map((o) => o.metadata.labels?.[PART_OF_LABEL]), [
    ID,
    undefined,
    undefined,
  ]);
  assertEquals(p.desired?.[0].metadata.labels?.app, "x");
});

/** A client recording what reaches the cluster. */
function recorder(): { kube: KubeClient; seen: KubeObject[] } {
  const seen: KubeObject[] = [];
  const kube = {
    context: "c",
    server: "s",
    diff(object: KubeObject) {
      seen.push(object);
      return Promise.resolve({ action: "no-op", diff: [] });
    },
    apply(object: KubeObject) {
      seen.push(object);
      return Promise.resolve({
        ...object,
        metadata: { ...object.metadata, uid: `uid-${object.metadata.name}` },
      });
    },
    get: () => Promise.resolve(undefined),
  } as unknown as KubeClient;
  return { kube, seen };
}

Deno.test("the step's client labels what it diffs and applies as members, and records uids", async () => {
  const planning = recorder();
  const client = labellingClient(planning.kube, ID);
  for (const o of objects()) await client.diff(o);
  assertEquals(
    planning.seen.map((o) => o.metadata.labels?.[PART_OF_LABEL]),
    [ID, ID, undefined],
  );
  // At apply, exactly the plan's owned objects.
  const applying = recorder();
  const applied = applyLabellingClient(applying.kube, plan(), ID);
  for (const o of objects()) await applied.apply(o);
  assertEquals(
    applying.seen.map((o) => o.metadata.labels?.[PART_OF_LABEL]),
    [ID, undefined, undefined],
  );
  assertEquals(applied.appliedUids().get(" ConfigMap a/mine"), "uid-mine");
  // Other methods pass through.
  assertEquals(applied.context, "c");
  assertEquals(
    await applied.get({ apiVersion: "v1", kind: "ConfigMap", name: "x" }),
    undefined,
  );
});

Deno.test("the step's own apply does not receive the engine's deletes", () => {
  const own = {
    apiVersion: "v1",
    kind: "ConfigMap",
    name: "old",
    action: "delete" as const,
    diff: [],
  };
  const engine = { ...own, name: "dropped" };
  const p: StepPlan = { ...emptyPlan(), changes: [own, engine] };
  const mine = stepOwnPlan(p, {
    applySetId: ID,
    deletes: [engine],
    candidates: [],
    kept: [],
  });
  assertEquals(mine.changes.map((c) => c.name), ["old"]);
  assertEquals(p.changes.length, 2);
});

Deno.test("a member recorded under a version no longer served is pruned under the served one; a kind nobody serves is dropped", async () => {
  const live: KubeObject = {
    apiVersion: "example.org/v1",
    kind: "Widget",
    metadata: {
      name: "w",
      namespace: "a",
      uid: "u-w",
      labels: { [PART_OF_LABEL]: applySetIdOf("s") },
    },
  };
  const kube = {
    context: "c",
    server: "s",
    get(ref: { apiVersion: string; kind: string }) {
      if (ref.apiVersion !== "example.org/v1") {
        return Promise.reject(
          new KubeApiError(404, "the server does not serve it", {
            operation: "get",
          }),
        );
      }
      return Promise.resolve(ref.kind === "Widget" ? live : undefined);
    },
    apiResources: () =>
      Promise.resolve([{
        apiVersion: "example.org/v1",
        kind: "Widget",
        resource: "widgets",
        namespaced: true,
      }]),
  } as unknown as KubeClient;
  const entry = (kind: string) => ({
    apiVersion: "example.org/v1beta1",
    kind,
    namespace: "a",
    name: "w",
    uid: "u-w",
    state: "applied" as const,
  });
  const prune = await planStepPrune(kube, { ...emptyPlan(), desired: [] }, {
    stepId: "s",
    inventory: {
      step: "s",
      applySetId: applySetIdOf("s"),
      entries: [entry("Widget"), entry("Gadget")],
    },
    owned: [],
    settings: {},
  });
  assertEquals(prune.deletes.map((d) => `${d.apiVersion} ${d.kind}`), [
    "example.org/v1 Widget",
  ]);
  assertEquals(prune.candidates, [{
    apiVersion: "example.org/v1",
    kind: "Widget",
    namespace: "a",
    name: "w",
    uid: "u-w",
  }]);
  assertEquals(prune.deletes[0].reason, "not rendered by this configuration");
});
