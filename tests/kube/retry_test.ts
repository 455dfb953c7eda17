import { assert, assertEquals, rejects } from "../_assert.ts";
import {
  backoffDelay,
  defaultRetryPolicy,
  isRetryable,
  withRetry,
} from "../../lib/kube/retry.ts";
import { KubeApiError } from "../../lib/kube/errors.ts";
import type { RetryEvent } from "../../lib/kube/types.ts";

function apiError(status: number, reason?: string, message = "boom") {
  return new KubeApiError(status, message, {
    operation: "test",
    apiStatus: { reason, message },
  });
}

Deno.test("backoff doubles from the base, is capped, honours Retry-After and jitter", () => {
  const policy = { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 1000 };
  assertEquals(
    [1, 2, 3, 4, 5].map((a) => backoffDelay(a, policy, { jitter: 0 })),
    [
      100,
      200,
      400,
      800,
      1000,
    ],
  );
  assertEquals(backoffDelay(1, policy, { jitter: 0.5 }), 110);
  assertEquals(
    backoffDelay(1, policy, { jitter: 0, retryAfterSeconds: 0.5 }),
    500,
  );
  assertEquals(
    backoffDelay(1, policy, { jitter: 0, retryAfterSeconds: 60 }),
    1000,
  );
});

Deno.test("429, 5xx and unanswered requests are retryable; 4xx and precondition conflicts are not", () => {
  assert(isRetryable(apiError(429, "TooManyRequests")));
  assert(isRetryable(apiError(500, "InternalError")));
  assert(isRetryable(apiError(503, "ServiceUnavailable")));
  assert(isRetryable(apiError(0, "NetworkError")));
  assert(!isRetryable(apiError(0, "Aborted")));
  assert(!isRetryable(apiError(404, "NotFound")));
  assert(!isRetryable(apiError(422, "Invalid")));
  assert(!isRetryable(apiError(409, "AlreadyExists")));
  const modified = apiError(
    409,
    "Conflict",
    "the object has been modified; please apply your changes",
  );
  assert(!isRetryable(modified));
  assert(isRetryable(modified, { idempotentConflict: true }));
  assert(
    !isRetryable(
      apiError(
        409,
        "Conflict",
        'Apply failed with 1 conflict: conflict with "helm"',
      ),
      {
        idempotentConflict: true,
      },
    ),
  );
  assert(!isRetryable(new Error("plain")));
});

Deno.test("withRetry retries with reported backoff and then succeeds", async () => {
  const events: RetryEvent[] = [];
  const slept: number[] = [];
  let calls = 0;
  const value = await withRetry("get thing", () => {
    calls++;
    if (calls < 3) return Promise.reject(apiError(503, "ServiceUnavailable"));
    return Promise.resolve("ok");
  }, {
    policy: { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 100 },
    onRetry: (e) => events.push(e),
    sleep: (ms) => {
      slept.push(ms);
      return Promise.resolve();
    },
    random: () => 0,
  });
  assertEquals(value, "ok");
  assertEquals(calls, 3);
  assertEquals(slept, [10, 20]);
  assertEquals(
    events.map((e) => [e.operation, e.attempt, e.status, e.delayMs]),
    [
      ["get thing", 1, 503, 10],
      ["get thing", 2, 503, 20],
    ],
  );
});

Deno.test("withRetry is bounded and rethrows the last error", async () => {
  let calls = 0;
  const events: RetryEvent[] = [];
  const err = await rejects(
    () =>
      withRetry("apply x", () => {
        calls++;
        return Promise.reject(
          apiError(429, "TooManyRequests", `throttled ${calls}`),
        );
      }, {
        policy: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
        onRetry: (e) => events.push(e),
        sleep: () => Promise.resolve(),
      }),
    KubeApiError,
  );
  assertEquals(calls, 3);
  assertEquals(events.length, 2);
  assert(err.message.includes("throttled 3"), err.message);
});

Deno.test("withRetry does not retry what is not retryable", async () => {
  let calls = 0;
  await rejects(
    () =>
      withRetry("get", () => {
        calls++;
        return Promise.reject(apiError(403, "Forbidden"));
      }, { sleep: () => Promise.resolve() }),
    KubeApiError,
  );
  assertEquals(calls, 1);
  assertEquals(defaultRetryPolicy().maxAttempts, 5);
});
