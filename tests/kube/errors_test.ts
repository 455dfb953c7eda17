import { assertEquals, assertMatch } from "../_assert.ts";
import {
  formatRef,
  KubeApiError,
  WaitTimeoutError,
} from "../../lib/kube/errors.ts";

Deno.test("KubeApiError carries status, reason, object and the server's message", () => {
  const ref = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    namespace: "ns",
    name: "web",
  };
  const e = new KubeApiError(
    422,
    'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1',
    {
      operation: "apply",
      ref,
      apiStatus: {
        kind: "Status",
        reason: "Invalid",
        code: 422,
        details: { retryAfterSeconds: 2 },
      },
    },
  );
  assertEquals([e.status, e.reason, e.operation, e.ref, e.retryAfterSeconds], [
    422,
    "Invalid",
    "apply",
    ref,
    2,
  ]);
  assertMatch(
    e.message,
    /^apply Deployment ns\/web \(apps\/v1\): .*spec\.replicas.* \(HTTP 422, Invalid\)$/,
  );
  assertEquals(
    new KubeApiError(0, "x", { operation: "get" }).reason,
    "NetworkError",
  );
});

Deno.test("WaitTimeoutError names the object, the condition and the last state", () => {
  const e = new WaitTimeoutError(
    { apiVersion: "v1", kind: "Node", name: "n1" },
    {
      condition: "Ready",
      timeoutMs: 1500,
      lastState: "Ready=False (KubeletNotReady)",
    },
  );
  assertEquals(
    e.message,
    "timed out after 1.5s waiting for Node n1 (v1) to be Ready; last state: Ready=False (KubeletNotReady)",
  );
  assertEquals(
    formatRef({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: "a",
      name: "b",
    }),
    "ConfigMap a/b (v1)",
  );
});
