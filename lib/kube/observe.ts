/**
 * Cheap observation for plans. Diffing every desired object by server-side dry-run
 * costs two requests per object (a GET and a dry-run apply); a plan with nothing to do
 * should cost about one read of the cluster. {@linkcode observingClient} wraps a
 * {@linkcode KubeClient} so that `diff`:
 *
 * - reads live objects in bulk, one LIST per kind and namespace, shared by every
 *   object of that kind there;
 * - answers `no-op` without a dry-run when the object is exactly as kfplan last
 *   applied it: its desired state has the same digest as then, and the live object
 *   was not written since (same `resourceVersion`), or only its status moved (same
 *   `generation`, and the labels and annotations kfplan sets are still there);
 * - dry-runs everything else: objects that are absent, changed since kfplan applied
 *   them, or whose desired state changed.
 *
 * It also records what `apply` returns, so the next plan has something to compare
 * with. Any out-of-band write to a field shows up as a new `resourceVersion` (or, for
 * spec changes, a new `generation`), so drift is never hidden.
 *
 * @module
 */

import { objectKey, type ObjectRef, refOf } from "./object_ref.ts";
import { redactObject } from "./diff.ts";
import type { KubeClient, KubeObject, ObjectDiff } from "./types.ts";

/** What kfplan recorded about an object right after applying it. */
export interface AppliedRecord {
  /** `metadata.resourceVersion` in the apply's response. */
  resourceVersion: string;
  /** `metadata.generation` in the apply's response, for kinds that have one. */
  generation?: number;
  /** Digest of the desired object as applied (keyed when it holds secrets). */
  digest: string;
}

/** Options for {@linkcode observingClient}. */
export interface ObservingOptions {
  /** Records of the last apply, by {@linkcode objectKey}. */
  lastApplied?: Readonly<Record<string, AppliedRecord>>;
  /**
   * Digest of a desired object. It covers Secret values, so callers pass a keyed
   * digest (see the engine's `secret_digest.ts`).
   */
  digest(object: KubeObject): string;
  /** LIST requests in flight at once; default 8 (well inside API priority and fairness). */
  concurrency?: number;
}

/** How much a plan read and how many dry-runs it saved. */
export interface ObservationStats {
  /** LIST requests made. */
  lists: number;
  /** Objects diffed by server-side dry-run. */
  dryRuns: number;
  /** Objects found unchanged since kfplan applied them, without a dry-run. */
  unchanged: number;
  /**
   * Drift: {@linkcode objectKey}s of objects kfplan applied whose desired state is
   * the same as then (same digest) but that the server would change (edited or
   * deleted out of band). Config changes are not drift.
   */
  drifted: string[];
}

/** A {@linkcode KubeClient} that observes in bulk and records what it applied. */
export interface ObservingClient extends KubeClient {
  /** Records of the objects applied through this client (dry-runs excluded). */
  appliedRecords(): Record<string, AppliedRecord>;
  /** What this client read and saved so far. */
  stats(): ObservationStats;
  /** Whether the last apply recorded applying this object (kfplan owns it). */
  recorded(ref: ObjectRef): boolean;
}

/**
 * Wraps `kube` for one step's plan or apply. Reads other than `diff` pass through
 * unchanged (waits and verifies always see the live cluster).
 *
 * @example
 * ```ts
 * const observed = observingClient(kube, { lastApplied, digest: (o) => digester.digest(o) });
 * const plan = await planObjects(observed, objects);
 * ```
 */
export function observingClient(
  kube: KubeClient,
  options: ObservingOptions,
): ObservingClient {
  const lists = new Map<string, Promise<Map<string, KubeObject> | undefined>>();
  const applied: Record<string, AppliedRecord> = {};
  const stats: ObservationStats = {
    lists: 0,
    dryRuns: 0,
    unchanged: 0,
    drifted: [],
  };
  const gate = limiter(options.concurrency ?? 8);

  function listed(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
  ): Promise<Map<string, KubeObject> | undefined> {
    const key = `${apiVersion} ${kind} ${namespace ?? ""}`;
    let found = lists.get(key);
    if (!found) {
      stats.lists++;
      found = gate(() =>
        kube.list(apiVersion, kind, namespace ? { namespace } : {})
      )
        .then((items) => new Map(items.map((o) => [o.metadata.name, o])))
        // Not allowed to list, say: fall back to per-object reads.
        .catch(() => undefined);
      lists.set(key, found);
    }
    return found;
  }

  // Start reading what the last apply wrote while the step renders: the kinds and
  // namespaces are known from the records, so the reads overlap the render.
  for (const key of Object.keys(options.lastApplied ?? {})) {
    const where = groupOf(key);
    if (where) listed(where.apiVersion, where.kind, where.namespace);
  }

  async function diff(object: KubeObject): Promise<ObjectDiff> {
    const record = options.lastApplied?.[objectKey(refOf(object))];
    if (record) {
      const live = await liveOf(object);
      if (live && unchangedSinceApplied(live, object, record, options)) {
        stats.unchanged++;
        return { action: "no-op", diff: [], live: redactObject(live) };
      }
    }
    stats.dryRuns++;
    const result = await kube.diff(object);
    if (
      record && result.action !== "no-op" &&
      options.digest(object) === record.digest
    ) {
      stats.drifted.push(objectKey(refOf(object)));
    }
    return result;
  }

  async function liveOf(object: KubeObject): Promise<KubeObject | undefined> {
    const served = await kube.resourceFor(object.apiVersion, object.kind);
    if (!served) return undefined;
    const namespace = served.namespaced ? object.metadata.namespace : undefined;
    if (served.namespaced && !namespace) return undefined;
    const byName = await listed(object.apiVersion, object.kind, namespace);
    return byName?.get(object.metadata.name);
  }

  return {
    get context() {
      return kube.context;
    },
    get server() {
      return kube.server;
    },
    get kubeconfigPath() {
      return kube.kubeconfigPath;
    },
    serverVersion: () => kube.serverVersion(),
    servedApiVersions: () => kube.servedApiVersions(),
    resourceFor: (apiVersion, kind) => kube.resourceFor(apiVersion, kind),
    invalidateDiscovery: () => kube.invalidateDiscovery(),
    get: (ref) => kube.get(ref),
    list: (apiVersion, kind, listOptions) =>
      kube.list(apiVersion, kind, listOptions),
    async apply(object, applyOptions) {
      const result = await kube.apply(object, applyOptions);
      if (!applyOptions?.dryRun && result.metadata.resourceVersion) {
        applied[objectKey(refOf(object))] = {
          resourceVersion: result.metadata.resourceVersion,
          ...(result.metadata.generation !== undefined
            ? { generation: result.metadata.generation }
            : {}),
          digest: options.digest(object),
        };
      }
      return result;
    },
    create: (object, createOptions) => kube.create(object, createOptions),
    replace: (object) => kube.replace(object),
    delete: (ref, deleteOptions) => kube.delete(ref, deleteOptions),
    diff,
    waitFor: (ref, check, waitOptions) => kube.waitFor(ref, check, waitOptions),
    appliedRecords: () => ({ ...applied }),
    recorded: (ref) => options.lastApplied?.[objectKey(ref)] !== undefined,
    stats: () => ({ ...stats, drifted: [...stats.drifted] }),
  };
}

/**
 * True when `live` is as kfplan applied it: same desired state, and not written
 * since, or written only by status updates (same generation, and every label and
 * annotation kfplan sets still has its value).
 */
export function unchangedSinceApplied(
  live: KubeObject,
  desired: KubeObject,
  record: AppliedRecord,
  options: Pick<ObservingOptions, "digest">,
): boolean {
  if (options.digest(desired) !== record.digest) return false;
  if (live.metadata.resourceVersion === record.resourceVersion) return true;
  if (
    record.generation === undefined ||
    live.metadata.generation !== record.generation
  ) return false;
  return sameEntries(desired.metadata.labels, live.metadata.labels) &&
    sameEntries(desired.metadata.annotations, live.metadata.annotations);
}

function sameEntries(
  want: Record<string, string> | undefined,
  have: Record<string, string> | undefined,
): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);
}

/** The kind and namespace of an {@linkcode objectKey}: `apiVersion Kind namespace/name`. */
function groupOf(
  key: string,
): { apiVersion: string; kind: string; namespace?: string } | undefined {
  const m = /^(\S+) (\S+) ([^/]*)\//.exec(key);
  return m
    ? { apiVersion: m[1], kind: m[2], namespace: m[3] || undefined }
    : undefined;
}

/** Runs at most `limit` of the given tasks at once. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    while (running >= limit) {
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
