/**
 * Bounded retries with exponential backoff for requests the API server may accept on a
 * later attempt: 429 (throttled), 5xx (including a webhook backend that is not up yet),
 * optimistic-concurrency conflicts, and requests that never got an answer. Every retry is
 * reported through `onRetry` so the user sees it; there are no silent or unbounded loops.
 *
 * @module
 */

import type { RetryEvent } from "./types.ts";
import { KubeApiError } from "./errors.ts";

/** How many attempts and how long to wait between them. */
export interface RetryPolicy {
  /** Total attempts including the first; default 5. */
  maxAttempts: number;
  /** Delay before the second attempt; doubles each time. Default 250 ms. */
  baseDelayMs: number;
  /** Upper bound of one delay. Default 8000 ms. */
  maxDelayMs: number;
}

/** The policy used when none is given: 5 attempts, 250 ms doubling, at most 8 s apart. */
export function defaultRetryPolicy(): RetryPolicy {
  return { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 8000 };
}

/**
 * The delay before retry number `attempt` (1 = the first retry): `base * 2^(attempt-1)`,
 * at least the server's `Retry-After`, at most `maxDelayMs`. `jitter` in [0, 1) adds up
 * to 20% so that parallel clients do not retry in lockstep.
 *
 * @example
 * ```ts
 * import { backoffDelay, defaultRetryPolicy } from "./retry.ts";
 * backoffDelay(3, defaultRetryPolicy(), { jitter: 0 }); // 1000
 * ```
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  options: { jitter?: number; retryAfterSeconds?: number } = {},
): number {
  const exp = policy.baseDelayMs * 2 ** Math.max(0, attempt - 1);
  const withJitter = exp * (1 + 0.2 * (options.jitter ?? 0));
  const floor = (options.retryAfterSeconds ?? 0) * 1000;
  return Math.round(Math.min(policy.maxDelayMs, Math.max(withJitter, floor)));
}

/**
 * Whether a failed request is worth repeating unchanged. `idempotentConflict` marks
 * requests where a 409 means "the object changed under us, try again" (server-side apply
 * without a resourceVersion precondition), as opposed to `AlreadyExists` or a
 * resourceVersion precondition the caller relies on.
 */
export function isRetryable(
  error: unknown,
  options: { idempotentConflict?: boolean } = {},
): boolean {
  if (!(error instanceof KubeApiError)) return false;
  if (error.status === 0) return error.reason !== "Aborted";
  if (error.status === 429 || error.status >= 500) return true;
  if (error.status === 409) {
    return options.idempotentConflict === true && error.reason === "Conflict" &&
      /has been modified|try again/i.test(
        error.apiStatus?.message ?? error.message,
      );
  }
  return false;
}

/** Options for {@linkcode withRetry}. */
export interface WithRetryOptions {
  /** Attempts and delays; default {@linkcode defaultRetryPolicy}. */
  policy?: RetryPolicy;
  /** Receives one event per retry, before its delay. */
  onRetry?: (event: RetryEvent) => void;
  /** See {@linkcode isRetryable}. */
  idempotentConflict?: boolean;
  /** Stops retrying (the last error is thrown). */
  signal?: AbortSignal;
  /** Replaceable for tests; default `setTimeout`. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Replaceable for tests; default `Math.random`. */
  random?: () => number;
}

/** Sleeps `ms`, resolving early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * Runs `fn`, repeating it with backoff while it fails with a retryable error and the
 * policy allows more attempts. The last error is thrown unchanged.
 *
 * @example
 * ```ts
 * import { withRetry } from "./retry.ts";
 * const value = await withRetry("get Deployment web", () => Promise.resolve(42), {
 *   onRetry: (e) => console.warn(`retry ${e.attempt} of ${e.operation} in ${e.delayMs}ms`),
 * });
 * ```
 */
export async function withRetry<T>(
  operation: string,
  fn: () => Promise<T>,
  options: WithRetryOptions = {},
): Promise<T> {
  const policy = options.policy ?? defaultRetryPolicy();
  const wait = options.sleep ?? sleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const retryable = isRetryable(error, options);
      if (
        !retryable || attempt >= policy.maxAttempts || options.signal?.aborted
      ) {
        throw error;
      }
      const e = error as KubeApiError;
      const delayMs = backoffDelay(attempt, policy, {
        jitter: random(),
        retryAfterSeconds: e.retryAfterSeconds,
      });
      options.onRetry?.({
        operation,
        attempt,
        status: e.status,
        delayMs,
        message: e.message,
      });
      await wait(delayMs, options.signal);
    }
  }
}
