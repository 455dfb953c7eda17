/**
 * The full install scenario for one release, used by `kubeflow_v1_*_test.ts`:
 * plan (every object listed) -> apply (one pass, with the users step) -> verify ->
 * second plan (no changes) -> drift repaired by apply -> changed registration flow
 * (exactly the affected objects)
 * -> planted secrets searched in every artifact.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { applySteps } from "../../lib/engine/executor.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import {
  hasChanges,
  serializePlanDocument,
} from "../../lib/engine/plan_document.ts";
import { renderPlan } from "../../lib/cli/render_plan.ts";
import type { Logger } from "../../lib/engine/types.ts";
import { kubeflowOptionsSchema } from "../../lib/steps/kubeflow/options.ts";
import { renderKubeflow } from "../../lib/steps/kubeflow/render.ts";
import { kubeflowStep } from "../../lib/steps/kubeflow/step.ts";
import type { KubeflowVersion } from "../../lib/steps/kubeflow/version.ts";
import { usersStep } from "../../lib/steps/users.ts";
import type { Step } from "../../lib/engine/types.ts";
import type { KubeClient } from "../../lib/kube/types.ts";
import { startCluster } from "../cluster/harness.ts";
import {
  nonDefaultOptions,
  PLANTED,
  plantedEnv,
} from "../steps/kubeflow/_fixtures.ts";
import {
  FAKE_LB_ADDRESS,
  findLeaks,
  provideStorage,
  readTree,
  type ServedWebhooks,
  serveWebhooks,
  startFakeControllers,
  timed,
  WEBHOOK_EXCLUDES,
} from "./_kubeflow.ts";

// Kubernetes objects are untyped JSON here.
// deno-lint-ignore no-explicit-any
type Any = any;

function collectingLogger(lines: string[]): Logger {
  return {
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    debug: (m) => lines.push(`debug ${m}`),
  };
}

const USERS = {
  profiles: [
    {
      name: "alice",
      owner: "alice@example.org",
      resourceQuota: {
        cpu: "8",
        memory: "32Gi",
        pvcs: 5,
        storage: "100Gi",
        gpus: 1,
      },
    },
    { name: "bob", owner: "bob@example.org" },
  ],
  timeoutSeconds: 120,
};

/** How the scenario handles webhook-guarded resources (see `_kubeflow.ts`). */
export type WebhookMode = "serve" | "exclude";

/** Runs the scenario for `version` on a fresh control plane. */
export async function installScenario(
  version: KubeflowVersion,
  webhooks: WebhookMode,
): Promise<void> {
  const cluster = await timed(
    `${version} control plane start`,
    () => startCluster({}),
  );
  const controllers = startFakeControllers(cluster.kube);
  const work = await Deno.makeTempDir({ prefix: `kfplan-kf-${version}-` });
  const checkpointDir = `${work}/checkpoints`;
  const workDir = `${work}/work`;
  await Deno.mkdir(workDir, { recursive: true });
  const artifacts: Record<string, string> = {};
  const logLines: string[] = [];
  const events: string[] = [];
  const env = plantedEnv();
  let served: ServedWebhooks | undefined;
  try {
    const kube = cluster.kube;
    await provideStorage(kube);
    const input = {
      ...nonDefaultOptions(version),
      exclude: webhooks === "exclude" ? WEBHOOK_EXCLUDES : [],
      timeoutSeconds: 600,
    };
    const rendered = await renderKubeflow(kubeflowOptionsSchema.parse(input), {
      env,
    });
    if (webhooks === "serve") {
      served = await serveWebhooks(rendered.objects, {
        kubeconfig: cluster.kubeconfig,
      });
    }
    const postRender = served?.postRender;
    const steps = (registrationFlow: boolean, stepEnv = env) => [
      kubeflowStep(
        { ...input, dashboard: { registrationFlow } },
        {
          source: "kfplan.yaml",
          prefix: ["kubeflow"],
          env: stepEnv,
          postRender,
        },
      ),
      usersStep(USERS, { source: "kfplan.yaml", prefix: ["users"] }),
    ];

    // What the plan must list: every rendered object (minus the excluded webhooks).
    const expected = {
      ...rendered,
      objects: postRender ? postRender(rendered.objects) : rendered.objects,
    };
    const expectedKeys = expected.objects.map((o) =>
      `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`
    ).sort();

    // Plans against the cluster, timed, keeping the text and JSON for the leak search.
    const planAndKeep = async (label: string, name: string, list: Step[]) => {
      const result = await timed(
        label,
        () =>
          planSteps(list, {
            kube,
            checkpointDir,
            workDir,
            log: collectingLogger(logLines),
          }),
      );
      artifacts[`${name}.json`] = serializePlanDocument(result.document);
      artifacts[`${name}.txt`] = renderPlan(result.document);
      return result;
    };

    // 1. First plan: every object is a create; custom resources are known after their CRD.
    const first = await planAndKeep(
      `${version} plan #1 (${expected.objects.length} objects)`,
      "plan1",
      steps(true),
    );
    const kf = first.document.steps.find((s) => s.id === "kubeflow")!;
    assertEquals(kf.error, undefined, `plan error: ${kf.error}`);
    const planned = kf.changes.map((c) =>
      `${c.kind}/${c.namespace ?? ""}/${c.name}`
    ).sort();
    assertEquals(planned, expectedKeys);
    assert(
      kf.changes.every((c) => c.action === "create"),
      "all objects are created on an empty cluster",
    );
    assert(
      kf.changes.some((c) => c.kind === "Certificate" && c.known_after_apply),
      "cert-manager Certificates are known after their CRD is applied",
    );
    if (webhooks === "exclude") {
      const excludedWarning = kf.warnings.find((w) =>
        w.startsWith("excluded ")
      );
      assert(
        excludedWarning?.includes("MutatingWebhookConfiguration"),
        "the plan lists excluded webhooks",
      );
    } else {
      assert(
        kf.changes.some((c) => c.kind === "ValidatingWebhookConfiguration"),
        "webhook configurations planned",
      );
    }
    console.log(
      `[count] ${version}: planned ${kf.changes.length} objects, excluded ${expected.excluded.length} objects (webhooks: ${webhooks})`,
    );

    // 2. Apply in one pass, then verify (the executor runs both).
    const result = await timed(
      `${version} apply + verify`,
      () =>
        applySteps(steps(true), {
          kube,
          checkpointDir,
          workDir,
          log: collectingLogger(logLines),
          onEvent: (e) => events.push(JSON.stringify(e)),
        }),
    );
    assertEquals(
      result.summary.failed,
      [],
      JSON.stringify(result.summary.failed),
    );
    assert(result.ok, "apply ok");
    if (served) {
      // The API server really called the webhooks for the guarded resources.
      const kinds = (key: string) =>
        new Set(served!.servers.get(key)?.requests.map((r) => r.kind.kind));
      assert(
        kinds("cert-manager/cert-manager-webhook").has("Certificate"),
        "cert-manager webhook saw Certificates",
      );
      assert(
        kinds("kubeflow/kserve-webhook-server-service").has(
          "ClusterServingRuntime",
        ),
        "KServe webhook saw ClusterServingRuntimes",
      );
      const calls = [...served.servers.values()].reduce(
        (n, s) => n + s.requests.length,
        0,
      );
      console.log(
        `[webhooks] ${version}: ${calls} admission requests served by ${served.servers.size} test servers`,
      );
    }
    const applyLine = logLines.find((l) =>
      /applied \d+ objects in \d+ ms/.test(l)
    );
    console.log(
      `[timing] ${version} apply alone (from the step log): ${applyLine}`,
    );
    const outputs = result.outputs.kubeflow;
    assertEquals(outputs.version, version);
    console.log(`[count] ${version}: applied ${outputs.applied} objects`);
    assertEquals(outputs.applied, expected.objects.length);
    assertEquals(outputs.ingressAddress, FAKE_LB_ADDRESS);
    const gateway = await kube.get({
      apiVersion: "v1",
      kind: "Service",
      namespace: "istio-system",
      name: "istio-ingressgateway",
    });
    assertEquals(
      (gateway?.spec as { type?: string } | undefined)?.type,
      "LoadBalancer",
    );
    for (const ns of ["alice", "bob"]) {
      const pd = await kube.get({
        apiVersion: "kubeflow.org/v1alpha1",
        kind: "PodDefault",
        namespace: ns,
        name: "access-ml-pipeline",
      });
      assert(pd, `PodDefault in ${ns}`);
    }
    const alice = await kube.get({
      apiVersion: "kubeflow.org/v1",
      kind: "Profile",
      name: "alice",
    });
    assertEquals(
      (alice?.spec as Any)?.resourceQuotaSpec?.hard
        ?.["requests.nvidia.com/gpu"],
      "1",
    );
    // The planted client secret really is in the cluster, so the searches below mean something.
    const client = await kube.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: "auth",
      name: "dex-oidc-client",
    });
    assertEquals(
      atob((client as Any).data.OIDC_CLIENT_SECRET),
      PLANTED.clientSecret,
    );

    // 3. Second plan: nothing to do.
    const second = await planAndKeep(
      `${version} plan #2 (no changes expected)`,
      "plan2",
      steps(true),
    );
    const seen = [...second.observation.values()];
    console.log(
      `[observe] ${version} plan #2: ${
        seen.reduce((n, o) => n + o.lists, 0)
      } LISTs, ${seen.reduce((n, o) => n + o.dryRuns, 0)} dry-runs, ${
        seen.reduce((n, o) => n + o.unchanged, 0)
      } objects unchanged since applied`,
    );
    const changed2 = second.document.steps.flatMap((s) =>
      s.changes.filter((c) => c.action !== "no-op").map((c) =>
        `${s.id}: ${c.action} ${c.kind} ${c.namespace}/${c.name}`
      )
    );
    assertEquals(changed2, []);
    assertEquals(hasChanges(second.document), false);

    // 3b. Drift, as users make it: the dashboard scaled and its parameters edited by
    // hand. The plan shows both, apply repairs both (the verified step is applied
    // again, not skipped), and the plan after that is empty.
    const dashboard = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: "kubeflow",
      name: "centraldashboard",
    };
    const parametersRef = {
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: "kubeflow",
      name: "centraldashboard-parameters",
    };
    for (let attempt = 1;; attempt++) {
      // As `kubectl scale` would: again when a controller wrote it in between.
      const liveDashboard = await kube.get(dashboard);
      try {
        await kube.replace({
          ...liveDashboard!,
          spec: { ...(liveDashboard!.spec as Any), replicas: 3 },
        });
        break;
      } catch (e) {
        if ((e as { status?: number }).status !== 409 || attempt >= 10) {
          throw e;
        }
      }
    }
    const liveParameters = await kube.get(parametersRef);
    const parameters = liveParameters!.data as Record<string, string>;
    const key = Object.keys(parameters).sort()[0];
    await kube.replace({
      ...liveParameters!,
      data: { ...parameters, [key]: "edited-by-hand" },
    });
    const drift = await planAndKeep(
      `${version} plan (drift)`,
      "plan-drift",
      steps(true),
    );
    const driftChanges = drift.document.steps.flatMap((s) =>
      s.changes.filter((c) => c.action !== "no-op")
    );
    assert(
      driftChanges.some((c) =>
        c.name === "centraldashboard" &&
        c.diff.some((d) =>
          d.path === "spec.replicas" && d.before === 3 && d.after === 1
        )
      ),
      `the plan shows the scaled dashboard: ${JSON.stringify(driftChanges)}`,
    );
    assert(
      driftChanges.some((c) => c.name === "centraldashboard-parameters"),
      "the plan shows the edited parameters",
    );
    const repair = await timed(
      `${version} apply (drift repair)`,
      () =>
        applySteps(steps(true), {
          kube,
          checkpointDir,
          workDir,
          log: collectingLogger(logLines),
          onEvent: (e) => events.push(JSON.stringify(e)),
        }),
    );
    assert(repair.ok, JSON.stringify(repair.summary));
    assert(repair.summary.done.includes("kubeflow"), "kubeflow re-applied");
    assertEquals(
      ((await kube.get(dashboard))?.spec as Any)?.replicas,
      1,
      "replicas repaired",
    );
    assertEquals(
      ((await kube.get(parametersRef))?.data as Record<string, string>)[key],
      parameters[key],
      "parameters repaired",
    );
    const afterRepair = await planAndKeep(
      `${version} plan (after repair)`,
      "plan-repaired",
      steps(true),
    );
    assertEquals(hasChanges(afterRepair.document), false);

    // 4. Registration flow off: exactly the parameter ConfigMap and the dashboard Deployment.
    const third = await planAndKeep(
      `${version} plan #3 (registration flow changed)`,
      "plan3",
      steps(false),
    );
    const changed3 = third.document.steps.flatMap((s) =>
      s.changes.filter((c) => c.action !== "no-op").map((c) =>
        `${c.action} ${c.kind} ${c.namespace}/${c.name}`
      )
    ).sort();
    assertEquals(changed3, [
      "update ConfigMap kubeflow/centraldashboard-parameters",
      "update Deployment kubeflow/centraldashboard",
    ]);

    // 5. A rotated client secret: the Secrets change (diffed as sensitive), Dex and
    // oauth2-proxy roll (Dex through its config-digest annotation).
    const rotated = "PLANTED-rotated-secret-c41d07";
    const fourth = await planAndKeep(
      `${version} plan #4 (client secret rotated)`,
      "plan4",
      steps(true, { ...env, KF_CLIENT_SECRET: rotated }),
    );
    const changed4 = fourth.document.steps.flatMap((s) =>
      s.changes.filter((c) => c.action !== "no-op")
    );
    const summary4 = changed4.map((c) =>
      `${c.action} ${c.kind} ${c.namespace}/${
        c.name.replace(/-[a-z0-9]{10}$/, "-<hash>")
      }`
    ).sort();
    assertEquals(summary4, [
      "create Secret oauth2-proxy/oauth2-proxy-<hash>",
      // The Secret of the old value goes, once the new one is applied (prune).
      "delete Secret oauth2-proxy/oauth2-proxy-<hash>",
      "update Deployment auth/dex",
      "update Deployment oauth2-proxy/oauth2-proxy",
      "update Secret auth/dex-oidc-client",
    ]);
    const secretDiffs = changed4.filter((c) => c.kind === "Secret").flatMap((
      c,
    ) => c.diff);
    assert(
      secretDiffs.every((d) => d.sensitive === true),
      `Secret diffs are sensitive: ${JSON.stringify(secretDiffs)}`,
    );

    // 6. No planted secret anywhere: plans (text and JSON), checkpoints, events, logs, scratch files.
    artifacts["events.jsonl"] = events.join("\n");
    artifacts["log.txt"] = logLines.join("\n");
    Object.assign(
      artifacts,
      await readTree(checkpointDir),
      await readTree(workDir),
      await stateInCluster(kube),
    );
    assert(
      Object.keys(artifacts).some((k) => k.startsWith("cluster/kfplan.")),
      "the inventories in the cluster were read",
    );
    assert(
      Object.keys(artifacts).some((k) => k.includes("checkpoints/")),
      "a checkpoint was written",
    );
    assertEquals(
      findLeaks(artifacts, [...Object.values(PLANTED), rotated]),
      [],
    );
  } finally {
    await served?.close();
    await controllers.stop();
    await cluster.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/**
 * kfplan's state in the cluster (the checkpoint and inventory Secrets of
 * `kfplan-system`), decoded (and gunzipped) for the planted-secret search.
 */
export async function stateInCluster(
  kube: KubeClient,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const secrets = await kube.list("v1", "Secret", {
    namespace: "kfplan-system",
  });
  for (const secret of secrets) {
    const data = (secret.data ?? {}) as Record<string, string>;
    for (const [key, value] of Object.entries(data)) {
      const bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
      out[`cluster/${secret.metadata.name}/${key}`] = key.endsWith(".gz")
        ? await new Response(
          new Blob([bytes]).stream().pipeThrough(
            new DecompressionStream("gzip"),
          ),
        ).text()
        : new TextDecoder().decode(bytes);
    }
  }
  return out;
}
