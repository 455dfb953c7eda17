import { assertEquals } from "../_assert.ts";
import {
  applyLabellingClient,
  claimDesired,
  labellingClient,
  ownedObjects,
  stepOwnPlan,
} from "../../lib/engine/_inventory.ts";
import { emptyPlan, type StepPlan } from "../../lib/engine/types.ts";
import { PART_OF_LABEL } from "../../lib/kube/inventory.ts";
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
