import { assert, assertEquals, rejects } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import { startWebhookServer } from "../cluster/webhook.ts";
import { testCrd } from "../_crds.ts";
import {
  type ApplyEvent,
  applyObjects,
  ApplyObjectsError,
} from "../../lib/kube/apply_set.ts";
import { createKubeClient } from "../../lib/kube/client.ts";
import { KubeApiError } from "../../lib/kube/errors.ts";
import type { KubeObject, RetryEvent } from "../../lib/kube/types.ts";

Deno.test("a webhook-guarded custom resource is admitted by a real webhook server through endpoint routing", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("webhook");
  const group = `g${crypto.randomUUID().slice(0, 8)}.kfplan.test`;
  let failuresLeft = 2;
  const server = await startWebhookServer({
    namespace: ns,
    name: "gadget-guard",
  }, {
    kubeconfig: cluster.kubeconfig,
    handler(request) {
      const labels = request.object?.metadata.labels ?? {};
      if (labels.flaky === "true" && failuresLeft > 0) {
        failuresLeft--;
        return { httpStatus: 500 };
      }
      if (labels.deny === "true") {
        return {
          allowed: false,
          message: "gadgets labelled deny=true are refused by the test webhook",
        };
      }
      return { allowed: true };
    },
  });
  const retries: RetryEvent[] = [];
  const kube = createKubeClient({
    kubeconfig: cluster.kubeconfig,
    onRetry: (e) => retries.push(e),
    retry: { maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 400 },
  });
  try {
    const webhookConfig: KubeObject = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: `gadget-guard-${ns}` },
      webhooks: [{
        name: `guard.${group}`,
        clientConfig: server.clientConfig("/validate"),
        rules: [{
          operations: ["CREATE", "UPDATE"],
          apiGroups: [group],
          apiVersions: ["v1"],
          resources: ["gadgets"],
        }],
        failurePolicy: "Fail",
        sideEffects: "None",
        admissionReviewVersions: ["v1"],
        timeoutSeconds: 5,
      }],
    };
    const gadget = (
      name: string,
      labels: Record<string, string> = {},
    ): KubeObject => ({
      apiVersion: `${group}/v1`,
      kind: "Gadget",
      metadata: { name, namespace: ns, labels },
      spec: { colour: "blue" },
    });
    const events: ApplyEvent[] = [];
    // One pass: CRD, backend Service + Endpoints, webhook configuration, then the CR.
    await applyObjects(
      kube,
      [
        gadget("ok"),
        webhookConfig,
        server.endpoints,
        server.service,
        testCrd(group, "Gadget"),
      ],
      { timeoutMs: 60_000, onProgress: (e) => events.push(e) },
    );
    const order = events.map((e) =>
      e.type === "phase" ? e.phase : `${e.type} ${"ref" in e ? e.ref.kind : ""}`
    );
    const backendReady = order.indexOf("ready Service");
    assert(
      backendReady >= 0,
      `no wait for the webhook backend: ${order.join(", ")}`,
    );
    assert(
      backendReady < order.indexOf("applied ValidatingWebhookConfiguration"),
    );
    assert(
      server.requests.some((r) => r.name === "ok" && r.operation === "CREATE"),
    );

    // The webhook refuses: the server's message reaches the caller, nothing is retried.
    const before = retries.length;
    const denied = await rejects(
      () => kube.apply(gadget("bad", { deny: "true" })),
      KubeApiError,
    );
    assert(
      denied.message.includes("refused by the test webhook"),
      denied.message,
    );
    assertEquals(retries.length, before);

    // The webhook fails twice with HTTP 500: the client retries, reports it, succeeds.
    const flaky = await kube.apply(gadget("flaky", { flaky: "true" }));
    assertEquals(flaky.metadata.name, "flaky");
    const flakyRetries = retries.slice(before);
    assertEquals(flakyRetries.length, 2);
    assert(
      flakyRetries.every((r) =>
        r.status === 500 && r.message.includes("webhook")
      ),
    );
    assertEquals(flakyRetries.map((r) => r.attempt), [1, 2]);
  } finally {
    await kube.delete({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      name: `gadget-guard-${ns}`,
    });
    kube.close();
    await server.close();
  }
});

Deno.test("a webhook whose backend never gets endpoints fails the apply naming the Service", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("nobackend");
  const config: KubeObject = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: `never-${ns}` },
    webhooks: [{
      name: `never.${ns}.kfplan.test`,
      clientConfig: {
        service: { namespace: ns, name: "missing-backend", path: "/v" },
      },
      rules: [{
        operations: ["CREATE"],
        apiGroups: ["kfplan.test"],
        apiVersions: ["v1"],
        resources: ["nothings"],
      }],
      sideEffects: "None",
      admissionReviewVersions: ["v1"],
    }],
  };
  const err = await rejects(
    () => applyObjects(cluster.kube, [config], { timeoutMs: 1500 }),
    ApplyObjectsError,
  );
  assert(err.message.includes(`Service ${ns}/missing-backend`), err.message);
  assert(err.message.includes("no EndpointSlices"), err.message);
  assertEquals(
    await cluster.kube.get({
      apiVersion: config.apiVersion,
      kind: config.kind,
      name: config.metadata.name,
    }),
    undefined,
  );
});
