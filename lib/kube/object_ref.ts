/**
 * Object identity, defined once: the reference of a Kubernetes object, its sort and
 * map key, and the ways it is printed. Everything that names an object (plans,
 * errors, waits, inventories) uses these, so one object reads the same everywhere.
 *
 * @module
 */

/** Identity of a Kubernetes object. */
export interface ObjectRef {
  /** `group/version`, or `v1` for the core group. */
  apiVersion: string;
  /** Kind of the object. */
  kind: string;
  /** Absent for cluster-scoped objects. */
  namespace?: string;
  /** Name of the object. */
  name: string;
}

/** Anything shaped like a Kubernetes object: apiVersion, kind and metadata. */
export interface ObjectLike {
  /** `group/version` of the object. */
  apiVersion: string;
  /** Kind of the object. */
  kind: string;
  /** Name and, for namespaced objects, namespace. */
  metadata: { name: string; namespace?: string };
}

/**
 * The reference of an object (namespace only when set).
 *
 * @example
 * ```ts
 * refOf({ apiVersion: "v1", kind: "Namespace", metadata: { name: "kubeflow" } });
 * // { apiVersion: "v1", kind: "Namespace", name: "kubeflow" }
 * ```
 */
export function refOf(object: ObjectLike): ObjectRef {
  const ref: ObjectRef = {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata?.name,
  };
  if (object.metadata?.namespace) ref.namespace = object.metadata.namespace;
  return ref;
}

/**
 * Sort and map key of an object: apiVersion, kind, namespace, name.
 *
 * @example
 * ```ts
 * objectKey({ apiVersion: "apps/v1", kind: "Deployment", namespace: "kubeflow", name: "x" });
 * // "apps/v1 Deployment kubeflow/x"
 * ```
 */
export function objectKey(ref: ObjectRef): string {
  return `${ref.apiVersion} ${ref.kind} ${ref.namespace ?? ""}/${ref.name}`;
}

/**
 * Human name of an object: `Deployment kubeflow/centraldashboard` or `Namespace kubeflow`.
 */
export function objectName(
  ref: { kind: string; namespace?: string; name: string },
): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;
}

/**
 * The reference the way kubectl users read it, with its API version:
 * `Deployment ns/name (apps/v1)`.
 */
export function formatRef(ref: ObjectRef): string {
  return `${objectName(ref)} (${ref.apiVersion})`;
}

/** Orders references by {@linkcode objectKey}; for `Array.prototype.sort`. */
export function compareRefs(a: ObjectRef, b: ObjectRef): number {
  const ka = objectKey(a);
  const kb = objectKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** The API group of an `apiVersion` (`""` for the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/** Groups served by Kubernetes itself; kinds in other groups are custom resources. */
const BUILTIN_GROUPS = new Set([
  "",
  "admissionregistration.k8s.io",
  "apiextensions.k8s.io",
  "apiregistration.k8s.io",
  "apps",
  "autoscaling",
  "batch",
  "certificates.k8s.io",
  "coordination.k8s.io",
  "discovery.k8s.io",
  "events.k8s.io",
  "flowcontrol.apiserver.k8s.io",
  "internal.apiserver.k8s.io",
  "networking.k8s.io",
  "node.k8s.io",
  "policy",
  "rbac.authorization.k8s.io",
  "resource.k8s.io",
  "scheduling.k8s.io",
  "storage.k8s.io",
  "storagemigration.k8s.io",
]);

/**
 * Whether an API group is served by Kubernetes itself (kinds of any other group are
 * custom resources).
 *
 * @example
 * ```ts
 * isBuiltinGroup(groupOf("apps/v1")); // true
 * isBuiltinGroup(groupOf("cert-manager.io/v1")); // false
 * ```
 */
export function isBuiltinGroup(group: string): boolean {
  return BUILTIN_GROUPS.has(group);
}

/** The bare reference (no `uid` or other extra fields a wider type carries). */
export function plainRef(ref: ObjectRef): ObjectRef {
  const out: ObjectRef = {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    name: ref.name,
  };
  if (ref.namespace) out.namespace = ref.namespace;
  return out;
}
