/**
 * The Kubernetes access contract steps program against. `lib/kube/client.ts`
 * implements it over `@kubernetes/client-node`; steps receive it through
 * {@linkcode StepContext.kube} and never construct clients themselves.
 *
 * @module
 */

import type { FieldDiff, ObjectRef } from "../engine/types.ts";

/** Standard object metadata, loosely typed: only what kfplan reads is named. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  [key: string]: unknown;
}

/** Any Kubernetes object as plain JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** `/version` of the API server. */
export interface ServerVersion {
  /** e.g. `v1.33.13` */
  gitVersion: string;
  major: number;
  minor: number;
}

/** What discovery says about one kind. */
export interface ApiResource {
  /** `group/version`, or `v1` for the core group. */
  apiVersion: string;
  kind: string;
  /** Plural resource name used in URLs, e.g. `deployments`. */
  resource: string;
  namespaced: boolean;
}

/** Options for reads. */
export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
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
  operation: string;
  attempt: number;
  status: number;
  delayMs: number;
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
