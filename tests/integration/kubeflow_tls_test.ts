/**
 * `kubeflow.ingress.domain` and `kubeflow.ingress.tls` on the real control plane,
 * with cert-manager's controller played (`sim/controllers/cert_manager.ts`):
 * - v1.10.2 (oauth2-proxy), `selfSigned`: applied and verified; the Gateway has its
 *   443 server, the CA chain's Certificates are Ready, the CA is an output;
 * - v1.7.0 (oidc-authservice), `acme`: applied and verified with the ACME order
 *   played as completed (no ACME server is reachable); the challenge route and its
 *   ext_authz exception exist and are scoped to the challenge prefix on port 80;
 * - v1.10.2, `secret`: planned offline only (the Secret from the user's files), and
 *   neither key nor certificate appears in the JSON plan.
 *
 * Components the TLS settings do not touch (KServe, Knative, Katib, ...) are left out
 * so both applies fit the CI budget; webhooks are excluded as in `kubeflow_light.ts`.
 */
import { X509Certificate } from "node:crypto";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { applySteps } from "../../lib/engine/executor.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import type { KubeflowOptionsInput } from "../../lib/steps/kubeflow/options.ts";
import { kubeflowStep } from "../../lib/steps/kubeflow/step.ts";
import {
  ACME_CHALLENGE_PREFIX,
  ACME_ROUTE,
  GATEWAY_TLS_SECRET,
} from "../../lib/steps/kubeflow/tls.ts";
import { mintCertificate, playCertManager } from "../../sim/controllers/mod.ts";
import { startCluster } from "../cluster/harness.ts";
import {
  nonDefaultOptions,
  PLANTED,
  plantedEnv,
} from "../steps/kubeflow/_fixtures.ts";
import {
  findLeaks,
  provideStorage,
  startFakeControllers,
  timed,
  WEBHOOK_EXCLUDES,
} from "./_kubeflow.ts";
import { tempDir } from "../_shared.ts";

const DOMAIN = "kubeflow.example.org";

/** Components no TLS setting touches, left out to keep the applies short. */
const LEFT_OUT = {
  "v1.10.2": [
    "knative",
    "kserve",
    "katib",
    "training-operator",
    "spark",
    "model-registry",
    "tensorboard",
  ],
  "v1.7.0": ["knative", "kserve", "katib", "training-operator", "tensorboard"],
} as const;

function tlsInput(
  version: "v1.10.2" | "v1.7.0",
  tls: NonNullable<KubeflowOptionsInput["ingress"]>["tls"],
): KubeflowOptionsInput {
  return {
    ...nonDefaultOptions(version),
    components: { exclude: [...LEFT_OUT[version]], external: [] },
    exclude: WEBHOOK_EXCLUDES,
    ingress: { type: "LoadBalancer", domain: DOMAIN, tls },
    timeoutSeconds: 300,
  };
}

/** Plan, then apply and verify, on a control plane of its own with cert-manager played. */
async function applyWithTls(
  label: string,
  input: KubeflowOptionsInput,
  check: (
    kube: KubeClient,
    result: {
      json: string;
      outputs: Record<string, unknown>;
      history: string[];
    },
  ) => Promise<void>,
  whileApplying?: () => Promise<void>,
): Promise<void> {
  const cluster = await timed(
    `${label} control plane start`,
    () => startCluster({}),
  );
  const controllers = startFakeControllers(cluster.kube);
  const certManager = playCertManager(cluster.kube, { onLog: () => {} });
  const work = await Deno.makeTempDir({ prefix: "kfplan-kf-tls-" });
  const checkpointDir = `${work}/checkpoints`;
  const workDir = `${work}/work`;
  await Deno.mkdir(workDir, { recursive: true });
  try {
    const kube = cluster.kube;
    await provideStorage(kube);
    const step = () =>
      kubeflowStep(input, {
        source: "kfplan.yaml",
        prefix: ["kubeflow"],
        env: plantedEnv(),
      });
    const planned = await timed(
      `${label} plan`,
      () => planSteps([step()], { kube, checkpointDir, workDir }),
    );
    const entry = planned.document.steps[0];
    assertEquals(entry.error, undefined, `plan error: ${entry.error}`);
    const json = JSON.stringify(planned.document);
    // Another plan of the same tree reuses this one's first pass (the recognition
    // cache), so it runs while this one applies rather than competing with its render.
    const [result] = await Promise.all([
      timed(
        `${label} apply + verify`,
        () => applySteps([step()], { kube, checkpointDir, workDir }),
      ),
      whileApplying?.(),
    ]);
    assertEquals(result.summary.failed, [], JSON.stringify(result.summary));
    await check(kube, {
      json,
      outputs: result.outputs.kubeflow,
      history: certManager.history,
    });
  } finally {
    await certManager.stop();
    await controllers.stop();
    await cluster.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

function conditions(o: KubeObject | undefined): Record<string, string> {
  const list = (o?.status as {
    conditions?: { type: string; status: string }[];
  } | undefined)?.conditions ?? [];
  return Object.fromEntries(list.map((c) => [c.type, c.status]));
}

async function gatewayServers(
  kube: KubeClient,
): Promise<Record<string, unknown>[]> {
  const gw = await kube.get({
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "Gateway",
    namespace: "kubeflow",
    name: "kubeflow-gateway",
  });
  return (gw?.spec as { servers: Record<string, unknown>[] }).servers;
}

const HTTPS_SERVER = {
  port: { number: 443, name: "https", protocol: "HTTPS" },
  hosts: [DOMAIN],
  tls: { mode: "SIMPLE", credentialName: GATEWAY_TLS_SECRET },
};

/** v1.10.2 (oauth2-proxy), selfSigned, applied; `whileApplying` runs during its apply. */
async function selfSignedOnOauth2Proxy(
  whileApplying: () => Promise<void>,
): Promise<void> {
  await applyWithTls(
    "v1.10.2 selfSigned",
    tlsInput("v1.10.2", { mode: "selfSigned" }),
    async (kube, { json, outputs, history }) => {
      const servers = await gatewayServers(kube);
      assertEquals(servers.length, 2);
      assertEquals(servers[1], HTTPS_SERVER);
      for (
        const [ns, name] of [
          ["cert-manager", "kubeflow-gateway-ca"],
          ["istio-system", GATEWAY_TLS_SECRET],
        ]
      ) {
        const cert = await kube.get({
          apiVersion: "cert-manager.io/v1",
          kind: "Certificate",
          namespace: ns,
          name,
        });
        assertEquals(conditions(cert).Ready, "True", `${ns}/${name}`);
      }
      assert(
        history.some((h) =>
          h.startsWith(`Certificate istio-system/${GATEWAY_TLS_SECRET}`) &&
          h.includes("ClusterIssuer kubeflow-gateway-ca")
        ),
        history.join("\n"),
      );
      // The CA users trust is the one that signed the gateway's certificate.
      const ca = String(outputs.tlsCaCertificate ?? "");
      assertMatch(ca, /^-----BEGIN CERTIFICATE-----/);
      const secret = await kube.get({
        apiVersion: "v1",
        kind: "Secret",
        namespace: "istio-system",
        name: GATEWAY_TLS_SECRET,
      });
      const leafPem = atob(
        (secret?.data as Record<string, string>)["tls.crt"],
      );
      const leaf = new X509Certificate(leafPem);
      assert(leaf.verify(new X509Certificate(ca).publicKey));
      assertEquals(
        (outputs.tlsCertificate as { dnsNames: string[] }).dnsNames,
        [DOMAIN],
      );
      // oauth2-proxy: Secure cookies on the domain.
      const params = (await kube.list("v1", "ConfigMap", {
        namespace: "oauth2-proxy",
      })).find((c) => (c.data as Record<string, string>)?.FORCE_HTTPS);
      assertEquals(
        (params?.data as Record<string, string>).FORCE_HTTPS,
        "true",
      );
      assertEquals(
        findLeaks({ "JSON plan": json }, Object.values(PLANTED)),
        [],
      );
    },
    whileApplying,
  );
}

/** v1.7.0 (oidc-authservice), acme, applied with the ACME order played. */
async function acmeOnAuthservice(): Promise<void> {
  const input = tlsInput("v1.7.0", {
    mode: "acme",
    email: "ops@example.org",
    server: "staging",
  });
  input.exclude = [
    ...WEBHOOK_EXCLUDES,
    {
      kind: "HorizontalPodAutoscaler",
      reason: "autoscaling/v2beta2 is not served since Kubernetes 1.26",
    },
  ];
  await applyWithTls(
    "v1.7.0 acme",
    input,
    async (kube, { json, history }) => {
      assertEquals((await gatewayServers(kube))[1], HTTPS_SERVER);
      const issuer = await kube.get({
        apiVersion: "cert-manager.io/v1",
        kind: "ClusterIssuer",
        name: "kubeflow-acme",
      });
      const acme = (issuer?.spec as {
        acme: { server: string; email: string };
      }).acme;
      assertEquals(
        acme.server,
        "https://acme-staging-v02.api.letsencrypt.org/directory",
      );
      assertEquals(acme.email, "ops@example.org");
      assert(
        history.some((h) => h.includes("ACME order played as completed")),
        history.join("\n"),
      );
      const cert = await kube.get({
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        namespace: "istio-system",
        name: GATEWAY_TLS_SECRET,
      });
      assertEquals(conditions(cert).Ready, "True");
      // The challenge route: port 80 and the prefix only, to the solver pods.
      const vs = await kube.get({
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "VirtualService",
        namespace: "istio-system",
        name: "kubeflow-https-redirect",
      });
      const http = vs?.spec as {
        hosts: string[];
        http: {
          name: string;
          match: Record<string, unknown>[];
          redirect?: unknown;
        }[];
      };
      assertEquals(http.hosts, [DOMAIN]);
      assertEquals(http.http.map((r) => r.name), [
        ACME_ROUTE,
        "kubeflow-https-redirect",
      ]);
      assertEquals(http.http[0].match, [{
        port: 80,
        uri: { prefix: ACME_CHALLENGE_PREFIX },
      }]);
      assertEquals(http.http[1].redirect, { scheme: "https" });
      // The exception: ext_authz off on that route only; the auth filter stays.
      const exception = await kube.get({
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "EnvoyFilter",
        namespace: "istio-system",
        name: "kubeflow-acme-http01-authz",
      });
      const patch = (exception?.spec as {
        configPatches: {
          applyTo: string;
          match: { routeConfiguration: unknown };
        }[];
      }).configPatches;
      assertEquals(patch.length, 1);
      assertEquals(patch[0].applyTo, "HTTP_ROUTE");
      assertEquals(patch[0].match.routeConfiguration, {
        vhost: { route: { name: ACME_ROUTE } },
      });
      assert(
        await kube.get({
          apiVersion: "networking.istio.io/v1alpha3",
          kind: "EnvoyFilter",
          namespace: "istio-system",
          name: "authn-filter",
        }),
        "the authservice filter is kept",
      );
      const params = await kube.get({
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: "istio-system",
        name: "oidc-authservice-parameters",
      });
      assertEquals(
        (params?.data as Record<string, string>).OIDC_PROVIDER,
        `https://${DOMAIN}/dex`,
      );
      assertEquals(
        findLeaks({ "JSON plan": json }, Object.values(PLANTED)),
        [],
      );
    },
  );
}

/** v1.10.2, secret, planned offline. */
async function secretPlannedOffline(): Promise<void> {
  await using dir = await tempDir("kfplan-tls-secret-");
  const ca = await mintCertificate({ commonName: "test CA", isCA: true });
  const leaf = await mintCertificate({
    commonName: DOMAIN,
    dnsNames: [DOMAIN],
    issuer: ca,
  });
  await Deno.writeTextFile(`${dir.path}/tls.crt`, leaf.certPem);
  await Deno.writeTextFile(`${dir.path}/tls.key`, leaf.keyPem);
  const input = tlsInput("v1.10.2", {
    mode: "secret",
    certificate: { file: `${dir.path}/tls.crt` },
    key: { file: `${dir.path}/tls.key` },
  });
  const step = kubeflowStep(input, {
    source: "kfplan.yaml",
    prefix: ["kubeflow"],
    env: plantedEnv(),
  });
  const { document } = await timed(
    "v1.10.2 secret plan (offline)",
    () => planSteps([step], { workDir: dir.path }),
  );
  const entry = document.steps[0];
  assertEquals(entry.error, undefined, entry.error);
  const secret = entry.changes.find((c) =>
    c.kind === "Secret" && c.name === GATEWAY_TLS_SECRET
  );
  assertEquals(secret?.namespace, "istio-system");
  const json = JSON.stringify(document);
  const keyBody = leaf.keyPem.split("\n")[1];
  const certBody = leaf.certPem.split("\n")[1];
  assertEquals(
    findLeaks({ "JSON plan": json }, [keyBody, certBody, btoa(leaf.keyPem)]),
    [],
  );
  assert(
    entry.changes.some((c) =>
      c.kind === "VirtualService" && c.name === "kubeflow-https-redirect"
    ),
  );
}

Deno.test({
  name:
    "kubeflow ingress.tls: selfSigned applied on v1.10.2 (oauth2-proxy), acme applied on v1.7.0 (oidc-authservice), secret planned on v1.10.2",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Two control planes at once: the wall time is the longer one's.
    const results = await Promise.allSettled([
      timed(
        "selfSigned on v1.10.2, secret planned alongside (whole)",
        () => selfSignedOnOauth2Proxy(secretPlannedOffline),
      ),
      timed("acme on v1.7.0 (whole)", acmeOnAuthservice),
    ]);
    const failed = results.flatMap((r, i) =>
      r.status === "rejected"
        ? [
          `${["selfSigned + secret", "acme"][i]}: ${
            (r.reason as Error).stack ?? r.reason
          }`,
        ]
        : []
    );
    assertEquals(failed, []);
  },
});
