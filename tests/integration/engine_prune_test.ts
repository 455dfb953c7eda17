/**
 * The engine's inventory and prune on the real control plane, through a small step
 * that owns the objects it is given (`desired` filled, as every shipped step does):
 * what a configuration drops is planned as `- delete` and deleted after verify; a
 * PVC is kept (listed with its reason) unless data loss is allowed; an apply that
 * dies after the pending write leaves nothing nobody owns.
 */
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import { useCluster } from "../cluster/harness.ts";
import { applySteps, type RunEvent } from "../../lib/engine/executor.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { hasChanges } from "../../lib/engine/plan_document.ts";
import { renderPlan, summaryLine } from "../../lib/cli/render_plan.ts";
import { emptyPlan, type Step } from "../../lib/engine/types.ts";
import { planObjects } from "../../lib/kube/apply_set.ts";
import {
  APPLYSET_ID_LABEL,
  applySetIdOf,
  memberKey,
  PART_OF_LABEL,
  readInventory,
} from "../../lib/kube/inventory.ts";
import { refOf } from "../../lib/kube/object_ref.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";

/** A step owning exactly `objects`; `failAfter` makes apply die after that many. */
function objectsStep(
  id: string,
  objects: KubeObject[],
  options: { failAfter?: number } = {},
): Step {
  return {
    id,
    title: `${objects.length} objects`,
    needs: [],
    options: { names: objects.map((o) => o.metadata.name) },
    async plan(ctx) {
      const planned = await planObjects(ctx.kube, objects, {
        signal: ctx.signal,
      });
      return {
        ...emptyPlan(),
        changes: planned.changes,
        observed: planned.observed,
        desired: objects,
      };
    },
    async apply(ctx, plan) {
      let n = 0;
      for (const object of plan.desired ?? objects) {
        if (n++ === options.failAfter) {
          throw new Error("killed in the middle of apply");
        }
        await ctx.kube!.apply(object);
      }
      return {};
    },
    async verify(ctx, plan) {
      const checks = [];
      for (const object of plan?.desired ?? objects) {
        const live = await ctx.kube!.get(refOf(object));
        checks.push({ name: `${object.metadata.name} exists`, ok: !!live });
      }
      return { checks };
    },
  };
}

function configMap(namespace: string, name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace },
    data: { name },
  };
}

function pvc(namespace: string, name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "1Gi" } },
      storageClassName: "kfplan-test-none",
    },
  };
}

/** A run's settings: a state namespace, lock and checkpoint of its own. */
function runFor(kube: KubeClient, ns: string, dir: string) {
  const stateNamespace = `${ns}-state`;
  const lock = { name: `kfplan-lock-${ns}` };
  return {
    stateNamespace,
    // Where this run's inventories are: its state namespace, its lock's installation.
    scope: { namespace: stateNamespace, installation: lock.name },
    options: {
      kube,
      stateNamespace,
      checkpointDir: dir,
      lock,
    },
  };
}

async function cleanup(kube: KubeClient, namespaces: string[]) {
  for (const name of namespaces) {
    await kube.delete({ apiVersion: "v1", kind: "Namespace", name }).catch(
      () => {},
    );
  }
}

Deno.test("an object the configuration drops is planned as a delete, deleted after verify, and the next plan is empty", async () => {
  const { kube } = await useCluster();
  const ns = await (await useCluster()).namespace("prune-cm");
  await using work = await tempDir();
  const { stateNamespace, scope, options } = runFor(kube, ns, work.path);
  const id = "prune-cm";
  const setId = applySetIdOf(id, scope);
  try {
    const first = await applySteps([
      objectsStep(id, [configMap(ns, "a"), configMap(ns, "b")]),
    ], options);
    assert(first.ok, JSON.stringify(first.summary));

    // Members carry the label; the parent is found as kubectl finds ApplySets.
    for (const name of ["a", "b"]) {
      const live = await kube.get(refOf(configMap(ns, name)));
      assertEquals(live?.metadata.labels?.[PART_OF_LABEL], setId);
    }
    const parents = await kube.list("v1", "Secret", {
      namespace: stateNamespace,
      labelSelector: APPLYSET_ID_LABEL,
    });
    assertEquals(parents.map((p) => p.metadata.name), [
      `kfplan.${scope.installation}.${id}`,
    ]);
    assertEquals(parents[0].metadata.labels?.[APPLYSET_ID_LABEL], setId);
    const members = await kube.list("v1", "ConfigMap", {
      namespace: ns,
      labelSelector: `${PART_OF_LABEL}=${setId}`,
    });
    assertEquals(members.map((m) => m.metadata.name).sort(), ["a", "b"]);
    const inventory = await readInventory(kube, id, scope);
    assertEquals(
      inventory?.entries.map((e) => [e.name, e.state, e.uid]),
      members.map((m) => [m.metadata.name, "applied", m.metadata.uid]).sort(),
    );

    // Dropped from the configuration: planned as a delete with its reason.
    const dropped = [objectsStep(id, [configMap(ns, "a")])];
    const { document } = await planSteps(dropped, {
      kube,
      stateNamespace,
      checkpointDir: work.path,
      lock: options.lock,
    });
    const text = renderPlan(document);
    assertMatch(
      text,
      new RegExp(
        `- v1 ConfigMap ${ns}/b\\n\\s+# not rendered by this configuration`,
      ),
    );
    assertEquals(
      summaryLine(document),
      "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete.",
    );
    assertEquals(document.steps[0].action, "delete");

    const events: RunEvent[] = [];
    const second = await applySteps(dropped, {
      ...options,
      onEvent: (e) => events.push(e),
    });
    assert(second.ok, JSON.stringify(second.summary));
    assertEquals(await kube.get(refOf(configMap(ns, "b"))), undefined);
    assert(await kube.get(refOf(configMap(ns, "a"))));
    // Deleted after the step's verify.
    const verifyAt = events.findIndex((e) =>
      e.type === "step-phase" && e.phase === "verify"
    );
    const deleteAt = events.findIndex((e) =>
      e.type === "log" && /deleting ConfigMap .*\/b/.test(e.message)
    );
    assert(verifyAt >= 0 && deleteAt > verifyAt, "delete after verify");
    assertEquals(
      (await readInventory(kube, id, scope))?.entries
        .map((e) => e.name),
      ["a"],
    );

    const again = await planSteps(dropped, {
      kube,
      stateNamespace,
      checkpointDir: work.path,
      lock: options.lock,
    });
    assert(!hasChanges(again.document), renderPlan(again.document));
  } finally {
    await cleanup(kube, [ns, stateNamespace]);
  }
});

Deno.test("a dropped PVC is kept and listed with its reason, and deleted when data loss is allowed", async () => {
  const cluster = await useCluster();
  const { kube } = cluster;
  const ns = await cluster.namespace("prune-pvc");
  await using work = await tempDir();
  const { stateNamespace, scope, options } = runFor(kube, ns, work.path);
  const id = "prune-pvc";
  try {
    const first = await applySteps([
      objectsStep(id, [configMap(ns, "a"), pvc(ns, "data")]),
    ], options);
    assert(first.ok, JSON.stringify(first.summary));

    const dropped = [objectsStep(id, [configMap(ns, "a")])];
    const kept = await planSteps(dropped, {
      kube,
      stateNamespace,
      checkpointDir: work.path,
      lock: options.lock,
    });
    assertEquals(kept.document.summary.delete, 0);
    assertEquals(kept.document.summary.kept, 1);
    assertEquals(kept.document.steps[0].kept?.map((k) => k.name), ["data"]);
    assertMatch(kept.document.steps[0].kept![0].reason, /--allow-data-loss/);
    assertMatch(
      renderPlan(kept.document),
      new RegExp(
        `kept \\(holds data\\): v1 PersistentVolumeClaim ${ns}/data — .*PersistentVolumeClaim`,
      ),
    );
    // Apply (the step's options changed) keeps the PVC and records it as kept.
    const keep = await applySteps(dropped, options);
    assert(keep.ok, JSON.stringify(keep.summary));
    assert(await kube.get(refOf(pvc(ns, "data"))));
    const recorded = await readInventory(kube, id, scope);
    assertEquals(
      recorded?.entries.map((e) => [e.name, e.state]),
      [["a", "applied"], ["data", "kept"]],
    );
    assertMatch(recorded?.entries[1].reason ?? "", /holds data/);
    assertEquals(
      (await applySteps(dropped, options)).outcome,
      "nothing-to-do",
    );

    const allowed = await planSteps(dropped, {
      kube,
      stateNamespace,
      checkpointDir: work.path,
      lock: options.lock,
      policy: { allowDataLoss: true },
    });
    assertEquals(allowed.document.summary.delete, 1);
    assertEquals(allowed.document.summary.kept, 0);
    const applied = await applySteps(dropped, {
      ...options,
      policy: { allowDataLoss: true },
    });
    assert(applied.ok, JSON.stringify(applied.summary));
    assertEquals(await kube.get(refOf(pvc(ns, "data"))), undefined);
    assertEquals(
      (await readInventory(kube, id, scope))?.entries
        .map((e) => e.name),
      ["a"],
    );
  } finally {
    await cleanup(kube, [ns, stateNamespace]);
  }
});

Deno.test("an apply that dies after the pending write leaves nothing unowned; the next plan resolves the pending entries", async () => {
  const cluster = await useCluster();
  const { kube } = cluster;
  const ns = await cluster.namespace("prune-kill");
  await using work = await tempDir();
  const { stateNamespace, scope, options } = runFor(kube, ns, work.path);
  const id = "prune-kill";
  const setId = applySetIdOf(id, scope);
  const inventoryKeys = async () =>
    new Set(
      ((await readInventory(kube, id, scope))
        ?.entries ?? []).map(memberKey),
    );
  const labelled = async () =>
    (await kube.list("v1", "ConfigMap", {
      namespace: ns,
      labelSelector: `${PART_OF_LABEL}=${setId}`,
    })).map((o) => memberKey(refOf(o)));
  try {
    assert(
      (await applySteps([objectsStep(id, [configMap(ns, "a")])], options)).ok,
    );

    // Dies after creating b, before c: the inventory already had both, pending.
    const killed = await applySteps([
      objectsStep(id, [
        configMap(ns, "a"),
        configMap(ns, "b"),
        configMap(ns, "c"),
      ], { failAfter: 2 }),
    ], options);
    assert(!killed.ok);
    const after = await readInventory(kube, id, scope);
    assertEquals(
      after?.entries.map((e) => [e.name, e.state]),
      [["a", "applied"], ["b", "pending"], ["c", "pending"]],
    );
    assert(await kube.get(refOf(configMap(ns, "b"))));
    assertEquals(await kube.get(refOf(configMap(ns, "c"))), undefined);
    // Every member in the cluster is in the inventory.
    const keys = await inventoryKeys();
    for (const key of await labelled()) assert(keys.has(key), key);

    // The configuration goes back to a alone: b (created) is deleted, c (never
    // created) is dropped without a delete.
    const back = [objectsStep(id, [configMap(ns, "a")])];
    const { document } = await planSteps(back, {
      kube,
      stateNamespace,
      checkpointDir: work.path,
      lock: options.lock,
    });
    assertEquals(
      document.steps[0].changes.filter((c) => c.action === "delete").map((c) =>
        c.name
      ),
      ["b"],
    );
    const resumed = await applySteps(back, options);
    assert(resumed.ok, JSON.stringify(resumed.summary));
    assertEquals(await kube.get(refOf(configMap(ns, "b"))), undefined);
    assertEquals([...await inventoryKeys()], await labelled());
    assertEquals(
      (await readInventory(kube, id, scope))?.entries
        .map((e) => [e.name, e.state]),
      [["a", "applied"]],
    );
  } finally {
    await cleanup(kube, [ns, stateNamespace]);
  }
});
