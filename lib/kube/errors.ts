/**
 * Errors raised by kfplan's Kubernetes layer. They carry what the API server said (its
 * `Status` object) and which object the request was about, so messages name both.
 *
 * @module
 */

import { formatRef, type ObjectRef } from "./object_ref.ts";

export { formatRef };

/** The `Status` object the API server returns with a failed request. */
export interface ApiStatus {
  /** Always `Status`. */
  kind?: "Status";
  /** `Failure` for errors. */
  status?: string;
  /** Human-readable description from the server. */
  message?: string;
  /** Machine-readable reason, e.g. `NotFound`, `Conflict`, `AlreadyExists`, `Invalid`. */
  reason?: string;
  /** HTTP status code. */
  code?: number;
  /** The object concerned and field-level causes. */
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    retryAfterSeconds?: number;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

/** Options for {@linkcode KubeApiError}. */
export interface KubeApiErrorOptions {
  /** What kfplan was doing, e.g. `apply`, `get`, `list`. */
  operation: string;
  /** The object the request was about. */
  ref?: ObjectRef;
  /** The server's `Status`, when it sent one. */
  apiStatus?: ApiStatus;
  /** Server-requested delay (`Retry-After`), in seconds. */
  retryAfterSeconds?: number;
  /** The underlying error (e.g. a network failure). */
  cause?: unknown;
}

/**
 * A request the API server rejected (or that never got an HTTP answer, then
 * `status === 0`). `status` is the HTTP status, `reason` the server's `Status.reason`.
 *
 * @example
 * ```ts
 * import { KubeApiError } from "./errors.ts";
 *
 * function isTaken(e: unknown): boolean {
 *   // kube.create() of an existing Lease rejects with 409 AlreadyExists.
 *   return e instanceof KubeApiError && e.status === 409;
 * }
 * ```
 */
export class KubeApiError extends Error {
  /** HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  /** `Status.reason`, e.g. `NotFound`, `Conflict`, `Invalid`; `NetworkError` for status 0. */
  readonly reason: string;
  /** What kfplan was doing, e.g. `apply`. */
  readonly operation: string;
  /** The object the request was about. */
  readonly ref?: ObjectRef;
  /** The server's full `Status`, when it sent one. */
  readonly apiStatus?: ApiStatus;
  /** Seconds the server asked to wait before retrying. */
  readonly retryAfterSeconds?: number;
  /** The server's (or the network's) own words, without kfplan's prefix and suffix. */
  readonly detail: string;

  /** Creates the error; the message names operation, object, HTTP status and reason. */
  constructor(status: number, message: string, options: KubeApiErrorOptions) {
    const about = options.ref ? ` ${formatRef(options.ref)}` : "";
    const reason = options.apiStatus?.reason ??
      (status === 0 ? "NetworkError" : "Unknown");
    super(
      `${options.operation}${about}: ${message} (HTTP ${status}, ${reason})`,
      {
        cause: options.cause,
      },
    );
    this.name = "KubeApiError";
    this.detail = message;
    this.status = status;
    this.reason = reason;
    this.operation = options.operation;
    this.ref = options.ref;
    this.apiStatus = options.apiStatus;
    this.retryAfterSeconds = options.retryAfterSeconds ??
      options.apiStatus?.details?.retryAfterSeconds;
  }
}

/** Options for {@linkcode WaitTimeoutError}. */
export interface WaitTimeoutErrorOptions {
  /** What was awaited, e.g. `Available`. */
  condition?: string;
  /** The bound that ran out, in milliseconds. */
  timeoutMs: number;
  /** The last state seen, as the wait check described it. */
  lastState: string;
}

/** A bounded wait ran out of time. Names the object and the last state seen. */
export class WaitTimeoutError extends Error {
  /** The object waited for. */
  readonly ref: ObjectRef;
  /** The last state seen, as the wait check described it. */
  readonly lastState: string;
  /** The bound that ran out, in milliseconds. */
  readonly timeoutMs: number;

  /** Creates the error; the message names the object, condition and last state. */
  constructor(ref: ObjectRef, options: WaitTimeoutErrorOptions) {
    const what = options.condition ? ` to be ${options.condition}` : "";
    super(
      `timed out after ${
        Math.round(options.timeoutMs / 100) / 10
      }s waiting for ${
        formatRef(ref)
      }${what}; last state: ${options.lastState}`,
    );
    this.name = "WaitTimeoutError";
    this.ref = ref;
    this.lastState = options.lastState;
    this.timeoutMs = options.timeoutMs;
  }
}
