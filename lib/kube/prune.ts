/**
 * Deleting what kfplan no longer renders, safely: which candidates may go and which
 * are kept because they hold data ({@linkcode planPrune}), and deleting in reverse
 * dependency order with bounded finalizer waits ({@linkcode deleteObjects}).
 *
 * Used by the engine's prune (objects a step's inventory has and its new plan lacks)
 * and by destroy. Knows Kubernetes only: no steps, no plans.
 *
 * @module
 */

import type { KubeClient } from "./types.ts";
import type { ObjectRef } from "./object_ref.ts";
import type { ResourceChange } from "./apply_set.ts";

/** An object that may be deleted: a member of an inventory the new state lacks. */
export interface PruneCandidate extends ObjectRef {
  /** The uid recorded in the inventory; a live object with another uid is not ours. */
  uid?: string;
}

/** An object kfplan will not delete, with the reason shown in the plan. */
export interface KeptObject extends ObjectRef {
  /** Why it is kept, e.g. `holds data (PersistentVolumeClaim); --allow-data-loss deletes it`. */
  reason: string;
}

/** What a prune will delete and what it keeps. */
export interface PrunePlan {
  /** Changes with action `delete`, in the order {@linkcode deleteObjects} runs them. */
  deletes: ResourceChange[];
  /** Candidates kept, each with its reason. */
  kept: KeptObject[];
}

/** Options for {@linkcode planPrune}. */
export interface PlanPruneOptions {
  /** Delete data-holding objects too (PVCs, PVs, non-empty namespaces, CRDs with instances). */
  allowDataLoss?: boolean;
  /**
   * Every object kfplan owns (all inventories, all steps): a namespace or CRD whose
   * contents are all in this set holds no foreign data.
   */
  owned: readonly ObjectRef[];
  /** The ApplySet id the candidates must still carry (`applyset.kubernetes.io/part-of`). */
  partOf?: string;
}

/** A progress event of {@linkcode deleteObjects}. */
export type DeleteEvent =
  | { type: "deleting"; ref: ObjectRef }
  | { type: "deleted"; ref: ObjectRef }
  | { type: "waiting"; ref: ObjectRef; finalizers: string[] }
  | { type: "skipped"; ref: ObjectRef; reason: string };

/** Options for {@linkcode deleteObjects}. */
export interface DeleteObjectsOptions {
  /** Aborting stops before the next delete. */
  signal?: AbortSignal;
  /** How long to wait for one object (its finalizers) to go; default 120 s. */
  timeoutMs?: number;
  /** Receives progress events. */
  onEvent?: (event: DeleteEvent) => void;
  /** Only objects still carrying this `applyset.kubernetes.io/part-of` are deleted. */
  partOf?: string;
}

/** What {@linkcode deleteObjects} did. */
export interface DeleteResult {
  /** Objects deleted (or already gone). */
  deleted: ObjectRef[];
  /** Objects left alone (another owner, another uid), with the reason. */
  skipped: KeptObject[];
}

/**
 * Splits prune candidates into deletes and kept objects (data protection, foreign
 * keep markers, objects that changed owner).
 */
export function planPrune(
  _kube: KubeClient,
  _candidates: readonly PruneCandidate[],
  _options: PlanPruneOptions,
): Promise<PrunePlan> {
  return Promise.reject(new Error("planPrune: not implemented yet"));
}

/**
 * Deletes objects in reverse dependency order (custom resources, webhooks, workloads,
 * configuration, CRDs, namespaces), waiting (bounded) for each to go; a stuck
 * finalizer is named in the error.
 */
export function deleteObjects(
  _kube: KubeClient,
  _refs: readonly PruneCandidate[],
  _options: DeleteObjectsOptions = {},
): Promise<DeleteResult> {
  return Promise.reject(new Error("deleteObjects: not implemented yet"));
}
