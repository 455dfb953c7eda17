import { assertEquals, assertMatch } from "../../_assert.ts";
import type { KubeObject } from "../../../lib/kube/types.ts";
import { crossCheckAuth } from "../../../lib/steps/kubeflow/checks.ts";

const ISSUER = "http://dex.auth.svc.cluster.local:5556/dex";

function objects(
  o: {
    proxyIssuer?: string;
    raIssuer?: string;
    proxySecret?: string;
    redirect?: string;
  },
): KubeObject[] {
  return [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "dex", namespace: "auth" },
      spec: {
        template: {
          spec: {
            containers: [{
              name: "dex",
              image: "ghcr.io/dexidp/dex:v2.41.1",
              envFrom: [{ secretRef: { name: "dex-oidc-client" } }],
            }],
            volumes: [{ name: "config", configMap: { name: "dex" } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "dex", namespace: "auth" },
      data: {
        "config.yaml":
          `issuer: ${ISSUER}\nstaticClients:\n- idEnv: X\n  redirectURIs: ["/oauth2/callback"]\n`,
      },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "dex-oidc-client", namespace: "auth" },
      data: { OIDC_CLIENT_ID: btoa("kf"), OIDC_CLIENT_SECRET: btoa("s3cret") },
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "oauth2-proxy-abc", namespace: "oauth2-proxy" },
      data: {
        "oauth2_proxy.cfg": `oidc_issuer_url = "${
          o.proxyIssuer ?? ISSUER
        }"\nredirect_url = "${o.redirect ?? "/oauth2/callback"}"\n`,
      },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "oauth2-proxy-xyz", namespace: "oauth2-proxy" },
      data: {
        "client-id": btoa("kf"),
        "client-secret": btoa(o.proxySecret ?? "s3cret"),
        "cookie-secret": btoa("c"),
      },
    },
    {
      apiVersion: "security.istio.io/v1beta1",
      kind: "RequestAuthentication",
      metadata: { name: "dex-jwt", namespace: "istio-system" },
      spec: { jwtRules: [{ issuer: o.raIssuer ?? ISSUER }] },
    },
  ];
}

Deno.test("crossCheckAuth accepts consistent settings", () => {
  assertEquals(crossCheckAuth(objects({}), "oauth2-proxy"), []);
});

Deno.test("crossCheckAuth names each inconsistent object and field, never the secret", () => {
  const problems = crossCheckAuth(
    objects({
      proxyIssuer: "https://a/dex",
      raIssuer: "https://b/dex",
      proxySecret: "other",
      redirect: "/cb",
    }),
    "oauth2-proxy",
  );
  assertEquals(problems.length, 4);
  assertMatch(
    problems[0],
    /ConfigMap oauth2-proxy\/oauth2-proxy-abc oidc_issuer_url/,
  );
  assertMatch(problems[1], /RequestAuthentication istio-system\/dex-jwt/);
  assertMatch(
    problems[2],
    /client secret mismatch: Secret oauth2-proxy\/oauth2-proxy-xyz client-secret/,
  );
  assertMatch(problems[3], /redirect URI mismatch/);
  for (const p of problems) {
    assertEquals(p.includes("s3cret") || p.includes("other"), false);
  }
});
