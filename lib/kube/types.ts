/**
 * The Kubernetes access contract steps program against. `lib/kube/client.ts`
 * implements it over `@kubernetes/client-node`; steps receive it through
 * {@linkcode StepContext.kube} and never construct clients themselves.
 *
 * @module
 */

import type { FieldDiff } from "./diff.ts";
import type { ObjectRef } from "./object_ref.ts";

/** Standard object metadata, loosely typed: only what kfplan reads is named. */
export interface ObjectMeta {
  /** Object name, unique per kind (and namespace, for namespaced kinds). */
  name: string;
  /** Namespace of a namespaced object; when absent the client uses the kubeconfig context's default. Absent on cluster-scoped objects. */
  namespace?: string;
  /** Labels, matched by `ListOptions.labelSelector` and used for e.g. Pod Security levels on namespaces. */
  labels?: Record<string, string>;
  /** Annotations, e.g. `helm.sh/hook` (see `isHook`) or kfplan's Dex config digest. */
  annotations?: Record<string, string>;
  /** Opaque version the server bumps on every write; server-set, so ignored in diffs. */
  resourceVersion?: string;
  /** Server-assigned identity; a different uid at apply time means the object was deleted and re-created since the plan. */
  uid?: string;
  /** Bumped by the server on each `spec` change; waits compare it with `status.observedGeneration`, saved plans use it to detect drift. */
  generation?: number;
  /** RFC 3339 creation time; server-set, ignored in diffs. */
  creationTimestamp?: string;
  /** RFC 3339 time deletion was requested; present while finalizers still hold the object. */
  deletionTimestamp?: string;
  /** Any other metadata (`ownerReferences`, `finalizers`, `managedFields`, ...), passed through untyped. */
  [key: string]: unknown;
}

/** Any Kubernetes object as plain JSON. */
export interface KubeObject {
  /** `group/version`, or `v1` for the core group, e.g. `apps/v1`. */
  apiVersion: string;
  /** Object kind, e.g. `Deployment`; with `apiVersion` it selects the API resource via discovery. */
  kind: string;
  /** Name, namespace, labels and the other standard metadata. */
  metadata: ObjectMeta;
  /** `spec`, `status`, `data` and any other top-level fields, untyped. */
  [key: string]: unknown;
}

/** `/version` of the API server. */
export interface ServerVersion {
  /** e.g. `v1.33.13` */
  gitVersion: string;
  /** Major version as a number, e.g. `1`; parsed from `gitVersion`, falling back to the server's `major` field. */
  major: number;
  /** Minor version as a number, e.g. `33`; parsed from `gitVersion`, so a `33+` suffix some distributions report does not leak in. */
  minor: number;
}

/** What discovery says about one kind. */
export interface ApiResource {
  /** `group/version`, or `v1` for the core group. */
  apiVersion: string;
  /** The kind as discovery reports it, e.g. `Deployment`. */
  kind: string;
  /** Plural resource name used in URLs, e.g. `deployments`. */
  resource: string;
  /** True for namespaced kinds; false for cluster-scoped ones such as `Namespace` or `ClusterRole`. */
  namespaced: boolean;
  /** The verbs the resource supports (`list`, `delete`, ...), when discovery said. */
  verbs?: string[];
}

/** Options for reads. */
export interface ListOptions {
  /** Namespace to read from; omitted lists a namespaced kind across all namespaces. */
  namespace?: string;
  /** Kubernetes label selector, e.g. `app=dex` or `app in (a,b)`. */
  labelSelector?: string;
  /** Kubernetes field selector, e.g. `spec.nodeName=gpu-1`. */
  fieldSelector?: string;
}

/** Options for server-side apply. */
export interface ApplyOptions {
  /** Server-side dry-run: nothing is persisted. */
  dryRun?: boolean;
  /** Take ownership of conflicting fields (SSA `force=true`). Default true. */
  force?: boolean;
  /** Apply to the `status` subresource (tests use it to play a controller). */
  subresource?: "status";
}

/** Options for delete. */
export interface DeleteOptions {
  /** Server-side dry-run (`dryRun=All`): the server validates the delete but removes nothing. */
  dryRun?: boolean;
  /** Default `Background`. */
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
}

/** The planned difference between a desired object and the live one. */
export interface ObjectDiff {
  /** `create` when absent, `no-op` when server-side dry-run changes nothing we manage. */
  action: "create" | "update" | "no-op";
  /** Field diffs of what we manage; Secret `data`/`stringData` values are redacted. */
  diff: FieldDiff[];
  /** The live object, if any (secret values redacted). */
  live?: KubeObject;
  /** The server's answer to the dry-run apply. */
  dryRun?: KubeObject;
}

/** Options for waits. Every wait is bounded. */
export interface WaitOptions {
  /** Give up after this many milliseconds. */
  timeoutMs: number;
  /** Poll interval; default 500 ms. */
  intervalMs?: number;
  /** Cancels the wait. */
  signal?: AbortSignal;
}

/**
 * What a wait predicate returns: `true` when satisfied, otherwise a short description of
 * the last state seen, which ends up in the timeout error (e.g. the last condition).
 */
export type WaitCheck = true | string;

/** Reported on each retry of a 429, 5xx or conflict, so the user sees it. */
export interface RetryEvent {
  /** What kfplan was doing, e.g. `apply` or `list Pod (v1)`. */
  operation: string;
  /** The attempt that just failed, 1 for the first try. */
  attempt: number;
  /** HTTP status of the failure: 429, a 5xx, 409 for a conflict, or 0 when the server could not be reached. */
  status: number;
  /** Milliseconds until the next attempt: exponential backoff with jitter, at least the server's `Retry-After`. */
  delayMs: number;
  /** Error message of the failed attempt, as the user would otherwise see it. */
  message: string;
}

/** The cluster as steps see it. */
export interface KubeClient {
  /** The kubeconfig context in use. */
  readonly context: string;
  /** The API server URL. */
  readonly server: string;
  /**
   * The kubeconfig file(s) the client was loaded from (`:`-separated, as in
   * `$KUBECONFIG`), when known: CLIs kfplan runs (helm) must use the same.
   */
  readonly kubeconfigPath?: string;
  /** `/version`. */
  serverVersion(): Promise<ServerVersion>;
  /** Every `group/version` the server serves (`v1` for core). */
  servedApiVersions(): Promise<Set<string>>;
  /** Discovery for one kind, or `undefined` when the server does not serve it. */
  resourceFor(
    apiVersion: string,
    kind: string,
  ): Promise<ApiResource | undefined>;
  /**
   * Optional: every top-level resource of each group's preferred version, as
   * `kubectl api-resources` lists them (for discovery-wide reads, e.g. what a
   * namespace contains before it is deleted).
   */
  apiResources?(): Promise<ApiResource[]>;
  /** Forget cached discovery (after CRDs were created). */
  invalidateDiscovery(): void;
  /** The live object, or `undefined` when it does not exist. */
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  /** Objects of a kind. */
  list(
    apiVersion: string,
    kind: string,
    options?: ListOptions,
  ): Promise<KubeObject[]>;
  /** Server-side apply under kfplan's field manager. */
  apply(object: KubeObject, options?: ApplyOptions): Promise<KubeObject>;
  /**
   * Plain create (POST). Rejects with a {@linkcode KubeApiError}-like error carrying
   * `status === 409` when the object exists: the Lease lock relies on that.
   */
  create(
    object: KubeObject,
    options?: { dryRun?: boolean },
  ): Promise<KubeObject>;
  /**
   * Replace (PUT) with the object's `metadata.resourceVersion` as precondition; rejects
   * with `status === 409` when it changed since it was read.
   */
  replace(object: KubeObject): Promise<KubeObject>;
  /** Delete; resolves `false` when the object was already gone. */
  delete(ref: ObjectRef, options?: DeleteOptions): Promise<boolean>;
  /** Plan-time diff of a desired object against the live one, by server-side dry-run. */
  diff(object: KubeObject): Promise<ObjectDiff>;
  /**
   * Poll an object until `check` returns true. Rejects on timeout with an error naming
   * the object and the last state `check` described (or that it does not exist).
   */
  waitFor(
    ref: ObjectRef,
    check: (object: KubeObject | undefined) => WaitCheck,
    options: WaitOptions,
  ): Promise<KubeObject | undefined>;
}

/** Options for {@linkcode connect}-style functions. */
export interface ConnectOptions {
  /** Path to a kubeconfig; default `$KUBECONFIG`, then `~/.kube/config`. */
  kubeconfig?: string;
  /** Context name; default the kubeconfig's current context. */
  context?: string;
  /** How long to wait for the server to answer `/version`; default 5000. */
  timeoutMs?: number;
  /** Receives retry events (429/5xx/conflict) so they can be reported. */
  onRetry?: (event: RetryEvent) => void;
  /** Where `KUBECONFIG` and `HOME` are read from; default the process environment. */
  env?: Record<string, string | undefined>;
}

/** Either a live client or the reason kfplan runs offline. */
export type ConnectResult = { kube: KubeClient } | { offline: string };
