/**
 * The engine's side of the inventory (`lib/kube/inventory.ts`): which of a step's
 * desired objects it owns, the `part-of` label on them, the prune a plan shows and
 * the inventory writes around apply. Generic: a step's inventory is the refs of its
 * `StepPlan.desired`; a step without `desired` keeps none and prunes nothing.
 *
 * @module
 */

import {
  applySetIdOf,
  type Inventory,
  type InventoryEntry,
  type InventoryOptions,
  memberKey,
  readInventory,
  withPartOf,
  writeInventory,
} from "../kube/inventory.ts";
import {
  type DeleteEvent,
  deleteObjects,
  type KeptObject,
  planPrune,
  type PruneCandidate,
} from "../kube/prune.ts";
import { KubeApiError } from "../kube/errors.ts";
import {
  groupOf,
  type ObjectRef,
  plainRef,
  refOf,
} from "../kube/object_ref.ts";
import { mapLimit } from "../kube/_map_limit.ts";
import type { KubeClient, KubeObject } from "../kube/types.ts";
import type { ResourceChange, StepPlan } from "./types.ts";

/** Kinds kfplan patches (labels on nodes) but never creates, so never owns. */
const NEVER_OWNED = new Set(["Node"]);

/** Why a delete is planned, as the plan shows it. */
export const PRUNE_REASON = "not rendered by this configuration";

/** Where inventories live and how prune treats data. */
export interface InventorySettings extends InventoryOptions {
  /** Delete data-holding objects too (PVCs, PVs, non-empty namespaces, CRDs with instances). */
  allowDataLoss?: boolean;
}

/** What the plan decided about a step's inventory; apply carries it out. */
export interface StepPrune {
  /** The step's ApplySet id. */
  applySetId: string;
  /** The engine's deletes (also in the step plan's `changes`), in delete order. */
  deletes: ResourceChange[];
  /** The deletes with the uids the inventory recorded, for `deleteObjects`. */
  candidates: PruneCandidate[];
  /** Candidates kept (data), each with its reason. */
  kept: KeptObject[];
}

/** True when `object` is one the step owns (not a patch of somebody else's object). */
function ownable(object: KubeObject, patched: ReadonlySet<string>): boolean {
  return !NEVER_OWNED.has(object.kind) &&
    !patched.has(memberKey(refOf(object)));
}

/**
 * The desired objects a step owns: its `desired` minus what it only patches
 * (`StepPlan.patched`, nodes); `undefined` for a step that keeps no inventory.
 */
export function ownedObjects(plan: StepPlan): KubeObject[] | undefined {
  if (!plan.desired) return undefined;
  const patched = new Set((plan.patched ?? []).map(memberKey));
  return plan.desired.filter((o) => ownable(o, patched));
}

/**
 * Labels the owned desired objects of a plan as members of the step's ApplySet, in
 * place, so that apply (and Helm's post-renderer, which installs `desired`) writes
 * the label and the desired-state digest covers it.
 */
export function claimDesired(plan: StepPlan, applySetId: string): void {
  if (!plan.desired) return;
  const patched = new Set((plan.patched ?? []).map(memberKey));
  plan.desired = plan.desired.map((o) =>
    ownable(o, patched) ? withPartOf(o, applySetId) : o
  );
}

/** A client that labels what a step diffs and applies, and records the uids applied. */
export interface LabellingClient extends KubeClient {
  /** uids returned by the applies made through it, by {@linkcode memberKey}. */
  appliedUids(): Map<string, string>;
}

/**
 * Wraps the client a step sees so that every object it diffs or applies carries the
 * ApplySet's `part-of` label (plans then show it, once, for objects applied before
 * kfplan kept inventories). `owns` says which objects to label: at plan time all but
 * the kinds kfplan never owns, at apply time the plan's owned objects.
 */
export function labellingClient(
  kube: KubeClient,
  applySetId: string,
  owns: (object: KubeObject) => boolean = (o) => !NEVER_OWNED.has(o.kind),
): LabellingClient {
  const uids = new Map<string, string>();
  const label = (o: KubeObject) => owns(o) ? withPartOf(o, applySetId) : o;
  const overrides: Record<string, unknown> = {
    diff: (object: KubeObject) => kube.diff(label(object)),
    apply: async (
      object: KubeObject,
      options?: Parameters<KubeClient["apply"]>[1],
    ) => {
      const applied = await kube.apply(label(object), options);
      if (!options?.dryRun && applied?.metadata?.uid) {
        uids.set(memberKey(refOf(object)), applied.metadata.uid);
      }
      return applied;
    },
    appliedUids: () => uids,
  };
  // A Proxy keeps every other method (and an observing client's extras) as they are.
  return new Proxy(kube, {
    get(target, prop, receiver) {
      if (typeof prop === "string" && prop in overrides) {
        return overrides[prop];
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as LabellingClient;
}

/** `labellingClient` for apply: labels exactly the plan's owned objects. */
export function applyLabellingClient(
  kube: KubeClient,
  plan: StepPlan,
  applySetId: string,
): LabellingClient {
  const owned = new Set(
    (ownedObjects(plan) ?? []).map((o) => memberKey(refOf(o))),
  );
  return labellingClient(
    kube,
    applySetId,
    (o) => owned.has(memberKey(refOf(o))),
  );
}

/**
 * Plans a step's prune: the members of its previous inventory (any state) that its
 * owned desired objects lack, minus deletes the step plans itself and members
 * already gone (a pending entry whose object was never created is simply dropped).
 * What may go and what is kept is {@linkcode planPrune}'s decision.
 */
export async function planStepPrune(
  kube: KubeClient,
  plan: StepPlan,
  context: {
    stepId: string;
    inventory: Inventory | undefined;
    owned: readonly ObjectRef[];
    settings: InventorySettings;
  },
): Promise<StepPrune> {
  const applySetId = applySetIdOf(context.stepId, context.settings);
  const empty: StepPrune = {
    applySetId,
    deletes: [],
    candidates: [],
    kept: [],
  };
  if (!context.inventory || !plan.desired) return empty;
  const keep = new Set(
    (ownedObjects(plan) ?? []).map((o) => memberKey(refOf(o))),
  );
  for (const c of plan.changes) {
    if (c.action === "delete") keep.add(memberKey(c));
  }
  const dropped = context.inventory.entries.filter((e) =>
    !keep.has(memberKey(e))
  );
  const served = await mapLimit(dropped, 8, (e) => servedRef(kube, e));
  const candidates: PruneCandidate[] = dropped.flatMap((e, i) => {
    const ref = served[i];
    return ref ? [{ ...ref, ...(e.uid ? { uid: e.uid } : {}) }] : [];
  });
  if (candidates.length === 0) return empty;
  const pruned = await planPrune(kube, candidates, {
    allowDataLoss: context.settings.allowDataLoss ?? false,
    owned: context.owned,
    partOf: applySetId,
  });
  const byKey = new Map(candidates.map((c) => [memberKey(c), c]));
  const deletes = pruned.deletes.map((d) => ({
    ...d,
    action: "delete" as const,
    diff: d.diff ?? [],
    reason: d.reason ?? PRUNE_REASON,
  }));
  return {
    applySetId,
    deletes,
    candidates: deletes.map((d) => byKey.get(memberKey(d)) ?? plainRef(d)),
    kept: pruned.kept,
  };
}

/**
 * The member as the server serves it now, or `undefined` when it is gone. A member
 * recorded under a version the server no longer serves (an upgrade moved the kind
 * from `v1beta1` to `v1`) is read under a version that is served; a kind nobody
 * serves any more (its CRD went) has no objects left.
 */
async function servedRef(
  kube: KubeClient,
  entry: ObjectRef,
): Promise<ObjectRef | undefined> {
  const ref = plainRef(entry);
  try {
    return await kube.get(ref) ? ref : undefined;
  } catch (error) {
    if (!(error instanceof KubeApiError && error.status === 404)) throw error;
  }
  const group = groupOf(ref.apiVersion);
  const other = (await kube.apiResources?.() ?? []).find((r) =>
    r.kind === ref.kind && groupOf(r.apiVersion) === group &&
    r.apiVersion !== ref.apiVersion
  );
  if (!other) return undefined;
  const moved = { ...ref, apiVersion: other.apiVersion };
  return await kube.get(moved) ? moved : undefined;
}

/** Adds a step prune's deletes and kept objects to its plan (in place). */
export function addPrune(plan: StepPlan, prune: StepPrune): void {
  if (prune.deletes.length > 0) plan.changes.push(...prune.deletes);
  if (prune.kept.length > 0) plan.kept = [...plan.kept ?? [], ...prune.kept];
}

/** The plan a step's own `apply` receives: without the engine's deletes. */
export function stepOwnPlan(plan: StepPlan, prune: StepPrune): StepPlan {
  if (prune.deletes.length === 0) return plan;
  const engine = new Set(prune.deletes);
  return { ...plan, changes: plan.changes.filter((c) => !engine.has(c)) };
}

/**
 * Before apply: the inventory becomes old ∪ new, new members `pending`, so that a
 * kill between create and record leaves no object nobody owns. A step that owns
 * nothing and never did (host checks, node labels only) gets no inventory:
 * `undefined`.
 */
export async function recordPending(
  kube: KubeClient,
  plan: StepPlan,
  run: { stepId: string; settings: InventorySettings },
): Promise<Inventory | undefined> {
  const applySetId = applySetIdOf(run.stepId, run.settings);
  const old = await readInventory(kube, run.stepId, run.settings);
  if (!old && (ownedObjects(plan) ?? []).length === 0) return undefined;
  const entries = new Map<string, InventoryEntry>();
  for (const e of old?.entries ?? []) entries.set(memberKey(e), e);
  for (const o of ownedObjects(plan) ?? []) {
    const ref = refOf(o);
    const key = memberKey(ref);
    const before = entries.get(key);
    entries.set(
      key,
      before && before.state !== "kept"
        ? { ...before, ...plainRef(ref) }
        : { ...plainRef(ref), state: "pending" },
    );
  }
  return await writeInventory(kube, {
    step: run.stepId,
    applySetId,
    entries: [...entries.values()],
    resourceVersion: old?.resourceVersion,
  }, run.settings);
}

/** Emits prune progress as log lines. */
export type PruneLog = (level: "info" | "warn", message: string) => void;

/**
 * After verify: deletes the planned deletes (reverse dependency order, bounded
 * finalizer waits), then records the inventory as the owned desired objects
 * (`applied`, with their uids) and the kept ones (`kept`, with the reason).
 */
export async function pruneAndRecord(
  kube: KubeClient,
  plan: StepPlan,
  run: {
    stepId: string;
    prune: StepPrune;
    pending: Inventory;
    uids: ReadonlyMap<string, string>;
    settings: InventorySettings;
    signal?: AbortSignal;
    log: PruneLog;
  },
): Promise<Inventory> {
  const { prune } = run;
  if (prune.candidates.length > 0) {
    await deleteObjects(kube, prune.candidates, {
      signal: run.signal,
      partOf: prune.applySetId,
      onEvent: (e) => logDelete(e, run.log),
    });
  }
  const owned = ownedObjects(plan) ?? [];
  const uids = await mapLimit(owned, 8, async (o) => {
    const ref = refOf(o);
    const known = run.uids.get(memberKey(ref));
    if (known) return known;
    // Applied by other means (Helm's post-renderer): read the uid back.
    return (await kube.get(ref))?.metadata.uid;
  });
  const entries: InventoryEntry[] = owned.map((o, i) => ({
    ...plainRef(refOf(o)),
    ...(uids[i] ? { uid: uids[i] } : {}),
    state: "applied" as const,
  }));
  const recorded = new Map(
    run.pending.entries.map((e) => [memberKey(e), e]),
  );
  for (const k of prune.kept) {
    entries.push({
      ...plainRef(k),
      ...(recorded.get(memberKey(k))?.uid
        ? { uid: recorded.get(memberKey(k))?.uid }
        : {}),
      state: "kept",
      reason: k.reason,
    });
  }
  return await writeInventory(kube, {
    step: run.stepId,
    applySetId: prune.applySetId,
    entries,
    resourceVersion: run.pending.resourceVersion,
  }, run.settings);
}

function logDelete(event: DeleteEvent, log: PruneLog): void {
  const name = `${event.ref.kind} ${
    event.ref.namespace ? `${event.ref.namespace}/` : ""
  }${event.ref.name}`;
  switch (event.type) {
    case "deleting":
      log("info", `deleting ${name} (${PRUNE_REASON})`);
      break;
    case "deleted":
      log("info", `deleted ${name}`);
      break;
    case "waiting":
      log(
        "info",
        `waiting for ${name} to go (finalizers: ${
          event.finalizers.join(", ")
        })`,
      );
      break;
    case "skipped":
      log("warn", `left ${name} alone: ${event.reason}`);
      break;
  }
}
