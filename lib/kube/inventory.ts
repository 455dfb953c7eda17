/**
 * Where kfplan records what it owns: one ApplySet (KEP-3659) per step, whose parent
 * is the Secret `kfplan-system/kfplan.<step-id>` and whose members carry the label
 * `applyset.kubernetes.io/part-of`. The parent's data holds the versioned inventory
 * (see `docs/inventory.md`). Knows Kubernetes only.
 *
 * The parent follows the ApplySet spec as kubectl implements it, so other tools can
 * read what kfplan owns (`kubectl get secret -n kfplan-system -l
 * applyset.kubernetes.io/id`): the id label by the KEP's formula, `tooling`, sorted
 * `contains-group-kinds` and `additional-namespaces`. kubectl refuses to mutate a set
 * whose tooling is another tool's, which keeps `kubectl apply --prune` off kfplan's
 * sets. What the spec's hints lack (each member's uid, pending/applied/kept) is in
 * the data key `inventory`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import denoJson from "../../deno.json" with { type: "json" };
import { KubeApiError } from "./errors.ts";
import type { KubeClient, KubeObject } from "./types.ts";
import { compareRefs, type ObjectRef } from "./object_ref.ts";
import { fromBase64, toBase64 } from "./_bytes.ts";

/** The namespace of kfplan's state (inventories, checkpoint). */
export const STATE_NAMESPACE = "kfplan-system";

/** Label of an ApplySet parent: its id. */
export const APPLYSET_ID_LABEL = "applyset.kubernetes.io/id";
/** Label of an ApplySet member: the id of the set it belongs to. */
export const PART_OF_LABEL = "applyset.kubernetes.io/part-of";
/** Annotation of an ApplySet parent: `<tool>/<version>` of the tool managing it. */
export const TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling";
/** Annotation of an ApplySet parent: sorted `Kind.group` of its members (core kinds bare). */
export const CONTAINS_GROUP_KINDS_ANNOTATION =
  "applyset.kubernetes.io/contains-group-kinds";
/** Annotation of an ApplySet parent: sorted namespaces of members other than its own. */
export const ADDITIONAL_NAMESPACES_ANNOTATION =
  "applyset.kubernetes.io/additional-namespaces";
/** The data key of the parent Secret holding the inventory JSON. */
export const INVENTORY_DATA_KEY = "inventory";
/** The version of the inventory JSON this kfplan writes and reads. */
export const INVENTORY_FORMAT_VERSION = 1;
/** The `tooling` value kfplan writes: `kfplan/<version from deno.json>`. */
export const KFPLAN_TOOLING = `kfplan/${denoJson.version}`;

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

/** Where the inventories live; tests sharing one control plane use a namespace each. */
export interface InventoryOptions {
  /** Namespace of the parents; default {@linkcode STATE_NAMESPACE}. */
  namespace?: string;
  /**
   * The installation, when one cluster holds several (each applied under a Lease of
   * its own): its parents are `kfplan.<installation>.<step-id>`, so two
   * installations with the same step ids never share, and never prune, each other's
   * sets. Default: the cluster's one installation, `kfplan.<step-id>`.
   */
  installation?: string;
}

const STEP_ID = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * The name of a step's parent Secret, `kfplan.<step-id>` (or
 * `kfplan.<installation>.<step-id>`); throws for a step id that cannot be part of a
 * Secret name.
 *
 * @example
 * ```ts
 * parentName("users"); // "kfplan.users"
 * parentName("users", { installation: "team-a" }); // "kfplan.team-a.users"
 * ```
 */
export function parentName(
  stepId: string,
  options: InventoryOptions = {},
): string {
  if (!STEP_ID.test(stepId) || stepId.length > 240) {
    throw new Error(
      `step id ${
        JSON.stringify(stepId)
      } cannot name its inventory Secret kfplan.<step-id>: use lowercase letters, digits, '-' and '.' (at most 240 characters), starting and ending with a letter or digit`,
    );
  }
  const installation = options.installation;
  const name = installation
    ? `kfplan.${installation}.${stepId}`
    : `kfplan.${stepId}`;
  if (
    installation !== undefined &&
    (!STEP_ID.test(installation) || name.length > 253)
  ) {
    throw new Error(
      `installation ${
        JSON.stringify(installation)
      } cannot qualify the inventory Secret of step ${stepId}: use lowercase letters, digits, '-' and '.', at most 253 characters in all`,
    );
  }
  return name;
}

/** The parent Secret of a step's ApplySet. */
export function parentRef(
  stepId: string,
  options: InventoryOptions = {},
): ObjectRef {
  return {
    apiVersion: "v1",
    kind: "Secret",
    namespace: options.namespace ?? STATE_NAMESPACE,
    name: parentName(stepId, options),
  };
}

/**
 * The ApplySet id of a step's parent Secret, by the KEP-3659 formula as kubectl
 * implements it (`ApplySet.ID()`, `V1ApplySetIdFormat`): `applyset-` +
 * base64url without padding of sha256(`<name>.<namespace>.<Kind>.<group>`) + `-v1`,
 * the core group being empty. See `reference/lifecycle.md` §1.
 *
 * @example
 * ```ts
 * applySetIdOf("users"); // "applyset-…-v1" of Secret kfplan-system/kfplan.users
 * ```
 */
export function applySetIdOf(
  stepId: string,
  options: InventoryOptions = {},
): string {
  const ref = parentRef(stepId, options);
  return applySetIdFor(ref);
}

/** The ApplySet id of any parent object (name, namespace, kind, group). */
export function applySetIdFor(parent: ObjectRef): string {
  const group = groupOf(parent.apiVersion);
  const hash = createHash("sha256")
    .update(`${parent.name}.${parent.namespace ?? ""}.${parent.kind}.${group}`)
    .digest("base64url");
  return `applyset-${hash}-v1`;
}

/** The API group of an `apiVersion` (`""` for core). */
function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

function versionOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
}

/**
 * Identity of a member across API versions: group, kind, namespace and name. An
 * upgrade that moves a kind from `v1beta1` to `v1` keeps the same object.
 *
 * @example
 * ```ts
 * memberKey({ apiVersion: "apps/v1", kind: "Deployment", namespace: "kf", name: "x" });
 * // "apps Deployment kf/x"
 * ```
 */
export function memberKey(ref: ObjectRef): string {
  return `${groupOf(ref.apiVersion)} ${ref.kind} ${
    ref.namespace ?? ""
  }/${ref.name}`;
}

/**
 * A copy of `object` labelled as a member of the ApplySet `applySetId`.
 *
 * @example
 * ```ts
 * const member = withPartOf(configMap, applySetIdOf("users"));
 * ```
 */
export function withPartOf(object: KubeObject, applySetId: string): KubeObject {
  return {
    ...object,
    metadata: {
      ...object.metadata,
      labels: { ...object.metadata.labels, [PART_OF_LABEL]: applySetId },
    },
  };
}

/** One entry as the stored JSON has it. */
interface StoredEntry {
  group: string;
  version: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  state: InventoryEntryState;
  reason?: string;
}

/** The stored JSON (format 1). */
interface StoredInventory {
  format_version: number;
  step: string;
  kfplan_version: string;
  entries: StoredEntry[];
}

function storedEntry(e: InventoryEntry): StoredEntry {
  // Keys in a fixed order, absent ones left out: the JSON reads the same every write.
  return {
    group: groupOf(e.apiVersion),
    version: versionOf(e.apiVersion),
    kind: e.kind,
    ...(e.namespace ? { namespace: e.namespace } : {}),
    name: e.name,
    ...(e.uid ? { uid: e.uid } : {}),
    state: e.state,
    ...(e.reason ? { reason: e.reason } : {}),
  };
}

/** The entries in their stored order: sorted, one per member (the last one wins). */
function normalEntries(entries: readonly InventoryEntry[]): InventoryEntry[] {
  const byKey = new Map<string, InventoryEntry>();
  for (const e of entries) byKey.set(memberKey(e), e);
  return [...byKey.values()].sort(compareRefs);
}

/** The inventory JSON stored in the parent's data (what `docs/inventory.md` describes). */
export function inventoryJson(inventory: Inventory): string {
  const stored: StoredInventory = {
    format_version: INVENTORY_FORMAT_VERSION,
    step: inventory.step,
    kfplan_version: denoJson.version,
    entries: normalEntries(inventory.entries).map(storedEntry),
  };
  return JSON.stringify(stored);
}

/**
 * The parent Secret of an inventory, as kfplan writes it: the ApplySet label and
 * annotations, and the inventory JSON under {@linkcode INVENTORY_DATA_KEY}.
 */
export function inventoryParent(
  inventory: Inventory,
  options: InventoryOptions = {},
): KubeObject {
  const ref = parentRef(inventory.step, options);
  const entries = normalEntries(inventory.entries);
  const groupKinds = new Set<string>();
  const namespaces = new Set<string>();
  for (const e of entries) {
    const group = groupOf(e.apiVersion);
    groupKinds.add(group ? `${e.kind}.${group}` : e.kind);
    if (e.namespace && e.namespace !== ref.namespace) {
      namespaces.add(e.namespace);
    }
  }
  const json = new TextEncoder().encode(inventoryJson(inventory));
  const metadata: KubeObject["metadata"] = {
    name: ref.name,
    namespace: ref.namespace,
    labels: { [APPLYSET_ID_LABEL]: applySetIdFor(ref) },
    annotations: {
      [TOOLING_ANNOTATION]: KFPLAN_TOOLING,
      [CONTAINS_GROUP_KINDS_ANNOTATION]: [...groupKinds].sort().join(","),
      [ADDITIONAL_NAMESPACES_ANNOTATION]: [...namespaces].sort().join(","),
    },
  };
  if (inventory.resourceVersion) {
    metadata.resourceVersion = inventory.resourceVersion;
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata,
    type: "Opaque",
    data: { [INVENTORY_DATA_KEY]: toBase64(json) },
  };
}

/** Thrown when a parent Secret is not a kfplan inventory kfplan can read. */
export class InventoryError extends Error {
  /** The parent Secret. */
  readonly ref: ObjectRef;
  /** Names the Secret and what is wrong with it. */
  constructor(ref: ObjectRef, problem: string) {
    super(
      `inventory Secret ${ref.namespace}/${ref.name}: ${problem}. kfplan does not change it; fix or delete it (kubectl -n ${ref.namespace} delete secret ${ref.name}) and plan again`,
    );
    this.name = "InventoryError";
    this.ref = ref;
  }
}

const STATES: readonly string[] = ["pending", "applied", "kept"];

/**
 * Reads an inventory out of its parent Secret, checking what the ApplySet spec asks
 * a tool to check (the id label matches the parent, the tooling is kfplan's) and the
 * stored format. Throws an {@linkcode InventoryError} naming the Secret otherwise.
 */
export function decodeInventory(parent: KubeObject): Inventory {
  const ref: ObjectRef = {
    apiVersion: "v1",
    kind: "Secret",
    namespace: parent.metadata.namespace,
    name: parent.metadata.name,
  };
  const fail = (problem: string): never => {
    throw new InventoryError(ref, problem);
  };
  const id = parent.metadata.labels?.[APPLYSET_ID_LABEL];
  const expected = applySetIdFor(ref);
  if (id !== expected) {
    fail(
      `label ${APPLYSET_ID_LABEL} is ${
        JSON.stringify(id ?? null)
      }, not ${expected} (the KEP-3659 id of this Secret)`,
    );
  }
  const tooling = parent.metadata.annotations?.[TOOLING_ANNOTATION] ?? "";
  if (!tooling.startsWith("kfplan/")) {
    fail(
      `annotation ${TOOLING_ANNOTATION} is ${
        JSON.stringify(tooling)
      }: this ApplySet belongs to another tool`,
    );
  }
  const data = (parent.data ?? {}) as Record<string, string>;
  const raw = data[INVENTORY_DATA_KEY];
  if (typeof raw !== "string") fail(`data has no key ${INVENTORY_DATA_KEY}`);
  let stored: StoredInventory;
  try {
    stored = JSON.parse(new TextDecoder().decode(fromBase64(raw)));
  } catch (error) {
    return fail(
      `data.${INVENTORY_DATA_KEY} is not JSON (${(error as Error).message})`,
    );
  }
  if (stored === null || typeof stored !== "object") {
    fail(`data.${INVENTORY_DATA_KEY} is not a JSON object`);
  }
  if (stored.format_version !== INVENTORY_FORMAT_VERSION) {
    fail(
      `format_version ${
        JSON.stringify(stored.format_version ?? null)
      } is not supported; this kfplan (${denoJson.version}) reads format_version ${INVENTORY_FORMAT_VERSION}`,
    );
  }
  if (
    typeof stored.step !== "string" ||
    // kfplan.<step>, or kfplan.<installation>.<step> (see parentName).
    !(ref.name === `kfplan.${stored.step}` ||
      ref.name.endsWith(`.${stored.step}`) &&
        ref.name.length > `kfplan..${stored.step}`.length)
  ) {
    fail(
      `step ${
        JSON.stringify(stored.step ?? null)
      } does not match the Secret's name`,
    );
  }
  if (!Array.isArray(stored.entries)) fail("entries is not a list");
  const entries = stored.entries.map((e, i): InventoryEntry => {
    const at = `entries[${i}]`;
    if (e === null || typeof e !== "object") fail(`${at} is not an object`);
    for (const field of ["group", "version", "kind", "name"] as const) {
      if (typeof e[field] !== "string" || (field !== "group" && !e[field])) {
        fail(`${at}.${field} must be a string`);
      }
    }
    if (!STATES.includes(e.state)) {
      fail(
        `${at}.state is ${JSON.stringify(e.state ?? null)}; valid: ${
          STATES.join(", ")
        }`,
      );
    }
    const entry: InventoryEntry = {
      apiVersion: e.group ? `${e.group}/${e.version}` : e.version,
      kind: e.kind,
      name: e.name,
      state: e.state,
    };
    if (e.namespace) entry.namespace = e.namespace;
    if (e.uid) entry.uid = e.uid;
    if (e.reason) entry.reason = e.reason;
    return entry;
  });
  return {
    step: stored.step,
    applySetId: expected,
    entries,
    resourceVersion: parent.metadata.resourceVersion,
  };
}

/**
 * Reads one step's inventory; `undefined` when the step has none.
 *
 * @example
 * ```ts
 * const inventory = await readInventory(kube, "users");
 * for (const e of inventory?.entries ?? []) console.log(e.kind, e.name, e.state);
 * ```
 */
export async function readInventory(
  kube: KubeClient,
  stepId: string,
  options: InventoryOptions = {},
): Promise<Inventory | undefined> {
  const parent = await kube.get(parentRef(stepId, options));
  return parent ? decodeInventory(parent) : undefined;
}

/**
 * Every step inventory of one installation (`options.installation`, default the
 * cluster's one): parents of kfplan's tooling in the state namespace whose name is
 * that installation's name for their step. Another installation's sets are not
 * this one's: they are neither pruned by it nor count as its own when it judges
 * what else a namespace holds.
 */
export async function listInventories(
  kube: KubeClient,
  options: InventoryOptions = {},
): Promise<Inventory[]> {
  const namespace = options.namespace ?? STATE_NAMESPACE;
  const parents = await kube.list("v1", "Secret", {
    namespace,
    labelSelector: APPLYSET_ID_LABEL,
  });
  return parents
    .filter((p) =>
      p.metadata.name.startsWith("kfplan.") &&
      (p.metadata.annotations?.[TOOLING_ANNOTATION] ?? "").startsWith(
        "kfplan/",
      )
    )
    .flatMap((p) => {
      const inventory = decodeInventory(p);
      return p.metadata.name === parentName(inventory.step, options)
        ? [inventory]
        : [];
    })
    .sort((a, b) => a.step < b.step ? -1 : a.step > b.step ? 1 : 0);
}

/**
 * Creates the state namespace when missing. Create-only: kfplan never updates or
 * labels it, and it is a member of no set.
 */
export async function ensureStateNamespace(
  kube: KubeClient,
  options: InventoryOptions = {},
): Promise<void> {
  const name = options.namespace ?? STATE_NAMESPACE;
  const ref = { apiVersion: "v1", kind: "Namespace", name };
  if (await kube.get(ref)) return;
  try {
    await kube.create({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name },
    });
  } catch (error) {
    if (!(error instanceof KubeApiError && error.status === 409)) throw error;
  }
}

/**
 * Writes a step's inventory (creating the namespace and parent when missing). With
 * `inventory.resourceVersion` set the write is conditional on it (a 409 means
 * somebody else wrote since the read); without, it is a server-side apply.
 * Returns the inventory as written, with its new resourceVersion.
 *
 * @example
 * ```ts
 * const written = await writeInventory(kube, {
 *   step: "users",
 *   applySetId: applySetIdOf("users"),
 *   entries: [{ apiVersion: "kubeflow.org/v1", kind: "Profile", name: "alice", state: "pending" }],
 * });
 * ```
 */
export async function writeInventory(
  kube: KubeClient,
  inventory: Inventory,
  options: InventoryOptions = {},
): Promise<Inventory> {
  const expected = applySetIdOf(inventory.step, options);
  if (inventory.applySetId !== expected) {
    throw new Error(
      `inventory of step ${inventory.step}: ApplySet id ${inventory.applySetId} is not ${expected}, the id of Secret ${
        parentRef(inventory.step, options).name
      }`,
    );
  }
  await ensureStateNamespace(kube, options);
  const parent = inventoryParent(inventory, options);
  let written: KubeObject;
  if (inventory.resourceVersion) {
    written = await kube.replace(parent);
  } else {
    const { resourceVersion: _rv, ...metadata } = parent.metadata;
    written = await kube.apply({ ...parent, metadata }, { force: true });
  }
  return {
    ...inventory,
    entries: normalEntries(inventory.entries),
    resourceVersion: written.metadata.resourceVersion,
  };
}

/** Deletes a step's inventory parent (after destroy). */
export async function deleteInventory(
  kube: KubeClient,
  stepId: string,
  options: InventoryOptions = {},
): Promise<void> {
  await kube.delete(parentRef(stepId, options));
}
