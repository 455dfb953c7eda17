/**
 * Planning and applying a set of manifests in one ordered pass, the way kapp and Flux
 * do it: Namespaces and CRDs first (then wait until the CRDs are Established), cluster
 * configuration (RBAC, ServiceAccounts, ConfigMaps, Secrets, Services, ...), workloads,
 * then wait until webhook backends have ready endpoints, webhook configurations, and
 * custom resources last. Every wait is bounded; failed requests are retried only for
 * 429/5xx/conflicts, with backoff, by the client.
 *
 * @example
 * ```ts
 * import { applyObjects, planObjects } from "./apply_set.ts";
 * import type { KubeClient, KubeObject } from "./types.ts";
 *
 * async function install(kube: KubeClient, objects: KubeObject[]) {
 *   const plan = await planObjects(kube, objects, {});
 *   for (const c of plan.changes) console.log(c.action, c.kind, c.name);
 *   await applyObjects(kube, objects, {
 *     onProgress: (e) => console.log(e.type, e.ref ? `${e.ref.kind} ${e.ref.name}` : e.phase),
 *   });
 * }
 * ```
 *
 * @module
 */

import { sleep } from "./retry.ts";
import { diffValues, type FieldDiff } from "./diff.ts";
import type { ApplyOptions, KubeClient, KubeObject } from "./types.ts";
import { KubeApiError } from "./errors.ts";
import {
  formatRef,
  groupOf,
  isBuiltinGroup,
  objectKey,
  type ObjectRef,
  refOf,
} from "./object_ref.ts";

export { refOf };
import {
  crdEstablished,
  waitForServiceEndpoints,
  waitForWorkloads,
} from "./wait.ts";

/** The phases of an ordered apply, in order. */
export type PhaseName =
  | "namespaces-and-crds"
  | "cluster-config"
  | "workloads"
  | "webhooks"
  | "custom-resources";

/** The phase names in apply order. */
export const PHASES: readonly PhaseName[] = [
  "namespaces-and-crds",
  "cluster-config",
  "workloads",
  "webhooks",
  "custom-resources",
];

/** One phase and its objects, in apply order. */
export interface ApplyPhase {
  /** The phase. */
  name: PhaseName;
  /** Its objects, in apply order. */
  objects: KubeObject[];
}

const WORKLOADS = new Set([
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "ReplicationController",
  "Pod",
  "Job",
  "CronJob",
]);

const WEBHOOKS = new Set([
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
  "APIService",
]);

/** Kind order inside a phase (Helm's install order), for a predictable apply. */
const KIND_ORDER = [
  "Namespace",
  "CustomResourceDefinition",
  "PriorityClass",
  "NetworkPolicy",
  "ResourceQuota",
  "LimitRange",
  "PodDisruptionBudget",
  "ServiceAccount",
  "Secret",
  "ConfigMap",
  "StorageClass",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "ClusterRole",
  "ClusterRoleBinding",
  "Role",
  "RoleBinding",
  "Service",
  "DaemonSet",
  "Pod",
  "ReplicationController",
  "ReplicaSet",
  "Deployment",
  "HorizontalPodAutoscaler",
  "StatefulSet",
  "Job",
  "CronJob",
  "IngressClass",
  "Ingress",
  "APIService",
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
];

/** The API group of an `apiVersion` (`""` for the core group). */
export { groupOf };

/** The phase an object is applied in. */
export function phaseOf(
  object: Pick<KubeObject, "apiVersion" | "kind">,
): PhaseName {
  const group = groupOf(object.apiVersion);
  if (!isBuiltinGroup(group)) return "custom-resources";
  if (object.kind === "Namespace" && group === "") return "namespaces-and-crds";
  if (object.kind === "CustomResourceDefinition") return "namespaces-and-crds";
  if (WEBHOOKS.has(object.kind)) return "webhooks";
  if (WORKLOADS.has(object.kind)) return "workloads";
  return "cluster-config";
}

/**
 * Splits objects into apply phases (see the module doc). Inside a phase, objects are
 * sorted by kind (Helm's install order, unknown kinds last) and otherwise keep their
 * input order. Every phase is returned, possibly empty.
 *
 * @example
 * ```ts
 * import { orderObjects } from "./apply_set.ts";
 * const phases = orderObjects([
 *   { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } },
 *   { apiVersion: "v1", kind: "Namespace", metadata: { name: "demo" } },
 * ]);
 * phases.map((p) => `${p.name}: ${p.objects.length}`);
 * ```
 */
export function orderObjects(objects: readonly KubeObject[]): ApplyPhase[] {
  const rank = (kind: string) => {
    const i = KIND_ORDER.indexOf(kind);
    return i < 0 ? KIND_ORDER.length : i;
  };
  return PHASES.map((name) => ({
    name,
    objects: objects
      .map((object, index) => ({ object, index }))
      .filter(({ object }) => phaseOf(object) === name)
      .sort((a, b) =>
        rank(a.object.kind) - rank(b.object.kind) || a.index - b.index
      )
      .map(({ object }) => object),
  }));
}

/** A webhook's or APIService's backend Service, as the manifests name it. */
interface ServiceReference {
  namespace?: string;
  name?: string;
}

/** The fields of a CustomResourceDefinition's spec read here. */
interface CrdSpec {
  group?: string;
  names?: { kind?: string };
  versions?: { name?: string; served?: boolean }[];
  conversion?: {
    webhook?: { clientConfig?: { service?: ServiceReference } };
  };
}

/** The fields of webhook configurations and APIServices read here. */
interface WebhookFields {
  webhooks?: { clientConfig?: { service?: ServiceReference } }[];
  spec?: { service?: ServiceReference };
}

/**
 * The kinds the CRDs of a set define: key `group/version/Kind` (the object's
 * `apiVersion` + `/` + kind), value the CRD's name.
 */
export function crdDefinedKinds(
  objects: readonly KubeObject[],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of objects) {
    if (o.kind !== "CustomResourceDefinition") continue;
    const spec = o.spec as CrdSpec | undefined;
    for (const v of spec?.versions ?? []) {
      if (v?.served === false) continue;
      out.set(`${spec?.group}/${v.name}/${spec?.names?.kind}`, o.metadata.name);
    }
  }
  return out;
}

/** The backend Services one object's admission or API serving depends on. */
function backendsOf(o: KubeObject): (ServiceReference | undefined)[] {
  const fields = o as KubeObject & WebhookFields;
  if (
    o.kind === "MutatingWebhookConfiguration" ||
    o.kind === "ValidatingWebhookConfiguration"
  ) {
    return (fields.webhooks ?? []).map((w) => w?.clientConfig?.service);
  }
  if (o.kind === "APIService") return [fields.spec?.service];
  if (o.kind === "CustomResourceDefinition") {
    return [
      (o.spec as CrdSpec | undefined)?.conversion?.webhook?.clientConfig
        ?.service,
    ];
  }
  return [];
}

/**
 * Services that must have ready endpoints before the webhook configurations,
 * APIServices and conversion webhooks of a set can work, deduplicated, in input order.
 */
export function webhookBackends(
  objects: readonly KubeObject[],
): { namespace: string; name: string }[] {
  const seen = new Map<string, { namespace: string; name: string }>();
  for (const svc of objects.flatMap(backendsOf)) {
    if (!svc?.name) continue;
    const ref = { namespace: svc.namespace ?? "default", name: svc.name };
    seen.set(`${ref.namespace}/${ref.name}`, ref);
  }
  return [...seen.values()];
}

/** What will happen to one object; the plan's resource change (see `lib/engine/types.ts`). */
export type ChangeAction = "create" | "update" | "replace" | "delete" | "no-op";

/** A planned change to one Kubernetes object. */
export interface ResourceChange extends ObjectRef {
  /** What apply does to the object. */
  action: ChangeAction;
  /** Field-level differences; empty for `create` and `delete` (the whole object changes). */
  diff: FieldDiff[];
  /** Why this change is planned this way, e.g. why an update became a replacement. */
  reason?: string;
  /**
   * True when the object's kind is served only after this apply creates its CRD, so
   * the server could not dry-run it at plan time.
   */
  knownAfterApply?: boolean;
  /** For `replace`: the immutable fields the server refused to change in place. */
  immutableFields?: string[];
  /**
   * Fields of the desired state another field manager owns with another value (the
   * server's answer to a dry-run apply without force), by manager.
   */
  conflicts?: FieldConflict[];
  /**
   * True when those conflicts block apply: kfplan never applied this object (it was
   * adopted or pre-existing) and taking its fields was not asked for
   * (`forceConflicts`).
   */
  blocked?: boolean;
}

/** Fields of an object another field manager owns, as a dry-run apply reports them. */
export interface FieldConflict {
  /** The other field manager, e.g. `kubectl` or `helm`. */
  manager: string;
  /** The fields, e.g. `spec.replicas`. */
  fields: string[];
}

/**
 * Kinds that are never deleted and re-created implicitly: deleting them deletes data
 * (a PVC's volume, a PV, every object in a Namespace, every instance of a CRD).
 */
export const DATA_HOLDING_KINDS: ReadonlySet<string> = new Set([
  "PersistentVolumeClaim",
  "PersistentVolume",
  "Namespace",
  "CustomResourceDefinition",
]);

/** The server's ways of saying a field cannot change in place. */
const IMMUTABLE_MESSAGE =
  /immutable|may not change once set|cannot be changed|cannot change|are forbidden|may not be changed/i;

/**
 * The fields a 422 from apply names as immutable (from the `Status`'s causes, else its
 * message), or `undefined` when the error is not about immutable fields.
 *
 * @example
 * ```ts
 * immutableFieldsOf(error); // ["spec.selector"]
 * ```
 */
export function immutableFieldsOf(error: unknown): string[] | undefined {
  if (!(error instanceof KubeApiError) || error.status !== 422) {
    return undefined;
  }
  const message = error.apiStatus?.message ?? error.message;
  if (!IMMUTABLE_MESSAGE.test(message)) return undefined;
  const fields = (error.apiStatus?.details?.causes ?? [])
    .filter((c) => IMMUTABLE_MESSAGE.test(c.message ?? "") && c.field)
    .map((c) => c.field!.replace(/^\./, ""));
  return fields.length > 0 ? [...new Set(fields)] : [message];
}

/**
 * The managers and fields of a 409 from a server-side apply without force, or
 * `undefined` when the error is not such a conflict.
 */
export function fieldConflictsOf(error: unknown): FieldConflict[] | undefined {
  if (!(error instanceof KubeApiError) || error.status !== 409) {
    return undefined;
  }
  const causes = (error.apiStatus?.details?.causes ?? []).filter((c) =>
    c.reason === "FieldManagerConflict" || /conflict with/.test(c.message ?? "")
  );
  if (causes.length === 0) return undefined;
  const byManager = new Map<string, string[]>();
  for (const c of causes) {
    const manager = /conflict with "([^"]*)"/.exec(c.message ?? "")?.[1] ??
      "unknown";
    const field = (c.field ?? "").replace(/^\./, "");
    byManager.set(manager, [...(byManager.get(manager) ?? []), field]);
  }
  return [...byManager].map(([manager, fields]) => ({ manager, fields }));
}

/** `spec.replicas (manager "kubectl"), data.x (manager "helm")`. */
export function describeConflicts(conflicts: readonly FieldConflict[]): string {
  return conflicts.map((c) =>
    `${c.fields.join(", ")} (field manager "${c.manager}")`
  ).join("; ");
}

/** Whether `manager` has server-side applied `live` before (its `Apply` entry). */
export function appliedBy(
  live: KubeObject | undefined,
  manager: string,
): boolean {
  const entries = (live?.metadata?.managedFields ?? []) as {
    manager?: string;
    operation?: string;
  }[];
  return entries.some((e) => e.manager === manager && e.operation === "Apply");
}

/** Raised before apply when planned conflicts on objects kfplan did not create block it. */
export class ConflictError extends Error {
  /** The blocked changes. */
  readonly changes: ResourceChange[];

  /** Creates the error naming every blocked object, its fields and managers. */
  constructor(changes: ResourceChange[]) {
    super(
      `apply refused: ${changes.length} object(s) kfplan did not create have fields ` +
        `other field managers own: ${
          changes.map((c) =>
            `${formatRef(c)}: ${describeConflicts(c.conflicts ?? [])}`
          ).join("; ")
        }; plan and apply with --force-conflicts to take them`,
    );
    this.name = "ConflictError";
    this.changes = changes;
  }
}

/**
 * Throws a {@linkcode ConflictError} when any planned change is `blocked`; nothing
 * in the cluster has changed yet when it does.
 */
export function refuseBlockedConflicts(
  changes: readonly ResourceChange[],
): void {
  const blocked = changes.filter((c) => c.blocked);
  if (blocked.length > 0) throw new ConflictError(blocked);
}

/** One plan warning per blocked change, saying how to proceed; empty when none. */
export function conflictWarnings(
  changes: readonly ResourceChange[],
): string[] {
  return changes.filter((c) => c.blocked).map((c) =>
    `${formatRef(c)}: ${
      describeConflicts(c.conflicts ?? [])
    }: kfplan did not create it, so apply refuses; ` +
    "plan and apply with --force-conflicts to take these fields"
  );
}

/** The label that makes an object a member of an ApplySet (kfplan's inventories). */
const PART_OF = "applyset.kubernetes.io/part-of";

/**
 * Whether kfplan applied `live` before: it is a member of an inventory (the ApplySet
 * `part-of` label), the client recorded applying it (an observing client's
 * `recorded`), or `manager` has an `Apply` entry. The last alone is not enough: a
 * manager whose every field another one took loses its entry.
 */
function ownedByKfplan(
  kube: KubeClient,
  live: KubeObject | undefined,
  manager: string,
): boolean {
  if (!live) return false;
  if (live.metadata.labels?.[PART_OF]) return true;
  const recorded = (kube as { recorded?: (ref: ObjectRef) => boolean })
    .recorded;
  if (recorded?.(refOf(live))) return true;
  return appliedBy(live, manager);
}

/** Options for {@linkcode conflictGuardedClient}. */
export interface ConflictGuardOptions {
  /** `--force-conflicts`: applies take what other managers own, as planned. */
  forceConflicts?: boolean;
  /** kfplan's field manager; default `kfplan`. */
  fieldManager?: string;
}

/**
 * Wraps the client a step applies with so that apply forces only what its plan agreed
 * to. An object whose planned change takes conflicts (drift repair, or
 * `--force-conflicts`) is applied with force, as planned; any other is applied
 * without, and a conflict that shows only then (another tool wrote the field since
 * the plan) is taken on an object kfplan owns (drift repair) and refused on any other
 * with a {@linkcode ConflictError} naming the object, the managers and the fields.
 * Dry-runs, status applies and applies that choose `force` themselves pass through.
 *
 * @example
 * ```ts
 * import { conflictGuardedClient } from "./apply_set.ts";
 * import type { KubeClient, KubeObject } from "./types.ts";
 *
 * async function applyPlanned(kube: KubeClient, object: KubeObject) {
 *   const guarded = conflictGuardedClient(kube, [], {});
 *   await guarded.apply(object); // 409 on a field another manager owns
 * }
 * ```
 */
export function conflictGuardedClient(
  kube: KubeClient,
  changes: readonly ResourceChange[],
  options: ConflictGuardOptions = {},
): KubeClient {
  if (options.forceConflicts) return kube;
  const agreed = new Set(
    changes.filter((c) => (c.conflicts?.length ?? 0) > 0 && !c.blocked)
      .map((c) => objectKey(c)),
  );
  async function apply(
    object: KubeObject,
    applyOptions?: ApplyOptions,
  ): Promise<KubeObject> {
    const ref = refOf(object);
    if (
      applyOptions?.dryRun || applyOptions?.subresource ||
      applyOptions?.force !== undefined || agreed.has(objectKey(ref))
    ) {
      return await kube.apply(object, applyOptions);
    }
    try {
      return await kube.apply(object, { ...applyOptions, force: false });
    } catch (e) {
      const conflicts = fieldConflictsOf(e);
      if (!conflicts) throw e;
      const live = await kube.get(ref);
      if (ownedByKfplan(kube, live, options.fieldManager ?? "kfplan")) {
        return await kube.apply(object, applyOptions);
      }
      throw new ConflictError([{
        ...ref,
        action: live ? "update" : "create",
        diff: [],
        conflicts,
        blocked: true,
      }]);
    }
  }
  // A Proxy keeps every other method (and a wrapped client's extras) as they are.
  return new Proxy(kube, {
    get(target, prop, receiver) {
      if (prop === "apply") return apply;
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Raised when replacing an object would delete data that was not allowed to go. */
export class DataLossError extends Error {
  /** The object. */
  readonly ref: ObjectRef;
  /** The immutable fields that changed. */
  readonly fields: string[];

  /** Creates the error naming the object, the fields and how to proceed. */
  constructor(ref: ObjectRef, fields: string[]) {
    super(
      `${formatRef(ref)}: ${
        fields.join(", ")
      } cannot change in place (immutable), and replacing a ${ref.kind} deletes ` +
        `its data; keep the field as it is, or allow data loss (--allow-data-loss) to delete and re-create it`,
    );
    this.name = "DataLossError";
    this.ref = ref;
    this.fields = fields;
  }
}

/** An object the planner read, with the version it saw: stale-plan detection compares these. */
export interface ObservedObject extends ObjectRef {
  /** `metadata.resourceVersion` at plan time; absent when the object did not exist. */
  resourceVersion?: string;
  /** `metadata.uid` at plan time; a different uid means the object was re-created. */
  uid?: string;
  /** `metadata.generation` at plan time, for kinds that have one. */
  generation?: number;
}

/** Options for {@linkcode planObjects}. */
export interface PlanObjectsOptions {
  /** Parallel dry-runs; default 8. */
  concurrency?: number;
  /** Cancels planning. */
  signal?: AbortSignal;
  /**
   * Plan replacements of data-holding kinds ({@linkcode DATA_HOLDING_KINDS}) too.
   * Default false: such a replacement is an error naming the object and the field.
   */
  allowDataLoss?: boolean;
  /**
   * Name the fields of each update that other field managers own (one more dry-run,
   * without force, per updated object). For objects kfplan server-side applies
   * itself; not for objects another tool (helm) applies, whose own manager owns them.
   * Default false.
   */
  checkConflicts?: boolean;
  /**
   * With `checkConflicts`: take fields other managers own on objects kfplan never
   * applied (adopted or pre-existing). Default false: their conflicts block apply.
   */
  forceConflicts?: boolean;
  /**
   * Whether kfplan owns the object (applied it before), so that taking its fields
   * back is drift repair. Default: the live object has an `Apply` entry of
   * `fieldManager`.
   */
  owned?: (ref: ObjectRef, live: KubeObject | undefined) => boolean;
  /** kfplan's field manager; default `kfplan`. */
  fieldManager?: string;
}

/** What a step's run allowed, as {@linkcode planOptionsOf} reads it: a `StepContext` fits. */
export interface PlanPolicySource {
  /** Cancels planning. */
  signal?: AbortSignal;
  /** The user's flags for the run (`StepContext.policy`); absent: none. */
  policy?: { forceConflicts?: boolean; allowDataLoss?: boolean };
}

/**
 * The {@linkcode planObjects} options of a step that server-side applies its objects
 * itself: conflicts named (`checkConflicts`), the run's `--force-conflicts` and
 * `--allow-data-loss` passed on. One function, so that every step, shipped or custom,
 * plans conflicts alike; the engine warns about blocked ones and refuses them.
 *
 * @example
 * ```ts
 * import { planObjects, planOptionsOf } from "./apply_set.ts";
 * import type { KubeClient, KubeObject } from "./types.ts";
 *
 * async function plan(
 *   ctx: { kube?: KubeClient; signal: AbortSignal },
 *   objects: KubeObject[],
 * ) {
 *   return await planObjects(ctx.kube, objects, planOptionsOf(ctx));
 * }
 * ```
 */
export function planOptionsOf(source: PlanPolicySource): PlanObjectsOptions {
  return {
    signal: source.signal,
    allowDataLoss: source.policy?.allowDataLoss,
    checkConflicts: true,
    forceConflicts: source.policy?.forceConflicts,
  };
}

/**
 * The fields the desired object changes under the ones the server named (it may name
 * only `spec`): e.g. `spec.storageClassName`. The server's names when none is found.
 */
function changedUnder(
  reported: string[],
  live: KubeObject | undefined,
  desired: KubeObject,
): string[] {
  if (!live) return reported;
  const changed = diffValues(live, desired)
    .filter((d) => d.after !== undefined)
    .map((d) => d.path)
    .filter((path) =>
      reported.some((r) =>
        path === r || path.startsWith(`${r}.`) || path.startsWith(`${r}[`)
      )
    );
  return changed.length > 0 ? changed : reported;
}

/**
 * Whether a dry-run failed because the object uses fields the served CRD schema does
 * not declare yet (`field not declared in schema`, or a validation error).
 */
function outgrownSchema(error: unknown): boolean {
  if (!(error instanceof KubeApiError)) return false;
  const message = error.apiStatus?.message ?? error.message;
  return (error.status === 500 && /not declared in schema/.test(message)) ||
    (error.status === 422 && !IMMUTABLE_MESSAGE.test(message));
}

/** Names the conflicts of an update: drift repair, forced, or blocked. */
async function conflictsOf(
  kube: KubeClient,
  object: KubeObject,
  live: KubeObject | undefined,
  options: PlanObjectsOptions,
): Promise<Partial<ResourceChange>> {
  try {
    await kube.apply(object, { dryRun: true, force: false });
    return {};
  } catch (e) {
    const conflicts = fieldConflictsOf(e);
    if (!conflicts) throw e;
    const ref = refOf(object);
    const owned = options.owned?.(ref, live) ??
      ownedByKfplan(kube, live, options.fieldManager ?? "kfplan");
    const what = describeConflicts(conflicts);
    if (owned) {
      return {
        conflicts,
        reason:
          `drift repair: kfplan applied this object; apply takes back ${what}`,
      };
    }
    if (options.forceConflicts) {
      return {
        conflicts,
        reason: `conflict taken by --force-conflicts: ${what}`,
      };
    }
    return {
      conflicts,
      blocked: true,
      reason:
        `conflict: ${what}; kfplan did not create this object, so apply refuses to take ` +
        `these fields: plan and apply with --force-conflicts to take them, or change the ` +
        `configuration to agree with the live values`,
    };
  }
}

/** What {@linkcode planObjects} found. */
export interface ObjectsPlan {
  /** One change per object, in apply order. */
  changes: ResourceChange[];
  /** Every object read, with the version seen (absent ones without `resourceVersion`). */
  observed: ObservedObject[];
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. After the first failure no
 * new item starts; the ones in flight finish, then the first error is thrown.
 */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  async function worker() {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        out[i] = await fn(items[i]);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  }
  const results = await Promise.allSettled(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker),
  );
  const failure = results.find((r) => r.status === "rejected");
  if (failure) throw (failure as PromiseRejectedResult).reason;
  return out;
}

/**
 * Plans a set of objects, in apply order. Offline (`kube` undefined) every object is a
 * `create`. Online each object is diffed by server-side dry-run
 * ({@linkcode KubeClient.diff}); objects of kinds the server does not serve yet (their
 * CRD is in this set, or comes from an earlier step) are `create` with
 * `knownAfterApply: true`.
 */
export async function planObjects(
  kube: KubeClient | undefined,
  objects: readonly KubeObject[],
  options: PlanObjectsOptions = {},
): Promise<ObjectsPlan> {
  const ordered = orderObjects(objects).flatMap((p) => p.objects);
  if (!kube) {
    return {
      changes: ordered.map((o) => ({
        ...refOf(o),
        action: "create",
        diff: [],
      })),
      observed: [],
    };
  }
  const definedHere = crdDefinedKinds(objects);
  const results = await mapLimit(
    ordered,
    options.concurrency ?? 8,
    async (object) => {
      options.signal?.throwIfAborted();
      const ref = refOf(object);
      const served = await kube.resourceFor(object.apiVersion, object.kind);
      if (!served) {
        const crd = definedHere.get(`${object.apiVersion}/${object.kind}`);
        const change: ResourceChange = {
          ...ref,
          action: "create",
          diff: [],
          knownAfterApply: true,
          reason: crd
            ? `${object.kind} is served once CustomResourceDefinition ${crd} (in this set) is Established`
            : `the cluster does not serve ${object.kind} (${object.apiVersion}) yet; its CRD must come from an earlier step`,
        };
        return { change, observed: undefined };
      }
      try {
        const d = await kube.diff(object);
        const observed: ObservedObject = { ...ref };
        if (d.live?.metadata.resourceVersion) {
          observed.resourceVersion = d.live.metadata.resourceVersion;
        }
        if (d.live?.metadata.uid) observed.uid = d.live.metadata.uid;
        if (d.live?.metadata.generation !== undefined) {
          observed.generation = d.live.metadata.generation;
        }
        const change: ResourceChange = {
          ...ref,
          action: d.action,
          diff: d.diff,
        };
        if (d.action === "update" && options.checkConflicts) {
          Object.assign(
            change,
            await conflictsOf(kube, object, d.live, options),
          );
        }
        return { change, observed };
      } catch (e) {
        const reported = immutableFieldsOf(e);
        const crd = definedHere.get(`${object.apiVersion}/${object.kind}`);
        if (!reported && crd && outgrownSchema(e)) {
          // Fields only the new CRD (in this set) declares: the server can diff
          // the resource once that CRD is applied, not before.
          const live = await kube.get(ref);
          const change: ResourceChange = {
            ...ref,
            action: live ? "update" : "create",
            diff: [],
            knownAfterApply: true,
            reason:
              `uses fields CustomResourceDefinition ${crd} (in this set) declares only once applied; diffed after apply`,
          };
          return {
            change,
            observed: live
              ? {
                ...ref,
                resourceVersion: live.metadata.resourceVersion,
                uid: live.metadata.uid,
                generation: live.metadata.generation,
              }
              : undefined,
          };
        }
        if (!reported) throw e;
        const live = await kube.get(ref);
        const fields = changedUnder(reported, live, object);
        if (DATA_HOLDING_KINDS.has(ref.kind) && !options.allowDataLoss) {
          throw new DataLossError(ref, fields);
        }
        const change: ResourceChange = {
          ...ref,
          action: "replace",
          diff: [],
          immutableFields: fields,
          reason: `immutable field${fields.length > 1 ? "s" : ""} ${
            fields.join(", ")
          } change${
            fields.length > 1 ? "" : "s"
          }: apply deletes the object and creates it again`,
        };
        const observed: ObservedObject = {
          ...ref,
          resourceVersion: live?.metadata.resourceVersion,
          uid: live?.metadata.uid,
          generation: live?.metadata.generation,
        };
        return { change, observed };
      }
    },
  );
  return {
    changes: results.map((r) => r.change),
    observed: results.flatMap((r) => r.observed ? [r.observed] : []),
  };
}

/** Waits for every promise (no wait is left running), then throws the first failure. */
async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((r) => r.status === "rejected");
  if (failure) throw (failure as PromiseRejectedResult).reason;
}

/** Progress of {@linkcode applyObjects}. */
export type ApplyEvent =
  | { type: "phase"; phase: PhaseName; count: number }
  | {
    type: "applied";
    phase: PhaseName;
    ref: ObjectRef;
    resourceVersion?: string;
  }
  | { type: "replaced"; phase: PhaseName; ref: ObjectRef }
  | { type: "waiting"; phase: PhaseName; ref: ObjectRef; condition: string }
  | { type: "ready"; phase: PhaseName; ref: ObjectRef; elapsedMs: number };

/** Options for {@linkcode applyObjects}. */
export interface ApplyObjectsOptions {
  /** Receives progress events, e.g. to print them. */
  onProgress?: (event: ApplyEvent) => void;
  /** Bound of each wait (CRDs, webhook backends, workloads); default 300 000 ms. */
  timeoutMs?: number;
  /** Also wait for workloads (Deployments, StatefulSets, DaemonSets) to be ready. Default false. */
  waitForWorkloads?: boolean;
  /** Wait for webhook backend Services to have ready endpoints. Default true. */
  waitForWebhookBackends?: boolean;
  /**
   * Delete and re-create objects whose apply fails because an immutable field changes
   * (a plan shows them as `replace`, so apply carries out what was planned). Default
   * true; false makes such an apply fail naming the object and the field.
   */
  replaceImmutable?: boolean;
  /**
   * Replace data-holding kinds ({@linkcode DATA_HOLDING_KINDS}) too. Default false:
   * their immutable changes fail with a {@linkcode DataLossError}.
   */
  allowDataLoss?: boolean;
  /**
   * Objects ({@linkcode objectKey}s) applied without force: a field another manager
   * owns then fails the apply naming the manager instead of being taken.
   */
  withoutForce?: ReadonlySet<string>;
  /** Parallel applies inside one phase; default 4. */
  concurrency?: number;
  /** Cancels the apply between objects and during waits. */
  signal?: AbortSignal;
}

/** An object as applied. */
export interface AppliedObject extends ObjectRef {
  /** `metadata.resourceVersion` after the apply. */
  resourceVersion?: string;
  /** `metadata.uid` after the apply. */
  uid?: string;
}

/** What {@linkcode applyObjects} did. */
export interface ApplyObjectsResult {
  /** Every object applied, in apply order. */
  applied: AppliedObject[];
}

/** An ordered apply stopped at an object; `applied` lists what was applied before. */
export class ApplyObjectsError extends Error {
  /** The object whose apply or wait failed. */
  readonly ref: ObjectRef;
  /** The phase it failed in. */
  readonly phase: PhaseName;
  /** The objects applied before the failure. */
  readonly applied: AppliedObject[];

  /** Creates the error; `options.cause` is the underlying error. */
  constructor(
    ref: ObjectRef,
    options: { phase: PhaseName; applied: AppliedObject[]; cause: unknown },
  ) {
    super(
      `applying ${
        formatRef(ref)
      } (phase ${options.phase}) failed after ${options.applied.length} objects were applied: ${
        (options.cause as Error)?.message ?? options.cause
      }`,
      { cause: options.cause },
    );
    this.name = "ApplyObjectsError";
    this.ref = ref;
    this.phase = options.phase;
    this.applied = options.applied;
  }
}

/** One ordered apply in progress: what its parts share. */
interface ApplyRun {
  kube: KubeClient;
  options: ApplyObjectsOptions;
  emit: (event: ApplyEvent) => void;
  /** Objects applied so far, in apply order. */
  applied: AppliedObject[];
  timeoutMs: number;
  waitOptions: { timeoutMs: number; signal?: AbortSignal };
}

function failure(
  run: ApplyRun,
  ref: ObjectRef,
  phase: PhaseName,
  cause: unknown,
): ApplyObjectsError {
  return new ApplyObjectsError(ref, {
    phase,
    applied: [...run.applied],
    cause,
  });
}

/** Server-side applies one object, replacing it when allowed and an immutable field changes. */
async function applyOne(
  run: ApplyRun,
  object: KubeObject,
  phase: PhaseName,
): Promise<void> {
  run.options.signal?.throwIfAborted();
  const ref = refOf(object);
  let result: KubeObject;
  try {
    try {
      result = await run.kube.apply(
        object,
        run.options.withoutForce?.has(objectKey(ref))
          ? { force: false }
          : undefined,
      );
    } catch (e) {
      const fields = immutableFieldsOf(e);
      if (!fields || run.options.replaceImmutable === false) throw e;
      if (DATA_HOLDING_KINDS.has(ref.kind) && !run.options.allowDataLoss) {
        throw new DataLossError(ref, fields);
      }
      result = await replace(run, object, phase);
    }
  } catch (cause) {
    throw failure(run, ref, phase, cause);
  }
  const done: AppliedObject = { ...refOf(result) };
  if (result.metadata?.resourceVersion) {
    done.resourceVersion = result.metadata.resourceVersion;
  }
  if (result.metadata?.uid) done.uid = result.metadata.uid;
  run.applied.push(done);
  run.emit({
    type: "applied",
    phase,
    ref,
    resourceVersion: done.resourceVersion,
  });
}

/** Deletes the object (foreground), waits until it is gone, applies it again. */
async function replace(
  run: ApplyRun,
  object: KubeObject,
  phase: PhaseName,
): Promise<KubeObject> {
  const ref = refOf(object);
  await run.kube.delete(ref, { propagationPolicy: "Foreground" });
  // Bounded: a finalizer nobody removes is named by the wait's timeout error.
  await run.kube.waitFor(
    ref,
    (o) =>
      o
        ? `still being deleted (finalizers: ${
          ((o.metadata.finalizers as string[] | undefined) ?? []).join(", ") ||
          "none"
        })`
        : true,
    {
      ...run.waitOptions,
      timeoutMs: Math.min(run.timeoutMs, 120_000),
      intervalMs: 200,
    },
  );
  run.emit({ type: "replaced", phase, ref });
  return await run.kube.apply(object);
}

/** Runs one wait, reporting it as progress and failing as an {@linkcode ApplyObjectsError}. */
async function waitStep(
  run: ApplyRun,
  phase: PhaseName,
  ref: ObjectRef,
  condition: string,
  fn: () => Promise<unknown>,
): Promise<void> {
  const start = Date.now();
  run.emit({ type: "waiting", phase, ref, condition });
  try {
    await fn();
  } catch (cause) {
    throw failure(run, ref, phase, cause);
  }
  run.emit({ type: "ready", phase, ref, elapsedMs: Date.now() - start });
}

/** Namespaces, then CRDs, then a wait until every CRD is Established. */
async function applyNamespacesAndCrds(
  run: ApplyRun,
  batch: KubeObject[],
): Promise<void> {
  const phase: PhaseName = "namespaces-and-crds";
  // Namespaces first: CRDs do not need them, but nothing else works without them.
  for (const object of batch.filter((o) => o.kind === "Namespace")) {
    await applyOne(run, object, phase);
  }
  await mapLimit(
    batch.filter((o) => o.kind !== "Namespace"),
    run.options.concurrency ?? 4,
    (o) => applyOne(run, o, phase),
  );
  const crds = batch.filter((o) => o.kind === "CustomResourceDefinition");
  await settleAll(
    crds.map((crd) =>
      waitStep(
        run,
        phase,
        refOf(crd),
        "Established",
        () =>
          run.kube.waitFor(refOf(crd), crdEstablished, {
            ...run.waitOptions,
            intervalMs: 200,
          }),
      )
    ),
  );
  if (crds.length > 0) run.kube.invalidateDiscovery();
}

/** Waits until every webhook backend Service of the set has a ready endpoint. */
async function waitForWebhookBackends(
  run: ApplyRun,
  batch: KubeObject[],
  objects: readonly KubeObject[],
): Promise<void> {
  const backends = webhookBackends([
    ...batch,
    ...objects.filter((o) => o.kind === "CustomResourceDefinition"),
  ]);
  await settleAll(
    backends.map((svc) =>
      waitStep(
        run,
        "webhooks",
        { apiVersion: "v1", kind: "Service", ...svc },
        "backed by a ready endpoint",
        () => waitForServiceEndpoints(run.kube, svc, run.waitOptions),
      )
    ),
  );
}

/**
 * Waits until the server serves every custom resource's kind. An Established CRD
 * reaches the server's discovery a moment later (more so on a busy machine): poll
 * discovery, bounded, before calling a kind unserved.
 */
async function waitUntilServed(
  run: ApplyRun,
  batch: KubeObject[],
): Promise<void> {
  const { kube } = run;
  kube.invalidateDiscovery();
  const deadline = Date.now() + Math.min(run.timeoutMs, 30_000);
  for (const object of batch) {
    while (
      !await kube.resourceFor(object.apiVersion, object.kind) &&
      Date.now() < deadline
    ) {
      await sleep(250, run.options.signal);
      kube.invalidateDiscovery();
    }
    if (!await kube.resourceFor(object.apiVersion, object.kind)) {
      throw failure(
        run,
        refOf(object),
        "custom-resources",
        new Error(
          `the cluster does not serve ${object.kind} (${object.apiVersion}); ` +
            "apply the CustomResourceDefinition that defines it first",
        ),
      );
    }
  }
}

/** Waits until the phase's Deployments, StatefulSets and DaemonSets are ready. */
async function waitForBatchWorkloads(
  run: ApplyRun,
  batch: KubeObject[],
): Promise<void> {
  const phase: PhaseName = "workloads";
  try {
    await waitForWorkloads(run.kube, batch, {
      ...run.waitOptions,
      onProgress: (e) =>
        run.emit(
          e.state === "waiting"
            ? { type: "waiting", phase, ref: e.ref, condition: "ready" }
            : { type: "ready", phase, ref: e.ref, elapsedMs: e.elapsedMs },
        ),
    });
  } catch (cause) {
    // One error per object that did not get ready; name the first.
    const first = cause instanceof AggregateError ? cause.errors[0] : cause;
    const ref = (first as { ref?: ObjectRef })?.ref ?? refOf(batch[0]);
    throw failure(run, ref, phase, cause);
  }
}

/**
 * Applies a set of objects by server-side apply in one ordered pass (see the module
 * doc), waiting where the order requires it. Stops at the first object that fails
 * (after the client's bounded retries) with an {@linkcode ApplyObjectsError}.
 */
export async function applyObjects(
  kube: KubeClient,
  objects: readonly KubeObject[],
  options: ApplyObjectsOptions = {},
): Promise<ApplyObjectsResult> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const run: ApplyRun = {
    kube,
    options,
    emit: options.onProgress ?? (() => {}),
    applied: [],
    timeoutMs,
    waitOptions: { timeoutMs, signal: options.signal },
  };
  for (const { name: phase, objects: batch } of orderObjects(objects)) {
    if (batch.length === 0) continue;
    run.emit({ type: "phase", phase, count: batch.length });
    if (phase === "namespaces-and-crds") {
      await applyNamespacesAndCrds(run, batch);
      continue;
    }
    if (phase === "webhooks" && options.waitForWebhookBackends !== false) {
      await waitForWebhookBackends(run, batch, objects);
    }
    if (phase === "custom-resources") await waitUntilServed(run, batch);
    await mapLimit(
      batch,
      options.concurrency ?? 4,
      (o) => applyOne(run, o, phase),
    );
    if (phase === "workloads" && options.waitForWorkloads) {
      await waitForBatchWorkloads(run, batch);
    }
  }
  return { applied: run.applied };
}
