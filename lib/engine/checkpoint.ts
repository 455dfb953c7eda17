/**
 * The checkpoint: what apply has done, per step, so a later apply resumes where the
 * last one stopped.
 *
 * With a cluster, the checkpoint lives in the cluster beside the step inventories: the
 * Secret `kfplan-system/kfplan-checkpoint` (type `kfplan.dev/checkpoint`, gzipped
 * canonical JSON), written with optimistic concurrency, so every checkout and machine
 * pointed at the cluster shares status and resume (see `docs/state.md`). A local file
 * under `.kfplan/` (keyed by the cluster's own identity, the `kube-system` uid, see
 * `cluster.ts`) is its cache and the only copy for runs without a cluster; it is
 * written atomically (temp file, fsync, rename, fsync of the directory) so that a
 * kill -9 at any moment leaves either the old or the new file. A local checkpoint of a
 * cluster that has none yet is migrated into the cluster on first use.
 *
 * A step recorded `applying` was interrupted; apply is idempotent, so resume simply
 * applies it again.
 *
 * @module
 */

import { z } from "../deps.ts";
import { basename, dirname, join } from "node:path";
import { hostname, userInfo } from "node:os";
import { writeFileAtomic } from "./_files.ts";
import { canonicalJson, sha256Hex } from "./digest.ts";
import {
  type ClusterIdentity,
  clusterMismatch,
  NO_CLUSTER,
} from "./cluster.ts";
import type { KubeClient, KubeObject } from "../kube/types.ts";
import { STATE_NAMESPACE } from "../kube/inventory.ts";
import { KubeApiError } from "../kube/errors.ts";
import { sleep, withRetry } from "../kube/retry.ts";
import { fromBase64, toBase64 } from "../kube/_bytes.ts";

export { type ClusterIdentity, NO_CLUSTER };
import { validateOptions } from "./options.ts";
import { installationOf } from "./lock.ts";

/** The current checkpoint format. */
export const CHECKPOINT_FORMAT_VERSION = "3";
/** Namespace of the checkpoint Secret (the namespace of kfplan's state). */
export const CHECKPOINT_NAMESPACE: string = STATE_NAMESPACE;
/**
 * Name of the checkpoint Secret. A hyphen, where step inventories are `kfplan.<step>`:
 * no step id can make an inventory parent collide with it.
 */
export const CHECKPOINT_NAME = "kfplan-checkpoint";
/** `type` of the checkpoint Secret. */
export const CHECKPOINT_SECRET_TYPE = "kfplan.dev/checkpoint";
/** Data key of the checkpoint Secret: base64 (on the wire) of gzip of the JSON. */
export const CHECKPOINT_DATA_KEY = "checkpoint.json.gz";
/**
 * Largest compressed checkpoint written to the cluster: an object may not exceed
 * 1 MiB in etcd, and the Secret's base64 and metadata need room.
 */
export const CHECKPOINT_MAX_BYTES = 700 * 1024;

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
  /** Version of the checkpoint format (3: shared through the cluster, `written_by`). */
  format_version: z.literal(CHECKPOINT_FORMAT_VERSION),
  /** The cluster this checkpoint belongs to (as the last writer named it). */
  cluster: z.object({
    server: z.string(),
    context: z.string(),
    uid: z.string().optional(),
  }).strict(),
  /** When the checkpoint was last written. */
  updated_at: z.string().optional(),
  /** Who wrote it last (`user@host`): checkouts on several machines share it. */
  written_by: z.string().optional(),
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
  return { format_version: CHECKPOINT_FORMAT_VERSION, cluster, steps: {} };
}

/**
 * Validates a checkpoint document of any known format, upgrading older ones: format 1
 * lacked the cluster uid, format 2 the `written_by` field; both read as format 3.
 * `source` names the file or object in errors.
 */
export function parseCheckpoint(data: unknown, source: string): Checkpoint {
  const version = (data as { format_version?: unknown })?.format_version;
  if (version === "1" || version === "2") {
    data = { ...(data as object), format_version: CHECKPOINT_FORMAT_VERSION };
  }
  return validateOptions(checkpointSchema, data, { source });
}

/**
 * Reads a checkpoint file; an absent file is an empty checkpoint. A file for another
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
  const cp = parseCheckpointText(text, path);
  const mismatch = clusterMismatch(cp.cluster, cluster);
  if (mismatch) throw new Error(`${path}: checkpoint ${mismatch}`);
  return cp;
}

function parseCheckpointText(text: string, source: string): Checkpoint {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${source}: checkpoint is not JSON (${
        (e as Error).message
      }); move it away to start over`,
    );
  }
  return parseCheckpoint(data, source);
}

/** `Secret kfplan-system/kfplan-checkpoint`: how messages name the default cluster copy. */
export const CHECKPOINT_LOCATION =
  `Secret ${CHECKPOINT_NAMESPACE}/${CHECKPOINT_NAME}`;

/**
 * Which installation's checkpoint: the one serialised by the apply lock's Lease
 * (`lock`), in the state namespace (`namespace`). One lock, one checkpoint: runs that
 * exclude each other through a Lease share a checkpoint, and runs with a Lease of
 * their own (tests sharing one control plane, a second installation) have their own.
 */
export interface CheckpointScope {
  /** Namespace of the checkpoint Secret; default `kfplan-system`. */
  namespace?: string;
  /** The apply lock's Lease; default `kube-system/kfplan-lock`. */
  lock?: { namespace?: string; name?: string };
}

/**
 * The checkpoint Secret of a scope: `kfplan-checkpoint` for the default lock, else
 * `kfplan-checkpoint.[<lease namespace>.]<lease name>`.
 *
 * @example
 * ```ts
 * checkpointRef({}).name; // "kfplan-checkpoint"
 * checkpointRef({ lock: { name: "team-a" } }).name; // "kfplan-checkpoint.team-a"
 * ```
 */
export function checkpointRef(
  scope: CheckpointScope = {},
): { apiVersion: string; kind: string; namespace: string; name: string } {
  const installation = installationOf(scope.lock);
  const suffix = installation ? `.${installation}` : "";
  return {
    apiVersion: "v1",
    kind: "Secret",
    namespace: scope.namespace ?? CHECKPOINT_NAMESPACE,
    name: `${CHECKPOINT_NAME}${suffix}`.slice(0, 253),
  };
}

function describeRef(ref: { namespace: string; name: string }): string {
  return `Secret ${ref.namespace}/${ref.name}`;
}

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function gunzip(bytes: Uint8Array): Promise<string> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

/**
 * The checkpoint Secret holding `text` (an encoded, scrubbed checkpoint), gzipped.
 * Throws, naming the size and the limit, when it would not fit the object size limit.
 */
export async function checkpointSecret(
  text: string,
  options: CheckpointScope & { resourceVersion?: string } = {},
): Promise<KubeObject> {
  const ref = checkpointRef(options);
  const resourceVersion = options.resourceVersion;
  const bytes = await gzip(text);
  if (bytes.length > CHECKPOINT_MAX_BYTES) {
    throw new Error(
      `the checkpoint is ${bytes.length} bytes gzipped (${text.length} bytes of JSON), more than the ${CHECKPOINT_MAX_BYTES} bytes ${
        describeRef(ref)
      } may hold`,
    );
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: {
        "app.kubernetes.io/managed-by": "kfplan",
        "kfplan.dev/state": "checkpoint",
      },
      annotations: {
        "kfplan.dev/format-version": CHECKPOINT_FORMAT_VERSION,
      },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    type: CHECKPOINT_SECRET_TYPE,
    data: { [CHECKPOINT_DATA_KEY]: toBase64(bytes) },
  } as KubeObject;
}

/** What {@linkcode readClusterCheckpoint} found. */
export interface ClusterCheckpoint {
  /** The document. */
  checkpoint: Checkpoint;
  /** The Secret's resourceVersion, for an optimistic write. */
  resourceVersion: string;
  /** Bytes of the Secret's gzipped data (what counts against the size limit). */
  bytes: number;
}

/**
 * Reads the checkpoint Secret of the cluster behind `kube`; `undefined` when there is
 * none. A checkpoint recorded for another cluster uid, or one that does not decode, is
 * an error naming the Secret.
 */
export async function readClusterCheckpoint(
  kube: KubeClient,
  cluster: ClusterIdentity,
  scope: CheckpointScope = {},
): Promise<ClusterCheckpoint | undefined> {
  const ref = checkpointRef(scope);
  const where = describeRef(ref);
  const secret = await kube.get(ref);
  if (!secret) return undefined;
  const data = (secret as { data?: Record<string, string> }).data ?? {};
  const encoded = data[CHECKPOINT_DATA_KEY];
  if (encoded === undefined) {
    throw new Error(
      `${where}: data key ${CHECKPOINT_DATA_KEY} is missing; delete the Secret to start over`,
    );
  }
  let text: string;
  const bytes = fromBase64(encoded);
  try {
    text = await gunzip(bytes);
  } catch (e) {
    throw new Error(
      `${where}: ${CHECKPOINT_DATA_KEY} is not gzip (${
        (e as Error).message
      }); delete the Secret to start over`,
    );
  }
  const checkpoint = parseCheckpointText(text, where);
  if (
    checkpoint.cluster.uid !== undefined && cluster.uid !== undefined &&
    checkpoint.cluster.uid !== cluster.uid
  ) {
    throw new Error(
      `${where}: checkpoint ${clusterMismatch(checkpoint.cluster, cluster)}`,
    );
  }
  // Whoever wrote it named the cluster by their own kubeconfig; this reader's name
  // is the one that means something here.
  checkpoint.cluster = { ...cluster };
  return {
    checkpoint,
    resourceVersion: secret.metadata.resourceVersion ?? "",
    bytes: bytes.length,
  };
}

/** Options for {@linkcode loadCheckpoint}. */
export interface LoadCheckpointOptions extends CheckpointScope {
  /** Directory of the local state (the offline copy). */
  dir: string;
  /** The cluster's identity. */
  cluster: ClusterIdentity;
}

/** What {@linkcode loadCheckpoint} read. */
export interface LoadedCheckpoint {
  /** The document (empty when there is none). */
  checkpoint: Checkpoint;
  /** Where it came from: the Secret or the local file. */
  location: string;
  /** `cluster` when read from the cluster's Secret. */
  source: "cluster" | "local";
}

/**
 * Reads the checkpoint without changing anything: the cluster's Secret when there is
 * a cluster and it holds one, else the local file (offline, or not migrated yet).
 *
 * @example
 * ```ts
 * const { checkpoint, location } = await loadCheckpoint(kube, { dir: ".kfplan", cluster });
 * ```
 */
export async function loadCheckpoint(
  kube: KubeClient | undefined,
  options: LoadCheckpointOptions,
): Promise<LoadedCheckpoint> {
  if (kube) {
    const remote = await readClusterCheckpoint(kube, options.cluster, options);
    if (remote) {
      return {
        checkpoint: remote.checkpoint,
        location: describeRef(checkpointRef(options)),
        source: "cluster",
      };
    }
  }
  const path = checkpointPath(options.dir, options.cluster);
  return {
    checkpoint: await readCheckpoint(path, options.cluster),
    location: path,
    source: "local",
  };
}

/** Options for {@linkcode CheckpointStore.open}. */
export interface CheckpointStoreOptions extends CheckpointScope {
  /**
   * The cluster: the checkpoint is then read from and written to its Secret, the
   * local file being a cache. Without it only the local file is used.
   */
  kube?: KubeClient;
  /** Transforms text before it is written (the run's secret scrubber). */
  scrub?: (text: string) => string;
  /** Clock, for tests. */
  now?: () => Date;
  /** Told what happened to the state (the migration of a local checkpoint). */
  onLog?: (message: string) => void;
  /** Who writes, recorded as `written_by`; default `user@host`. */
  writer?: string;
}

/**
 * Conflicting writers are merged and written again this many times at most (a verify
 * elsewhere, or the parallel tests of one shared control plane).
 */
const MAX_CONFLICTS = 20;

/**
 * A checkpoint with serialised updates: concurrent steps update it through
 * {@linkcode CheckpointStore.update}; each update is written (local cache first, then
 * the cluster's Secret) before it resolves. A write that finds the Secret changed by
 * another writer (a `verify` elsewhere) takes their entries for the steps this store
 * did not change, and writes again.
 */
export class CheckpointStore {
  /** The local file (the cache, or the only copy without a cluster). */
  readonly path: string;
  /** Where the checkpoint lives: the Secret with a cluster, else {@linkcode path}. */
  readonly location: string;
  #data: Checkpoint;
  #queue: Promise<void> = Promise.resolve();
  #scrub: (text: string) => string;
  #now: () => Date;
  #kube?: KubeClient;
  #scope: CheckpointScope;
  #writer: string;
  /** resourceVersion of the Secret as last read or written; undefined: absent. */
  #resourceVersion?: string;
  /** Update generation, and the generation each changed step had when changed. */
  #generation = 0;
  #written = 0;
  #dirty = new Map<string, number>();

  private constructor(
    path: string,
    data: Checkpoint,
    options: CheckpointStoreOptions & { resourceVersion?: string },
  ) {
    this.path = path;
    this.location = options.kube ? describeRef(checkpointRef(options)) : path;
    this.#scope = { namespace: options.namespace, lock: options.lock };
    this.#data = data;
    this.#scrub = options.scrub ?? ((t) => t);
    this.#now = options.now ?? (() => new Date());
    this.#kube = options.kube;
    this.#writer = options.writer ?? defaultWriter();
    this.#resourceVersion = options.resourceVersion;
  }

  /**
   * Opens (or starts) the checkpoint of `cluster`: with `options.kube` the cluster's
   * Secret (migrating the local file of `dir` into it when the cluster has none yet),
   * otherwise the local file in `dir`.
   */
  static async open(
    dir: string,
    cluster: ClusterIdentity,
    options: CheckpointStoreOptions = {},
  ): Promise<CheckpointStore> {
    const path = checkpointPath(dir, cluster);
    await removeStaleTempFiles(path);
    const kube = options.kube;
    const remote = kube
      ? await readClusterCheckpoint(kube, cluster, options)
      : undefined;
    if (remote) {
      const store = new CheckpointStore(path, remote.checkpoint, {
        ...options,
        resourceVersion: remote.resourceVersion,
      });
      await store.#refreshCache();
      return store;
    }
    const local = await readCheckpoint(path, cluster);
    const store = new CheckpointStore(path, local, options);
    if (kube && Object.keys(local.steps).length > 0) {
      store.#generation++;
      for (const id of Object.keys(local.steps)) store.#dirty.set(id, 1);
      await store.#write();
      options.onLog?.(
        `migrated the local checkpoint ${path} (${
          Object.keys(local.steps).length
        } steps) into ${store.location}; the file stays as its cache`,
      );
    }
    return store;
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

  /** Merges `patch` into the step's entry and writes it; resolves once durable. */
  update(id: string, patch: Partial<CheckpointStep>): Promise<void> {
    const prev = this.#data.steps[id] ??
      { status: "pending", options_digest: "", attempts: 0 };
    const next: CheckpointStep = { ...prev, ...patch };
    for (const k of Object.keys(next) as (keyof CheckpointStep)[]) {
      if (next[k] === undefined) delete next[k];
    }
    this.#data.steps[id] = next;
    this.#generation++;
    this.#dirty.set(id, this.#generation);
    const write = this.#queue.then(() => this.#write());
    this.#queue = write.catch(() => {});
    return write;
  }

  /** Waits for pending writes. */
  async flush(): Promise<void> {
    await this.#queue;
  }

  /** Writes everything not written yet: the local cache, then the Secret. */
  async #write(): Promise<void> {
    // Updates queued behind one another are written once, by the first of them.
    if (this.#written >= this.#generation) return;
    const generation = this.#generation;
    let text = this.#encode();
    await writeFileAtomic(this.path, text);
    if (this.#kube) {
      for (let conflicts = 0;; conflicts++) {
        if (await this.#push(this.#kube, text)) break;
        if (conflicts >= MAX_CONFLICTS) {
          throw new Error(
            `${this.location}: changed by another writer ${MAX_CONFLICTS} times in a row while saving; try again`,
          );
        }
        // Jittered, so that writers that collided do not collide again in lockstep.
        await sleep(Math.random() * 50 * (conflicts + 1));
        text = this.#encode();
        await writeFileAtomic(this.path, text);
      }
    }
    this.#written = generation;
    for (const [id, g] of this.#dirty) {
      if (g <= generation) this.#dirty.delete(id);
    }
  }

  #encode(): string {
    this.#data.updated_at = this.#now().toISOString();
    this.#data.written_by = this.#writer;
    return this.#scrub(encodeCheckpoint(this.#data));
  }

  /**
   * Creates or replaces the Secret with `text`. Resolves false after a conflict, with
   * the other writer's entries merged in (the caller writes again).
   */
  async #push(kube: KubeClient, text: string): Promise<boolean> {
    const secret = await checkpointSecret(text, {
      ...this.#scope,
      resourceVersion: this.#resourceVersion,
    });
    try {
      const written = await withRetry(
        `write ${this.location}`,
        () =>
          this.#resourceVersion === undefined
            ? createInNamespace(kube, secret)
            : kube.replace(secret),
        // The client retried already; this covers an API server that is restarting.
        { policy: { maxAttempts: 4, baseDelayMs: 1000, maxDelayMs: 4000 } },
      );
      this.#resourceVersion = written.metadata.resourceVersion;
      return true;
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 404 && this.#resourceVersion !== undefined) {
        // Deleted under us (destroy, or by hand): recreate it.
        this.#resourceVersion = undefined;
        return false;
      }
      if (status !== 409) throw e;
      const remote = await readClusterCheckpoint(
        kube,
        this.#data.cluster,
        this.#scope,
      );
      this.#resourceVersion = remote?.resourceVersion;
      if (remote) this.#merge(remote.checkpoint);
      return false;
    }
  }

  /** Takes the other writer's entries for every step this store did not change. */
  #merge(remote: Checkpoint): void {
    const steps = { ...remote.steps };
    for (const id of this.#dirty.keys()) {
      const ours = this.#data.steps[id];
      if (ours) steps[id] = ours;
    }
    this.#data = { ...this.#data, steps };
  }

  /** Rewrites the local cache when it differs from what the cluster holds. */
  async #refreshCache(): Promise<void> {
    const text = this.#scrub(encodeCheckpoint(this.#data));
    const current = await Deno.readTextFile(this.path).catch(() => undefined);
    if (current !== text) await writeFileAtomic(this.path, text);
  }
}

/** Creates `object`, creating the state namespace first when it is missing. */
async function createInNamespace(
  kube: KubeClient,
  object: KubeObject,
): Promise<KubeObject> {
  try {
    return await kube.create(object);
  } catch (e) {
    if (!(e instanceof KubeApiError) || e.status !== 404) throw e;
  }
  try {
    // Create-only: kfplan never updates the namespace of its state.
    await kube.create({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: object.metadata.namespace ?? CHECKPOINT_NAMESPACE },
    });
  } catch (e) {
    // Another writer (an inventory, a second checkout) created it first.
    if (!(e instanceof KubeApiError) || e.status !== 409) throw e;
  }
  return await kube.create(object);
}

function defaultWriter(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    user = Deno.env.get("USER") ?? "unknown";
  }
  return `${user}@${hostname()}`;
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
