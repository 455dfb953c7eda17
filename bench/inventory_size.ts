/**
 * The size of the inventories of a configuration (default `examples/kfplan.yaml`):
 * every step's desired objects, planned offline, encoded as the parent Secrets kfplan
 * writes (`lib/kube/inventory.ts`), each entry `applied` with a 36-character uid as
 * the cluster would assign. Prints per step the number of members and the bytes of
 * `data.inventory` (the JSON, as stored) and of the whole Secret as sent (base64).
 *
 *     deno run -A bench/inventory_size.ts [kfplan.yaml]
 *
 * @module
 */

import { composeFromConfig } from "../lib/cli/session.ts";
import { planSteps } from "../lib/engine/planner.ts";
import {
  applySetIdOf,
  inventoryJson,
  inventoryParent,
} from "../lib/kube/inventory.ts";
import { refOf } from "../lib/kube/object_ref.ts";

async function main(): Promise<void> {
  const config = Deno.args[0] ?? "examples/kfplan.yaml";
  const { steps } = await composeFromConfig(config);
  const { plans } = await planSteps(steps, { offlineReason: "size estimate" });
  let members = 0;
  let jsonBytes = 0;
  let secretBytes = 0;
  for (const step of steps) {
    const plan = plans.get(step.id);
    if (!plan?.desired) continue;
    const patched = new Set(
      (plan.patched ?? []).map((r) => `${r.kind} ${r.namespace}/${r.name}`),
    );
    const entries = plan.desired
      .filter((o) =>
        o.kind !== "Node" &&
        !patched.has(`${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)
      )
      .map((o) => ({
        ...refOf(o),
        uid: crypto.randomUUID(),
        state: "applied" as const,
      }));
    const inventory = {
      step: step.id,
      applySetId: applySetIdOf(step.id),
      entries,
    };
    const json = new TextEncoder().encode(inventoryJson(inventory)).length;
    const secret = JSON.stringify(inventoryParent(inventory)).length;
    members += entries.length;
    jsonBytes += json;
    secretBytes += secret;
    console.log(
      `${step.id}: ${entries.length} members, data.inventory ${json} B, Secret ${secret} B`,
    );
  }
  console.log(
    `total: ${members} members, data.inventory ${jsonBytes} B (${
      (jsonBytes / 1024).toFixed(1)
    } KiB), Secrets ${secretBytes} B (${(secretBytes / 1024).toFixed(1)} KiB)`,
  );
}

if (import.meta.main) main();
