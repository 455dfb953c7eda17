/**
 * Drift of a Helm-installed step through the real CLI, engine, helm and cluster: a
 * step built from the same library calls the shipped Helm steps make (`planRelease`,
 * `applyRelease` with the planned objects, `verifyRelease`) installs a small local
 * chart (a Deployment, a ConfigMap, a Service). Helm applies these objects, so the
 * engine's apply records never see them: the drift comes from the step's plan of
 * its inventory while its configuration is unchanged.
 *
 * Out of band, the Deployment is scaled with `kubectl scale`, the ConfigMap is
 * edited under another field manager and the Service is deleted: `plan
 * --refresh-only` exits 2 and names the three, `apply` repairs them in one pass
 * (`helm upgrade`'s three-way merge restores the fields and creates the deleted
 * Service again) and verify passes, after which refresh-only exits 0. A change of
 * the chart's values alone is not drift. The shipped storage step (NFS provisioner
 * chart, a non-default class, no probe) shows the same with its own objects: its
 * Deployment scaled, its StorageClass edited, its ServiceAccount deleted.
 */

import { join } from "node:path";
import { tempDir } from "../_shared.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { toolPath, useCluster } from "../cluster/harness.ts";
import { applyCommand } from "../../lib/cli/apply.ts";
import { planCommand } from "../../lib/cli/plan.ts";
import { cliSession } from "./_cli_session.ts";
import type { Step } from "../../lib/engine/types.ts";
import type { DriftReport } from "../../lib/engine/drift.ts";
import type { PlanDocument } from "../../lib/engine/plan_document.ts";
import { createKubeClient } from "../../lib/kube/client.ts";
import {
  applyRelease,
  type HelmReleaseEnv,
  type HelmReleaseSpec,
  planRelease,
  splitDesired,
  uninstallRelease,
  verifyRelease,
} from "../../lib/steps/helm_release.ts";
import { findHelm, type Helm } from "../../lib/tools/helm.ts";
import { storageStep } from "../../lib/steps/storage.ts";
import type { TestCluster } from "../cluster/harness.ts";
import type { StepContext } from "../../lib/engine/types.ts";
import { sharedChart } from "../_shared.ts";

/** A chart of one Deployment, one ConfigMap and one Service, written to `dir`. */
async function writeChart(dir: string): Promise<string> {
  const chart = join(dir, "drift-app");
  await Deno.mkdir(join(chart, "templates"), { recursive: true });
  await Deno.writeTextFile(
    join(chart, "Chart.yaml"),
    "apiVersion: v2\nname: drift-app\nversion: 0.1.0\n",
  );
  await Deno.writeTextFile(
    join(chart, "values.yaml"),
    "replicas: 1\nmode: fast\n",
  );
  await Deno.writeTextFile(
    join(chart, "templates", "app.yaml"),
    `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:1.27
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: {{ .Values.mode | quote }}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
    - port: 80
`,
  );
  return chart;
}

/** A step installing `spec` as the shipped Helm steps do (see `lib/steps/storage.ts`). */
function helmStep(
  id: string,
  spec: HelmReleaseSpec,
  env: HelmReleaseEnv,
): Step {
  return {
    id,
    title: `helm release ${spec.release}`,
    needs: [],
    options: { chart: spec.chart, values: spec.values },
    async plan(ctx) {
      const { rendered: _rendered, ...plan } = await planRelease(
        ctx,
        spec,
        env,
      );
      return plan;
    },
    async apply(ctx, plan) {
      return await applyRelease(ctx, spec, {
        ...env,
        desired: plan.desired ? splitDesired(spec, plan.desired) : undefined,
        changes: plan.changes,
      });
    },
    async verify(ctx, plan) {
      return {
        checks: await verifyRelease(ctx, spec, {
          ...env,
          timeoutMs: 120_000,
          manifest: plan?.desired
            ? splitDesired(spec, plan.desired).manifest
            : undefined,
        }),
      };
    },
    async uninstall(ctx) {
      await uninstallRelease(ctx, spec, env);
    },
  };
}

/** `kubectl scale` of a Deployment: it writes the scale subresource, as people do. */
async function kubectlScale(
  cluster: TestCluster,
  at: { namespace: string; name: string; replicas: number },
): Promise<void> {
  const scaled = await new Deno.Command(await toolPath("kubectl"), {
    args: [
      "--kubeconfig",
      cluster.kubeconfig,
      "-n",
      at.namespace,
      "scale",
      `deployment/${at.name}`,
      `--replicas=${at.replicas}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(scaled.success, new TextDecoder().decode(scaled.stderr));
}

/** Another tool's client, as `kubectl edit` writes. */
function otherManager(cluster: TestCluster) {
  return createKubeClient({
    kubeconfig: cluster.kubeconfig,
    fieldManager: "kubectl-edit",
  });
}

/** A quiet step context, for uninstalling afterwards. */
function quietContext(cluster: TestCluster, workDir: string): StepContext {
  return {
    kube: cluster.kube,
    offline: false,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir,
    signal: new AbortController().signal,
  };
}

/** Removes a release and its namespace (whatever the test left). */
async function removeRelease(
  cluster: TestCluster,
  release: {
    spec: Pick<HelmReleaseSpec, "release" | "namespace">;
    helm: Helm;
    workDir: string;
  },
): Promise<void> {
  await uninstallRelease(
    quietContext(cluster, release.workDir),
    release.spec,
    { kubeconfig: cluster.kubeconfig, helm: release.helm },
  ).catch(() => false);
  await cluster.kube.delete({
    apiVersion: "v1",
    kind: "Namespace",
    name: release.spec.namespace,
  }).catch(() => false);
}

Deno.test({
  name:
    "drift of a Helm step: refresh-only reports scaled, edited and deleted objects (exit 2), one apply repairs them",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await useCluster();
    const kube = cluster.kube;
    const helm = await findHelm();
    await using work = await tempDir("kfplan-drift-helm-");
    const ns = `kfplan-drift-helm-${crypto.randomUUID().slice(0, 6)}`;
    const spec: HelmReleaseSpec = {
      release: "drift-app",
      namespace: ns,
      chart: { path: await writeChart(work.path) },
      values: { replicas: 1, mode: "fast" },
    };
    const env: HelmReleaseEnv = { kubeconfig: cluster.kubeconfig, helm };
    const steps = [helmStep("app", spec, env)];
    const run = cliSession(cluster, ns, join(work.path, "state"));
    const ref = (kind: string, name: string) => ({
      apiVersion: kind === "Deployment" ? "apps/v1" : "v1",
      kind,
      namespace: ns,
      name,
    });
    try {
      const applied = await run(applyCommand, steps, ["--yes"]);
      assertEquals(applied.code, 0, applied.err + applied.out);
      const clean = await run(planCommand, steps, ["--refresh-only"]);
      assertEquals(clean.code, 0, clean.err + clean.out);
      assertMatch(clean.out, /No drift/);

      await kubectlScale(cluster, { namespace: ns, name: "web", replicas: 3 });
      const cm = await kube.get(ref("ConfigMap", "settings"));
      await otherManager(cluster).replace({
        ...cm!,
        data: { mode: "edited-by-hand" },
      });
      assert(await kube.delete(ref("Service", "web")));
      await kube.waitFor(ref("Service", "web"), (o) => o ? "exists" : true, {
        timeoutMs: 60_000,
      });

      const drift = await run(planCommand, steps, ["--refresh-only"]);
      assertEquals(drift.code, 2, drift.err + drift.out);
      assertMatch(drift.out, /Deployment .*\/web: changed out of band/);
      assertMatch(drift.out, /spec\.replicas: 3 -> 1/);
      assertMatch(drift.out, /ConfigMap .*\/settings: changed out of band/);
      assertMatch(drift.out, /data\.mode: "edited-by-hand" -> "fast"/);
      assertMatch(drift.out, /Service .*\/web: deleted out of band/);
      const json = await run(planCommand, steps, ["--refresh-only", "--json"]);
      assertEquals(json.code, 2, json.err);
      const report = JSON.parse(json.out) as DriftReport;
      assertEquals(report.drifted, 3);
      assertEquals(
        report.steps[0].changes.map((c) => `${c.action} ${c.kind}`).sort(),
        ["create Service", "update ConfigMap", "update Deployment"],
      );
      // The full plan shows the same three changes (and nothing else).
      const full = await run(planCommand, steps, ["--json"]);
      assertEquals(full.code, 2, full.err);
      assertEquals(
        (JSON.parse(full.out) as PlanDocument).steps[0].changes
          .filter((c) => c.action !== "no-op").length,
        3,
      );

      // One apply: helm upgrade's three-way merge restores the fields and creates
      // the Service again; verify passes.
      const repaired = await run(applyCommand, steps, ["--yes"]);
      assertEquals(repaired.code, 0, repaired.err + repaired.out);
      assertMatch(
        repaired.out + repaired.err,
        /helm upgrade --install drift-app/,
      );
      assertEquals(
        ((await kube.get(ref("Deployment", "web")))?.spec as {
          replicas: number;
        }).replicas,
        1,
      );
      assertEquals(
        (await kube.get(ref("ConfigMap", "settings")))?.data,
        { mode: "fast" },
      );
      assert(await kube.get(ref("Service", "web")), "the Service is back");
      const after = await run(planCommand, steps, ["--refresh-only"]);
      assertEquals(after.code, 0, after.err + after.out);
      assertMatch(after.out, /No drift/);
      const plain = await run(planCommand, steps, []);
      assertEquals(plain.code, 0, plain.err + plain.out);

      // A values change alone is not drift, though the plan shows it. With the
      // values changed, an out-of-band edit cannot be told from the change the
      // values make, so only the full plan shows it; back on the verified values,
      // refresh-only reports it again.
      const changed = [
        helmStep(
          "app",
          { ...spec, values: { replicas: 1, mode: "slow" } },
          env,
        ),
      ];
      assertEquals((await run(planCommand, changed, [])).code, 2);
      const configOnly = await run(planCommand, changed, ["--refresh-only"]);
      assertEquals(configOnly.code, 0, configOnly.err + configOnly.out);
      await kubectlScale(cluster, { namespace: ns, name: "web", replicas: 2 });
      const mixed = await run(planCommand, changed, ["--refresh-only"]);
      assertEquals(mixed.code, 0, mixed.err + mixed.out);
      assertEquals(
        (await run(planCommand, steps, ["--refresh-only"])).code,
        2,
      );
    } finally {
      await removeRelease(cluster, { spec, helm, workDir: work.path });
    }
  },
});

Deno.test({
  name:
    "drift of the storage step: its Deployment scaled, StorageClass edited and ServiceAccount deleted are reported and repaired",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await useCluster();
    const kube = cluster.kube;
    const helm = await findHelm();
    await using work = await tempDir("kfplan-drift-storage-");
    const name = `kfplan-drift-nfs-${crypto.randomUUID().slice(0, 6)}`;
    const steps = [storageStep({
      chart: { path: sharedChart("nfs-subdir-external-provisioner-4.0.18") },
      namespace: name,
      release: name,
      nfs: { server: "192.0.2.10", path: "/export/kfplan" },
      // Not the default class: the shared control plane's default stays as it is.
      storageClass: { name, default: false },
      verify: { probe: false },
    }, { kubeconfig: cluster.kubeconfig, helm })];
    const run = cliSession(cluster, name, join(work.path, "state"));
    const classRef = {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      name,
    };
    try {
      const applied = await run(applyCommand, steps, ["--yes"]);
      assertEquals(applied.code, 0, applied.err + applied.out);
      const [deployment] = await kube.list("apps/v1", "Deployment", {
        namespace: name,
      });
      const account = (await kube.list("v1", "ServiceAccount", {
        namespace: name,
      })).find((a) => a.metadata.name !== "default");
      assert(
        deployment && account,
        "the chart's Deployment and ServiceAccount",
      );

      await kubectlScale(cluster, {
        namespace: name,
        name: deployment.metadata.name,
        replicas: 2,
      });
      const sc = await kube.get(classRef);
      await otherManager(cluster).replace({
        ...sc!,
        allowVolumeExpansion: false,
      });
      const accountRef = {
        apiVersion: "v1",
        kind: "ServiceAccount",
        namespace: name,
        name: account.metadata.name,
      };
      assert(await kube.delete(accountRef));
      await kube.waitFor(accountRef, (o) => o ? "exists" : true, {
        timeoutMs: 60_000,
      });

      const json = await run(planCommand, steps, ["--refresh-only", "--json"]);
      assertEquals(json.code, 2, json.err + json.out);
      const report = JSON.parse(json.out) as DriftReport;
      assertEquals(
        report.steps.flatMap((s) =>
          s.changes.map((c) => `${s.id} ${c.action} ${c.kind} ${c.name}`)
        ).sort(),
        [
          `storage create ServiceAccount ${account.metadata.name}`,
          `storage update Deployment ${deployment.metadata.name}`,
          `storage update StorageClass ${name}`,
        ],
      );

      const repaired = await run(applyCommand, steps, ["--yes"]);
      assertEquals(repaired.code, 0, repaired.err + repaired.out);
      assertEquals((await kube.get(classRef))?.allowVolumeExpansion, true);
      assert(await kube.get(accountRef), "the ServiceAccount is back");
      const after = await run(planCommand, steps, ["--refresh-only"]);
      assertEquals(after.code, 0, after.err + after.out);
      assertMatch(after.out, /No drift/);
    } finally {
      await removeRelease(cluster, {
        spec: { release: name, namespace: name },
        helm,
        workDir: work.path,
      });
    }
  },
});
