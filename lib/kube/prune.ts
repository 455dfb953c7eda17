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

import type { ApiResource, KubeClient, KubeObject } from "./types.ts";
import {
  compareRefs,
  formatRef,
  groupOf,
  isBuiltinGroup,
  objectName,
  type ObjectRef,
  plainRef,
  refOf,
} from "./object_ref.ts";
import { mapLimit } from "./_map_limit.ts";
import type { ResourceChange } from "./apply_set.ts";
import { KubeApiError } from "./errors.ts";
import { sleep } from "./retry.ts";
import { PART_OF_LABEL } from "./inventory.ts";

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
  /**
   * How long to wait for a Namespace to go; default 300 s (the namespace controller
   * deletes everything in it first, slowly on a busy control plane).
   */
  namespaceTimeoutMs?: number;
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

/** kfplan's own keep marker (label or annotation): `kfplan.dev/prune: disabled`. */
export const KFPLAN_KEEP_MARKER = "kfplan.dev/prune";

/**
 * Markers (label or annotation, key and value) by which other tools and kfplan say
 * "never delete this object"; any one of them keeps the object.
 */
export const KEEP_MARKERS: readonly (readonly [string, string])[] = [
  ["helm.sh/resource-policy", "keep"],
  ["kapp.k14s.io/delete-strategy", "orphan"],
  ["kustomize.toolkit.fluxcd.io/prune", "disabled"],
  [KFPLAN_KEEP_MARKER, "disabled"],
];

/** Namespaces kfplan never deletes, not even with `allowDataLoss`. */
export const PROTECTED_NAMESPACES: ReadonlySet<string> = new Set([
  "default",
  "kube-system",
  "kube-public",
  "kube-node-lease",
  "kfplan-system",
]);

/**
 * CRDs that are protected like data: deleting `profiles.kubeflow.org` deletes every
 * Profile and, through their ownerReferences, every user namespace.
 */
export const PROTECTED_CRDS: ReadonlySet<string> = new Set([
  "profiles.kubeflow.org",
]);

/** The classes of {@linkcode deleteObjects}, in the order they are deleted. */
export type DeleteClass =
  | "custom-resources"
  | "webhooks"
  | "workloads"
  | "configuration"
  | "crds"
  | "namespaces";

/** The delete classes in deletion order. */
export const DELETE_CLASSES: readonly DeleteClass[] = [
  "custom-resources",
  "webhooks",
  "workloads",
  "configuration",
  "crds",
  "namespaces",
];

const WEBHOOK_KINDS = new Set([
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "MutatingAdmissionPolicy",
  "MutatingAdmissionPolicyBinding",
  "APIService",
]);

/** Workloads and what routes traffic to them: they go before their configuration. */
const WORKLOAD_KINDS = new Set([
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "ReplicationController",
  "Pod",
  "Job",
  "CronJob",
  "Service",
  "Ingress",
  "IngressClass",
  "NetworkPolicy",
  "PodDisruptionBudget",
  "HorizontalPodAutoscaler",
]);

/**
 * Kind order inside the configuration class: bindings before the roles they grant,
 * claims before their volumes (a PV waits for its claim to go), classes last.
 */
const CONFIG_KIND_ORDER = [
  "RoleBinding",
  "ClusterRoleBinding",
  "Role",
  "ClusterRole",
  "ServiceAccount",
  "ConfigMap",
  "Secret",
  "PersistentVolumeClaim",
  "PersistentVolume",
  "StorageClass",
];

/**
 * The class an object is deleted in (see {@linkcode deleteObjects}). Istio's and
 * other networking custom resources go with the workloads they route to; every
 * other custom resource goes first, while its controller still runs.
 *
 * @example
 * ```ts
 * deleteClassOf({ apiVersion: "apps/v1", kind: "Deployment", name: "x" }); // "workloads"
 * ```
 */
export function deleteClassOf(ref: ObjectRef): DeleteClass {
  const group = groupOf(ref.apiVersion);
  if (group === "" && ref.kind === "Namespace") return "namespaces";
  if (ref.kind === "CustomResourceDefinition") return "crds";
  if (!isBuiltinGroup(group)) {
    return group === "istio.io" || group.endsWith(".istio.io")
      ? "workloads"
      : "custom-resources";
  }
  if (WEBHOOK_KINDS.has(ref.kind)) return "webhooks";
  if (WORKLOAD_KINDS.has(ref.kind)) return "workloads";
  return "configuration";
}

/**
 * Sorts references into deletion order: by {@linkcode DELETE_CLASSES}, then by kind
 * inside the configuration class, then by name, so a plan reads the same each time.
 */
export function deletionOrder<T extends ObjectRef>(refs: readonly T[]): T[] {
  const classRank = (r: ObjectRef) => DELETE_CLASSES.indexOf(deleteClassOf(r));
  const kindRank = (r: ObjectRef) => {
    const i = CONFIG_KIND_ORDER.indexOf(r.kind);
    return i < 0 ? CONFIG_KIND_ORDER.length : i;
  };
  return [...refs].sort((a, b) =>
    classRank(a) - classRank(b) || kindRank(a) - kindRank(b) ||
    compareRefs(a, b)
  );
}

/** Identity across API versions: group, kind, namespace, name. */
function identityKey(ref: ObjectRef): string {
  return `${groupOf(ref.apiVersion)}|${ref.kind}|${
    ref.namespace ?? ""
  }|${ref.name}`;
}

/** The keep marker an object carries (label or annotation), if any. */
export function keepMarkerOf(object: KubeObject): string | undefined {
  const { labels = {}, annotations = {} } = object.metadata;
  for (const [key, value] of KEEP_MARKERS) {
    if (annotations[key] === value || labels[key] === value) {
      return `${key}: ${value}`;
    }
  }
  return undefined;
}

/** Why a live object no longer belongs to the candidate's set, if it does not. */
function ownerChange(
  candidate: PruneCandidate,
  live: KubeObject,
  partOf: string | undefined,
): string | undefined {
  if (
    candidate.uid && live.metadata.uid && live.metadata.uid !== candidate.uid
  ) {
    return `changed owner: the live object has uid ${live.metadata.uid}, not the recorded ${candidate.uid} (it was re-created by someone else); delete it by hand if it is not needed`;
  }
  const label = live.metadata.labels?.[PART_OF_LABEL];
  if (partOf !== undefined && label !== partOf) {
    return `changed owner: its ${PART_OF_LABEL} label is ${
      label === undefined ? "missing" : `"${label}"`
    }, not "${partOf}"; delete it by hand if it is not needed`;
  }
  return undefined;
}

/**
 * Objects in a namespace nobody needs to keep: what the API server and controllers
 * create and re-create themselves, and dependents that go with their owner.
 */
function selfCreated(object: KubeObject, serviceNames: Set<string>): boolean {
  const { kind, metadata } = object;
  const group = groupOf(object.apiVersion);
  if (
    group === "" && kind === "ConfigMap" && metadata.name === "kube-root-ca.crt"
  ) {
    return true;
  }
  if (
    group === "" && kind === "ServiceAccount" && metadata.name === "default"
  ) {
    return true;
  }
  if (kind === "Event") return true;
  // Helm's release records: they go with `helm uninstall` of their release, and the
  // release's objects in the namespace are counted themselves.
  if (
    group === "" && kind === "Secret" && object.type === "helm.sh/release.v1"
  ) return true;
  // Leader-election Leases of controllers; re-created when the controller runs again.
  if (group === "coordination.k8s.io" && kind === "Lease") return true;
  // The endpoints controller's copy of a Service's endpoints carries no owner.
  if (group === "" && kind === "Endpoints" && serviceNames.has(metadata.name)) {
    return true;
  }
  const owners = metadata.ownerReferences;
  return Array.isArray(owners) && owners.length > 0;
}

/**
 * The live object, or `undefined` when it is gone, also when its kind is no longer
 * served: once a CRD is gone, so are all its instances (a destroy killed after
 * deleting a CRD reads its custom resources again).
 *
 * @example
 * ```ts
 * const live = await liveObject(kube, { apiVersion: "example.com/v1", kind: "Widget", name: "w" });
 * ```
 */
export async function liveObject(
  kube: KubeClient,
  ref: ObjectRef,
): Promise<KubeObject | undefined> {
  try {
    return await kube.get(ref);
  } catch (e) {
    if (
      e instanceof KubeApiError && e.status === 404 &&
      e.apiStatus?.reason === "KindNotServed"
    ) return undefined;
    throw e;
  }
}

/** Cache of discovery-wide reads shared by the checks of one {@linkcode planPrune}. */
interface Contents {
  resources?: Promise<ApiResource[]>;
}

/** Namespaced, listable resources: discovery when the client offers it, else builtins and CRDs. */
async function namespacedResources(kube: KubeClient): Promise<ApiResource[]> {
  if (kube.apiResources) {
    return (await kube.apiResources()).filter((r) =>
      r.namespaced && (r.verbs === undefined || r.verbs.includes("list"))
    );
  }
  const builtins: [string, string][] = [
    ["v1", "ConfigMap"],
    ["v1", "Secret"],
    ["v1", "ServiceAccount"],
    ["v1", "Service"],
    ["v1", "Pod"],
    ["v1", "PersistentVolumeClaim"],
    ["apps/v1", "Deployment"],
    ["apps/v1", "StatefulSet"],
    ["apps/v1", "DaemonSet"],
    ["batch/v1", "Job"],
    ["batch/v1", "CronJob"],
    ["rbac.authorization.k8s.io/v1", "Role"],
    ["rbac.authorization.k8s.io/v1", "RoleBinding"],
    ["networking.k8s.io/v1", "Ingress"],
    ["networking.k8s.io/v1", "NetworkPolicy"],
  ];
  const crds = await kube.list(
    "apiextensions.k8s.io/v1",
    "CustomResourceDefinition",
  );
  for (const crd of crds) {
    const spec = crd.spec as CrdFields | undefined;
    if (spec?.scope !== "Namespaced") continue;
    const version = storageVersion(spec);
    if (spec.group && spec.names?.kind && version) {
      builtins.push([`${spec.group}/${version}`, spec.names.kind]);
    }
  }
  const found = await Promise.all(
    builtins.map(([v, k]) => kube.resourceFor(v, k)),
  );
  return found.filter((r): r is ApiResource => r !== undefined);
}

/** The fields of a CRD read here. */
interface CrdFields {
  group?: string;
  scope?: string;
  names?: { kind?: string };
  versions?: { name?: string; served?: boolean; storage?: boolean }[];
}

function storageVersion(spec: CrdFields): string | undefined {
  const versions = spec.versions ?? [];
  return (versions.find((v) => v.storage && v.served) ??
    versions.find((v) => v.served))?.name;
}

/**
 * Lists one kind in a namespace. Discovery can name a kind a moment before the
 * group/version's own resource list does (a CRD just Established), so a kind the
 * client calls unserved is looked up again, bounded. A kind that stays unserved
 * because its CRD was deleted meanwhile has no instances left to lose: it lists as
 * empty. Otherwise it counts as a failure.
 */
async function listServed(
  kube: KubeClient,
  resource: ApiResource,
  namespace: string,
): Promise<KubeObject[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await kube.list(resource.apiVersion, resource.kind, { namespace });
    } catch (e) {
      const unserved = e instanceof KubeApiError && e.status === 404 &&
        e.apiStatus?.reason === "KindNotServed";
      if (!unserved) throw e;
      if (Date.now() >= deadline) {
        if (await crdGone(kube, resource)) return [];
        throw e;
      }
      kube.invalidateDiscovery();
      await sleep(250);
    }
  }
}

/** True when the kind belongs to an API group whose CRD for it no longer exists. */
async function crdGone(
  kube: KubeClient,
  resource: ApiResource,
): Promise<boolean> {
  const group = resource.apiVersion.includes("/")
    ? resource.apiVersion.split("/")[0]
    : "";
  if (!group.includes(".")) return false; // built-in groups have no CRD
  const crd = await kube.get({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    name: `${resource.resource}.${group}`,
  });
  return crd === undefined;
}

/** Up to three names, then a count. */
function someNames(refs: ObjectRef[]): string {
  const names = refs.slice(0, 3).map(objectName).join(", ");
  return refs.length > 3 ? `${names} and ${refs.length - 3} more` : names;
}

/** Objects in a namespace that kfplan does not own (API-server-made ones aside). */
async function foreignInNamespace(
  kube: KubeClient,
  namespace: string,
  owned: Set<string>,
  contents: Contents,
): Promise<ObjectRef[] | string> {
  contents.resources ??= namespacedResources(kube);
  const resources = await contents.resources;
  const foreign: ObjectRef[] = [];
  const failures: string[] = [];
  const listed = await mapLimit(resources, 8, async (r) => {
    try {
      return await listServed(kube, r, namespace);
    } catch (e) {
      failures.push(`${r.kind} (${r.apiVersion}): ${(e as Error).message}`);
      return [];
    }
  });
  if (failures.length > 0) {
    return `could not list everything in it (${failures[0]})`;
  }
  const objects = listed.flat();
  const services = new Set(
    objects.filter((o) => o.kind === "Service").map((o) => o.metadata.name),
  );
  for (const object of objects) {
    const ref = refOf(object);
    ref.namespace ??= namespace;
    if (owned.has(identityKey(ref)) || selfCreated(object, services)) continue;
    foreign.push(ref);
  }
  return foreign.sort(compareRefs);
}

/** Instances of a CRD's kind that kfplan does not own. */
async function foreignInstances(
  kube: KubeClient,
  crd: KubeObject,
  owned: Set<string>,
): Promise<ObjectRef[] | string> {
  const spec = crd.spec as CrdFields | undefined;
  const version = spec && storageVersion(spec);
  if (!spec?.group || !spec.names?.kind || !version) return [];
  let items: KubeObject[];
  try {
    items = await kube.list(`${spec.group}/${version}`, spec.names.kind);
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 404) return [];
    return `could not list its instances (${(e as Error).message})`;
  }
  return items.map(refOf).filter((r) => !owned.has(identityKey(r))).sort(
    compareRefs,
  );
}

/** Why a live object holds data and must be kept, if it does. */
async function dataHeld(
  kube: KubeClient,
  live: KubeObject,
  checks: { owned: Set<string>; contents: Contents },
): Promise<string | undefined> {
  const group = groupOf(live.apiVersion);
  const hint = "--allow-data-loss deletes it";
  if (
    group === "" && (live.kind === "PersistentVolumeClaim" ||
      live.kind === "PersistentVolume")
  ) {
    return `holds data (${live.kind}); ${hint}`;
  }
  if (group === "" && live.kind === "Namespace") {
    const foreign = await foreignInNamespace(
      kube,
      live.metadata.name,
      checks.owned,
      checks.contents,
    );
    if (typeof foreign === "string") return `holds data: ${foreign}; ${hint}`;
    if (foreign.length > 0) {
      return `holds data: it contains ${foreign.length} object${
        foreign.length === 1 ? "" : "s"
      } kfplan does not own (${someNames(foreign)}); ${hint} with them`;
    }
    return undefined;
  }
  if (live.kind === "CustomResourceDefinition") {
    if (PROTECTED_CRDS.has(live.metadata.name)) {
      return `protected: deleting it deletes every Profile and, through them, every user namespace; ${hint}`;
    }
    const foreign = await foreignInstances(kube, live, checks.owned);
    if (typeof foreign === "string") return `holds data: ${foreign}; ${hint}`;
    if (foreign.length > 0) {
      return `holds data: ${foreign.length} instance${
        foreign.length === 1 ? "" : "s"
      } kfplan does not own (${someNames(foreign)}); ${hint} with them`;
    }
  }
  return undefined;
}

/** Why a live candidate is kept, or `undefined` when it may be deleted. */
async function keepReason(
  kube: KubeClient,
  candidate: PruneCandidate,
  live: KubeObject,
  run: {
    options: PlanPruneOptions;
    owned: Set<string>;
    contents: Contents;
  },
): Promise<string | undefined> {
  const changed = ownerChange(candidate, live, run.options.partOf);
  if (changed) return changed;
  if (
    groupOf(live.apiVersion) === "" && live.kind === "Namespace" &&
    PROTECTED_NAMESPACES.has(live.metadata.name)
  ) {
    return "a system namespace: kfplan never deletes it";
  }
  const marker = keepMarkerOf(live);
  if (marker) {
    return `carries ${marker}; remove the marker to let kfplan delete it`;
  }
  if (run.options.allowDataLoss) return undefined;
  return await dataHeld(kube, live, run);
}

/**
 * Splits prune candidates into deletes and kept objects (data protection, foreign
 * keep markers, objects that changed owner). Candidates already gone are left out.
 * Reads only: it GETs each candidate and, for namespaces and CRDs, lists what they
 * hold.
 *
 * @example
 * ```ts
 * const plan = await planPrune(kube, [{ apiVersion: "v1", kind: "ConfigMap", namespace: "demo", name: "old", uid }], {
 *   owned: [],
 *   partOf: "applyset-abc-v1",
 * });
 * for (const k of plan.kept) console.log(`${k.kind} ${k.name}: ${k.reason}`);
 * ```
 */
export async function planPrune(
  kube: KubeClient,
  candidates: readonly PruneCandidate[],
  options: PlanPruneOptions,
): Promise<PrunePlan> {
  // A cluster-scoped object may be recorded with a namespace (kustomize sets one on
  // kinds it does not know are cluster-scoped); the server drops it, so match both.
  const owned = new Set(
    options.owned.flatMap((r) => [
      identityKey(r),
      identityKey({ ...r, namespace: undefined }),
    ]),
  );
  const contents: Contents = {};
  const judged = await mapLimit(candidates, 8, async (candidate) => {
    const live = await liveObject(kube, candidate);
    if (!live) return undefined;
    const reason = await keepReason(kube, candidate, live, {
      options,
      owned,
      contents,
    });
    return { candidate, reason };
  });
  const deletes: ResourceChange[] = [];
  const kept: KeptObject[] = [];
  for (const j of judged) {
    if (!j) continue;
    const ref = plainRef(j.candidate);
    if (j.reason) kept.push({ ...ref, reason: j.reason });
    else deletes.push({ ...ref, action: "delete", diff: [] });
  }
  return { deletes: deletionOrder(deletes), kept: kept.sort(compareRefs) };
}

/** Raised when an object does not go within the timeout; names what holds it. */
export class DeleteTimeoutError extends Error {
  /** The object still there. */
  readonly ref: ObjectRef;
  /** Its finalizers when last seen. */
  readonly finalizers: string[];
  /** Names the object, its finalizers and, for a namespace, its conditions. */
  constructor(
    ref: ObjectRef,
    seen: { finalizers: string[]; conditions: string[]; timeoutMs: number },
  ) {
    const parts = [
      `${formatRef(ref)} is still there ${
        Math.round(seen.timeoutMs / 1000)
      } s after its delete`,
    ];
    parts.push(
      seen.finalizers.length > 0
        ? `remaining finalizers: ${seen.finalizers.join(", ")}`
        : "no finalizers left (its dependents are still being deleted)",
    );
    if (seen.conditions.length > 0) {
      parts.push(`conditions: ${seen.conditions.join("; ")}`);
    }
    parts.push(
      "the controller that owns each finalizer must remove it; kfplan never strips finalizers",
    );
    super(parts.join("; "));
    this.name = "DeleteTimeoutError";
    this.ref = ref;
    this.finalizers = seen.finalizers;
  }
}

function finalizersOf(object: KubeObject): string[] {
  const f = object.metadata.finalizers;
  return Array.isArray(f) ? f.map(String) : [];
}

function conditionsOf(object: KubeObject): string[] {
  const status = object.status as
    | { conditions?: { type?: string; status?: string; message?: string }[] }
    | undefined;
  return (status?.conditions ?? [])
    .filter((c) => c.status === "True")
    .map((c) => `${c.type}${c.message ? `: ${c.message}` : ""}`);
}

/** Kinds that own pods: their delete waits for the pods (Foreground). */
const POD_OWNER_KINDS = new Set([
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "ReplicationController",
  "Job",
  "CronJob",
]);

/**
 * Foreground for the built-in kinds that own pods, so the wait covers their pods and
 * the configuration class starts only when no pod uses it any more. Background for
 * everything else: a Foreground delete puts `foregroundDeletion` on the object and
 * only the garbage collector takes it off, so each ConfigMap, Role or CRD waited its
 * turn in the collector's queue for dependents such objects do not have
 * (`bench/day_two.ts`, Kubeflow v1.10.2 on a loaded machine: 23 s for 307
 * configuration objects and 46 s for 51 CRDs; with Background 2 s and 22 s). A CRD's
 * instances and a namespace's contents are deleted by their own finalizers
 * (`customresourcecleanup`, `kubernetes`), which the wait covers either way. Custom
 * resources were Background already: the collector watches a new kind only after its
 * periodic discovery (30 s); their controllers clean up through finalizers.
 */
function propagationOf(ref: ObjectRef): "Foreground" | "Background" {
  return isBuiltinGroup(groupOf(ref.apiVersion)) &&
      POD_OWNER_KINDS.has(ref.kind)
    ? "Foreground"
    : "Background";
}

/** The field manager of kube-controller-manager's ClusterRole aggregation. */
const AGGREGATION_MANAGER = "clusterrole-aggregation-controller";

/** An aggregated ClusterRole deleted, by the uid it had. */
interface DeletedAggregate {
  ref: ObjectRef;
  uid?: string;
}

/**
 * A ClusterRole that kube-controller-manager's aggregation controller created again
 * after the aggregated one of that name was deleted: it writes an aggregated role's
 * rules by server-side apply from its cache whenever any ClusterRole changes, and an
 * apply that comes after the delete creates a bare role (seen in
 * `bench/day_two.ts`: Kubeflow's `kubeflow-admin`, `kubeflow-view`, knative's
 * aggregated roles left behind by kfplan and by `kubectl delete` alike). Recognized
 * strictly: another uid, no labels, no aggregation rule, and no field written by
 * anyone but that controller.
 */
function reAggregated(live: KubeObject, deleted: DeletedAggregate): boolean {
  const managers = (live.metadata.managedFields ?? []) as {
    manager?: string;
  }[];
  return live.metadata.uid !== deleted.uid && !live.aggregationRule &&
    Object.keys(live.metadata.labels ?? {}).length === 0 &&
    managers.length > 0 &&
    managers.every((m) => m.manager === AGGREGATION_MANAGER);
}

/**
 * Deletes what the aggregation controller re-created of the aggregated ClusterRoles
 * deleted (see {@linkcode reAggregated}), after every class is gone. It re-creates
 * from a stale cache, and every ClusterRole event (its own re-creation, our delete of
 * it) queues every aggregated role again, so it looks once a second until two looks
 * in a row find nothing, at most five looks (seen on a loaded 2-core machine: roles
 * re-created after the CRD and namespace classes had gone, tens of seconds after
 * their delete).
 */
async function deleteReAggregated(
  kube: KubeClient,
  deleted: readonly DeletedAggregate[],
  options: DeleteObjectsOptions,
): Promise<void> {
  if (deleted.length === 0) return;
  let quiet = 0;
  for (let look = 0; look < 5 && quiet < 2; look++) {
    if (look > 0) await sleep(1000);
    let found = 0;
    for (const d of deleted) {
      if (options.signal?.aborted) return;
      const live = await liveObject(kube, d.ref);
      if (!live || !reAggregated(live, d)) continue;
      found++;
      options.onEvent?.({ type: "deleting", ref: d.ref });
      await kube.delete(d.ref);
      options.onEvent?.({ type: "deleted", ref: d.ref });
    }
    quiet = found === 0 ? quiet + 1 : 0;
  }
}

/** Deletes one object (if it is still ours) and waits for it to go. */
async function deleteOne(
  kube: KubeClient,
  ref: PruneCandidate,
  options: DeleteObjectsOptions,
): Promise<
  { deleted: boolean; skipped?: string; aggregate?: DeletedAggregate }
> {
  const target = plainRef(ref);
  const live = await liveObject(kube, target);
  if (!live) return { deleted: true };
  const changed = ownerChange(ref, live, options.partOf);
  if (changed) {
    options.onEvent?.({ type: "skipped", ref: target, reason: changed });
    return { deleted: false, skipped: changed };
  }
  const uid = live.metadata.uid;
  if (!live.metadata.deletionTimestamp) {
    options.onEvent?.({ type: "deleting", ref: target });
    await kube.delete(target, {
      propagationPolicy: propagationOf(target),
    });
  }
  const timeoutMs = deleteClassOf(target) === "namespaces"
    ? options.namespaceTimeoutMs ?? Math.max(300_000, options.timeoutMs ?? 0)
    : options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  let last: KubeObject | undefined = live;
  let announced = false;
  while (true) {
    last = await liveObject(kube, target);
    if (!last || (uid && last.metadata.uid !== uid)) break;
    if (Date.now() >= deadline) {
      throw new DeleteTimeoutError(target, {
        finalizers: finalizersOf(last),
        conditions: target.kind === "Namespace" ? conditionsOf(last) : [],
        timeoutMs,
      });
    }
    const finalizers = finalizersOf(last);
    if (!announced && finalizers.length > 0) {
      announced = true;
      options.onEvent?.({ type: "waiting", ref: target, finalizers });
    }
    await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
  }
  options.onEvent?.({ type: "deleted", ref: target });
  const aggregated = live.kind === "ClusterRole" &&
    groupOf(live.apiVersion) === "rbac.authorization.k8s.io" &&
    live.aggregationRule !== undefined;
  return {
    deleted: true,
    ...(aggregated ? { aggregate: { ref: target, uid } } : {}),
  };
}

/**
 * Deletes objects in reverse dependency order (custom resources, webhooks, workloads,
 * configuration, CRDs, namespaces), waiting (bounded) for each to go; a stuck
 * finalizer is named in the error. Objects of one class go concurrently (at most 8
 * at once); a class starts when the one before it is gone. Before each delete the
 * object is read again and must still carry the recorded uid (and `partOf`, when
 * given): otherwise it is skipped. Workloads that own pods are deleted with
 * Foreground propagation, everything else with Background (see `propagationOf`);
 * finalizers are never stripped. An aggregated ClusterRole that kube-controller-
 * manager's aggregation controller creates again after its delete is deleted too
 * (see `reAggregated`).
 *
 * @example
 * ```ts
 * const result = await deleteObjects(kube, plan.deletes, {
 *   timeoutMs: 60_000,
 *   onEvent: (e) => console.log(e.type, e.ref.kind, e.ref.name),
 * });
 * ```
 */
export async function deleteObjects(
  kube: KubeClient,
  refs: readonly PruneCandidate[],
  options: DeleteObjectsOptions = {},
): Promise<DeleteResult> {
  const result: DeleteResult = { deleted: [], skipped: [] };
  const aggregates: DeletedAggregate[] = [];
  const ordered = deletionOrder(refs);
  for (const cls of DELETE_CLASSES) {
    const batch = ordered.filter((r) => deleteClassOf(r) === cls);
    const errors: unknown[] = [];
    await mapLimit(batch, 8, async (ref) => {
      if (options.signal?.aborted || errors.length > 0) return;
      try {
        const done = await deleteOne(kube, ref, options);
        if (done.skipped) {
          result.skipped.push({ ...plainRef(ref), reason: done.skipped });
        } else result.deleted.push(plainRef(ref));
        if (done.aggregate) aggregates.push(done.aggregate);
      } catch (e) {
        errors.push(e);
      }
    });
    if (errors.length > 0) throw errors[0];
    if (options.signal?.aborted) {
      throw options.signal.reason ?? new Error("deleteObjects aborted");
    }
  }
  await deleteReAggregated(kube, aggregates, options);
  return result;
}
