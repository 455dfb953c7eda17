import { assert, assertEquals, assertMatch, rejects } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import { freePort } from "../_shared.ts";
import {
  connect,
  createKubeClient,
  FIELD_MANAGER,
} from "../../lib/kube/client.ts";
import { KubeApiError, WaitTimeoutError } from "../../lib/kube/errors.ts";
import { planObjects } from "../../lib/kube/apply_set.ts";
import type { KubeObject } from "../../lib/kube/types.ts";

Deno.test("connect() reaches the test cluster and reports its version", async () => {
  const { kubeconfig } = await useCluster();
  const result = await connect({ kubeconfig });
  assert("kube" in result, JSON.stringify(result));
  const version = await result.kube.serverVersion();
  assertEquals([version.major, version.minor], [1, 33]);
  assertMatch(version.gitVersion, /^v1\.33\.\d+$/);
  const served = await result.kube.servedApiVersions();
  for (
    const gv of [
      "v1",
      "apps/v1",
      "apiextensions.k8s.io/v1",
      "discovery.k8s.io/v1",
    ]
  ) {
    assert(served.has(gv), `${gv} not served`);
  }
  assertEquals(await result.kube.resourceFor("apps/v1", "Deployment"), {
    apiVersion: "apps/v1",
    kind: "Deployment",
    resource: "deployments",
    namespaced: true,
  });
  assertEquals(
    (await result.kube.resourceFor("v1", "Namespace"))?.namespaced,
    false,
  );
  assertEquals(
    await result.kube.resourceFor("example.invalid/v1", "Nope"),
    undefined,
  );
});

Deno.test("connect() is offline when the server does not answer, and rejects unknown contexts", async () => {
  const { kubeconfig } = await useCluster();
  const text = await Deno.readTextFile(kubeconfig);
  const port = freePort();
  const dead = await Deno.makeTempFile({ suffix: ".kubeconfig" });
  try {
    await Deno.writeTextFile(
      dead,
      text.replace(
        /https:\/\/[0-9.]+:\d+/,
        `https://127.0.0.1:${port}`,
      ),
    );
    const result = await connect({ kubeconfig: dead, timeoutMs: 2000 });
    assert("offline" in result, "expected offline");
    assertMatch(result.offline, /kfplan-test.*unreachable/);
    const err = await rejects(
      () => connect({ kubeconfig, context: "nope" }),
      Error,
    );
    assertMatch(
      err.message,
      /context "nope" does not exist.*contexts: kfplan-test/,
    );
  } finally {
    await Deno.remove(dead);
  }
});

Deno.test("server-side apply records the kfplan field manager; create and replace report 409", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("crud");
  const cm: KubeObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "settings", namespace: ns },
    data: { mode: "a" },
  };
  const applied = await kube.apply(cm);
  const managers =
    (applied.metadata.managedFields as { manager: string; operation: string }[])
      .map((m) => `${m.manager}:${m.operation}`);
  assert(managers.includes(`${FIELD_MANAGER}:Apply`), managers.join(","));

  const exists = await rejects(() => kube.create(cm), KubeApiError);
  assertEquals([exists.status, exists.reason], [409, "AlreadyExists"]);
  assertEquals(exists.ref?.name, "settings");

  const live = (await kube.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: ns,
    name: "settings",
  }))!;
  const replaced = await kube.replace({ ...live, data: { mode: "b" } });
  assertEquals(replaced.data, { mode: "b" });
  const stale = await rejects(
    () => kube.replace({ ...live, data: { mode: "c" } }),
    KubeApiError,
  );
  assertEquals(stale.status, 409);

  assertEquals(
    await kube.delete({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: ns,
      name: "settings",
    }),
    true,
  );
  assertEquals(
    await kube.delete({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: ns,
      name: "settings",
    }),
    false,
  );
  assertEquals(
    await kube.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: ns,
      name: "settings",
    }),
    undefined,
  );
});

Deno.test("server-side dry-run diff reports field changes and no-ops, and persists nothing", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("diff");
  const deploy: KubeObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "api", namespace: ns, labels: { tier: "web" } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "api" } },
      template: {
        metadata: { labels: { app: "api" } },
        spec: { containers: [{ name: "api", image: "example/api:1.0" }] },
      },
    },
  };
  assertEquals((await kube.diff(deploy)).action, "create");
  await kube.apply(deploy);
  const same = await kube.diff(deploy);
  assertEquals([same.action, same.diff], ["no-op", []]);

  const changed = structuredClone(deploy);
  // deno-lint-ignore no-explicit-any
  const spec = changed.spec as any;
  spec.replicas = 3;
  spec.template.spec.containers[0].image = "example/api:1.1";
  changed.metadata.labels = { tier: "web", team: "ml" };
  const d = await kube.diff(changed);
  assertEquals(d.action, "update");
  assertEquals(d.diff, [
    { path: "metadata.labels.team", after: "ml" },
    { path: "spec.replicas", before: 1, after: 3 },
    {
      path: "spec.template.spec.containers[0].image",
      before: "example/api:1.0",
      after: "example/api:1.1",
    },
  ]);
  const live = await kube.get({
    apiVersion: "apps/v1",
    kind: "Deployment",
    namespace: ns,
    name: "api",
  });
  // deno-lint-ignore no-explicit-any
  assertEquals((live?.spec as any).replicas, 1, "dry-run must not persist");

  const plan = await planObjects(kube, [changed], {});
  assertEquals(plan.changes[0].action, "update");
  // The resourceVersion moves whenever a controller writes status; the uid does not.
  assertEquals(plan.observed[0].uid, live?.metadata.uid);
  assertMatch(plan.observed[0].resourceVersion ?? "", /^\d+$/);
});

Deno.test("Secret diffs are redacted: digests and sensitive, never the values", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("secret");
  const secret = (password: string): KubeObject => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "db", namespace: ns },
    stringData: { password, user: "admin" },
  });
  await kube.apply(secret("hunter2-old"));
  const d = await kube.diff(secret("hunter2-new"));
  assertEquals(d.action, "update");
  assertEquals(d.diff.map((e) => [e.path, e.sensitive]), [[
    "data.password",
    true,
  ]]);
  // No digest of the value at all: the kube layer has no installation key.
  assertEquals([d.diff[0].before, d.diff[0].after], [
    "(sensitive)",
    "(sensitive)",
  ]);
  const everything = JSON.stringify(d);
  for (const leak of ["hunter2", btoa("hunter2-old"), btoa("hunter2-new")]) {
    assert(!everything.includes(leak), `diff leaks ${leak}`);
  }
});

Deno.test("waitFor times out naming the object and the last state", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("wait");
  const err = await rejects(
    () =>
      kube.waitFor(
        { apiVersion: "v1", kind: "ConfigMap", namespace: ns, name: "never" },
        (o) => o ? true : "does not exist",
        { timeoutMs: 300, intervalMs: 50 },
      ),
    WaitTimeoutError,
  );
  assertMatch(
    err.message,
    new RegExp(`ConfigMap ${ns}/never .*last state: does not exist`),
  );
});

Deno.test("list pages through results and fills in apiVersion and kind", async () => {
  const { kubeconfig, namespace } = await useCluster();
  const kube = createKubeClient({ kubeconfig });
  try {
    const ns = await namespace("list");
    // The client asks for pages of 500 and has no option to make them smaller, so
    // only more than 500 items prove that it follows `continue`: 2 pages here.
    const count = 520;
    const names = Array.from(
      { length: count },
      (_, i) => `c${String(i).padStart(3, "0")}`,
    );
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(
        names.slice(i, i + 20).map((name) =>
          kube.create({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name, namespace: ns, labels: { set: "x" } },
          })
        ),
      );
    }
    const items = await kube.list("v1", "ConfigMap", {
      namespace: ns,
      labelSelector: "set=x",
    });
    assertEquals(items.length, count);
    assertEquals(items.map((i) => i.metadata.name).sort(), names);
    assert(items.every((i) => i.apiVersion === "v1" && i.kind === "ConfigMap"));
    const unknown = await rejects(
      () => kube.list("example.invalid/v1", "Nope"),
      KubeApiError,
    );
    assertEquals(unknown.reason, "KindNotServed");
  } finally {
    kube.close();
  }
});
