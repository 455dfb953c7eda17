import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import {
  deleteClassOf,
  deleteObjects,
  DeleteTimeoutError,
  deletionOrder,
  KEEP_MARKERS,
  planPrune,
  type PruneCandidate,
} from "../../lib/kube/prune.ts";
import { applyObjects } from "../../lib/kube/apply_set.ts";
import { PART_OF_LABEL } from "../../lib/kube/inventory.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { type ObjectRef, refOf } from "../../lib/kube/object_ref.ts";
import { testCrd, uniqueGroup } from "../_crds.ts";

function widget(
  group: string,
  ns: string,
  name: string,
  extra: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: `${group}/v1`,
    kind: "Widget",
    metadata: { name, namespace: ns, ...extra },
    spec: { size: 1 },
  };
}

function configMap(
  ns: string,
  name: string,
  meta: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: ns, ...meta },
    data: { a: "1" },
  };
}

function pvc(ns: string, name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: ns },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "1Gi" } },
      storageClassName: "none-kfplan-test",
    },
  };
}

/** Applies objects and returns them as candidates carrying their live uids. */
async function create(
  kube: KubeClient,
  objects: KubeObject[],
): Promise<PruneCandidate[]> {
  await applyObjects(kube, objects, { timeoutMs: 60_000 });
  const out: PruneCandidate[] = [];
  for (const o of objects) {
    const live = await kube.get(refOf(o));
    assert(live, `${o.kind} ${o.metadata.name} was created`);
    out.push({ ...refOf(o), uid: live.metadata.uid });
  }
  return out;
}

async function createNs(kube: KubeClient, prefix: string): Promise<string> {
  const { namespace } = await useCluster();
  const ns = await namespace(prefix);
  return (await kube.get({ apiVersion: "v1", kind: "Namespace", name: ns }))!
    .metadata.name;
}

function nsRef(name: string): ObjectRef {
  return { apiVersion: "v1", kind: "Namespace", name };
}

Deno.test("deletion order: custom resources, webhooks, workloads, configuration, CRDs, namespaces", () => {
  const refs: ObjectRef[] = [
    nsRef("a"),
    {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      name: "x.y",
    },
    { apiVersion: "v1", kind: "ConfigMap", namespace: "a", name: "c" },
    { apiVersion: "apps/v1", kind: "Deployment", namespace: "a", name: "d" },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      name: "w",
    },
    { apiVersion: "kubeflow.org/v1", kind: "Profile", name: "p" },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      namespace: "a",
      name: "v",
    },
    { apiVersion: "v1", kind: "PersistentVolume", name: "pv" },
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      namespace: "a",
      name: "c",
    },
  ];
  assertEquals(
    deletionOrder(refs).map((r) => `${deleteClassOf(r)} ${r.kind}`),
    [
      "custom-resources Profile",
      "webhooks ValidatingWebhookConfiguration",
      "workloads Deployment",
      "workloads VirtualService",
      "configuration ConfigMap",
      "configuration PersistentVolumeClaim",
      "configuration PersistentVolume",
      "crds CustomResourceDefinition",
      "namespaces Namespace",
    ],
  );
});

Deno.test("deleteObjects deletes in class order on the control plane and waits for each to go", async () => {
  const { kube } = await useCluster();
  const ns = await createNs(kube, "prune-order");
  const group = uniqueGroup("p");
  const objects: KubeObject[] = [
    testCrd(group, "Widget"),
    widget(group, ns, "w1"),
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: { name: `prune-${group}` },
      webhooks: [],
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "web", image: "nginx:1.27" }] },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: ns },
      spec: { selector: { app: "web" }, ports: [{ port: 80 }] },
    },
    configMap(ns, "settings"),
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "runner", namespace: ns },
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "reader", namespace: ns },
      rules: [],
    },
  ];
  const candidates = [
    ...await create(kube, objects),
    { ...nsRef(ns), uid: (await kube.get(nsRef(ns)))!.metadata.uid },
  ];
  // A shuffled input: the order is deleteObjects' own.
  const shuffled = [...candidates].reverse();
  const order: string[] = [];
  const result = await deleteObjects(kube, shuffled, {
    timeoutMs: 60_000,
    onEvent: (e) => {
      if (e.type === "deleting") order.push(`${deleteClassOf(e.ref)}`);
    },
  });
  assertEquals(result.deleted.length, candidates.length);
  assertEquals(result.skipped, []);
  assertEquals(order.length, candidates.length);
  const rank = [
    "custom-resources",
    "webhooks",
    "workloads",
    "configuration",
    "crds",
    "namespaces",
  ];
  for (let i = 1; i < order.length; i++) {
    assert(
      rank.indexOf(order[i - 1]) <= rank.indexOf(order[i]),
      `deleted ${order[i - 1]} before ${order[i]}: ${order.join(", ")}`,
    );
  }
  assertEquals(order[0], "custom-resources");
  assertEquals(order.at(-1), "namespaces");
  for (const c of candidates) {
    assertEquals(await kube.get(c), undefined, `${c.kind} ${c.name} is gone`);
  }
});

Deno.test("a finalizer nobody removes: the bounded wait names the object and the finalizer", async () => {
  const { kube } = await useCluster();
  const ns = await createNs(kube, "prune-stuck");
  const group = uniqueGroup("p");
  const stuck = widget(group, ns, "stuck", {
    finalizers: ["example.com/never-removed"],
  });
  const [, candidate] = await create(kube, [testCrd(group, "Widget"), stuck]);
  try {
    const error = await assertRejects(
      () => deleteObjects(kube, [candidate], { timeoutMs: 1500 }),
      DeleteTimeoutError,
    );
    assertMatch(error.message, new RegExp(`Widget ${ns}/stuck`));
    assertMatch(error.message, /example\.com\/never-removed/);
    assertMatch(error.message, /never strips finalizers/);
    const live = await kube.get(candidate);
    assert(live?.metadata.deletionTimestamp, "delete was requested");
    assert(
      (live.metadata.finalizers as string[]).includes(
        "example.com/never-removed",
      ),
      "kfplan left the finalizer alone",
    );
  } finally {
    // The test plays the controller that owns the finalizer.
    await kube.apply(widget(group, ns, "stuck"));
    await kube.delete({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      name: `widgets.${group}`,
    });
  }
});

Deno.test("planPrune keeps data holders: PVC, a namespace with a foreign object, a CRD with a foreign instance", async () => {
  const { kube } = await useCluster();
  const dataNs = await createNs(kube, "prune-data");
  const emptyNs = await createNs(kube, "prune-empty");
  const group = uniqueGroup("p");
  const ours = await create(kube, [
    pvc(dataNs, "claim"),
    configMap(dataNs, "ours"),
    configMap(emptyNs, "ours"),
    testCrd(group, "Widget"),
    widget(group, dataNs, "ours"),
  ]);
  // Objects kfplan does not own.
  await create(kube, [
    configMap(dataNs, "theirs"),
    widget(group, dataNs, "theirs"),
  ]);
  const owned = [...ours, nsRef(dataNs), nsRef(emptyNs)];
  const nsCandidates = [dataNs, emptyNs].map((n) => nsRef(n));
  const plan = await planPrune(kube, [...ours, ...nsCandidates], { owned });
  const kept = Object.fromEntries(
    plan.kept.map((k) => [`${k.kind} ${k.name}`, k.reason]),
  );
  assertMatch(
    kept["PersistentVolumeClaim claim"],
    /holds data.*--allow-data-loss deletes it/,
  );
  assertMatch(kept[`Namespace ${dataNs}`], /ConfigMap .*theirs/);
  assertMatch(kept[`Namespace ${dataNs}`], /--allow-data-loss/);
  assertMatch(
    kept[`CustomResourceDefinition widgets.${group}`],
    /1 instance.*Widget .*theirs/,
  );
  assertEquals(Object.keys(kept).length, 3);
  assertEquals(
    plan.deletes.map((d) =>
      `${d.action} ${d.kind} ${d.namespace ?? ""}/${d.name}`
    ),
    [
      `delete Widget ${dataNs}/ours`,
      `delete ConfigMap ${dataNs}/ours`,
      `delete ConfigMap ${emptyNs}/ours`,
      `delete Namespace /${emptyNs}`,
    ].sort((a, b) =>
      // Deletion order: the Widget first, the namespace last.
      rankOf(a) - rankOf(b) || (a < b ? -1 : a > b ? 1 : 0)
    ),
  );

  const all = await planPrune(kube, [...ours, ...nsCandidates], {
    owned,
    allowDataLoss: true,
  });
  assertEquals(all.kept, []);
  assertEquals(all.deletes.length, ours.length + 2);
  await deleteObjects(kube, [...ours, ...nsCandidates], { timeoutMs: 60_000 });
  for (const o of [...ours, ...nsCandidates]) {
    assertEquals(await kube.get(o), undefined, `${o.kind} ${o.name} deleted`);
  }
});

function rankOf(line: string): number {
  if (line.includes(" Widget ")) return 0;
  if (line.includes(" Namespace ")) return 2;
  return 1;
}

Deno.test("planPrune honours keep markers on live objects", async () => {
  const { kube } = await useCluster();
  const ns = await createNs(kube, "prune-marker");
  const marked = KEEP_MARKERS.map(([key, value], i) =>
    configMap(
      ns,
      `marked-${i}`,
      i % 2 === 0
        ? { annotations: { [key]: value } }
        : { labels: { [key]: value } },
    )
  );
  const candidates = await create(kube, [...marked, configMap(ns, "plain")]);
  const plan = await planPrune(kube, candidates, { owned: candidates });
  assertEquals(plan.deletes.map((d) => d.name), ["plain"]);
  assertEquals(plan.kept.length, KEEP_MARKERS.length);
  for (const [i, [key, value]] of KEEP_MARKERS.entries()) {
    const k = plan.kept.find((k) => k.name === `marked-${i}`);
    assertEquals(
      k?.reason,
      `carries ${key}: ${value}; remove the marker to let kfplan delete it`,
    );
  }
});

Deno.test("an object whose uid or part-of changed is neither planned nor deleted", async () => {
  const { kube } = await useCluster();
  const ns = await createNs(kube, "prune-owner");
  const setId = "applyset-test-v1";
  const [same, other, recreated] = await create(kube, [
    configMap(ns, "same", { labels: { [PART_OF_LABEL]: setId } }),
    configMap(ns, "other", { labels: { [PART_OF_LABEL]: "applyset-else-v1" } }),
    configMap(ns, "recreated", { labels: { [PART_OF_LABEL]: setId } }),
  ]);
  const wrongUid = { ...recreated, uid: crypto.randomUUID() };
  const plan = await planPrune(kube, [same, other, wrongUid], {
    owned: [],
    partOf: setId,
  });
  assertEquals(plan.deletes.map((d) => d.name), ["same"]);
  const reasons = Object.fromEntries(plan.kept.map((k) => [k.name, k.reason]));
  assertMatch(reasons.other, /changed owner: .*"applyset-else-v1"/);
  assertMatch(reasons.recreated, /changed owner: .*uid/);

  const result = await deleteObjects(kube, [same, other, wrongUid], {
    partOf: setId,
    timeoutMs: 30_000,
  });
  assertEquals(result.deleted.map((r) => r.name), ["same"]);
  assertEquals(result.skipped.map((r) => r.name).sort(), [
    "other",
    "recreated",
  ]);
  assertEquals(await kube.get(same), undefined);
  assert(await kube.get(other), "the other set's object is still there");
  assert(await kube.get(recreated), "the re-created object is still there");
});

Deno.test("allowDataLoss deletes data holders but never a system namespace", async () => {
  const { kube } = await useCluster();
  const ns = await createNs(kube, "prune-loss");
  const [claim] = await create(kube, [pvc(ns, "claim")]);
  await create(kube, [configMap(ns, "foreign")]);
  const candidates = [claim, nsRef(ns), nsRef("kube-system"), nsRef("default")];
  const plan = await planPrune(kube, candidates, {
    owned: [claim],
    allowDataLoss: true,
  });
  assertEquals(
    plan.deletes.map((d) => `${d.kind} ${d.name}`),
    ["PersistentVolumeClaim claim", `Namespace ${ns}`],
  );
  assertEquals(
    plan.kept.map((k) => `${k.name}: ${k.reason}`),
    [
      "default: a system namespace: kfplan never deletes it",
      "kube-system: a system namespace: kfplan never deletes it",
    ],
  );
  await deleteObjects(kube, [claim, nsRef(ns)], { timeoutMs: 60_000 });
  assertEquals(await kube.get(nsRef(ns)), undefined);
  assert(await kube.get(nsRef("kube-system")));
});

Deno.test("the Profile CRD is kept unless data loss is allowed, whatever its instances", async () => {
  // Reads only: a client that answers GET with the CRD (creating the real one here
  // would race the Kubeflow tests sharing the control plane).
  const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "profiles.kubeflow.org", uid: "u1" },
    spec: {
      group: "kubeflow.org",
      names: { kind: "Profile" },
      versions: [{ name: "v1", served: true, storage: true }],
    },
  };
  const kube = {
    get: (ref: ObjectRef) =>
      Promise.resolve(ref.name === crd.metadata.name ? crd : undefined),
    list: () => Promise.resolve([]),
  } as unknown as KubeClient;
  const candidate = { ...refOf(crd), uid: "u1" };
  const kept = await planPrune(kube, [candidate], { owned: [candidate] });
  assertEquals(kept.deletes, []);
  assertMatch(kept.kept[0].reason, /every user namespace; --allow-data-loss/);
  const loss = await planPrune(kube, [candidate], {
    owned: [candidate],
    allowDataLoss: true,
  });
  assertEquals(loss.deletes.map((d) => d.name), ["profiles.kubeflow.org"]);
});

Deno.test("a cluster-scoped instance recorded with a namespace (as kustomize renders it) still counts as owned", async () => {
  const { kube } = await useCluster();
  const group = uniqueGroup("p");
  const crd = testCrd(group, "Widget");
  (crd.spec as { scope: string }).scope = "Cluster";
  const instance: KubeObject = {
    apiVersion: `${group}/v1`,
    kind: "Widget",
    metadata: { name: "cluster-wide" },
    spec: { size: 1 },
  };
  const [crdRef, live] = await create(kube, [crd, instance]);
  try {
    // The inventory names the instance in the namespace the render gave it.
    const recorded = { ...live, namespace: "kubeflow" };
    const plan = await planPrune(kube, [crdRef], {
      owned: [crdRef, recorded],
    });
    assertEquals(plan.kept, []);
    assertEquals(plan.deletes.map((d) => d.name), [`widgets.${group}`]);
    const foreign = await planPrune(kube, [crdRef], { owned: [crdRef] });
    assertMatch(foreign.kept[0]?.reason ?? "", /Widget cluster-wide/);
  } finally {
    await deleteObjects(kube, [live, crdRef], { timeoutMs: 60_000 });
  }
});

Deno.test("a candidate whose kind is no longer served (its CRD is gone) is gone", async () => {
  const { kube } = await useCluster();
  const gone: PruneCandidate = {
    apiVersion: `${uniqueGroup("p")}/v1`,
    kind: "Widget",
    namespace: "default",
    name: "w",
    uid: crypto.randomUUID(),
  };
  assertEquals(await planPrune(kube, [gone], { owned: [gone] }), {
    deletes: [],
    kept: [],
  });
  const result = await deleteObjects(kube, [gone], { timeoutMs: 5_000 });
  assertEquals(result.deleted.map((r) => r.kind), ["Widget"]);
  assertEquals(result.skipped, []);
});
