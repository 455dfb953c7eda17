/**
 * kfplan's Kubernetes client: the {@linkcode KubeClient} contract over
 * `@kubernetes/client-node` (kubeconfig loading, contexts, credentials) and Deno's
 * `fetch`. Writes use server-side apply under the field manager `kfplan`; plan diffs
 * use a server-side dry-run apply; discovery maps kinds to resources; 429/5xx/conflict
 * answers are retried with bounded, reported backoff.
 *
 * @example
 * ```ts
 * import { connect } from "./client.ts";
 *
 * const result = await connect({ context: "kind-dev" });
 * if ("offline" in result) console.log(`planning offline: ${result.offline}`);
 * else console.log((await result.kube.serverVersion()).gitVersion);
 * ```
 *
 * @module
 */

import { KubeConfig } from "../deps.ts";
import { type ObjectRef, refOf } from "./object_ref.ts";
import type {
  ApiResource,
  ApplyOptions,
  ConnectOptions,
  ConnectResult,
  DeleteOptions,
  KubeClient,
  KubeObject,
  ListOptions,
  ObjectDiff,
  RetryEvent,
  ServerVersion,
  WaitCheck,
  WaitOptions,
} from "./types.ts";
import { formatRef, KubeApiError, WaitTimeoutError } from "./errors.ts";
import { type RetryPolicy, sleep, withRetry } from "./retry.ts";
import { objectFieldDiff, redactObject } from "./diff.ts";
import { apiPrefix, Discovery } from "./_discovery.ts";
import { Transport } from "./_transport.ts";

/** Operations that wait (bounded) for a kind to appear in discovery. */
const WRITES = new Set(["apply", "create", "replace"]);
/** How long a write waits for a just-Established kind to show in discovery. */
const DISCOVERY_WAIT_MS = 10_000;

/** The field manager kfplan's server-side applies are recorded under. */
export const FIELD_MANAGER = "kfplan";

/** Options for {@linkcode loadKubeConfig}. */
export interface LoadKubeConfigOptions {
  /** Path to a kubeconfig; default `$KUBECONFIG` (a `:`-separated list), then `~/.kube/config`. */
  kubeconfig?: string;
  /** Context to use; default the file's current context. */
  context?: string;
  /** Where `KUBECONFIG` and `HOME` are read from; default the process environment. */
  env?: Record<string, string | undefined>;
}

/** The kubeconfig files kfplan would read, in merge order; empty when there are none. */
export function kubeconfigPaths(
  options: Pick<LoadKubeConfigOptions, "kubeconfig" | "env"> = {},
): string[] {
  if (options.kubeconfig) return [options.kubeconfig];
  const get = (name: string) =>
    options.env ? options.env[name] : Deno.env.get(name);
  const list = get("KUBECONFIG");
  const candidates = list
    ? list.split(":").filter((p) => p)
    : [`${get("HOME") ?? ""}/.kube/config`];
  return candidates.filter((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
}

/**
 * Loads the kubeconfig kfplan would use and selects the context. Returns `undefined`
 * when there is no kubeconfig at all; throws when `kubeconfig` names a missing file or
 * `context` names a context the file does not have (listing the ones it has).
 */
export function loadKubeConfig(
  options: LoadKubeConfigOptions = {},
): KubeConfig | undefined {
  if (options.kubeconfig) {
    try {
      Deno.statSync(options.kubeconfig);
    } catch {
      throw new Error(`kubeconfig ${options.kubeconfig} does not exist`);
    }
  }
  const paths = kubeconfigPaths(options);
  if (paths.length === 0) return undefined;
  const config = new KubeConfig();
  config.loadFromFile(paths[0]);
  for (const path of paths.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(path);
    config.mergeConfig(more, true);
  }
  if (options.context) {
    if (!config.getContextObject(options.context)) {
      const known = config.getContexts().map((c) => c.name).join(", ") ||
        "none";
      throw new Error(
        `kubeconfig context "${options.context}" does not exist in ${
          paths.join(":")
        }; contexts: ${known}`,
      );
    }
    config.setCurrentContext(options.context);
  }
  if (!config.getCurrentContext() || !config.getCurrentCluster()) {
    throw new Error(
      `kubeconfig ${
        paths.join(":")
      } has no current context; pass --context (contexts: ${
        config.getContexts().map((c) => c.name).join(", ") || "none"
      })`,
    );
  }
  return config;
}

/** Options for {@linkcode createKubeClient}. */
export interface CreateKubeClientOptions extends LoadKubeConfigOptions {
  /** An already loaded kubeconfig; wins over `kubeconfig`/`context`. */
  kubeConfig?: KubeConfig;
  /** Server-side apply field manager; default {@linkcode FIELD_MANAGER}. */
  fieldManager?: string;
  /** Receives every retry (429/5xx/conflict/no answer). */
  onRetry?: (event: RetryEvent) => void;
  /** Backoff policy of retries; default {@linkcode defaultRetryPolicy}. */
  retry?: RetryPolicy;
  /** Timeout of one HTTP request; default 30 s. */
  requestTimeoutMs?: number;
}

/** A {@linkcode KubeClient} that can release its connections. */
export interface ClosableKubeClient extends KubeClient {
  /** Closes idle connections; the client must not be used afterwards. */
  close(): void;
}

/**
 * Creates a client for a kubeconfig context. Nothing is contacted until the first call;
 * use {@linkcode connect} to also check that the server answers.
 *
 * @example
 * ```ts
 * import { createKubeClient } from "./client.ts";
 * const kube = createKubeClient({ kubeconfig: "/tmp/kubeconfig" });
 * const nodes = await kube.list("v1", "Node");
 * ```
 */
export function createKubeClient(
  options: CreateKubeClientOptions = {},
): ClosableKubeClient {
  const config = options.kubeConfig ?? loadKubeConfig(options);
  if (!config) {
    throw new Error(
      "no kubeconfig: set KUBECONFIG, create ~/.kube/config or pass a kubeconfig path",
    );
  }
  return new Client(config, options);
}

/**
 * Connects to the cluster of a kubeconfig context and checks that it answers
 * `/version` within `timeoutMs`. Resolves `{ offline: reason }` when there is no
 * kubeconfig or the server cannot be reached; throws for a kubeconfig that is wrong
 * (missing file, unknown context) or a server that refuses the credentials.
 */
export async function connect(
  options: ConnectOptions = {},
): Promise<ConnectResult> {
  const config = loadKubeConfig(options);
  if (!config) {
    return {
      offline:
        "no kubeconfig (KUBECONFIG is not set and ~/.kube/config does not exist)",
    };
  }
  const kube = new Client(config, {
    onRetry: options.onRetry,
    kubeconfig: options.kubeconfig,
  });
  try {
    await kube.serverVersion({
      timeoutMs: options.timeoutMs ?? 5000,
      retry: false,
    });
  } catch (e) {
    kube.close();
    if (e instanceof KubeApiError && e.status === 0) {
      return {
        offline:
          `cluster of context "${kube.context}" (${kube.server}) is unreachable: ${
            e.reason === "Timeout"
              ? e.detail
              : (e.cause as Error)?.message ?? e.detail
          }`,
      };
    }
    throw e;
  }
  return { kube };
}

function parseVersion(
  v: { gitVersion: string; major: string; minor: string },
): ServerVersion {
  const m = /^v(\d+)\.(\d+)/.exec(v.gitVersion);
  return {
    gitVersion: v.gitVersion,
    major: Number(m?.[1] ?? parseInt(v.major)),
    minor: Number(m?.[2] ?? parseInt(v.minor)),
  };
}

function isWebhookCallFailure(e: KubeApiError): boolean {
  return e.status >= 500 &&
    /failed calling webhook|no endpoints available/i.test(e.message);
}

class Client implements ClosableKubeClient {
  readonly context: string;
  readonly server: string;
  readonly kubeconfigPath?: string;
  readonly #transport: Transport;
  readonly #discovery: Discovery;
  readonly #fieldManager: string;
  readonly #defaultNamespace: string;
  readonly #onRetry?: (event: RetryEvent) => void;
  readonly #retry?: RetryPolicy;
  readonly #timeoutMs?: number;

  constructor(config: KubeConfig, options: CreateKubeClientOptions) {
    this.context = config.getCurrentContext();
    // Known only when the config was read from files (not handed in as an object).
    if (!options.kubeConfig) {
      this.kubeconfigPath = kubeconfigPaths(options).join(":") || undefined;
    }
    this.#transport = new Transport(config);
    this.server = this.#transport.server;
    this.#fieldManager = options.fieldManager ?? FIELD_MANAGER;
    this.#defaultNamespace = config.getContextObject(this.context)?.namespace ??
      "default";
    this.#onRetry = options.onRetry;
    this.#retry = options.retry;
    this.#timeoutMs = options.requestTimeoutMs;
    this.#discovery = new Discovery(
      this.#transport,
      (fn, operation) => this.#withRetry(operation, fn, {}),
    );
  }

  close(): void {
    this.#transport.close();
  }

  #withRetry<T>(
    operation: string,
    fn: () => Promise<T>,
    options: { idempotentConflict?: boolean; signal?: AbortSignal },
  ): Promise<T> {
    return withRetry(operation, fn, {
      policy: this.#retry,
      onRetry: this.#onRetry,
      ...options,
    });
  }

  async serverVersion(
    options: { timeoutMs?: number; retry?: boolean } = {},
  ): Promise<ServerVersion> {
    const get = async () =>
      (await this.#transport.request<
        { gitVersion: string; major: string; minor: string }
      >(
        "GET",
        "/version",
        {
          operation: "get /version",
          timeoutMs: options.timeoutMs ?? this.#timeoutMs,
        },
      )).body;
    const body = options.retry === false ? await get() : await this.#withRetry(
      "get /version",
      get,
      {},
    );
    return parseVersion(body);
  }

  servedApiVersions(): Promise<Set<string>> {
    return this.#discovery.servedApiVersions();
  }

  resourceFor(
    apiVersion: string,
    kind: string,
  ): Promise<ApiResource | undefined> {
    return this.#discovery.resourceFor(apiVersion, kind);
  }

  apiResources(): Promise<ApiResource[]> {
    return this.#discovery.apiResources();
  }

  invalidateDiscovery(): void {
    this.#discovery.invalidate();
  }

  /** The URL path of an object (or of its collection when `name` is omitted). */
  async #path(
    ref: {
      apiVersion: string;
      kind: string;
      namespace?: string;
      name?: string;
    },
    operation: string,
  ): Promise<{ path: string; resource: ApiResource; namespace?: string }> {
    let resource = await this.resourceFor(ref.apiVersion, ref.kind);
    if (!resource && WRITES.has(operation)) {
      // A CRD Established a moment ago can take a little longer to show in
      // discovery: a write waits for it (bounded) before giving up.
      const deadline = Date.now() + DISCOVERY_WAIT_MS;
      while (!resource && Date.now() < deadline) {
        await sleep(250);
        this.#discovery.forget(ref.apiVersion);
        resource = await this.resourceFor(ref.apiVersion, ref.kind);
      }
    }
    if (!resource) {
      throw new KubeApiError(
        404,
        `the server does not serve kind ${ref.kind} in ${ref.apiVersion} ` +
          "(is its CustomResourceDefinition installed and Established?)",
        {
          operation,
          ref: ref.name ? ref as ObjectRef : undefined,
          apiStatus: { reason: "KindNotServed" },
        },
      );
    }
    const namespace = resource.namespaced
      ? ref.namespace ?? this.#defaultNamespace
      : undefined;
    let path = apiPrefix(ref.apiVersion);
    if (namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
    path += `/${resource.resource}`;
    if (ref.name) path += `/${encodeURIComponent(ref.name)}`;
    return { path, resource, namespace };
  }

  /** Completes an object for sending: namespace filled in for namespaced kinds. */
  async #target(object: KubeObject, operation: string) {
    if (!object?.apiVersion || !object.kind || !object.metadata?.name) {
      throw new Error(
        `${operation}: object needs apiVersion, kind and metadata.name, got ${
          JSON.stringify({
            apiVersion: object?.apiVersion,
            kind: object?.kind,
            name: object?.metadata?.name,
          })
        }`,
      );
    }
    const target = await this.#path(refOf(object), operation);
    const body: KubeObject = {
      ...object,
      metadata: { ...object.metadata, namespace: target.namespace },
    };
    if (!target.namespace) delete body.metadata.namespace;
    const ref = refOf(body);
    return { ...target, body, ref };
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    const { path } = await this.#path(ref, "get");
    try {
      return await this.#withRetry(
        `get ${formatRef(ref)}`,
        async () =>
          (await this.#transport.request<KubeObject>("GET", path, {
            operation: "get",
            ref,
            timeoutMs: this.#timeoutMs,
          })).body,
        {},
      );
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  async list(
    apiVersion: string,
    kind: string,
    options: ListOptions = {},
  ): Promise<KubeObject[]> {
    const base = await this.#path({
      apiVersion,
      kind,
      namespace: options.namespace,
    }, "list");
    // A namespaced kind listed without a namespace means "all namespaces".
    const path = options.namespace
      ? base.path
      : `${apiPrefix(apiVersion)}/${base.resource.resource}`;
    const items: KubeObject[] = [];
    let cont: string | undefined;
    do {
      const page = await this.#withRetry(
        `list ${kind} (${apiVersion})`,
        async () =>
          (await this.#transport.request<
            { items: KubeObject[]; metadata: { continue?: string } }
          >(
            "GET",
            path,
            {
              operation: `list ${kind} (${apiVersion})`,
              query: {
                labelSelector: options.labelSelector,
                fieldSelector: options.fieldSelector,
                limit: 500,
                continue: cont,
              },
              timeoutMs: this.#timeoutMs,
            },
          )).body,
        {},
      );
      for (const item of page.items ?? []) {
        items.push({ ...item, apiVersion, kind });
      }
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return items;
  }

  async apply(
    object: KubeObject,
    options: ApplyOptions = {},
  ): Promise<KubeObject> {
    const { path, body, ref } = await this.#target(object, "apply");
    // Server-side apply rejects a body carrying managedFields (e.g. a re-applied live object).
    delete body.metadata.managedFields;
    const fullPath = options.subresource
      ? `${path}/${options.subresource}`
      : path;
    return await this.#withRetry(
      `apply ${formatRef(ref)}`,
      async () =>
        (await this.#transport.request<KubeObject>("PATCH", fullPath, {
          operation: options.dryRun ? "apply (dry-run)" : "apply",
          ref,
          body,
          contentType: "application/apply-patch+yaml",
          query: {
            fieldManager: this.#fieldManager,
            force: options.force ?? true,
            dryRun: options.dryRun ? "All" : undefined,
          },
          timeoutMs: this.#timeoutMs,
        })).body,
      { idempotentConflict: !body.metadata.resourceVersion },
    );
  }

  async create(
    object: KubeObject,
    options: { dryRun?: boolean } = {},
  ): Promise<KubeObject> {
    const { body, ref } = await this.#target(object, "create");
    const { path } = await this.#path({ ...ref, name: undefined }, "create");
    return await this.#withRetry(
      `create ${formatRef(ref)}`,
      async () =>
        (await this.#transport.request<KubeObject>("POST", path, {
          operation: "create",
          ref,
          body,
          query: {
            fieldManager: this.#fieldManager,
            dryRun: options.dryRun ? "All" : undefined,
          },
          timeoutMs: this.#timeoutMs,
        })).body,
      {},
    );
  }

  async replace(object: KubeObject): Promise<KubeObject> {
    const { path, body, ref } = await this.#target(object, "replace");
    return await this.#withRetry(
      `replace ${formatRef(ref)}`,
      async () =>
        (await this.#transport.request<KubeObject>("PUT", path, {
          operation: "replace",
          ref,
          body,
          query: { fieldManager: this.#fieldManager },
          timeoutMs: this.#timeoutMs,
        })).body,
      {},
    );
  }

  async delete(ref: ObjectRef, options: DeleteOptions = {}): Promise<boolean> {
    const { path } = await this.#path(ref, "delete");
    try {
      await this.#withRetry(
        `delete ${formatRef(ref)}`,
        () =>
          this.#transport.request("DELETE", path, {
            operation: "delete",
            ref,
            body: {
              apiVersion: "v1",
              kind: "DeleteOptions",
              propagationPolicy: options.propagationPolicy ?? "Background",
              ...(options.dryRun ? { dryRun: ["All"] } : {}),
            },
            timeoutMs: this.#timeoutMs,
          }),
        {},
      );
      return true;
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return false;
      throw e;
    }
  }

  async diff(object: KubeObject): Promise<ObjectDiff> {
    const { ref } = await this.#target(object, "diff");
    const live = await this.get(ref);
    let dryRun: KubeObject;
    try {
      dryRun = await this.apply(object, { dryRun: true });
    } catch (e) {
      // A new object in a namespace this plan creates, or guarded by a webhook this
      // plan deploys, cannot be dry-run yet; it is still a create.
      if (
        !live && e instanceof KubeApiError &&
        (e.status === 404 || isWebhookCallFailure(e))
      ) {
        return { action: "create", diff: [] };
      }
      throw e;
    }
    if (!live) {
      return { action: "create", diff: [], dryRun: await redactObject(dryRun) };
    }
    const diff = await objectFieldDiff(live, dryRun, {
      desired: object,
      manager: this.#fieldManager,
    });
    return {
      action: diff.length > 0 ? "update" : "no-op",
      diff,
      live: await redactObject(live),
      dryRun: await redactObject(dryRun),
    };
  }

  async waitFor(
    ref: ObjectRef,
    check: (object: KubeObject | undefined) => WaitCheck,
    options: WaitOptions,
  ): Promise<KubeObject | undefined> {
    const deadline = Date.now() + options.timeoutMs;
    const interval = options.intervalMs ?? 500;
    let lastState = "not checked yet";
    while (true) {
      const object = await this.get(ref);
      const result = check(object);
      if (result === true) return object;
      lastState = result;
      if (options.signal?.aborted) {
        throw new Error(
          `cancelled waiting for ${formatRef(ref)}; last state: ${lastState}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new WaitTimeoutError(ref, {
          timeoutMs: options.timeoutMs,
          lastState,
        });
      }
      await sleep(Math.min(interval, left), options.signal);
    }
  }
}
