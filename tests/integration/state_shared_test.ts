/**
 * The checkpoint lives in the cluster: two checkouts (two state directories, as on two
 * machines) pointed at one control plane share status, resume and the lock; a local
 * checkpoint of an earlier kfplan is migrated into the cluster on first use.
 *
 * Each test uses a Lease of its own, hence a checkpoint Secret of its own (one lock,
 * one checkpoint), so the files sharing one control plane under `deno task test` do
 * not see each other's steps.
 */
import { assert, assertEquals, assertMatch, rejects } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import { useCluster } from "../cluster/harness.ts";
import { applySteps, type RunEvent } from "../../lib/engine/executor.ts";
import {
  checkpointPath,
  checkpointRef,
  loadCheckpoint,
  readClusterCheckpoint,
} from "../../lib/engine/checkpoint.ts";
import { identifyCluster } from "../../lib/engine/cluster.ts";
import {
  acquireLock,
  breakLock,
  defaultHolder,
  LockHeldError,
} from "../../lib/engine/lock.ts";
import { statusCommand } from "../../lib/cli/status.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { Composition } from "../../lib/cli/session.ts";
import type { Step } from "../../lib/engine/types.ts";
import type { KubeClient } from "../../lib/kube/types.ts";
import { configMapStep } from "./_configmap_step.ts";

/** Three ConfigMap steps in a chain; `third` fails while `broken.value` is true. */
function chain(ns: string, broken: { value: boolean }) {
  const applies: Record<string, number> = {};
  function counted(step: Step): Step {
    return {
      ...step,
      apply(ctx, plan) {
        applies[step.id] = (applies[step.id] ?? 0) + 1;
        if (step.id === "third" && broken.value) {
          throw new Error("injected failure: the third step's backend is down");
        }
        return step.apply(ctx, plan);
      },
    };
  }
  const steps = [
    configMapStep("first", { namespace: ns, name: "first", data: { a: "1" } }),
    configMapStep("second", {
      namespace: ns,
      name: "second",
      data: { b: "2" },
    }, { needs: ["first"] }),
    configMapStep("third", { namespace: ns, name: "third", data: { c: "3" } }, {
      needs: ["second"],
    }),
  ].map(counted);
  return { steps, applies };
}

/** One checkout: its own state directory, the shared cluster and Lease. */
function checkout(
  kube: KubeClient,
  dir: string,
  lock: string,
) {
  return async (steps: Step[]) => {
    const events: RunEvent[] = [];
    const result = await applySteps(steps, {
      kube,
      checkpointDir: dir,
      lock: { name: lock },
      onEvent: (e) => events.push(e),
    });
    return { result, events };
  };
}

function ids(events: RunEvent[], type: RunEvent["type"]): string[] {
  return events.filter((e) => e.type === type).map((e) =>
    (e as { id: string }).id
  );
}

Deno.test("two checkouts share status, resume and the lock through the cluster", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("kfplan-shared");
  const lock = `kfplan-lock-${ns}`;
  await using a = await tempDir();
  await using b = await tempDir();
  const broken = { value: true };
  const { steps, applies } = chain(ns, broken);
  const fromA = checkout(cluster.kube, a.path, lock);
  const fromB = checkout(cluster.kube, b.path, lock);

  // A fails mid-apply: first and second verified, third failed.
  const first = await fromA(steps);
  assertEquals(first.result.ok, false);
  assertEquals(first.result.summary.done, ["first", "second"]);
  assertEquals(first.result.summary.failed.map((f) => f.id), ["third"]);

  // B has never run here, yet its status shows what A did.
  const io = capturedIO();
  const status = await statusCommand(["--checkpoint", b.path], {
    io,
    compose: (): Promise<Composition> => Promise.resolve({ steps }),
    connect: () => Promise.resolve({ kube: cluster.kube }),
    lock: { name: lock },
  });
  assertEquals(status, 0, io.stderr());
  const out = io.stdout();
  assertMatch(out, /Checkpoint: Secret kfplan-system\/kfplan-checkpoint\./);
  assertMatch(out, /first\s+verified/);
  assertMatch(out, /second\s+verified/);
  assertMatch(out, /third\s+failed[^]*last error: injected failure/);

  // B resumes: the verified steps are skipped, not applied again; third is done.
  broken.value = false;
  const resumed = await fromB(steps);
  assert(resumed.result.ok, JSON.stringify(resumed.result.summary));
  assertEquals(ids(resumed.events, "step-skipped"), ["first", "second"]);
  assertEquals(resumed.result.summary.done, ["third"]);
  assertEquals(applies, { first: 1, second: 1, third: 2 });

  // A's local file is stale, the cluster is not: A has nothing to do.
  const again = await fromA(steps);
  assertEquals(again.result.outcome, "nothing-to-do");
  assertEquals(applies, { first: 1, second: 1, third: 2 });
  const identity = await identifyCluster(cluster.kube);
  const loaded = await loadCheckpoint(cluster.kube, {
    dir: a.path,
    cluster: identity,
    lock: { name: lock },
  });
  assertEquals(loaded.source, "cluster");
  assertEquals(
    Object.values(loaded.checkpoint.steps).map((s) => s.status),
    ["verified", "verified", "verified"],
  );

  // The same lock: while a holder on another machine holds it, B is refused...
  const remote = await acquireLock(cluster.kube, {
    name: lock,
    holder: "ci@another-machine pid 4242",
    leaseDurationSeconds: 3600,
    renewIntervalMs: 3_600_000,
  });
  // A change, so that B has something to apply: the lock must stop it first.
  const changed = chain(ns, { value: false }).steps.map((s) =>
    s.id === "first"
      ? configMapStep("first", {
        namespace: ns,
        name: "first",
        data: { a: "changed" },
      })
      : s
  );
  const refused = await rejects(() => fromB(changed), LockHeldError);
  assertMatch(refused.message, /ci@another-machine pid 4242/);
  await remote.release();

  // ...and a holder that is a dead process of this host is taken over at once.
  const gone = new Deno.Command("true", { stdout: "null" }).spawn();
  await gone.status;
  const deadHolder = defaultHolder().replace(/pid \d+$/, `pid ${gone.pid}`);
  await acquireLock(cluster.kube, {
    name: lock,
    holder: deadHolder,
    leaseDurationSeconds: 3600,
    renewIntervalMs: 3_600_000,
  });
  const taken = await fromB(changed);
  assert(taken.result.ok, JSON.stringify(taken.result.summary));
  const took = taken.events.find((e) =>
    e.type === "lock" && e.action === "took-over"
  );
  assert(took, "the takeover is reported");
  assertMatch(
    (took as { detail: string }).detail,
    new RegExp(
      `took over the lock of .*pid ${gone.pid}: its process .* is gone`,
    ),
  );
  await breakLock(cluster.kube, { name: lock, force: true });
});

Deno.test("a local checkpoint of an earlier kfplan (format 2) is migrated into the cluster on first use", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("kfplan-migrate");
  const identity = await identifyCluster(cluster.kube);
  await using dir = await tempDir();
  const { steps, applies } = chain(ns, { value: false });
  // Run once under a Lease of its own, then turn the local copy into what kfplan
  // before the cluster checkpoint wrote: format 2, nothing in the cluster.
  const old = `kfplan-lock-${ns}-old`;
  const first = await checkout(cluster.kube, dir.path, old)(steps);
  assert(first.result.ok);
  await cluster.kube.delete(checkpointRef({ lock: { name: old } }));
  const path = checkpointPath(dir.path, identity);
  const local = JSON.parse(await Deno.readTextFile(path));
  local.format_version = "2";
  delete local.written_by;
  await Deno.writeTextFile(path, JSON.stringify(local));

  const lock = `kfplan-lock-${ns}`;
  assertEquals(
    await readClusterCheckpoint(cluster.kube, identity, {
      lock: { name: lock },
    }),
    undefined,
  );
  const migrated = await checkout(cluster.kube, dir.path, lock)(steps);
  assertEquals(migrated.result.outcome, "nothing-to-do");
  assertEquals(applies, { first: 1, second: 1, third: 1 });
  const line = migrated.events.find((e) =>
    e.type === "log" && /migrated the local checkpoint/.test(e.message)
  );
  assert(line, "the migration is reported");
  assertMatch(
    (line as { message: string }).message,
    /migrated the local checkpoint .*checkpoint-.*\.json \(3 steps\) into Secret kfplan-system\/kfplan-checkpoint\..*; the file stays as its cache/,
  );
  const remote = await readClusterCheckpoint(cluster.kube, identity, {
    lock: { name: lock },
  });
  assert(remote);
  assertEquals(remote.checkpoint.format_version, "3");
  assertEquals(Object.keys(remote.checkpoint.steps).sort(), [
    "first",
    "second",
    "third",
  ]);
  // The file stays, as the cache (now in the new format).
  const cache = JSON.parse(await Deno.readTextFile(path));
  assertEquals(cache.format_version, "3");

  // Another checkout now resumes from the migrated state without a local file.
  await using other = await tempDir();
  const fromOther = await checkout(cluster.kube, other.path, lock)(steps);
  assertEquals(fromOther.result.outcome, "nothing-to-do");
  await cluster.kube.delete(checkpointRef({ lock: { name: lock } }));
});
