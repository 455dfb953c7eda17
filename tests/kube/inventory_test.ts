import {
  assert,
  assertEquals,
  assertMatch,
  rejects,
  throws,
} from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import {
  ADDITIONAL_NAMESPACES_ANNOTATION,
  APPLYSET_ID_LABEL,
  applySetIdFor,
  applySetIdOf,
  CONTAINS_GROUP_KINDS_ANNOTATION,
  decodeInventory,
  deleteInventory,
  type Inventory,
  INVENTORY_DATA_KEY,
  InventoryError,
  inventoryJson,
  inventoryParent,
  KFPLAN_TOOLING,
  listInventories,
  memberKey,
  parentName,
  parentRef,
  PART_OF_LABEL,
  readInventory,
  TOOLING_ANNOTATION,
  withPartOf,
  writeInventory,
} from "../../lib/kube/inventory.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import denoJson from "../../deno.json" with { type: "json" };

/**
 * The KEP-3659 id computed here from the KEP's words, with WebCrypto and a hand-made
 * base64url, not with the module's code: "applyset-" + base64url (no padding) of
 * sha256("<name>.<namespace>.<kind>.<group>") + "-v1".
 */
async function kepId(
  name: string,
  namespace: string,
  kind: string,
  group: string,
): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode(`${name}.${namespace}.${kind}.${group}`),
    ),
  );
  const alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let bits = "";
  for (const b of digest) bits += b.toString(2).padStart(8, "0");
  let out = "";
  for (let i = 0; i < bits.length; i += 6) {
    out += alphabet[parseInt(bits.slice(i, i + 6).padEnd(6, "0"), 2)];
  }
  return `applyset-${out}-v1`;
}

Deno.test("applySetIdOf follows the KEP-3659 formula (and kubectl's test vector)", async () => {
  assertEquals(
    applySetIdOf("users"),
    await kepId("kfplan.users", "kfplan-system", "Secret", ""),
  );
  assertEquals(
    applySetIdOf("kubeflow", { namespace: "other" }),
    await kepId("kfplan.kubeflow", "other", "Secret", ""),
  );
  // kubectl's testdata/prune/cross_namespace/manifest1-expected-parent.yaml.
  const vector = applySetIdFor({
    apiVersion: "v1",
    kind: "Secret",
    namespace: "applyset-namespace",
    name: "cross_namespace",
  });
  assertEquals(
    vector,
    "applyset-maUyxm9hLztJjNIswOCgA-VT6EJxr1_CcWA5kSzuMYE-v1",
  );
  assertEquals(
    vector,
    await kepId("cross_namespace", "applyset-namespace", "Secret", ""),
  );
  assertMatch(applySetIdOf("users"), /^applyset-[A-Za-z0-9_-]{43}-v1$/);
});

Deno.test("a step id that cannot name a Secret is refused naming it", () => {
  const e = throws(() => parentName("My Step"));
  assertMatch(e.message, /"My Step".*lowercase letters/);
  assertEquals(parentName("gpu-operator"), "kfplan.gpu-operator");
});

Deno.test("a second installation in one cluster names its parents apart, so its sets never mix", () => {
  const scope = { installation: "team-a" };
  assertEquals(parentName("users", scope), "kfplan.team-a.users");
  assertEquals(parentRef("users", scope).name, "kfplan.team-a.users");
  assert(applySetIdOf("users", scope) !== applySetIdOf("users"));
  const e = throws(() => parentName("users", { installation: "Team A" }));
  assertMatch(e.message, /installation "Team A".*lowercase letters/);
});

function sample(): Inventory {
  return {
    step: "users",
    applySetId: applySetIdOf("users"),
    entries: [
      {
        apiVersion: "kubeflow.org/v1",
        kind: "Profile",
        name: "alice",
        uid: "u-1",
        state: "applied",
      },
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        namespace: "alice",
        name: "data",
        uid: "u-2",
        state: "kept",
        reason: "holds data",
      },
      {
        apiVersion: "kubeflow.org/v1alpha1",
        kind: "PodDefault",
        namespace: "alice",
        name: "access-ml-pipeline",
        state: "pending",
      },
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: "kfplan-system",
        name: "x",
        state: "applied",
      },
    ],
  };
}

Deno.test("the parent Secret round-trips and carries the ApplySet hints, sorted", () => {
  const inventory = sample();
  const parent = inventoryParent(inventory);
  assertEquals(parent.metadata.name, "kfplan.users");
  assertEquals(parent.metadata.namespace, "kfplan-system");
  assertEquals(
    parent.metadata.labels?.[APPLYSET_ID_LABEL],
    inventory.applySetId,
  );
  assertEquals(
    parent.metadata.annotations?.[TOOLING_ANNOTATION],
    `kfplan/${denoJson.version}`,
  );
  assertEquals(KFPLAN_TOOLING, `kfplan/${denoJson.version}`);
  assertEquals(
    parent.metadata.annotations?.[CONTAINS_GROUP_KINDS_ANNOTATION],
    "ConfigMap,PersistentVolumeClaim,PodDefault.kubeflow.org,Profile.kubeflow.org",
  );
  // Its own namespace is not "additional".
  assertEquals(
    parent.metadata.annotations?.[ADDITIONAL_NAMESPACES_ANNOTATION],
    "alice",
  );
  const stored = JSON.parse(
    atob((parent.data as Record<string, string>)[INVENTORY_DATA_KEY]),
  );
  assertEquals(stored.format_version, 1);
  assertEquals(stored.step, "users");
  assertEquals(stored.kfplan_version, denoJson.version);
  assertEquals(
    stored.entries.find((e: { name: string }) => e.name === "data"),
    {
      group: "",
      version: "v1",
      kind: "PersistentVolumeClaim",
      namespace: "alice",
      name: "data",
      uid: "u-2",
      state: "kept",
      reason: "holds data",
    },
  );
  const back = decodeInventory(parent);
  assertEquals(
    back.entries.map(memberKey).sort(),
    inventory.entries.map(memberKey).sort(),
  );
  assertEquals(
    back.entries.find((e) => e.kind === "PodDefault"),
    inventory.entries[2],
  );
  assertEquals(back.applySetId, inventory.applySetId);
  assertEquals(inventoryJson(back), inventoryJson(inventory));
});

Deno.test("a member keeps its identity across API versions", () => {
  assertEquals(
    memberKey({
      apiVersion: "kubeflow.org/v1beta1",
      kind: "Profile",
      name: "a",
    }),
    memberKey({ apiVersion: "kubeflow.org/v1", kind: "Profile", name: "a" }),
  );
  const member = withPartOf({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "x", labels: { app: "y" } },
  }, "applyset-abc-v1");
  assertEquals(member.metadata.labels, {
    app: "y",
    [PART_OF_LABEL]: "applyset-abc-v1",
  });
});

function withData(parent: KubeObject, json: string): KubeObject {
  return { ...parent, data: { [INVENTORY_DATA_KEY]: btoa(json) } };
}

Deno.test("a bad parent is an error naming the Secret and what is wrong", () => {
  const parent = inventoryParent(sample());
  const cases: [KubeObject, RegExp][] = [
    [withData(parent, "{not json"), /is not JSON/],
    [
      withData(parent, JSON.stringify({ format_version: 9, step: "users" })),
      /format_version 9 is not supported.*reads format_version 1/,
    ],
    [
      withData(
        parent,
        JSON.stringify({
          format_version: 1,
          step: "users",
          entries: [{
            group: "",
            version: "v1",
            kind: "ConfigMap",
            name: "a",
            state: "gone",
          }],
        }),
      ),
      /entries\[0\]\.state is "gone"; valid: pending, applied, kept/,
    ],
    [
      {
        ...parent,
        metadata: {
          ...parent.metadata,
          labels: { [APPLYSET_ID_LABEL]: "applyset-forged-v1" },
        },
      },
      /applyset-forged-v1.*not applyset-/,
    ],
    [
      {
        ...parent,
        metadata: {
          ...parent.metadata,
          annotations: { [TOOLING_ANNOTATION]: "kubectl/v1.33" },
        },
      },
      /belongs to another tool/,
    ],
  ];
  for (const [bad, pattern] of cases) {
    const e = throws(() => decodeInventory(bad));
    assert(e instanceof InventoryError, e.message);
    assertMatch(e.message, /^inventory Secret kfplan-system\/kfplan\.users: /);
    assertMatch(e.message, pattern);
  }
});

Deno.test("write, read, list and delete an inventory in the cluster", async () => {
  const cluster = await useCluster();
  // A state namespace of this test's own: the control plane is shared.
  const namespace = `kfplan-inv-${crypto.randomUUID().slice(0, 8)}`;
  const options = { namespace };
  try {
    assertEquals(
      await readInventory(cluster.kube, "users", options),
      undefined,
    );
    const first = await writeInventory(cluster.kube, {
      ...sample(),
      applySetId: applySetIdOf("users", options),
    }, options);
    assert(first.resourceVersion);
    const read = await readInventory(cluster.kube, "users", options);
    assertEquals(read?.entries, first.entries);
    assertEquals(read?.resourceVersion, first.resourceVersion);

    // A conditional write on a stale resourceVersion is refused (409).
    const second = await writeInventory(cluster.kube, {
      ...read!,
      entries: read!.entries.filter((e) => e.state !== "pending"),
    }, options);
    await rejects(
      () => writeInventory(cluster.kube, read!, options),
      Error,
      "409",
    );
    assertEquals(
      (await readInventory(cluster.kube, "users", options))?.entries.length,
      3,
    );

    // What `kubectl get secret -n <ns> -l applyset.kubernetes.io/id` lists.
    const parents = await cluster.kube.list("v1", "Secret", {
      namespace,
      labelSelector: APPLYSET_ID_LABEL,
    });
    assertEquals(parents.map((p) => p.metadata.name), ["kfplan.users"]);
    assertEquals(
      (await listInventories(cluster.kube, options)).map((i) => i.step),
      [
        "users",
      ],
    );
    assert(second.resourceVersion !== first.resourceVersion);

    // Another installation's set in the same namespace, with the same step id:
    // each installation lists only its own.
    const teamA = { namespace, installation: "team-a" };
    await writeInventory(cluster.kube, {
      ...sample(),
      applySetId: applySetIdOf("users", teamA),
    }, teamA);
    assertEquals(
      (await listInventories(cluster.kube, options)).map((i) => i.applySetId),
      [applySetIdOf("users", options)],
    );
    assertEquals(
      (await listInventories(cluster.kube, teamA)).map((i) => i.applySetId),
      [applySetIdOf("users", teamA)],
    );
    await deleteInventory(cluster.kube, "users", teamA);

    // A corrupted parent: the read names it.
    const live = await cluster.kube.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace,
      name: "kfplan.users",
    });
    await cluster.kube.replace(withData(live!, "[1,"));
    const e = await rejects(() =>
      readInventory(cluster.kube, "users", options)
    );
    assertMatch(e.message, new RegExp(`Secret ${namespace}/kfplan.users: `));

    await deleteInventory(cluster.kube, "users", options);
    assertEquals(await listInventories(cluster.kube, options), []);
  } finally {
    await cluster.kube.delete({
      apiVersion: "v1",
      kind: "Namespace",
      name: namespace,
    });
  }
});
