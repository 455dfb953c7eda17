/**
 * The fault tests' apply and destroy, as a process the test can kill: the task
 * commands with the steps of a JSON {@linkcode FaultConfig} (`--config FILE`) and a
 * Lease of its own (`KFPLAN_FAULTS_LOCK`).
 *
 *     deno run -A tests/integration/_faults_app.ts apply --config c.json --json --yes …
 *     deno run -A tests/integration/_faults_app.ts destroy --config c.json --json --yes …
 *
 * @module
 */

import { applyCommand } from "../../lib/cli/apply.ts";
import { destroyCommand } from "../../lib/cli/destroy.ts";
import type { Composition, SessionOptions } from "../../lib/cli/session.ts";
import { type FaultConfig, faultSteps } from "./_faults_steps.ts";

async function compose(path: string | undefined): Promise<Composition> {
  if (!path) throw new Error("--config FILE (a fault test config) is required");
  const config = JSON.parse(await Deno.readTextFile(path)) as FaultConfig;
  return { steps: faultSteps(config) };
}

if (import.meta.main) {
  const [command, ...args] = Deno.args;
  const lock = Deno.env.get("KFPLAN_FAULTS_LOCK");
  const options: SessionOptions = {
    compose,
    ...(lock ? { lock: { name: lock } } : {}),
  };
  const run = command === "destroy" ? destroyCommand : applyCommand;
  run(args, options).then((code) => Deno.exit(code));
}
