import { tempDir } from "../_shared.ts";
import { assert, assertEquals, assertMatch, rejects } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import { applySteps } from "../../lib/engine/executor.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import {
  parsePlanDocument,
  serializePlanDocument,
} from "../../lib/engine/plan_document.ts";
import { StalePlanError } from "../../lib/engine/saved_plan.ts";
import { configMapStep } from "./_configmap_step.ts";

const lease = (name: string) => ({ namespace: "kube-system", name });

Deno.test("a saved plan applies when nothing changed, and is refused naming the object when it did", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("kfplan-saved");
  await using work = await tempDir();
  const dir = work.path;
  const steps = [
    configMapStep("one", { namespace: ns, name: "one", data: { a: "1" } }),
    configMapStep("two", { namespace: ns, name: "two", data: { b: "2" } }, {
      needs: ["one"],
    }),
  ];
  const lock = lease(`kfplan-lock-${ns}`);

  // A plan made against the cluster applies as is.
  const { document: first } = await planSteps(steps, {
    kube: cluster.kube,
    checkpointDir: dir,
  });
  assertEquals(first.cluster.offline, false);
  const saved = parsePlanDocument(serializePlanDocument(first));
  const ok = await applySteps(steps, {
    kube: cluster.kube,
    checkpointDir: dir,
    savedPlan: saved,
    lock,
  });
  assert(ok.ok, JSON.stringify(ok.summary));

  // Plan an update, then change the object behind the plan's back.
  const changed = [
    configMapStep("one", { namespace: ns, name: "one", data: { a: "10" } }),
    configMapStep("two", { namespace: ns, name: "two", data: { b: "2" } }, {
      needs: ["one"],
    }),
  ];
  const { document: second } = await planSteps(changed, {
    kube: cluster.kube,
    checkpointDir: dir,
  });
  assertEquals(second.summary.update, 1);
  const live = await cluster.kube.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: ns,
    name: "one",
  });
  await cluster.kube.replace({ ...live!, data: { a: "someone else" } });
  const stale = await rejects(
    () =>
      applySteps(changed, {
        kube: cluster.kube,
        checkpointDir: dir,
        savedPlan: second,
        savedPlanSource: "plan.json",
        lock,
      }),
    StalePlanError,
  );
  assertMatch(stale.message, /refusing to apply plan\.json/);
  assertMatch(
    stale.message,
    new RegExp(
      `one: v1 ConfigMap ${ns}/one changed since the plan \\(resourceVersion \\d+ -> \\d+\\)`,
    ),
  );
  const after = await cluster.kube.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: ns,
    name: "one",
  });
  assertEquals(
    after?.data,
    { a: "someone else" },
    "a refused apply writes nothing",
  );

  // An object that appears after the plan is named too.
  const extra = [
    ...changed,
    configMapStep("three", { namespace: ns, name: "three", data: { c: "3" } }),
  ];
  const { document: third } = await planSteps(extra, {
    kube: cluster.kube,
    checkpointDir: dir,
  });
  await cluster.kube.apply({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "three", namespace: ns },
    data: { c: "x" },
  });
  const appeared = await rejects(
    () =>
      applySteps(extra, {
        kube: cluster.kube,
        checkpointDir: dir,
        savedPlan: third,
        lock,
      }),
    StalePlanError,
  );
  assertMatch(
    appeared.message,
    new RegExp(`three: v1 ConfigMap ${ns}/three appeared since the plan`),
  );
  assertMatch(appeared.message, /planned create, now update/);
});

Deno.test("a saved plan for another cluster or with changed options is refused", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("kfplan-saved2");
  await using work = await tempDir();
  const dir = work.path;
  const steps = [
    configMapStep("one", { namespace: ns, name: "one", data: { a: "1" } }),
  ];
  const { document } = await planSteps(steps, {
    kube: cluster.kube,
    checkpointDir: dir,
  });
  const lock = lease(`kfplan-lock-${ns}`);
  const other = {
    ...document,
    cluster: {
      offline: false as const,
      server: "https://elsewhere:6443",
      context: "prod",
    },
  };
  const e1 = await rejects(
    () =>
      applySteps(steps, {
        kube: cluster.kube,
        checkpointDir: dir,
        savedPlan: other,
        lock,
      }),
    StalePlanError,
  );
  assertMatch(
    e1.message,
    /made for another cluster: it belongs to cluster prod \(https:\/\/elsewhere:6443\)/,
  );
  const changed = [
    configMapStep("one", { namespace: ns, name: "one", data: { a: "2" } }),
  ];
  const e2 = await rejects(
    () =>
      applySteps(changed, {
        kube: cluster.kube,
        checkpointDir: dir,
        savedPlan: document,
        lock,
      }),
    StalePlanError,
  );
  assertMatch(e2.message, /one: options changed since the plan/);
  assertMatch(e2.message, /desired state changed since the plan/);
  const offline = (await planSteps(steps, { offlineReason: "test" })).document;
  const e3 = await rejects(
    () =>
      applySteps(steps, {
        kube: cluster.kube,
        checkpointDir: dir,
        savedPlan: offline,
        lock,
      }),
    StalePlanError,
  );
  assertMatch(e3.message, /made offline .*Plan against the cluster first/);
});

Deno.test("a rotated secret behind an unchanged option reference re-applies a verified step", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("kfplan-rotate");
  await using work = await tempDir();
  const dir = work.path;
  const lock = lease(`kfplan-lock-${ns}`);
  // The options hold only a reference ({ env }), as secret options do; the value the
  // step reads from it is what changes.
  function step(token: string) {
    const base = configMapStep("rot", {
      namespace: ns,
      name: "rot",
      data: { token },
    });
    return { ...base, options: { token: { env: "KF_TOKEN" } } };
  }
  async function planAndApply(token: string) {
    const { document } = await planSteps([step(token)], {
      kube: cluster.kube,
      checkpointDir: dir,
    });
    return await applySteps([step(token)], {
      kube: cluster.kube,
      checkpointDir: dir,
      savedPlan: parsePlanDocument(serializePlanDocument(document)),
      lock,
    });
  }
  const ref = {
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: ns,
    name: "rot",
  };

  assert((await planAndApply("first")).ok);
  const unchanged = await planAndApply("first");
  assertEquals(unchanged.summary.skipped, ["rot"]);

  const rotated = await planAndApply("second");
  assertEquals(rotated.summary.done, ["rot"]);
  assertEquals((await cluster.kube.get(ref))?.data, { token: "second" });
});
