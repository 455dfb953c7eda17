/**
 * Faults: the apply of an upgrade (config A → B, `_faults_steps.ts`) is killed with
 * SIGKILL at 10 points and a destroy at 5, each point an event line of the process's
 * `--json` progress; each time the run is resumed. Every run converges (the resumed
 * apply succeeds and the next plan is empty; the resumed destroy leaves nothing
 * owned), no object kfplan labelled or created is in no inventory, and nothing
 * verified (or destroyed) before the kill is done again.
 *
 * The killed runs are processes (`_faults_app.ts`, the task commands with the test's
 * steps); resumes and resets run in this process through the engine, which is what
 * the commands call.
 */
import { assert, assertEquals } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import { useCluster } from "../cluster/harness.ts";
import { applySteps, type RunEvent } from "../../lib/engine/executor.ts";
import { destroySteps } from "../../lib/engine/destroy.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { hasChanges } from "../../lib/engine/plan_document.ts";
import { PART_OF_LABEL, readInventory } from "../../lib/kube/inventory.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import {
  configA,
  configB,
  type FaultConfig,
  faultSteps,
} from "./_faults_steps.ts";

const APP = new URL("./_faults_app.ts", import.meta.url).pathname;

/** What a killed process printed before it died. */
interface Killed {
  lines: RunEvent[];
  killed: boolean;
  code: number;
}

/**
 * Runs the app and kills it with SIGKILL once it printed `killAt` event lines, not
 * counting `log` lines: their number varies (a delete logs a wait only when it
 * waits), the other events' does not.
 */
async function runKilled(
  command: "apply" | "destroy",
  killAt: number,
  env: { config: string; checkpoint: string; kubeconfig: string; lock: string },
): Promise<Killed> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      APP,
      command,
      "--config",
      env.config,
      "--checkpoint",
      env.checkpoint,
      "--kubeconfig",
      env.kubeconfig,
      "--json",
      "--yes",
    ],
    env: { KFPLAN_FAULTS_LOCK: env.lock, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: RunEvent[] = [];
  let killed = false;
  let counted = 0;
  let buffer = "";
  const decoder = new TextDecoder();
  const stderr = new Response(child.stderr).text();
  for await (const chunk of child.stdout) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (killed || !line.startsWith("{")) continue;
      const event = JSON.parse(line) as RunEvent;
      lines.push(event);
      if (event.type !== "log" && ++counted === killAt) {
        child.kill("SIGKILL");
        killed = true;
      }
    }
  }
  const { code } = await child.status;
  const err = await stderr;
  if (!killed) {
    throw new Error(
      `${command} ended (exit ${code}) before event ${killAt}:\n${err}`,
    );
  }
  return { lines, killed, code };
}

/** Objects of the kinds the steps create, in the test namespace, minus Kubernetes' own. */
async function liveObjects(
  kube: KubeClient,
  ns: string,
): Promise<KubeObject[]> {
  const cms = await kube.list("v1", "ConfigMap", { namespace: ns });
  const sas = await kube.list("v1", "ServiceAccount", { namespace: ns });
  return [...cms, ...sas].filter((o) =>
    o.metadata.name !== "kube-root-ca.crt" && o.metadata.name !== "default"
  );
}

function key(o: { kind: string; name?: string; metadata?: { name: string } }) {
  return `${o.kind} ${o.name ?? o.metadata?.name}`;
}

/** Every object created by the steps is in its step's inventory and carries its label. */
async function assertAllOwned(
  kube: KubeClient,
  config: FaultConfig,
  what: string,
): Promise<void> {
  const owned = new Map<string, string>();
  for (const step of faultSteps(config)) {
    const inventory = await readInventory(kube, step.id, {
      installation: `kfplan-lock-${config.namespace}`,
    });
    for (const e of inventory?.entries ?? []) {
      owned.set(key(e), inventory!.applySetId);
    }
  }
  for (const o of await liveObjects(kube, config.namespace)) {
    const set = owned.get(key(o));
    assert(set !== undefined, `${what}: ${key(o)} is in no inventory`);
    assertEquals(
      o.metadata.labels?.[PART_OF_LABEL],
      set,
      `${what}: ${key(o)} is labelled for its set`,
    );
  }
}

function desiredKeys(config: FaultConfig): string[] {
  return faultSteps(config).flatMap((s) =>
    (s.options as { objects: KubeObject[] }).objects.map(key)
  ).sort();
}

function ids(events: RunEvent[], type: RunEvent["type"]): string[] {
  return events.filter((e) => e.type === type).map((e) =>
    (e as { id: string }).id
  );
}

/** How many events of a run are not `log` lines. */
function steady(events: RunEvent[]): number {
  return events.filter((e) => e.type !== "log").length;
}

/**
 * `count` kill points spread over a run's non-`log` events, the last one before the
 * run's final `run-end` and lock release.
 */
function killPoints(events: RunEvent[], count: number): number[] {
  const last = steady(events) - 2;
  return Array.from(
    { length: count },
    (_, i) => Math.max(1, Math.round(1 + (i * (last - 1)) / (count - 1))),
  );
}

Deno.test("SIGKILL at 10 points of an upgrade and 5 of a destroy: every resume converges, nothing unowned, nothing verified redone", async () => {
  const cluster = await useCluster();
  const { kube } = cluster;
  const ns = await cluster.namespace("kfplan-faults");
  const prefix = `f${crypto.randomUUID().slice(0, 6)}`;
  const lock = `kfplan-lock-${ns}`;
  await using work = await tempDir();
  const a = configA(prefix, ns);
  const b = configB(prefix, ns);
  const configFile = `${work.path}/b.json`;
  await Deno.writeTextFile(configFile, JSON.stringify(b));
  const env = {
    config: configFile,
    checkpoint: `${work.path}/state`,
    kubeconfig: cluster.kubeconfig,
    lock,
  };
  const engine = { kube, checkpointDir: env.checkpoint, lock: { name: lock } };
  async function apply(config: FaultConfig) {
    const events: RunEvent[] = [];
    const result = await applySteps(faultSteps(config), {
      ...engine,
      onEvent: (e) => events.push(e),
    });
    assert(result.ok, JSON.stringify(result.summary));
    return events;
  }
  const report: string[] = [];
  try {
    // Rehearsal: how many event lines an upgrade and a destroy print.
    await apply(a);
    const upgradeEvents = await apply(b);
    const destroyEvents: RunEvent[] = [];
    const rehearsed = await destroySteps(faultSteps(b), {
      ...engine,
      onEvent: (e) => destroyEvents.push(e),
    });
    assert(rehearsed.ok, JSON.stringify(rehearsed.summary));

    for (const at of killPoints(upgradeEvents, 10)) {
      await apply(a);
      await assertAllOwned(kube, a, `config A before kill at ${at}`);
      const killed = await runKilled("apply", at, env);
      const last = killed.lines.at(-1)!;
      await assertAllOwned(kube, b, `upgrade killed at event ${at}`);
      const resumed = await apply(b);
      const verifiedBefore = ids(killed.lines, "step-done");
      for (const id of verifiedBefore) {
        // Skipped, or the whole run had nothing to do (no step events at all).
        const nothingToDo = !resumed.some((e) => e.type === "run-start");
        assert(
          (nothingToDo || ids(resumed, "step-skipped").includes(id)) &&
            !ids(resumed, "step-start").includes(id),
          `upgrade killed at ${at}: ${id} was verified before the kill and is done again: ${
            JSON.stringify(
              resumed.filter((e) =>
                (e as { id?: string }).id === id || e.type === "plan"
              ).map((e) =>
                e.type === "plan" ? e.plan.steps.find((s) => s.id === id) : e
              ),
            )
          }\nkilled run: ${
            killed.lines.map((e) =>
              `${e.type} ${(e as { id?: string }).id ?? ""}`
            ).join(", ")
          }`,
        );
      }
      const { document } = await planSteps(faultSteps(b), {
        kube,
        checkpointDir: env.checkpoint,
        lock: { name: lock },
      });
      assert(!hasChanges(document), `upgrade killed at ${at}: plan not empty`);
      await assertAllOwned(kube, b, `upgrade resumed after kill at ${at}`);
      assertEquals(
        (await liveObjects(kube, ns)).map(key).sort(),
        desiredKeys(b),
      );
      report.push(
        `upgrade kill at event ${at}/${steady(upgradeEvents)} (${last.type}${
          "id" in last ? ` ${last.id}` : ""
        }): ${verifiedBefore.length} steps verified before, resume ok (${
          ids(resumed, "step-skipped").length
        } skipped, ${ids(resumed, "step-done").length} done)`,
      );
    }

    for (const at of killPoints(destroyEvents, 5)) {
      await apply(b);
      const killed = await runKilled("destroy", at, env);
      const last = killed.lines.at(-1)!;
      await assertAllOwned(kube, b, `destroy killed at event ${at}`);
      const events: RunEvent[] = [];
      const resumed = await destroySteps(faultSteps(b), {
        ...engine,
        onEvent: (e) => events.push(e),
      });
      assert(resumed.ok, JSON.stringify(resumed.summary));
      const destroyedBefore = ids(killed.lines, "step-done");
      for (const id of destroyedBefore) {
        assert(
          !ids(events, "step-start").includes(id),
          `destroy killed at ${at}: ${id} was destroyed before the kill and is destroyed again`,
        );
      }
      assertEquals((await liveObjects(kube, ns)).map(key), []);
      for (const step of faultSteps(b)) {
        assertEquals(
          await readInventory(kube, step.id, { installation: lock }),
          undefined,
          step.id,
        );
      }
      report.push(
        `destroy kill at event ${at}/${steady(destroyEvents)} (${last.type}${
          "id" in last ? ` ${last.id}` : ""
        }): ${destroyedBefore.length} steps destroyed before, resume ${resumed.outcome}`,
      );
    }
    console.log(report.join("\n"));
  } finally {
    await destroySteps(faultSteps(b), engine).catch(() => {});
  }
});
