/**
 * Drift, conflicts and replacements through the real CLI, engine and cluster, with a
 * small step built from the same library calls the Kubeflow step makes
 * (`planObjects` with conflict checks, `applyObjects` replacing immutable changes):
 *
 * - out-of-band changes (a Deployment scaled and a ConfigMap edited under other field
 *   managers, a Service deleted): `plan --refresh-only` exits 2 and names them, a
 *   config change alone is not drift (exit 0), apply repairs, refresh-only exits 0;
 * - a field of a pre-existing object another manager owns blocks apply until
 *   `--force-conflicts`;
 * - a changed Deployment selector plans as `-/+` naming the field and is replaced;
 *   a PVC's changed storage class is refused naming the PVC and the field.
 */

import { tempDir } from "../_shared.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { toolPath, useCluster } from "../cluster/harness.ts";
import { applyCommand } from "../../lib/cli/apply.ts";
import { planCommand } from "../../lib/cli/plan.ts";
import { cliSession } from "./_cli_session.ts";
import { emptyPlan, type Step } from "../../lib/engine/types.ts";
import { digestOf } from "../../lib/engine/digest.ts";
import {
  applyObjects,
  conflictWarnings,
  planObjects,
  refuseBlockedConflicts,
} from "../../lib/kube/apply_set.ts";
import { createKubeClient } from "../../lib/kube/client.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import type { DriftReport } from "../../lib/engine/drift.ts";
import type { PlanDocument } from "../../lib/engine/plan_document.ts";

/** A step owning `objects`, planned and applied as the Kubeflow step does. */
function manifestsStep(id: string, objects: KubeObject[]): Step {
  return {
    id,
    title: `manifests ${id}`,
    needs: [],
    options: { objects },
    async plan(ctx) {
      const planned = await planObjects(ctx.kube, objects, {
        checkConflicts: true,
        forceConflicts: ctx.policy?.forceConflicts,
        allowDataLoss: ctx.policy?.allowDataLoss,
        signal: ctx.signal,
      });
      return {
        ...emptyPlan(),
        changes: planned.changes,
        observed: planned.observed,
        warnings: conflictWarnings(planned.changes),
        desired: objects,
        desiredDigest: digestOf(objects),
      };
    },
    async apply(ctx, plan) {
      refuseBlockedConflicts(plan.changes);
      const result = await applyObjects(ctx.kube!, plan.desired ?? objects, {
        replaceImmutable: true,
        allowDataLoss: ctx.policy?.allowDataLoss,
        timeoutMs: 60_000,
        signal: ctx.signal,
      });
      return { applied: result.applied.length };
    },
    verify() {
      return Promise.resolve({ checks: [] });
    },
  };
}

function deployment(ns: string, app: string, replicas = 1): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: { app } },
        spec: { containers: [{ name: "web", image: "nginx:1.27" }] },
      },
    },
  };
}

function service(ns: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: ns },
    spec: { selector: { app: "web" }, ports: [{ port: 80 }] },
  };
}

function configMap(ns: string, name: string, value: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: ns },
    data: { mode: value },
  };
}

async function setup(prefix: string) {
  const cluster = await useCluster();
  const ns = await cluster.namespace(prefix);
  const work = await tempDir();
  const run = cliSession(cluster, ns, work.path);
  return { cluster, ns, work, run };
}

Deno.test("drift: refresh-only reports scaled, edited and deleted objects (exit 2), apply repairs them", async () => {
  const { cluster, ns, work, run } = await setup("kfplan-drift");
  await using _work = work;
  const kube = cluster.kube;
  // Another tool, as `kubectl scale` / `kubectl edit` would write.
  const other = createKubeClient({
    kubeconfig: cluster.kubeconfig,
    fieldManager: "kubectl-edit",
  });
  const objects = [
    deployment(ns, "web"),
    service(ns),
    configMap(ns, "settings", "fast"),
  ];
  const steps = [manifestsStep("app", objects)];
  const applied = await run(applyCommand, steps, ["--yes"]);
  assertEquals(applied.code, 0, applied.err);

  const clean = await run(planCommand, steps, ["--refresh-only"]);
  assertEquals(clean.code, 0, clean.err + clean.out);
  assertMatch(clean.out, /No drift/);

  const ref = (kind: string, name: string) => ({
    apiVersion: kind === "Deployment" ? "apps/v1" : "v1",
    kind,
    namespace: ns,
    name,
  });
  // `kubectl scale` writes the scale subresource: spec.replicas moves to the
  // field manager "kubectl" (subresource scale).
  const scaled = await new Deno.Command(await toolPath("kubectl"), {
    args: [
      "--kubeconfig",
      cluster.kubeconfig,
      "-n",
      ns,
      "scale",
      "deployment/web",
      "--replicas=3",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(scaled.success, new TextDecoder().decode(scaled.stderr));
  const cm = await kube.get(ref("ConfigMap", "settings"));
  await other.replace({ ...cm!, data: { mode: "edited-by-hand" } });
  assert(await kube.delete(ref("Service", "web")));
  await kube.waitFor(ref("Service", "web"), (o) => o ? "exists" : true, {
    timeoutMs: 30_000,
  });

  const drift = await run(planCommand, steps, ["--refresh-only"]);
  assertEquals(drift.code, 2, drift.err + drift.out);
  assertMatch(drift.out, /Deployment .*\/web: changed out of band/);
  assertMatch(drift.out, /spec\.replicas: 3 -> 1/);
  assertMatch(drift.out, /ConfigMap .*\/settings: changed out of band/);
  assertMatch(drift.out, /Service .*\/web: deleted out of band/);
  const json = await run(planCommand, steps, ["--refresh-only", "--json"]);
  assertEquals(json.code, 2);
  const report = JSON.parse(json.out) as DriftReport;
  assertEquals(report.drifted, 3);
  assertEquals(
    report.steps[0].changes.map((c) => `${c.action} ${c.kind}`).sort(),
    ["create Service", "update ConfigMap", "update Deployment"],
  );

  // The full plan names the manager the repair takes the fields back from.
  const full = await run(planCommand, steps, ["--json"]);
  assertEquals(full.code, 2, full.err);
  const doc = JSON.parse(full.out) as PlanDocument;
  const scaledChange = doc.steps[0].changes.find((c) =>
    c.kind === "Deployment"
  );
  assertMatch(scaledChange?.reason ?? "", /drift repair.*"kubectl"\)/);

  // A config change alone is not drift.
  const changed = [manifestsStep("app", [
    ...objects.slice(0, 2),
    configMap(ns, "settings", "slow"),
  ])];
  const repaired = await run(applyCommand, steps, ["--yes"]);
  assertEquals(repaired.code, 0, repaired.err + repaired.out);
  assertEquals(
    ((await kube.get(ref("Deployment", "web")))?.spec as { replicas: number })
      .replicas,
    1,
  );
  assertEquals(
    (await kube.get(ref("ConfigMap", "settings")))?.data,
    { mode: "fast" },
  );
  assert(await kube.get(ref("Service", "web")), "the Service is back");
  const after = await run(planCommand, steps, ["--refresh-only"]);
  assertEquals(after.code, 0, after.out);
  const configOnly = await run(planCommand, changed, ["--refresh-only"]);
  assertEquals(configOnly.code, 0, configOnly.out);
  assertEquals((await run(planCommand, changed, [])).code, 2);
});

Deno.test("conflicts: a pre-existing object's field another manager owns blocks apply until --force-conflicts", async () => {
  const { cluster, ns, work, run } = await setup("kfplan-conflict");
  await using _work = work;
  const helm = createKubeClient({
    kubeconfig: cluster.kubeconfig,
    fieldManager: "helm",
  });
  await helm.apply(configMap(ns, "shared", "theirs"));
  const steps = [manifestsStep("app", [configMap(ns, "shared", "ours")])];

  const plan = await run(planCommand, steps, ["--json"]);
  assertEquals(plan.code, 2, plan.err);
  const doc = JSON.parse(plan.out) as PlanDocument;
  const change = doc.steps[0].changes[0];
  assertMatch(change.reason ?? "", /data\.mode \(field manager "helm"\)/);
  assertMatch(change.reason ?? "", /--force-conflicts/);
  assert(doc.steps[0].warnings.some((w) => w.includes("--force-conflicts")));

  const refused = await run(applyCommand, steps, ["--yes"]);
  assertEquals(refused.code, 1);
  assertMatch(
    refused.out + refused.err,
    /apply refused.*"helm".*--force-conflicts/s,
  );
  const ref = {
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: ns,
    name: "shared",
  };
  assertEquals((await cluster.kube.get(ref))?.data, { mode: "theirs" });

  const forced = await run(applyCommand, steps, ["--yes", "--force-conflicts"]);
  assertEquals(forced.code, 0, forced.err + forced.out);
  assertEquals((await cluster.kube.get(ref))?.data, { mode: "ours" });
});

Deno.test("replace: a changed Deployment selector is -/+ naming the field; a PVC's storage class is refused", async () => {
  const { cluster, ns, work, run } = await setup("kfplan-replace");
  await using _work = work;
  const kube = cluster.kube;
  const first = [manifestsStep("app", [deployment(ns, "web")])];
  assertEquals((await run(applyCommand, first, ["--yes"])).code, 0);
  const ref = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    namespace: ns,
    name: "web",
  };
  const uid = (await kube.get(ref))?.metadata.uid;

  const moved = [manifestsStep("app", [deployment(ns, "web-v2")])];
  const plan = await run(planCommand, moved, []);
  assertEquals(plan.code, 2, plan.err);
  assertMatch(plan.out, /-\/\+.*Deployment/);
  assertMatch(
    plan.out,
    /immutable field spec\.selector\.matchLabels\.app changes/,
  );
  assertMatch(plan.out, /1 to replace/);
  const applied = await run(applyCommand, moved, ["--yes"]);
  assertEquals(applied.code, 0, applied.err + applied.out);
  const live = await kube.get(ref);
  assert(live?.metadata.uid !== uid, "re-created");
  assertEquals(
    (live?.spec as { selector: unknown }).selector,
    { matchLabels: { app: "web-v2" } },
  );

  const pvc = (storageClassName: string): KubeObject => ({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data", namespace: ns },
    spec: {
      storageClassName,
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "1Gi" } },
    },
  });
  assertEquals(
    (await run(applyCommand, [manifestsStep("data", [pvc("slow")])], [
      "--yes",
    ])).code,
    0,
  );
  const refused = await run(
    planCommand,
    [manifestsStep("data", [pvc("fast")])],
    [],
  );
  assertEquals(refused.code, 1);
  assertMatch(
    refused.out + refused.err,
    /PersistentVolumeClaim .*\/data \(v1\): spec\.storageClassName cannot change in place.*--allow-data-loss/,
  );
});
