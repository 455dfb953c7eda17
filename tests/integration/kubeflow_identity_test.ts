/**
 * `kubeflow.identity` with an external OIDC provider, planned against the real
 * control plane on one oauth2-proxy release (v1.10.2) and one oidc-authservice
 * release (v1.7.0). The provider is played by an OIDC discovery server on loopback
 * (discovery document and JWKS), which the plan fetches.
 *
 * Each test also plans the same release with Dex (offline) and compares the desired
 * states by object identity (generated names without their hash), printing what the
 * external provider adds, changes and removes: the figures of the report.
 *
 * Plan only, no apply: an apply of the whole platform costs minutes per release on a
 * private control plane; what external OIDC changes is all in the desired state, and
 * pruning (engine) deletes what a step no longer renders.
 */
import { assert, assertEquals } from "../_assert.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { serializePlanDocument } from "../../lib/engine/plan_document.ts";
import { renderPlan } from "../../lib/cli/render_plan.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import { objectName } from "../../lib/kube/object_ref.ts";
import type { KubeflowOptionsInput } from "../../lib/steps/kubeflow/options.ts";
import { dexObjects } from "../../lib/steps/kubeflow/identity.ts";
import { targetOf } from "../../lib/steps/kubeflow/recognize.ts";
import { kubeflowStep } from "../../lib/steps/kubeflow/step.ts";
import type { KubeflowVersion } from "../../lib/steps/kubeflow/version.ts";
import { useCluster } from "../cluster/harness.ts";
import {
  nonDefaultOptions,
  PLANTED,
  plantedEnv,
  tree,
} from "../steps/kubeflow/_fixtures.ts";
import { findLeaks, readTree, timed } from "./_kubeflow.ts";

// Kubernetes objects are untyped JSON here.
// deno-lint-ignore no-explicit-any
type Any = any;

const IDP_SECRET = "PLANTED-idp-client-secret-5e81b0";

/** An OIDC provider on loopback: discovery document and a JWKS with one key. */
function provider(): { issuer: string; close: () => Promise<void> } {
  const controller = new AbortController();
  let issuer = "";
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      signal: controller.signal,
      onListen: () => {},
    },
    (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/realms/kubeflow/.well-known/openid-configuration") {
        return Response.json({
          issuer,
          authorization_endpoint: `${issuer}/protocol/openid-connect/auth`,
          token_endpoint: `${issuer}/protocol/openid-connect/token`,
          jwks_uri: `${issuer}/protocol/openid-connect/certs`,
        });
      }
      if (path === "/realms/kubeflow/protocol/openid-connect/certs") {
        return Response.json({
          keys: [{ kty: "RSA", kid: "k1", use: "sig", n: "sXch", e: "AQAB" }],
        });
      }
      return new Response("not found", { status: 404 });
    },
  );
  issuer = `http://127.0.0.1:${server.addr.port}/realms/kubeflow`;
  return {
    issuer,
    close: async () => {
      controller.abort();
      await server.finished;
    },
  };
}

/** The v1.7.0 object Kubernetes 1.33 no longer serves (see kubeflow_v1_7_0_test.ts). */
const HPA_EXCLUDE = [{
  kind: "HorizontalPodAutoscaler",
  namespace: "knative-serving",
  name: "webhook",
  reason: "autoscaling/v2beta2 is not served since Kubernetes 1.26",
}];

function external(
  version: KubeflowVersion,
  issuer: string,
): KubeflowOptionsInput {
  return {
    manifests: tree(version),
    version,
    identity: {
      provider: "oidc",
      issuer,
      clientId: "kubeflow-sso",
      clientSecret: { env: "KF_IDP_SECRET" },
      emailClaim: "preferred_email",
    },
    ...(version === "v1.7.0" ? {} : {
      oauth2Proxy: { cookieSecret: { env: "KF_COOKIE_SECRET" } },
    }),
    // The shared test cluster has no default StorageClass; storage is not what this tests.
    defaultStorageClassFromPlan: true,
    exclude: version === "v1.7.0" ? HPA_EXCLUDE : [],
  };
}

/** Identity of an object across renders: kind, namespace and name without kustomize's hash. */
function identityKey(o: KubeObject): string {
  const t = targetOf(o);
  return objectName({ ...t, name: t.baseName });
}

/** What external OIDC adds, changes and removes, compared with Dex. */
function compare(
  dex: KubeObject[],
  oidc: KubeObject[],
): { added: string[]; changed: string[]; removed: string[] } {
  const before = new Map(dex.map((o) => [identityKey(o), o]));
  const after = new Map(oidc.map((o) => [identityKey(o), o]));
  const strip = (o: KubeObject) => {
    const { metadata: { name: _n, ...meta }, ...rest } = o;
    return JSON.stringify({ ...rest, meta });
  };
  return {
    added: [...after.keys()].filter((k) => !before.has(k)).sort(),
    removed: [...before.keys()].filter((k) => !after.has(k)).sort(),
    changed: [...after.keys()].filter((k) =>
      before.has(k) && strip(before.get(k)!) !== strip(after.get(k)!)
    ).sort(),
  };
}

function find(
  objects: KubeObject[],
  kind: string,
  test: (o: Any) => boolean,
): Any {
  return objects.find((o) => o.kind === kind && test(o));
}

function decode(secret: Any, key: string): string | undefined {
  const v = secret?.data?.[key];
  return v === undefined ? undefined : atob(v);
}

async function scenario(
  version: KubeflowVersion,
  check: (objects: KubeObject[], issuer: string) => void,
): Promise<void> {
  const { kube } = await useCluster();
  const idp = provider();
  const work = await Deno.makeTempDir({ prefix: "kfplan-kf-identity-" });
  await Deno.mkdir(`${work}/work`);
  await Deno.mkdir(`${work}/work-dex`);
  const env = { ...plantedEnv(), KF_IDP_SECRET: IDP_SECRET };
  const logLines: string[] = [];
  const log = {
    info: (m: string) => logLines.push(`info ${m}`),
    warn: (m: string) => logLines.push(`warn ${m}`),
    debug: (m: string) => logLines.push(`debug ${m}`),
  };
  try {
    const step = kubeflowStep(external(version, idp.issuer), {
      source: "kfplan.yaml",
      prefix: ["kubeflow"],
      env,
    });
    const planned = await timed(
      `${version} external OIDC plan`,
      () =>
        planSteps([step], {
          kube,
          checkpointDir: `${work}/checkpoints`,
          workDir: `${work}/work`,
          log,
        }),
    );
    const entry = planned.document.steps[0];
    assertEquals(entry.error, undefined, `plan error: ${entry.error}`);
    const objects = planned.plans.get("kubeflow")!.desired!;

    // Discovery reached the provider and said so; Dex is gone from the desired state.
    assert(
      entry.findings.some((f) =>
        f.check === "kubeflow.identity.discovery" && f.severity === "info" &&
        f.seen.includes("serves 1 key(s)")
      ),
      JSON.stringify(entry.findings),
    );
    // The plan names the callback to register at the provider (no ingress.domain:
    // the proxy's relative one; v1.7.0's authservice has no REDIRECT_URL, its default).
    const redirect = entry.findings.find((f) =>
      f.check === "kubeflow.identity.redirect-uri"
    );
    assertEquals(
      redirect?.target,
      version === "v1.7.0" ? "/authservice/oidc/callback" : "/oauth2/callback",
      JSON.stringify(entry.findings),
    );
    assertEquals(redirect?.severity, "info");
    // A Profile of the manifests' default user: no password to give without Dex.
    if (
      objects.some((o) =>
        o.kind === "Profile" &&
        (o.spec as Any)?.owner?.name === "user@example.com"
      )
    ) {
      const owner = entry.warnings.filter((w) =>
        w.includes("is owned by user@example.com")
      );
      assert(owner.length > 0, entry.warnings.join("\n"));
      assert(
        owner.every((w) =>
          w.includes(`log in at the external provider ${idp.issuer}`) &&
          !w.includes("password")
        ),
        owner.join("\n"),
      );
    }
    assertEquals(dexObjects(objects), []);
    const images = objects.flatMap((o) =>
      ((o.spec as Any)?.template?.spec?.containers ?? []).map((c: Any) =>
        String(c.image)
      )
    );
    assert(
      images.length > 0 && !images.some((i) => /\/dex:/.test(i)),
      "no Dex image",
    );
    assert(
      !objects.some((o) =>
        o.kind === "Namespace" && o.metadata.name === "auth"
      ),
    );
    assert(
      entry.warnings.some((w) =>
        w.startsWith("identity.provider oidc: Dex is not deployed")
      ),
      entry.warnings.join("\n"),
    );
    check(objects, idp.issuer);

    // The same release with Dex, for the comparison the report quotes.
    const { identity: _, ...same } = external(version, idp.issuer);
    const dexStep = kubeflowStep({
      ...same,
      oidcClient: { secret: { env: "KF_CLIENT_SECRET" } },
      dex: nonDefaultOptions(version).dex,
    }, {
      source: "kfplan.yaml",
      prefix: ["kubeflow"],
      env: plantedEnv(),
    });
    const baseline = await timed(
      `${version} Dex plan (offline, for comparison)`,
      () => planSteps([dexStep], { workDir: `${work}/work-dex` }),
    );
    const dexDesired = baseline.plans.get("kubeflow")!.desired!;
    const diff = compare(dexDesired, objects);
    console.log(
      `[identity] ${version}: external OIDC adds ${diff.added.length}: ${
        diff.added.join(", ") || "none"
      }`,
    );
    console.log(
      `[identity] ${version}: changes ${diff.changed.length}: ${
        diff.changed.join(", ")
      }`,
    );
    console.log(
      `[identity] ${version}: removes ${diff.removed.length}: ${
        diff.removed.join(", ")
      }`,
    );
    // What goes is exactly what is recognized as Dex's.
    assertEquals(
      diff.removed,
      dexObjects(dexDesired).map(identityKey).sort(),
    );

    // The client secret: in the proxy's Secret, and nowhere in plans, checkpoints, logs.
    const artifacts: Record<string, string> = {
      "plan.json": serializePlanDocument(planned.document),
      "plan.txt": renderPlan(planned.document),
      "log.txt": logLines.join("\n"),
      ...await readTree(`${work}/checkpoints`),
      ...await readTree(`${work}/work`),
    };
    assertEquals(findLeaks(artifacts, [IDP_SECRET, btoa(IDP_SECRET)]), []);
  } finally {
    await idp.close();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name:
    "kubeflow v1.10.2, external OIDC: oauth2-proxy and RequestAuthentication trust the provider, no Dex, no leak",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    scenario("v1.10.2", (objects, issuer) => {
      const cfg = find(
        objects,
        "ConfigMap",
        (o) => typeof o.data?.["oauth2_proxy.cfg"] === "string",
      ).data["oauth2_proxy.cfg"] as string;
      assert(cfg.includes(`oidc_issuer_url = "${issuer}"`), cfg);
      assert(cfg.includes('oidc_email_claim = "preferred_email"'));
      assert(!/^skip_oidc_discovery/m.test(cfg), "discovery is on");
      const params = find(
        objects,
        "ConfigMap",
        (o) => o.data?.FORCE_HTTPS !== undefined,
      );
      assertEquals(params.data.ALLOW_SELF_SIGNED_ISSUER, "false");
      const secret = find(
        objects,
        "Secret",
        (o) => o.data?.["cookie-secret"] !== undefined,
      );
      assertEquals(decode(secret, "client-id"), "kubeflow-sso");
      assertEquals(decode(secret, "client-secret"), IDP_SECRET);
      assertEquals(decode(secret, "cookie-secret"), PLANTED.cookieSecret);
      const ra = find(
        objects,
        "RequestAuthentication",
        (o) => o.metadata.namespace === "istio-system",
      );
      const rule = ra.spec.jwtRules[0];
      assertEquals(rule.issuer, issuer);
      assertEquals(rule.jwksUri, `${issuer}/protocol/openid-connect/certs`);
      assertEquals(
        rule.outputClaimToHeaders.map((h: Any) => `${h.header}=${h.claim}`),
        ["kubeflow-userid=preferred_email", "kubeflow-groups=groups"],
      );
    }),
});

Deno.test({
  name:
    "kubeflow v1.7.0, external OIDC: oidc-authservice talks to the provider, no Dex, no leak",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    scenario("v1.7.0", (objects, issuer) => {
      const params = find(
        objects,
        "ConfigMap",
        (o) => o.data?.OIDC_PROVIDER !== undefined,
      );
      assertEquals(params.data.OIDC_PROVIDER, issuer);
      assertEquals(
        params.data.OIDC_AUTH_URL,
        `${issuer}/protocol/openid-connect/auth`,
      );
      assertEquals(params.data.OIDC_SCOPES, "openid profile email groups");
      assertEquals(params.data.USERID_CLAIM, "preferred_email");
      assertEquals(params.data.GROUPS_CLAIM, "groups");
      const secret = find(
        objects,
        "Secret",
        (o) => o.data?.CLIENT_SECRET !== undefined,
      );
      assertEquals(decode(secret, "CLIENT_ID"), "kubeflow-sso");
      assertEquals(decode(secret, "CLIENT_SECRET"), IDP_SECRET);
    }),
});
