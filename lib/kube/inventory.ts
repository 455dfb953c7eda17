/**
 * Where kfplan records what it owns: one ApplySet (KEP-3659) per step, whose parent
 * is the Secret `kfplan-system/kfplan.<step-id>` and whose members carry the label
 * `applyset.kubernetes.io/part-of`. The parent's data holds the versioned inventory
 * (see `docs/inventory.md`). Knows Kubernetes only.
 *
 * @module
 */

import type { KubeClient } from "./types.ts";
import type { ObjectRef } from "./object_ref.ts";

/** The namespace of kfplan's state (inventories, checkpoint). */
export const STATE_NAMESPACE = "kfplan-system";

/** State of one inventory entry. */
export type InventoryEntryState = "pending" | "applied" | "kept";

/** One object a step owns. */
export interface InventoryEntry extends ObjectRef {
  /** The uid once applied; absent while pending. */
  uid?: string;
  /** `pending`: recorded before apply; `applied`: confirmed; `kept`: dropped from the render but kept (data). */
  state: InventoryEntryState;
  /** For `kept`: why. */
  reason?: string;
}

/** A step's inventory, as stored in its ApplySet parent. */
export interface Inventory {
  /** The step id. */
  step: string;
  /** The ApplySet id (`applyset-<hash>-v1`), the members' `part-of` value. */
  applySetId: string;
  /** Members. */
  entries: InventoryEntry[];
  /** The parent's resourceVersion when read, for optimistic writes. */
  resourceVersion?: string;
}

/** The ApplySet id of a step's parent Secret (KEP-3659 formula). */
export function applySetIdOf(_stepId: string): string {
  throw new Error("applySetIdOf: not implemented yet");
}

/** Reads one step's inventory; `undefined` when the step has none. */
export function readInventory(
  _kube: KubeClient,
  _stepId: string,
): Promise<Inventory | undefined> {
  return Promise.reject(new Error("readInventory: not implemented yet"));
}

/** Every step inventory in the cluster. */
export function listInventories(_kube: KubeClient): Promise<Inventory[]> {
  return Promise.reject(new Error("listInventories: not implemented yet"));
}

/** Writes a step's inventory (creating the namespace and parent when missing). */
export function writeInventory(
  _kube: KubeClient,
  _inventory: Inventory,
): Promise<Inventory> {
  return Promise.reject(new Error("writeInventory: not implemented yet"));
}

/** Deletes a step's inventory parent (after destroy). */
export function deleteInventory(
  _kube: KubeClient,
  _stepId: string,
): Promise<void> {
  return Promise.reject(new Error("deleteInventory: not implemented yet"));
}
