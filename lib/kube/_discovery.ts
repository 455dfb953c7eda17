/**
 * Discovery with a cache: which group/versions the server serves and which resource a
 * kind maps to. The cache lives in one client and is dropped by `invalidate()` (after
 * CRDs or APIServices were created).
 *
 * @module
 */

import type { ApiResource } from "./types.ts";
import type { Transport } from "./_transport.ts";
import { KubeApiError } from "./errors.ts";

interface ResourceList {
  groupVersion: string;
  resources: {
    name: string;
    kind: string;
    namespaced: boolean;
    verbs?: string[];
  }[];
}

/** The path prefix of a group/version: `/api/v1` or `/apis/apps/v1`. */
export function apiPrefix(apiVersion: string): string {
  return apiVersion.includes("/")
    ? `/apis/${apiVersion}`
    : `/api/${apiVersion}`;
}

/** Caches discovery answers of one server. */
export class Discovery {
  readonly #transport: Transport;
  readonly #request: <T>(fn: () => Promise<T>, operation: string) => Promise<T>;
  #versions?: Promise<Set<string>>;
  #lists = new Map<string, Promise<ResourceList | undefined>>();

  constructor(
    transport: Transport,
    request: <T>(fn: () => Promise<T>, operation: string) => Promise<T>,
  ) {
    this.#transport = transport;
    this.#request = request;
  }

  invalidate(): void {
    this.#versions = undefined;
    this.#lists.clear();
  }

  /** Forgets one group/version's resources, so the next look-up asks the server. */
  forget(apiVersion: string): void {
    this.#lists.delete(apiVersion);
  }

  servedApiVersions(): Promise<Set<string>> {
    const load = async () => {
      const core = await this.#get<{ versions: string[] }>("/api");
      const groups = await this.#get<{
        groups: { versions: { groupVersion: string }[] }[];
      }>("/apis");
      const out = new Set<string>(core.versions);
      for (const g of groups.groups) {
        for (const v of g.versions) out.add(v.groupVersion);
      }
      return out;
    };
    this.#versions ??= load();
    this.#versions.catch(() => this.#versions = undefined);
    return this.#versions;
  }

  /**
   * Every top-level resource of every group's preferred version (what `kubectl
   * api-resources` lists); groups whose discovery fails (an aggregated API that is
   * down) are left out.
   */
  async apiResources(): Promise<ApiResource[]> {
    const core = await this.#get<{ versions: string[] }>("/api");
    const groups = await this.#get<{
      groups: { preferredVersion?: { groupVersion: string } }[];
    }>("/apis");
    const versions = [
      ...core.versions.includes("v1") ? ["v1"] : [],
      ...groups.groups.flatMap((g) =>
        g.preferredVersion ? [g.preferredVersion.groupVersion] : []
      ),
    ];
    const lists = await Promise.all(
      versions.map((v) => this.#resourceList(v).catch(() => undefined)),
    );
    return lists.flatMap((list, i) =>
      (list?.resources ?? []).filter((r) => !r.name.includes("/")).map((r) => ({
        apiVersion: versions[i],
        kind: r.kind,
        resource: r.name,
        namespaced: r.namespaced,
        verbs: r.verbs ?? [],
      }))
    );
  }

  async resourceFor(
    apiVersion: string,
    kind: string,
  ): Promise<ApiResource | undefined> {
    let list = this.#lists.get(apiVersion);
    if (!list) {
      list = this.#resourceList(apiVersion);
      this.#lists.set(apiVersion, list);
      list.catch(() => this.#lists.delete(apiVersion));
    }
    const resources = await list;
    // Not served (yet): ask again next time rather than caching the absence.
    if (!resources) this.#lists.delete(apiVersion);
    const found = resources?.resources.find((r) =>
      r.kind === kind && !r.name.includes("/")
    );
    // A group/version lists its kinds as their CRDs register: a kind missing from
    // the list is asked for again next time too.
    if (!found) this.#lists.delete(apiVersion);
    return found &&
      { apiVersion, kind, resource: found.name, namespaced: found.namespaced };
  }

  async #resourceList(apiVersion: string): Promise<ResourceList | undefined> {
    try {
      return await this.#get<ResourceList>(apiPrefix(apiVersion));
    } catch (e) {
      // 404: the group/version is not served (yet); 503: an aggregated API is down.
      if (e instanceof KubeApiError && (e.status === 404 || e.status === 503)) {
        return undefined;
      }
      throw e;
    }
  }

  #get<T>(path: string): Promise<T> {
    return this.#request(
      async () =>
        (await this.#transport.request<T>("GET", path, {
          operation: `discovery ${path}`,
        })).body,
      `discovery ${path}`,
    );
  }
}
