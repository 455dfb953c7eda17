/**
 * `destroySteps` on the shared control plane, with inventories written as apply
 * writes them (a state namespace, lock and checkpoint of the test's own): dependents
 * go first, every member is deleted, inventories are dropped (or keep only kept
 * entries), checkpoint entries are reset; a destroy that fails half-way is
 * continued by running it again.
 */

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import { useCluster } from "../cluster/harness.ts";
import { hostname } from "node:os";
import { destroySteps } from "../../lib/engine/destroy.ts";
import { acquireLock, breakLock } from "../../lib/engine/lock.ts";
import { CheckpointStore } from "../../lib/engine/checkpoint.ts";
import { identifyCluster } from "../../lib/engine/cluster.ts";
import type { RunEvent } from "../../lib/engine/events.ts";
import { emptyPlan, type Step } from "../../lib/engine/types.ts";
import {
  applySetIdOf,
  type InventoryOptions,
  listInventories,
  readInventory,
  withPartOf,
  writeInventory,
} from "../../lib/kube/inventory.ts";
import { refOf } from "../../lib/kube/object_ref.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";

/** A step that only has an id, needs and (optionally) an uninstall: destroy reads the rest from the cluster. */
function step(
  id: string,
  needs: string[],
  uninstall?: () => Promise<void>,
): Step {
  const s: Step = {
    id,
    title: `step ${id}`,
    needs,
    options: {},
    plan: () => Promise.resolve(emptyPlan()),
    apply: () => Promise.resolve({}),
    verify: () => Promise.resolve({ checks: [] }),
  };
  if (uninstall) s.uninstall = () => uninstall();
  return s;
}

/** Applies the objects as members of the step's set and records its inventory. */
async function installed(
  kube: KubeClient,
  id: string,
  objects: KubeObject[],
  scope: InventoryOptions,
): Promise<void> {
  const applySetId = applySetIdOf(id, scope);
  const entries = [];
  for (const o of objects) {
    const live = await kube.apply(withPartOf(o, applySetId));
    entries.push({
      ...refOf(o),
      uid: live.metadata.uid,
      state: "applied" as const,
    });
  }
  await writeInventory(kube, { step: id, applySetId, entries }, scope);
}

/**
 * Where a test's inventories are: the state namespace `<ns>-state` and the
 * installation of its lock `kfplan-lock-<ns>`, as the destroys below use them.
 */
function scopeOf(ns: string): InventoryOptions {
  return { namespace: `${ns}-state`, installation: `kfplan-lock-${ns}` };
}

function configMap(ns: string, name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: ns },
    data: { name },
  };
}

Deno.test("destroySteps: dependents first, members deleted, inventories dropped, PVC kept, checkpoint reset, resumable", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("destroy-engine");
  const stateNamespace = `${ns}-state`;
  await using work = await tempDir();
  const lock = { name: `kfplan-lock-${ns}` };
  const base = {
    kube,
    stateNamespace,
    checkpointDir: work.path,
    lock,
    timeoutMs: 30_000,
  };
  await installed(
    kube,
    "base",
    [configMap(ns, "base-settings")],
    scopeOf(ns),
  );
  await installed(kube, "app", [
    configMap(ns, "app-settings"),
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "app-data", namespace: ns },
      spec: {
        accessModes: ["ReadWriteOnce"],
        resources: { requests: { storage: "1Gi" } },
        storageClassName: "kfplan-test-none",
      },
    },
  ], scopeOf(ns));
  const cluster = await identifyCluster(kube);
  const store = await CheckpointStore.open(work.path, cluster, {
    kube,
    lock,
    namespace: stateNamespace,
  });
  for (const id of ["base", "app"]) {
    await store.update(id, {
      status: "verified",
      options_digest: "sha256:x",
      attempts: 1,
    });
  }
  try {
    // A first destroy whose uninstall of `base` dies: `app` is done, `base` is not.
    const failing = [
      step("base", [], () => Promise.reject(new Error("killed"))),
      step("app", ["base"]),
    ];
    const first = await destroySteps(failing, base);
    assertEquals(first.ok, false);
    assertEquals(first.summary.done, ["app"]);
    assertEquals(first.summary.failed.map((f) => f.id), ["base"]);
    assert(
      await kube.get(refOf(configMap(ns, "base-settings"))),
      "base's member is still there",
    );
    assert(await readInventory(kube, "base", scopeOf(ns)));

    // Run again: it continues from the inventory.
    let uninstalled = 0;
    const steps = [
      step("base", [], () => {
        uninstalled++;
        return Promise.resolve();
      }),
      step("app", ["base"]),
    ];
    const events: RunEvent[] = [];
    const second = await destroySteps(steps, {
      ...base,
      confirm: (plan) => {
        // The plan lists what is left: base's ConfigMap; app only keeps its PVC.
        assertEquals(plan.summary.delete, 1);
        return Promise.resolve(true);
      },
      onEvent: (e) => events.push(e),
    });
    assert(second.ok, JSON.stringify(second.summary));
    assertEquals(second.summary.done, ["base"]);
    assertEquals(uninstalled, 1);
    assertEquals(
      await kube.get(refOf(configMap(ns, "base-settings"))),
      undefined,
    );
    assertEquals(
      await kube.get(refOf(configMap(ns, "app-settings"))),
      undefined,
    );
    assertEquals(second.kept.map((k) => k.name), ["app-data"]);
    assertMatch(
      second.kept[0].reason,
      /PersistentVolumeClaim.*--allow-data-loss/,
    );
    assertEquals(
      (await listInventories(kube, scopeOf(ns))).map((i) => [
        i.step,
        i.entries.map((e) => `${e.name} ${e.state}`),
      ]),
      [["app", ["app-data kept"]]],
    );
    const checkpoint = (await CheckpointStore.open(work.path, cluster, {
      kube,
      lock,
      namespace: stateNamespace,
    })).snapshot();
    assertEquals(checkpoint.steps.base.status, "pending");
    assertEquals(checkpoint.steps.app.status, "pending");
    assert(
      events.some((e) =>
        e.type === "object-delete" && e.phase === "deleted" &&
        e.ref.name === "base-settings"
      ),
    );

    // Dependents first, with data loss allowed: the PVC goes too.
    const order: string[] = [];
    const third = await destroySteps(steps, {
      ...base,
      allowDataLoss: true,
      onEvent: (e) => {
        if (e.type === "step-start") order.push(e.id);
      },
    });
    assert(third.ok);
    assertEquals(order, ["app"]);
    assertEquals(third.kept, []);
    assertEquals(
      await listInventories(kube, scopeOf(ns)),
      [],
    );
    assertEquals(
      (await destroySteps(steps, base)).outcome,
      "nothing-to-do",
    );
  } finally {
    for (const name of [ns, stateNamespace]) {
      await kube.delete({ apiVersion: "v1", kind: "Namespace", name }).catch(
        () => false,
      );
    }
  }
});

Deno.test("destroySteps runs dependents before what they need, from the graph", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("destroy-order");
  const stateNamespace = `${ns}-state`;
  await using work = await tempDir();
  // storage <- kubeflow <- users, and gpu on its own branch.
  const graph: [string, string[]][] = [
    ["storage", []],
    ["kubeflow", ["storage"]],
    ["users", ["kubeflow"]],
    ["gpu", []],
  ];
  for (const [id] of graph) {
    await installed(kube, id, [configMap(ns, id)], scopeOf(ns));
  }
  const finished: string[] = [];
  try {
    const result = await destroySteps(
      graph.map(([id, needs]) => step(id, needs)),
      {
        kube,
        stateNamespace,
        checkpointDir: work.path,
        lock: { name: `kfplan-lock-${ns}` },
        parallelism: 1,
        onEvent: (e) => {
          if (e.type === "step-done") finished.push(e.id);
        },
      },
    );
    assert(result.ok);
    const at = (id: string) => finished.indexOf(id);
    assert(at("users") < at("kubeflow"), finished.join(","));
    assert(at("kubeflow") < at("storage"), finished.join(","));
    assertEquals(finished.length, 4);
    // The plan lists the steps in the order destroy runs them.
    assert(
      result.plan.steps.findIndex((s) => s.id === "users") <
        result.plan.steps.findIndex((s) => s.id === "storage"),
    );
    assertEquals(result.plan.summary.delete, 4);
  } finally {
    for (const name of [ns, stateNamespace]) {
      await kube.delete({ apiVersion: "v1", kind: "Namespace", name }).catch(
        () => false,
      );
    }
  }
});

Deno.test("destroy takes over the lock of a dead holder of this host and says why", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("destroy-dead-lock");
  const stateNamespace = `${ns}-state`;
  await using work = await tempDir();
  const lock = { name: `kfplan-lock-${ns}` };
  // A process that ran and exited: its pid is not alive.
  const child = new Deno.Command("true", { stdout: "null" }).spawn();
  await child.status;
  const dead = `tester@${hostname()} pid ${child.pid}`;
  // Fresh and long: only the dead-pid check lets destroy take it.
  const held = await acquireLock(kube, {
    ...lock,
    holder: dead,
    leaseDurationSeconds: 3600,
    renewIntervalMs: 3_600_000,
  });
  await installed(kube, "app", [configMap(ns, "app-settings")], scopeOf(ns));
  const events: RunEvent[] = [];
  try {
    const result = await destroySteps([step("app", [])], {
      kube,
      stateNamespace,
      checkpointDir: work.path,
      lock,
      onEvent: (e) => events.push(e),
    });
    assert(result.ok, JSON.stringify(result.summary));
    const taken = events.find((e) => e.type === "lock");
    assertEquals(taken?.type === "lock" && taken.action, "took-over");
    assertMatch(
      taken?.type === "lock" ? taken.detail : "",
      new RegExp(
        `^took over the lock of ${dead}: its process \\(pid ${child.pid} on .+\\) is gone`,
      ),
    );
  } finally {
    await held.release(); // lost already: a no-op
    await breakLock(kube, { ...lock, force: true });
    for (const name of [ns, stateNamespace]) {
      await kube.delete({ apiVersion: "v1", kind: "Namespace", name }).catch(
        () => false,
      );
    }
  }
});

/** Kill points, chosen from the child's progress events. */
const KILL_POINTS: [string, (e: RunEvent) => boolean][] = [
  ["the lock taken", (e) => e.type === "lock" && e.action === "acquired"],
  [
    "the first delete sent",
    (e) => e.type === "object-delete" && e.phase === "deleting",
  ],
  ["the first step done", (e) => e.type === "step-done"],
];

Deno.test("a destroy killed with SIGKILL is continued by the next one (the inventory is the truth)", async () => {
  const { kube, kubeconfig, namespace } = await useCluster();
  const graph: [string, string[]][] = [["a", []], ["b", ["a"]]];
  for (const [point, hit] of KILL_POINTS) {
    const ns = await namespace("destroy-kill");
    const stateNamespace = `${ns}-state`;
    await using work = await tempDir();
    for (const [id] of graph) {
      await installed(
        kube,
        id,
        [configMap(ns, `${id}-1`), configMap(ns, `${id}-2`)],
        scopeOf(ns),
      );
    }
    const settings = {
      kubeconfig,
      stateNamespace,
      checkpointDir: work.path,
      lock: `kfplan-lock-${ns}`,
      graph,
    };
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--no-check",
          new URL("./_destroy_child.ts", import.meta.url).pathname,
          JSON.stringify(settings),
        ],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      let killed = false;
      let buffer = "";
      for await (
        const chunk of child.stdout.pipeThrough(new TextDecoderStream())
      ) {
        buffer += chunk;
        const lines = buffer.split("\n");
        buffer = lines.pop() ?? "";
        if (!killed && lines.some((l) => hit(JSON.parse(l) as RunEvent))) {
          child.kill("SIGKILL");
          killed = true;
        }
      }
      const status = await child.status;
      assert(killed, `the child reached ${point}`);
      assertEquals(status.signal, "SIGKILL", point);
      const again = await destroySteps(
        graph.map(([id, needs]) => step(id, needs)),
        {
          kube,
          stateNamespace,
          checkpointDir: work.path,
          lock: { name: settings.lock },
        },
      );
      assert(again.ok, `${point}: ${JSON.stringify(again.summary)}`);
      for (const [id] of graph) {
        for (const n of [1, 2]) {
          assertEquals(
            await kube.get(refOf(configMap(ns, `${id}-${n}`))),
            undefined,
            `${point}: ${id}-${n} deleted`,
          );
        }
      }
      assertEquals(
        await listInventories(kube, scopeOf(ns)),
        [],
        point,
      );
    } finally {
      for (const name of [ns, stateNamespace]) {
        await kube.delete({ apiVersion: "v1", kind: "Namespace", name })
          .catch(() => false);
      }
    }
  }
});
