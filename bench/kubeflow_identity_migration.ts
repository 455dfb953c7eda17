/**
 * What switching an installed Kubeflow from Dex to an external OIDC provider plans
 * and does, on a fresh test control plane: apply the release with Dex, then plan the
 * same options with `identity.provider: oidc` (a discovery server on loopback plays
 * the provider) and print the plan's creates, updates and deletes (Dex's objects go
 * through the engine's prune) and what prune keeps; then apply (and verify) the
 * external provider's settings and check that Dex's namespace is gone.
 *
 *     deno run -A bench/kubeflow_identity_migration.ts [--version v1.10.2]
 *
 * Too slow for CI (two applies of the whole platform); the CI test
 * (`tests/integration/kubeflow_identity_test.ts`) plans only.
 *
 * @module
 */

import { minimist } from "../lib/deps.ts";
import { applySteps } from "../lib/engine/executor.ts";
import { planSteps } from "../lib/engine/planner.ts";
import { objectName } from "../lib/kube/object_ref.ts";
import type { KubeflowOptionsInput } from "../lib/steps/kubeflow/options.ts";
import { kubeflowStep } from "../lib/steps/kubeflow/step.ts";
import type { KubeflowVersion } from "../lib/steps/kubeflow/version.ts";
import { binDir, startCluster } from "../tests/cluster/harness.ts";
import {
  provideStorage,
  startFakeControllers,
  WEBHOOK_EXCLUDES,
} from "../tests/integration/_kubeflow.ts";
import {
  nonDefaultOptions,
  plantedEnv,
} from "../tests/steps/kubeflow/_fixtures.ts";

function provider(): { issuer: string; close: () => Promise<void> } {
  const controller = new AbortController();
  let issuer = "";
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: controller.signal,
    onListen: () => {},
  }, (req) => {
    const path = new URL(req.url).pathname;
    if (path.endsWith("/.well-known/openid-configuration")) {
      return Response.json({
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/keys`,
      });
    }
    if (path.endsWith("/keys")) {
      return Response.json({
        keys: [{ kty: "RSA", kid: "k", n: "x", e: "AQAB" }],
      });
    }
    return new Response("not found", { status: 404 });
  });
  issuer = `http://127.0.0.1:${server.addr.port}/realms/kubeflow`;
  return {
    issuer,
    close: async () => {
      controller.abort();
      await server.finished;
    },
  };
}

async function main(args: string[]): Promise<number> {
  const flags = minimist(args, { string: ["version"] });
  const version = String(flags.version ?? "v1.10.2") as KubeflowVersion;
  Deno.env.set("PATH", `${await binDir()}:${Deno.env.get("PATH")}`);
  const work = await Deno.makeTempDir({ prefix: "kfplan-bench-identity-" });
  const cluster = await startCluster({});
  const controllers = startFakeControllers(cluster.kube);
  const idp = provider();
  const env = { ...plantedEnv(), KF_IDP_SECRET: "bench-idp-client-secret" };
  try {
    await provideStorage(cluster.kube);
    const old = version === "v1.7.0";
    const common = {
      exclude: [
        ...WEBHOOK_EXCLUDES,
        ...(old
          ? [{
            kind: "HorizontalPodAutoscaler",
            namespace: "knative-serving",
            name: "webhook",
            reason: "autoscaling/v2beta2 is not served since Kubernetes 1.26",
          }]
          : []),
      ],
      // v1.7.0's KServe CRD waits for cert-manager's cainjector (see kubeflow_v1_7_0_test.ts).
      components: { exclude: old ? ["kserve" as const] : [], external: [] },
      timeoutSeconds: 600,
    };
    const dex: KubeflowOptionsInput = {
      ...nonDefaultOptions(version),
      ...common,
    };
    const { oidcClient: _c, dex: _d, ...rest } = dex;
    const external: KubeflowOptionsInput = {
      ...rest,
      identity: {
        provider: "oidc",
        issuer: idp.issuer,
        clientId: "kubeflow-sso",
        clientSecret: { env: "KF_IDP_SECRET" },
      },
    };
    const step = (o: KubeflowOptionsInput) =>
      kubeflowStep(o, { source: "kfplan.yaml", prefix: ["kubeflow"], env });
    const opts = { kube: cluster.kube, checkpointDir: `${work}/state` };
    let t = performance.now();
    const first = await applySteps([step(dex)], opts);
    if (!first.ok) throw new Error(JSON.stringify(first.summary));
    console.log(
      `${version}: applied with Dex in ${
        ((performance.now() - t) / 1000).toFixed(0)
      } s`,
    );
    t = performance.now();
    const { document } = await planSteps([step(external)], opts);
    const entry = document.steps[0];
    if (entry.error) throw new Error(entry.error);
    const by = new Map<string, string[]>();
    for (const c of entry.changes) {
      if (c.action === "no-op") continue;
      by.set(c.action, [...(by.get(c.action) ?? []), objectName(c)]);
    }
    console.log(
      `${version}: plan with identity.provider oidc (${
        ((performance.now() - t) / 1000).toFixed(0)
      } s):`,
    );
    for (const [action, refs] of [...by].sort()) {
      console.log(`  ${action} ${refs.length}: ${refs.sort().join(", ")}`);
    }
    for (const k of entry.kept ?? []) {
      console.log(`  kept ${objectName(k)}: ${k.reason}`);
    }
    t = performance.now();
    // Planned again by apply: controllers touch objects (HPA status) in between.
    const second = await applySteps([step(external)], opts);
    if (!second.ok) throw new Error(JSON.stringify(second.summary));
    const left = await cluster.kube.get({
      apiVersion: "v1",
      kind: "Namespace",
      name: "auth",
    });
    console.log(
      `${version}: applied in ${
        ((performance.now() - t) / 1000).toFixed(0)
      } s; ` +
        `namespace auth ${left ? "still there" : "gone"}`,
    );
    return 0;
  } finally {
    await idp.close();
    await controllers.stop();
    await cluster.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) main(Deno.args).then(Deno.exit);
