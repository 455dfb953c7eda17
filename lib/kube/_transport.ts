/**
 * HTTP access to the API server. `@kubernetes/client-node` loads the kubeconfig and
 * resolves credentials (certificate files, tokens, exec and OIDC plugins); requests go
 * through Deno's native `fetch` with a TLS client built from that material, because the
 * library's own undici/node-agent transport does not carry client certificates reliably
 * under Deno.
 *
 * @module
 */

import type { KubeConfig } from "../deps.ts";
import { type ApiStatus, KubeApiError } from "./errors.ts";
import type { ObjectRef } from "./object_ref.ts";

/** One request. */
export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** What kfplan was doing, for error messages. */
  operation: string;
  ref?: ObjectRef;
  signal?: AbortSignal;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
}

/** A successful answer. */
export interface Response<T> {
  status: number;
  body: T;
}

interface HttpsOptions {
  ca?: Uint8Array | string;
  cert?: Uint8Array | string;
  key?: Uint8Array | string;
  headers?: Record<string, string>;
  auth?: string;
  rejectUnauthorized?: boolean;
}

function pem(value: Uint8Array | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : new TextDecoder().decode(value);
}

/** Talks to one API server as one kubeconfig user. */
export class Transport {
  readonly server: string;
  readonly #config: KubeConfig;
  #client?: Promise<Deno.HttpClient>;

  constructor(config: KubeConfig) {
    const cluster = config.getCurrentCluster();
    if (!cluster) {
      throw new Error(
        `kubeconfig context "${config.getCurrentContext()}" names no cluster`,
      );
    }
    this.server = cluster.server.replace(/\/+$/, "");
    this.#config = config;
  }

  /** TLS material and headers for the current user (tokens may be refreshed). */
  async #httpsOptions(): Promise<HttpsOptions> {
    const opts: HttpsOptions = { headers: {} };
    // The client library fills node's https options; kfplan reads the same fields.
    await this.#config.applyToHTTPSOptions(
      opts as Parameters<KubeConfig["applyToHTTPSOptions"]>[0],
    );
    return opts;
  }

  #httpClient(): Promise<Deno.HttpClient> {
    this.#client ??= (async () => {
      const opts = await this.#httpsOptions();
      if (
        opts.rejectUnauthorized === false && this.server.startsWith("https:")
      ) {
        throw new Error(
          `the kubeconfig cluster for ${this.server} sets insecure-skip-tls-verify, ` +
            "which kfplan does not support; set certificate-authority-data instead",
        );
      }
      const ca = pem(opts.ca);
      const cert = pem(opts.cert);
      const key = pem(opts.key);
      // kubeconfig `proxy-url`, like kubectl; otherwise Deno honours HTTPS_PROXY/NO_PROXY.
      const proxyUrl = this.#config.getCurrentCluster()?.proxyUrl;
      return Deno.createHttpClient({
        caCerts: ca ? [ca] : undefined,
        ...(cert && key ? { cert, key } : {}),
        ...(proxyUrl ? { proxy: { url: proxyUrl } } : {}),
      });
    })();
    return this.#client;
  }

  /** Releases the connection pool. */
  close(): void {
    this.#client?.then((c) => c.close(), () => {});
    this.#client = undefined;
  }

  /** Sends a request; resolves with the parsed JSON body of a 2xx answer. */
  async request<T = unknown>(
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<Response<T>> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
    const signal = options.signal
      ? AbortSignal.any([options.signal, timeout])
      : timeout;
    const errorOptions = { operation: options.operation, ref: options.ref };
    let response: globalThis.Response;
    try {
      const client = await this.#httpClient();
      const https = await this.#httpsOptions();
      const headers: Record<string, string> = {
        accept: "application/json",
        ...https.headers,
      };
      if (https.auth) headers.authorization = `Basic ${btoa(https.auth)}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers["content-type"] = options.contentType ?? "application/json";
      }
      response = await fetch(url, { method, headers, body, signal, client });
    } catch (cause) {
      const aborted = options.signal?.aborted;
      const timedOut = timeout.aborted;
      const message = timedOut
        ? `no answer from ${this.server} within ${
          options.timeoutMs ?? 30_000
        }ms`
        : aborted
        ? "cancelled"
        : `cannot reach ${this.server}: ${(cause as Error)?.message ?? cause}`;
      throw new KubeApiError(0, message, {
        ...errorOptions,
        apiStatus: {
          reason: aborted ? "Aborted" : timedOut ? "Timeout" : "NetworkError",
        },
        cause,
      });
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.ok) return { status: response.status, body: parsed as T };
    const status = (parsed && typeof parsed === "object" &&
        (parsed as ApiStatus).kind === "Status")
      ? parsed as ApiStatus
      : undefined;
    const retryAfter = Number(response.headers.get("retry-after"));
    throw new KubeApiError(
      response.status,
      status?.message || text.trim().slice(0, 500) || response.statusText,
      {
        ...errorOptions,
        apiStatus: status,
        retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0
          ? retryAfter
          : undefined,
      },
    );
  }
}
