import { assert, assertEquals, rejects } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import { createKubeClient } from "../../lib/kube/client.ts";
import { KubeApiError } from "../../lib/kube/errors.ts";
import type { KubeObject, RetryEvent } from "../../lib/kube/types.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("API Priority and Fairness 429s are retried with reported, bounded backoff", async () => {
  const { kube, kubeconfig, namespace } = await useCluster();
  const ns = await namespace("apf");
  const name = `throttled-${ns}`;
  // A ServiceAccount whose requests land in a priority level with no seats, so the
  // real API server answers concurrent requests from it with 429.
  const objects: KubeObject[] = [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "throttled", namespace: ns },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "throttled-token",
        namespace: ns,
        annotations: { "kubernetes.io/service-account.name": "throttled" },
      },
      type: "kubernetes.io/service-account-token",
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "read-configmaps", namespace: ns },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "throttled-read", namespace: ns },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: "read-configmaps",
      },
      subjects: [{ kind: "ServiceAccount", name: "throttled", namespace: ns }],
    },
    {
      apiVersion: "flowcontrol.apiserver.k8s.io/v1",
      kind: "PriorityLevelConfiguration",
      metadata: { name },
      spec: {
        type: "Limited",
        limited: {
          nominalConcurrencyShares: 0,
          lendablePercent: 0,
          borrowingLimitPercent: 0,
          limitResponse: { type: "Reject" },
        },
      },
    },
    {
      apiVersion: "flowcontrol.apiserver.k8s.io/v1",
      kind: "FlowSchema",
      metadata: { name },
      spec: {
        priorityLevelConfiguration: { name },
        matchingPrecedence: 100,
        rules: [{
          subjects: [{
            kind: "ServiceAccount",
            serviceAccount: { name: "throttled", namespace: ns },
          }],
          resourceRules: [{
            verbs: ["*"],
            apiGroups: ["*"],
            resources: ["*"],
            namespaces: ["*"],
            clusterScope: true,
          }],
          nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
        }],
      },
    },
  ];
  for (const o of objects) await kube.apply(o);
  const secret = await kube.waitFor(
    {
      apiVersion: "v1",
      kind: "Secret",
      namespace: ns,
      name: "throttled-token",
    },
    (o) => (o as Any)?.data?.token ? true : "token not issued yet",
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  const token = atob((secret as Any).data.token);
  const admin = JSON.parse(await Deno.readTextFile(kubeconfig));
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/kubeconfig`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        ...admin,
        users: [{ name: "throttled", user: { token } }],
        contexts: [{
          name: "throttled",
          context: { cluster: admin.clusters[0].name, user: "throttled" },
        }],
        "current-context": "throttled",
      }),
    );
    const retries: RetryEvent[] = [];
    const throttled = createKubeClient({
      kubeconfig: path,
      onRetry: (e) => retries.push(e),
      retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200 },
    });
    try {
      // The priority level has no seats; APF still lets one request run when nothing
      // else does, so send bursts until the FlowSchema is in effect and some get 429.
      const ref = {
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: ns,
        name: "x",
      };
      let outcomes: PromiseSettledResult<unknown>[] = [];
      for (let i = 0; i < 50 && !retries.some((r) => r.status === 429); i++) {
        retries.length = 0;
        outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, () => throttled.get(ref)),
        );
        if (!retries.length) await new Promise((r) => setTimeout(r, 200));
      }
      assert(retries.length > 0, "never throttled");
      assert(retries.every((r) => r.status === 429), JSON.stringify(retries));
      assert(retries.every((r) => r.delayMs >= 50 && r.delayMs <= 200));
      // Bounded: at most maxAttempts - 1 = 2 retries per request, then the 429 surfaces.
      assert(retries.length <= 20 * 2);
      assert(retries.every((r) => r.attempt <= 2));
      for (const o of outcomes) {
        if (o.status === "rejected") {
          assert(
            o.reason instanceof KubeApiError && o.reason.status === 429,
            String(o.reason),
          );
        }
      }
    } finally {
      throttled.close();
    }
    // The admin (exempt priority level) is not affected.
    assertEquals(
      (await kube.get({
        apiVersion: "v1",
        kind: "ServiceAccount",
        namespace: ns,
        name: "throttled",
      }))
        ?.metadata.name,
      "throttled",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    for (const kind of ["FlowSchema", "PriorityLevelConfiguration"]) {
      await kube.delete({
        apiVersion: "flowcontrol.apiserver.k8s.io/v1",
        kind,
        name,
      });
    }
  }
});

Deno.test("a request that cannot be retried fails at once with the server's reason", async () => {
  const { kubeconfig, namespace } = await useCluster();
  const ns = await namespace("noretry");
  const retries: RetryEvent[] = [];
  const kube = createKubeClient({
    kubeconfig,
    onRetry: (e) => retries.push(e),
  });
  try {
    const err = await rejects(
      () =>
        kube.apply({
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "bad", namespace: ns },
          spec: { replicas: -1, selector: {}, template: {} },
        }),
      KubeApiError,
    );
    assertEquals([err.status, err.reason], [422, "Invalid"]);
    assert(err.message.includes("spec.replicas"), err.message);
    assertEquals(retries, []);
  } finally {
    kube.close();
  }
});
