/**
 * Destroy: removing what the steps installed, from their inventories in the cluster.
 * {@linkcode destroySteps} plans first (every delete listed per step, every kept
 * object with its reason, as a {@linkcode PlanDocument} the plan renderers show),
 * asks for confirmation, takes the same lock as apply, then runs the steps in
 * reverse graph order (dependents first): each step's `uninstall` (Helm releases),
 * then the deletes of its remaining inventory members in reverse dependency order,
 * then its inventory parent is dropped (or keeps only the kept entries) and its
 * checkpoint entry is reset so a later apply starts it fresh. Last, it verifies that
 * nothing the steps owned remains except what was kept.
 *
 * The inventory is the truth: a destroy killed at any point is continued by running
 * it again (objects already gone are skipped, uninstall is idempotent).
 *
 * @module
 */

import {
  deleteInventory,
  type Inventory,
  type InventoryEntry,
  type InventoryOptions,
  PART_OF_LABEL,
  readInventory,
  writeInventory,
} from "../kube/inventory.ts";
import {
  type DeleteEvent,
  deleteObjects,
  type KeptObject,
  liveObject,
  planPrune,
  type PrunePlan,
} from "../kube/prune.ts";
import { compareRefs, objectKey, type ObjectRef } from "../kube/object_ref.ts";
import type { KubeClient } from "../kube/types.ts";
import { CheckpointStore } from "./checkpoint.ts";
import { identifyCluster } from "./cluster.ts";
import {
  contextFor,
  errorMessage,
  removeDir,
  scrubberFor,
} from "./_context.ts";
import {
  createEmitter,
  type Emitter,
  eventLogger,
  type RunEvent,
  type RunSummary,
} from "./events.ts";
import { DEFAULT_PARALLELISM, runGraph, topologicalOrder } from "./graph.ts";
import { installationOf, type LockOptions } from "./lock.ts";
import { releaseRunLock, takeRunLock } from "./_run_lock.ts";
import {
  KFPLAN_VERSION,
  PLAN_FORMAT_VERSION,
  type PlanDocument,
  summarize,
} from "./plan_document.ts";
import { planStepEntry } from "./planner.ts";
import type { SecretScrubber } from "./redact.ts";
import { loadDigestKey } from "./secret_digest.ts";
import { emptyPlan, type Logger, type Step } from "./types.ts";

/** Why a delete is planned, as the destroy plan shows it. */
export const DESTROY_REASON = "destroy";

/** Options for {@linkcode destroySteps}. */
export interface DestroyStepsOptions {
  /** The cluster (required: there is nothing to destroy offline). */
  kube: KubeClient;
  /** Delete data holders too (PVCs, PVs, non-empty namespaces, CRDs with foreign instances). */
  allowDataLoss?: boolean;
  /**
   * Asked with the plan before anything is deleted; resolving false cancels. Not
   * asked when there is nothing to do. Default: no question.
   */
  confirm?: (plan: PlanDocument) => Promise<boolean>;
  /** Take the cluster Lease lock (default true), or its options. */
  lock?: boolean | LockOptions;
  /**
   * Namespace of the step inventories (ApplySet parents); default `kfplan-system`
   * (tests use one of their own).
   */
  stateNamespace?: string;
  /** Directory of the local state (checkpoint cache, digest key); default `.kfplan`. */
  checkpointDir?: string;
  /** The config (path, digest), recorded in the plan. */
  config?: { path: string; digest: string };
  /** How long one object may take to go (its finalizers); default 120 s (namespaces 300 s). */
  timeoutMs?: number;
  /** Steps destroyed at once (dependents always before what they need); default 4. */
  parallelism?: number;
  /** Receives progress events (scrubbed of secrets). */
  onEvent?: (event: RunEvent) => void;
  /** Logger for step messages. */
  log?: Logger;
  /** Scratch directory for `uninstall`; default a temp dir removed afterwards. */
  workDir?: string;
  /** Aborting starts no new step and no new delete. */
  signal?: AbortSignal;
  /** Clock, for tests. */
  now?: () => Date;
}

/** How a destroy ended. */
export type DestroyOutcome = "destroyed" | "nothing-to-do" | "cancelled";

/** What a destroy did. */
export interface DestroyStepsResult {
  /** True when every step was destroyed and nothing owned remains but what was kept. */
  ok: boolean;
  /** `destroyed`, `nothing-to-do` (no inventory of these steps), `cancelled` (confirm said no). */
  outcome: DestroyOutcome;
  /** The destroy plan that was shown and carried out. */
  plan: PlanDocument;
  /** Done / failed / not started, by step id. */
  summary: RunSummary;
  /** Objects kept (data, keep markers, changed owner), each with its reason. */
  kept: KeptObject[];
  /** Objects the steps owned that are still there although not kept (after a failure). */
  remaining: ObjectRef[];
}

/** What the plan found for one step. */
interface StepDestroy {
  step: Step;
  inventory?: Inventory;
  prune: PrunePlan;
  /** `uninstall` runs: the step has one and keeps nothing it could remove. */
  uninstall: boolean;
}

/** What one run shares between its phases. */
interface DestroyRun {
  kube: KubeClient;
  options: DestroyStepsOptions;
  emitter: Emitter;
  scrubber: SecretScrubber;
  store: CheckpointStore;
  workDir: string;
  signal: AbortSignal;
}

/**
 * Plans, confirms, locks and destroys the steps (dependents first); see the module
 * doc. Never throws for a step that fails to go (see `result.ok` and the summary);
 * throws before anything is deleted for an invalid graph, an unreadable inventory
 * or a held lock.
 *
 * @example
 * ```ts
 * const result = await destroySteps(steps, { kube, confirm: async () => true });
 * for (const k of result.kept) console.log(`kept ${k.kind} ${k.name}: ${k.reason}`);
 * ```
 */
export async function destroySteps(
  steps: readonly Step[],
  options: DestroyStepsOptions,
): Promise<DestroyStepsResult> {
  const { kube } = options;
  const order = topologicalOrder(steps);
  const cluster = await identifyCluster(kube);
  const scrubber = scrubberFor(steps);
  const emitter = createEmitter(scrubber, options);
  const stateDir = options.checkpointDir ?? ".kfplan";
  const { digester } = await loadDigestKey(kube, { stateDir });
  const planned = await planDestroy(kube, order, options);
  const plan: PlanDocument = destroyDocument(planned, {
    cluster,
    config: options.config,
    now: emitter.now,
    entry: (d) =>
      planStepEntry(d.step, {
        ...emptyPlan(),
        changes: d.prune.deletes.map((c) => ({
          ...c,
          reason: DESTROY_REASON,
        })),
        kept: d.prune.kept,
        warnings: uninstallWarnings(d),
      }, digester),
  });
  emitter.emit({ type: "plan", plan });
  const kept = planned.flatMap((d) => d.prune.kept);
  const work = planned.filter(needsWork);
  const empty: RunSummary = {
    done: [],
    skipped: [],
    failed: [],
    not_started: [],
  };
  if (work.length === 0) {
    return {
      ok: true,
      outcome: "nothing-to-do",
      plan,
      summary: { ...empty, skipped: order.map((s) => s.id) },
      kept,
      remaining: [],
    };
  }
  if (options.confirm && !await options.confirm(plan)) {
    return {
      ok: true,
      outcome: "cancelled",
      plan,
      summary: empty,
      kept,
      remaining: [],
    };
  }
  const abort = new AbortController();
  const onAbort = () => abort.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const lock = options.lock === false ? undefined : await takeRunLock(
    kube,
    typeof options.lock === "object" ? options.lock : {},
    { emitter, abort },
  );
  const workDir = options.workDir ??
    await Deno.makeTempDir({ prefix: "kfplan-destroy-" });
  try {
    const store = await CheckpointStore.open(stateDir, cluster, {
      kube,
      // The checkpoint of the lock held: apply's, unless a Lease of its own is named.
      lock: typeof options.lock === "object" ? options.lock : undefined,
      ...(options.stateNamespace ? { namespace: options.stateNamespace } : {}),
      scrub: (t) => scrubber.scrub(t),
      now: emitter.now,
      onLog: (message) => emitter.emit({ type: "log", level: "info", message }),
    });
    const run: DestroyRun = {
      kube,
      options,
      emitter,
      scrubber,
      store,
      workDir,
      signal: abort.signal,
    };
    const summary = await destroyInOrder(run, work, order);
    const remaining = await remainingObjects(kube, work);
    for (const ref of remaining) {
      emitter.emit({
        type: "log",
        level: "warn",
        message: `still there although destroy deleted it: ${objectKey(ref)}`,
      });
    }
    const ok = summary.failed.length === 0 &&
      summary.not_started.length === 0 && remaining.length === 0;
    emitter.emit({ type: "run-end", ok, summary });
    return { ok, outcome: "destroyed", plan, summary, kept, remaining };
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    if (lock) await releaseRunLock(lock, { emitter, scrubber });
    if (!options.workDir) await removeDir(workDir);
  }
}

/**
 * A step with something left to do: deletes, an uninstall, or inventory entries not
 * yet recorded as kept. A step whose inventory only lists kept objects is done.
 */
function needsWork(d: StepDestroy): boolean {
  if (!d.inventory) return false;
  return d.prune.deletes.length > 0 || d.uninstall ||
    d.inventory.entries.some((e) => e.state !== "kept") ||
    d.inventory.entries.length === 0;
}

/** Where the inventories are. */
function inventoryOptions(options: DestroyStepsOptions): InventoryOptions {
  const installation = installationOf(
    typeof options.lock === "object" ? options.lock : {},
  );
  return {
    ...(options.stateNamespace ? { namespace: options.stateNamespace } : {}),
    ...(installation ? { installation } : {}),
  };
}

/** Uninstall notes for the plan reader. */
function uninstallWarnings(d: StepDestroy): string[] {
  if (!d.inventory || !d.step.uninstall) return [];
  return d.uninstall
    ? [
      "destroy runs the step's uninstall first (e.g. `helm uninstall` of its release)",
    ]
    : [
      "the step's uninstall (e.g. `helm uninstall`) is skipped: it would remove the kept objects too; the step's other objects are deleted one by one",
    ];
}

/**
 * Each step's deletes and kept objects. A namespace or CRD counts as holding data
 * when it contains objects these steps do not own, or objects they keep: kept
 * objects leave the owned set until nothing changes (a kept PVC keeps its
 * namespace).
 */
async function planDestroy(
  kube: KubeClient,
  order: readonly Step[],
  options: DestroyStepsOptions,
): Promise<StepDestroy[]> {
  const inventories = await Promise.all(
    order.map((s) => readInventory(kube, s.id, inventoryOptions(options))),
  );
  let owned: ObjectRef[] = inventories.flatMap((inv) => inv?.entries ?? []);
  for (let round = 0;; round++) {
    const prunes = await Promise.all(order.map((_step, i) => {
      const inventory = inventories[i];
      if (!inventory) return Promise.resolve({ deletes: [], kept: [] });
      return planPrune(kube, inventory.entries.map(candidateOf), {
        owned,
        partOf: inventory.applySetId,
        allowDataLoss: options.allowDataLoss,
      });
    }));
    const keptKeys = new Set(
      prunes.flatMap((p) => p.kept).map((k) => objectKey(k)),
    );
    const next = owned.filter((r) => !keptKeys.has(objectKey(r)));
    if (next.length === owned.length || round >= 5) {
      // Dependents first: the plan reads in the order destroy runs.
      return order.map((step, i) => ({
        step,
        inventory: inventories[i],
        prune: prunes[i],
        uninstall: step.uninstall !== undefined && prunes[i].kept.length === 0,
      })).reverse();
    }
    owned = next;
  }
}

function plainRef(ref: ObjectRef): ObjectRef {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    name: ref.name,
    ...(ref.namespace ? { namespace: ref.namespace } : {}),
  };
}

function candidateOf(entry: InventoryEntry) {
  return {
    apiVersion: entry.apiVersion,
    kind: entry.kind,
    namespace: entry.namespace,
    name: entry.name,
    uid: entry.uid,
  };
}

/** The destroy plan as a plan document (steps in the order destroy runs them). */
function destroyDocument(
  planned: readonly StepDestroy[],
  inputs: {
    cluster: { server: string; context: string; uid?: string };
    config?: { path: string; digest: string };
    now: () => Date;
    entry: (d: StepDestroy) => PlanDocument["steps"][number];
  },
): PlanDocument {
  const steps = planned.map(inputs.entry);
  const doc: PlanDocument = {
    format_version: PLAN_FORMAT_VERSION,
    kfplan_version: KFPLAN_VERSION,
    created_at: inputs.now().toISOString(),
    cluster: {
      offline: false,
      server: inputs.cluster.server,
      context: inputs.cluster.context,
      uid: inputs.cluster.uid,
    },
    summary: summarize(steps),
    steps,
  };
  if (inputs.config) doc.config = inputs.config;
  return doc;
}

/** Destroys the steps, dependents first, at most `parallelism` at once. */
async function destroyInOrder(
  run: DestroyRun,
  work: readonly StepDestroy[],
  order: readonly Step[],
): Promise<RunSummary> {
  const { emitter } = run;
  const byId = new Map(work.map((d) => [d.step.id, d]));
  // The reversed graph: a step waits for every step that needs it.
  const nodes = order.map((s) => ({
    id: s.id,
    needs: order.filter((o) => o.needs.includes(s.id)).map((o) => o.id),
  }));
  emitter.emit({
    type: "run-start",
    command: "destroy",
    steps: work.map((d) => d.step.id),
  });
  const errors = new Map<string, string>();
  const result = await runGraph(nodes, async (node) => {
    const d = byId.get(node.id);
    if (!d) return;
    const started = Date.now();
    emitter.emit({ type: "step-start", id: d.step.id, title: d.step.title });
    try {
      await destroyStep(run, d);
      emitter.emit({
        type: "step-done",
        id: d.step.id,
        elapsed_ms: Date.now() - started,
      });
    } catch (error) {
      const message = errorMessage(error, run.scrubber);
      errors.set(d.step.id, message);
      emitter.emit({
        type: "step-failed",
        id: d.step.id,
        error: message,
        elapsed_ms: Date.now() - started,
      });
      throw error;
    }
  }, {
    parallelism: run.options.parallelism ?? DEFAULT_PARALLELISM,
    signal: run.signal,
  });
  await run.store.flush();
  const summary: RunSummary = {
    done: result.done.filter((id) => byId.has(id)),
    skipped: [],
    failed: result.failed.map((id) => ({
      id,
      error: errors.get(id) ?? "failed",
    })),
    not_started: result.notStarted.filter((id) => byId.has(id)).map((id) => {
      const o = result.outcomes.get(id);
      return {
        id,
        reason: o?.status === "not-started" ? o.reason : "not started",
      };
    }),
  };
  for (const n of summary.not_started) {
    emitter.emit({ type: "step-not-started", id: n.id, reason: n.reason });
  }
  return summary;
}

/**
 * One step: its checkpoint entry is reset first (a half-destroyed step is not
 * current for apply), then uninstall, the deletes, and the inventory update.
 */
async function destroyStep(run: DestroyRun, d: StepDestroy): Promise<void> {
  const { kube, emitter, store } = run;
  const id = d.step.id;
  const inventory = d.inventory!;
  await store.update(id, {
    status: "pending",
    desired_digest: undefined,
    inputs_digest: undefined,
    applied_objects: undefined,
    outputs: undefined,
    applied_at: undefined,
    verified_at: undefined,
    last_error: undefined,
  });
  if (d.uninstall && d.step.uninstall) {
    emitter.emit({ type: "step-phase", id, phase: "uninstall" });
    await d.step.uninstall(contextFor(d.step, {
      kube,
      log: eventLogger(run.options.log, { emitter, id }),
      workDir: run.workDir,
      signal: run.signal,
      scrubber: run.scrubber,
      outputs: new Map(),
    }));
  }
  emitter.emit({ type: "step-phase", id, phase: "delete" });
  const candidates = inventory.entries.map(candidateOf);
  const wanted = new Set(d.prune.deletes.map((c) => objectKey(c)));
  const result = await deleteObjects(
    kube,
    candidates.filter((c) => wanted.has(objectKey(c))),
    {
      partOf: inventory.applySetId,
      timeoutMs: run.options.timeoutMs,
      signal: run.signal,
      onEvent: (e: DeleteEvent) =>
        emitter.emit({
          type: "object-delete",
          id,
          phase: e.type,
          ref: e.ref,
          ...(e.type === "waiting"
            ? { detail: `finalizers: ${e.finalizers.join(", ")}` }
            : e.type === "skipped"
            ? { detail: e.reason }
            : {}),
        }),
    },
  );
  const kept: InventoryEntry[] = [
    ...d.prune.kept,
    ...result.skipped,
  ].map((k) => {
    const recorded = inventory.entries.find((e) =>
      objectKey(e) === objectKey(k)
    );
    return { ...k, uid: recorded?.uid, state: "kept", reason: k.reason };
  });
  if (kept.length === 0) {
    await deleteInventory(kube, id, inventoryOptions(run.options));
  } else {
    await writeInventory(kube, {
      ...inventory,
      entries: kept.sort(compareRefs),
    }, inventoryOptions(run.options));
  }
}

/** Owned objects still there that destroy meant to delete. */
async function remainingObjects(
  kube: KubeClient,
  work: readonly StepDestroy[],
): Promise<ObjectRef[]> {
  const out: ObjectRef[] = [];
  for (const d of work) {
    const kept = new Set(d.prune.kept.map((k) => objectKey(k)));
    const entries = (d.inventory?.entries ?? []).filter((e) =>
      !kept.has(objectKey(e))
    );
    const live = await Promise.all(entries.map((e) => liveObject(kube, e)));
    entries.forEach((e, i) => {
      const o = live[i];
      // Still ours: the recorded uid (when known) and the set's label.
      if (
        o && (!e.uid || o.metadata.uid === e.uid) &&
        o.metadata.labels?.[PART_OF_LABEL] === d.inventory?.applySetId
      ) out.push(plainRef(e));
    });
  }
  return out.sort(compareRefs);
}
