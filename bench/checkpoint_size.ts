/**
 * The size of the checkpoint Secret for a configuration (default
 * `examples/kfplan.yaml`): every step planned offline, recorded `verified` as apply
 * records it (keyed digests, timestamps, one `applied_objects` entry per desired
 * object with a resourceVersion and a digest: an upper bound, as steps installed
 * through Helm record none), then encoded as the Secret kfplan writes
 * (`lib/engine/checkpoint.ts`). Prints the bytes of the JSON, of its gzip (what counts
 * against the limit), and of the Secret as sent.
 *
 *     deno run -A bench/checkpoint_size.ts [kfplan.yaml]
 *
 * @module
 */

import { composeFromConfig } from "../lib/cli/session.ts";
import { planSteps } from "../lib/engine/planner.ts";
import {
  type Checkpoint,
  CHECKPOINT_DATA_KEY,
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_MAX_BYTES,
  checkpointSecret,
  encodeCheckpoint,
} from "../lib/engine/checkpoint.ts";
import { SecretDigester } from "../lib/engine/secret_digest.ts";
import { refOf } from "../lib/kube/object_ref.ts";

async function main(): Promise<void> {
  const config = Deno.args[0] ?? "examples/kfplan.yaml";
  const { steps } = await composeFromConfig(config);
  const { plans } = await planSteps(steps, { offlineReason: "size estimate" });
  const digester = new SecretDigester(
    crypto.getRandomValues(new Uint8Array(32)),
  );
  const at = new Date().toISOString();
  const checkpoint: Checkpoint = {
    format_version: CHECKPOINT_FORMAT_VERSION,
    cluster: {
      server: "https://10.0.0.1:6443",
      context: "prod",
      uid: crypto.randomUUID(),
    },
    updated_at: at,
    written_by: "ana@ws1",
    steps: {},
  };
  let objects = 0;
  for (const step of steps) {
    const desired = plans.get(step.id)?.desired ?? [];
    objects += desired.length;
    const applied = Object.fromEntries(desired.map((o, i) => {
      const r = refOf(o);
      return [
        `${r.apiVersion} ${r.kind} ${
          r.namespace ? `${r.namespace}/` : ""
        }${r.name}`,
        {
          resourceVersion: String(100000 + i * 7),
          generation: 1,
          digest: digester.digest(o),
        },
      ];
    }));
    checkpoint.steps[step.id] = {
      status: "verified",
      options_digest: digester.digest(step.options),
      inputs_digest: digester.digest([step.id, "inputs"]),
      desired_digest: digester.digest(desired),
      outputs: {},
      ...(desired.length > 0 ? { applied_objects: applied } : {}),
      started_at: at,
      applied_at: at,
      verified_at: at,
      finished_at: at,
      attempts: 1,
    };
  }
  const text = encodeCheckpoint(checkpoint);
  const secret = await checkpointSecret(text);
  const data = (secret as unknown as { data: Record<string, string> }).data[
    CHECKPOINT_DATA_KEY
  ];
  const gzipped = atob(data).length;
  console.log(
    `${config}: ${steps.length} steps, ${objects} objects; checkpoint JSON ${text.length} B, gzip ${gzipped} B (${
      (100 * gzipped / CHECKPOINT_MAX_BYTES).toFixed(1)
    }% of the ${CHECKPOINT_MAX_BYTES} B kfplan allows), Secret as sent ${
      JSON.stringify(secret).length
    } B`,
  );
}

if (import.meta.main) main();
