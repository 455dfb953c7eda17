import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import {
  type ApplyEvent,
  applyObjects,
  ApplyObjectsError,
  planObjects,
} from "../../lib/kube/apply_set.ts";
import { deploymentAvailable } from "../../lib/kube/wait.ts";
import type { KubeObject } from "../../lib/kube/types.ts";

function deployment(
  namespace: string,
  name: string,
  replicas: number,
): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "web", image: "nginx:1.27" }] },
      },
    },
  };
}

function widgetCrd(group: string): KubeObject {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: "Namespaced",
      names: {
        plural: "widgets",
        singular: "widget",
        kind: "Widget",
        listKind: "WidgetList",
      },
      versions: [{
        name: "v1",
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                properties: { size: { type: "integer" } },
              },
            },
          },
        },
      }],
    },
  };
}

function uniqueGroup(): string {
  return `g${crypto.randomUUID().slice(0, 8)}.kfplan.test`;
}

Deno.test("a Deployment applied through applyObjects becomes Available on kwok nodes", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("deploy");
  const events: ApplyEvent[] = [];
  const result = await applyObjects(kube, [deployment(ns, "web", 2)], {
    waitForWorkloads: true,
    timeoutMs: 120_000,
    onProgress: (e) => events.push(e),
  });
  assertEquals(
    result.applied.map((a) => `${a.kind}/${a.namespace}/${a.name}`),
    [
      `Deployment/${ns}/web`,
    ],
  );
  assert(events.some((e) => e.type === "ready" && e.ref.name === "web"));
  const live = await kube.get({
    apiVersion: "apps/v1",
    kind: "Deployment",
    namespace: ns,
    name: "web",
  });
  assertEquals(deploymentAvailable(live), true);
  const pods = await kube.list("v1", "Pod", {
    namespace: ns,
    labelSelector: "app=web",
  });
  assertEquals(pods.length, 2);
  const nodes = new Set(
    (await kube.list("v1", "Node")).map((n) => n.metadata.name),
  );
  for (const pod of pods) {
    // deno-lint-ignore no-explicit-any
    const p = pod as any;
    assert(
      nodes.has(p.spec.nodeName),
      `pod ${pod.metadata.name} on unknown node ${p.spec.nodeName}`,
    );
    assertEquals(p.status.phase, "Running");
  }
});

Deno.test("a CRD and a custom resource apply in one pass; the CR waits for Established", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("crd");
  const group = uniqueGroup();
  const widget: KubeObject = {
    apiVersion: `${group}/v1`,
    kind: "Widget",
    metadata: { name: "w1", namespace: ns },
    spec: { size: 3 },
  };
  // Custom resource first in the input: ordering must still put the CRD first.
  const objects = [widget, widgetCrd(group)];

  const plan = await planObjects(kube, objects, {});
  assertEquals(
    plan.changes.map((c) => [c.kind, c.action, c.knownAfterApply ?? false]),
    [
      ["CustomResourceDefinition", "create", false],
      ["Widget", "create", true],
    ],
  );
  assert(plan.changes[1].reason?.includes(`widgets.${group}`));

  const events: ApplyEvent[] = [];
  await applyObjects(kube, objects, {
    timeoutMs: 60_000,
    onProgress: (e) => events.push(e),
  });
  const order = events.map((e) =>
    e.type === "phase" ? `phase ${e.phase}` : `${e.type} ${e.ref.kind}`
  );
  const established = order.indexOf("ready CustomResourceDefinition");
  const crApplied = order.indexOf("applied Widget");
  assert(
    established >= 0 && crApplied > established,
    `unexpected order: ${order.join(", ")}`,
  );
  const live = await kube.get({
    apiVersion: `${group}/v1`,
    kind: "Widget",
    namespace: ns,
    name: "w1",
  });
  // deno-lint-ignore no-explicit-any
  assertEquals((live?.spec as any)?.size, 3);

  const again = await planObjects(kube, objects, {});
  assertEquals(again.changes.map((c) => c.action), ["no-op", "no-op"]);
  assertEquals(again.observed.length, 2);
  assert(again.observed.every((o) => o.resourceVersion));

  await kube.delete({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    name: `widgets.${group}`,
  });
});

Deno.test("a CRD larger than the 256 KiB annotation limit applies by server-side apply", async () => {
  const { kube } = await useCluster();
  const group = uniqueGroup();
  const crd = widgetCrd(group);
  const properties: Record<string, unknown> = {};
  for (let i = 0; i < 600; i++) {
    properties[`field${i}`] = {
      type: "string",
      description: `field ${i} `.repeat(60),
    };
  }
  // deno-lint-ignore no-explicit-any
  (crd.spec as any).versions[0].schema.openAPIV3Schema.properties.spec
    .properties = properties;
  const size = JSON.stringify(crd).length;
  assert(size > 300 * 1024, `test CRD is only ${size} bytes`);
  await applyObjects(kube, [crd], { timeoutMs: 60_000 });
  const live = await kube.get({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    name: crd.metadata.name,
  });
  assertEquals(
    live?.metadata.annotations
      ?.["kubectl.kubernetes.io/last-applied-configuration"],
    undefined,
  );
  const served = await kube.resourceFor(`${group}/v1`, "Widget");
  assertEquals(served?.resource, "widgets");
  await kube.delete({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    name: crd.metadata.name,
  });
});

Deno.test("applyObjects names the object that failed and what was applied before", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("fail");
  const bad: KubeObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "bad", namespace: ns },
    spec: { ports: [{ port: 70000 }] },
  };
  const ok: KubeObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "ok", namespace: ns },
    data: { a: "1" },
  };
  const err = await assertRejects(
    () => applyObjects(kube, [ok, bad], { concurrency: 1 }),
    ApplyObjectsError,
  );
  assertEquals(err.ref.name, "bad");
  assert(err.message.includes("Service"), err.message);
  assert(err.message.includes("70000"), err.message);
  assertEquals(err.applied.map((a) => a.name), ["ok"]);
});
