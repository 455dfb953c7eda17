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
import { parseAllDocuments } from "../../lib/deps.ts";
import { testCrd, uniqueGroup } from "../_crds.ts";

/** The widgets' schema: a structural one with a typed `spec.size`. */
const WIDGET_SCHEMA = {
  type: "object",
  properties: {
    spec: {
      type: "object",
      properties: { size: { type: "integer" } },
    },
  },
};

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
  const objects = [widget, testCrd(group, "Widget", { schema: WIDGET_SCHEMA })];

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
  const crd = testCrd(group, "Widget", { schema: WIDGET_SCHEMA });
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

Deno.test("objects in a namespace the same set creates plan as creates", async () => {
  const { kube } = await useCluster();
  const ns = `planned-${crypto.randomUUID().slice(0, 8)}`;
  const plan = await planObjects(kube, [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: ns },
      data: { a: "1" },
    },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
  ], {});
  assertEquals(plan.changes.map((c) => [c.kind, c.action]), [
    ["Namespace", "create"],
    ["ConfigMap", "create"],
  ]);
  assertEquals(plan.observed.map((o) => o.resourceVersion), [
    undefined,
    undefined,
  ]);
  assertEquals(
    await kube.get({ apiVersion: "v1", kind: "Namespace", name: ns }),
    undefined,
    "planning must not create anything",
  );
});

Deno.test("a change to an immutable field plans as replace and applies only when allowed", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("immutable");
  const cm = (value: string): KubeObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "frozen", namespace: ns },
    immutable: true,
    data: { value },
  });
  await applyObjects(kube, [cm("1")], {});
  const plan = await planObjects(kube, [cm("2")], {});
  assertEquals(plan.changes[0].action, "replace");
  assert(plan.changes[0].reason?.includes("immutable"), plan.changes[0].reason);

  const err = await assertRejects(
    () => applyObjects(kube, [cm("2")], { replaceImmutable: false }),
    ApplyObjectsError,
  );
  assert(err.message.includes("immutable"), err.message);

  const events: ApplyEvent[] = [];
  // By default apply carries out the planned replacement.
  await applyObjects(kube, [cm("2")], {
    timeoutMs: 30_000,
    onProgress: (e) => events.push(e),
  });
  assert(events.some((e) => e.type === "replaced" && e.ref.name === "frozen"));
  const live = await kube.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: ns,
    name: "frozen",
  });
  assertEquals(live?.data, { value: "2" });
});

Deno.test("KubeRay's RayJob CRD from Kubeflow v1.10.2 (over 256 KiB) applies and plans as no-op", async () => {
  const { kube } = await useCluster();
  // The read-only manifests trees next to the repository (as tests/steps/kubeflow uses).
  const root = Deno.env.get("KFPLAN_MANIFESTS_DIR") ??
    new URL("../../../shared/kubeflow-manifests", import.meta.url).pathname;
  const path =
    `${root}/v1.10.2/experimental/ray/kuberay-operator/base/resources.yaml`;
  const crd = parseAllDocuments(await Deno.readTextFile(path))
    .map((d) => d.toJS() as KubeObject)
    .find((o) => o?.metadata?.name === "rayjobs.ray.io")!;
  // Too large for client-side apply's last-applied annotation (262144 bytes).
  assert(JSON.stringify(crd).length > 262_144);
  // Same schema under a unique group: the shared cluster may hold the real one too.
  const group = uniqueGroup();
  // deno-lint-ignore no-explicit-any
  const spec = crd.spec as any;
  spec.group = group;
  crd.metadata = { name: `${spec.names.plural}.${group}` };
  await applyObjects(kube, [crd], { timeoutMs: 120_000 });
  // An Established CRD reaches discovery a moment later on a busy machine: wait for
  // it (bounded) instead of racing it.
  const deadline = Date.now() + 30_000;
  let served = await kube.resourceFor(`${group}/v1`, "RayJob");
  while (!served && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    kube.invalidateDiscovery();
    served = await kube.resourceFor(`${group}/v1`, "RayJob");
  }
  assertEquals(served?.resource, "rayjobs");
  const plan = await planObjects(kube, [crd], {});
  assertEquals([plan.changes[0].action, plan.changes[0].diff], ["no-op", []]);
  await kube.delete({
    apiVersion: crd.apiVersion,
    kind: crd.kind,
    name: crd.metadata.name,
  });
});

Deno.test("a workload that cannot become ready fails the bounded wait naming it and its state", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("unschedulable");
  const greedy = deployment(ns, "greedy", 1);
  // deno-lint-ignore no-explicit-any
  (greedy.spec as any).template.spec.containers[0].resources = {
    limits: { "nvidia.com/gpu": "64" },
  };
  // "fine" is made Available first (a bounded wait on that event, however busy the
  // machine): the 8 s below then bound only the wait that cannot succeed.
  await applyObjects(kube, [deployment(ns, "fine", 1)], {
    waitForWorkloads: true,
    timeoutMs: 120_000,
  });
  const events: ApplyEvent[] = [];
  const err = await assertRejects(
    () =>
      applyObjects(kube, [greedy, deployment(ns, "fine", 1)], {
        waitForWorkloads: true,
        timeoutMs: 8000,
        onProgress: (e) => events.push(e),
      }),
    ApplyObjectsError,
  );
  assertEquals([err.ref.kind, err.ref.name, err.phase], [
    "Deployment",
    "greedy",
    "workloads",
  ]);
  assert(err.message.includes("timed out after 8s"), err.message);
  assert(err.message.includes("0/1 available"), err.message);
  assert(events.some((e) => e.type === "ready" && e.ref.name === "fine"));
  assertEquals(err.applied.map((a) => a.name).sort(), ["fine", "greedy"]);
});
