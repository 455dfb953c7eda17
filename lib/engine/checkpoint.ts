/**
 * The checkpoint: what apply has done, per step, so a later apply resumes where the
 * last one stopped. One JSON file per cluster (keyed by the cluster's own identity,
 * the `kube-system` uid, see `cluster.ts`), by default under `.kfplan/` next to the
 * config, written atomically (temp file, fsync, rename, fsync of
 * the directory) so that a kill -9 at any moment leaves either the old or the new file.
 *
 * A step recorded `applying` was interrupted; apply is idempotent, so resume simply
 * applies it again.
 *
 * @module
 */

import { z } from "../deps.ts";
import { basename, dirname, join } from "node:path";
import { writeFileAtomic } from "./_files.ts";
import { canonicalJson, sha256Hex } from "./digest.ts";
import {
  type ClusterIdentity,
  clusterMismatch,
  NO_CLUSTER,
} from "./cluster.ts";

export { type ClusterIdentity, NO_CLUSTER };
import { validateOptions } from "./options.ts";

/** Where a step stands. */
export const checkpointStatusSchema = z.enum([
  "pending",
  "applying",
  "applied",
  "verified",
  "failed",
]);

/** Where a step stands. */
export type CheckpointStatus = z.infer<typeof checkpointStatusSchema>;

/** zod schema of one step's entry: the single source of {@linkcode CheckpointStep}. */
export const checkpointStepSchema = z.object({
  /** Where the step stands. */
  status: checkpointStatusSchema,
  /** Digest of the options this status was reached with. */
  options_digest: z.string(),
  /** Digest of the upstream outputs the step saw; a change re-applies the step. */
  inputs_digest: z.string().optional(),
  /**
   * The plan's `desired_digest` when the step was last applied (keyed: it covers
   * Secret values). Options hold secret *references*, so a rotated secret leaves the
   * options digest alone but changes this one.
   */
  desired_digest: z.string().optional(),
  /** Outputs (sensitive ones redacted). */
  outputs: z.record(z.string(), z.unknown()).optional(),
  /**
   * What the last apply wrote, by object (`apiVersion Kind namespace/name`): the
   * resourceVersion and generation the server answered and a keyed digest of the
   * desired object, so the next plan skips the dry-run of objects nobody touched.
   */
  applied_objects: z.record(
    z.string(),
    z.object({
      resourceVersion: z.string(),
      generation: z.int().optional(),
      digest: z.string(),
    }).strict(),
  ).optional(),
  /** When the last attempt started. */
  started_at: z.string().optional(),
  /** When apply last returned. */
  applied_at: z.string().optional(),
  /** When verify last passed. */
  verified_at: z.string().optional(),
  /** When the last attempt ended (verified or failed). */
  finished_at: z.string().optional(),
  /** The last error, secrets scrubbed. */
  last_error: z.string().optional(),
  /** Number of apply attempts. */
  attempts: z.int().min(0),
}).strict();

/** What the checkpoint records for one step. */
export type CheckpointStep = z.infer<typeof checkpointStepSchema>;

/** zod schema of the checkpoint document: the single source of {@linkcode Checkpoint}. */
export const checkpointSchema = z.object({
  /** Version of the checkpoint format. */
  format_version: z.literal("2"),
  /** The cluster this checkpoint belongs to. */
  cluster: z.object({
    server: z.string(),
    context: z.string(),
    uid: z.string().optional(),
  }).strict(),
  /** When the file was last written. */
  updated_at: z.string().optional(),
  /** Entries by step id. */
  steps: z.record(z.string(), checkpointStepSchema),
}).strict();

/** The checkpoint document. */
export type Checkpoint = z.infer<typeof checkpointSchema>;

/** Serialises a checkpoint: the one encoder (canonical JSON, 2-space indent). */
export function encodeCheckpoint(checkpoint: Checkpoint): string {
  return canonicalJson(checkpoint, { indent: 2 }) + "\n";
}

/**
 * The checkpoint file for a cluster inside `dir`: readable context name plus a digest
 * of server and context, so two clusters never share a file.
 *
 * @example
 * ```ts
 * checkpointPath(".kfplan", { server: "https://10.0.0.1:6443", context: "prod", uid: "6c1f…" });
 * // ".kfplan/checkpoint-prod-3f2a9c1b0d4e.json"
 * ```
 */
export function checkpointPath(dir: string, cluster: ClusterIdentity): string {
  const slug = cluster.context.replace(/[^A-Za-z0-9_.-]+/g, "_").slice(0, 40) ||
    "default";
  // The cluster's own uid, when there is one: a cluster recreated at the same
  // address gets a new file instead of the old cluster's "verified" steps.
  const key = sha256Hex(
    cluster.uid ?? `${cluster.server}\0${cluster.context}`,
  ).slice(0, 12);
  return join(dir, `checkpoint-${slug}-${key}.json`);
}

/** An empty checkpoint for a cluster. */
export function emptyCheckpoint(cluster: ClusterIdentity): Checkpoint {
  return { format_version: "2", cluster, steps: {} };
}

/**
 * Reads a checkpoint; an absent file is an empty checkpoint. A file for another
 * cluster or with an invalid shape is an error naming the file.
 */
export async function readCheckpoint(
  path: string,
  cluster: ClusterIdentity,
): Promise<Checkpoint> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return emptyCheckpoint(cluster);
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${path}: checkpoint is not JSON (${
        (e as Error).message
      }); move it away to start over`,
    );
  }
  // Format 1 lacked only the cluster uid; it is read as format 2.
  if ((data as { format_version?: unknown })?.format_version === "1") {
    (data as { format_version: string }).format_version = "2";
  }
  const cp = validateOptions(checkpointSchema, data, { source: path });
  const mismatch = clusterMismatch(cp.cluster, cluster);
  if (mismatch) throw new Error(`${path}: checkpoint ${mismatch}`);
  return cp;
}

/** Options for {@linkcode CheckpointStore.open}. */
export interface CheckpointStoreOptions {
  /** Transforms text before it is written (the run's secret scrubber). */
  scrub?: (text: string) => string;
  /** Clock, for tests. */
  now?: () => Date;
}

/**
 * A checkpoint file with serialised updates: concurrent steps update it through
 * {@linkcode CheckpointStore.update}, each update is written atomically before it
 * resolves.
 */
export class CheckpointStore {
  /** The checkpoint file. */
  readonly path: string;
  #data: Checkpoint;
  #queue: Promise<void> = Promise.resolve();
  #scrub: (text: string) => string;
  #now: () => Date;

  private constructor(
    path: string,
    data: Checkpoint,
    options: CheckpointStoreOptions,
  ) {
    this.path = path;
    this.#data = data;
    this.#scrub = options.scrub ?? ((t) => t);
    this.#now = options.now ?? (() => new Date());
  }

  /** Opens (or starts) the checkpoint of `cluster` in `dir`. */
  static async open(
    dir: string,
    cluster: ClusterIdentity,
    options: CheckpointStoreOptions = {},
  ): Promise<CheckpointStore> {
    const path = checkpointPath(dir, cluster);
    await removeStaleTempFiles(path);
    return new CheckpointStore(
      path,
      await readCheckpoint(path, cluster),
      options,
    );
  }

  /** A copy of the current contents. */
  snapshot(): Checkpoint {
    return structuredClone(this.#data);
  }

  /** The entry of one step. */
  get(id: string): CheckpointStep | undefined {
    const s = this.#data.steps[id];
    return s ? structuredClone(s) : undefined;
  }

  /** Merges `patch` into the step's entry and writes the file; resolves once durable. */
  update(id: string, patch: Partial<CheckpointStep>): Promise<void> {
    const prev = this.#data.steps[id] ??
      { status: "pending", options_digest: "", attempts: 0 };
    const next: CheckpointStep = { ...prev, ...patch };
    for (const k of Object.keys(next) as (keyof CheckpointStep)[]) {
      if (next[k] === undefined) delete next[k];
    }
    this.#data.steps[id] = next;
    this.#data.updated_at = this.#now().toISOString();
    const text = this.#scrub(encodeCheckpoint(this.#data));
    const write = this.#queue.then(() => writeFileAtomic(this.path, text));
    this.#queue = write.catch(() => {});
    return write;
  }

  /** Waits for pending writes. */
  async flush(): Promise<void> {
    await this.#queue;
  }
}

/** Temp files older than this were left by a killed writer. */
const STALE_TEMP_MS = 10 * 60 * 1000;

/**
 * Removes temp files a killed writer of `path` left behind. Only old ones: a young one
 * may belong to a writer still running.
 */
async function removeStaleTempFiles(path: string): Promise<void> {
  const prefix = `.${basename(path)}.`;
  try {
    for await (const entry of Deno.readDir(dirname(path))) {
      if (
        !entry.isFile || !entry.name.startsWith(prefix) ||
        !entry.name.endsWith(".tmp")
      ) continue;
      const file = join(dirname(path), entry.name);
      const stat = await Deno.stat(file).catch(() => undefined);
      if (stat?.mtime && Date.now() - stat.mtime.getTime() > STALE_TEMP_MS) {
        await Deno.remove(file).catch(() => {});
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
