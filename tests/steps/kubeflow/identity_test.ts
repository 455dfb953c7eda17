/**
 * `kubeflow.identity` as pure logic: the options (bad input names the field), the
 * auth proxies' settings for an external provider, the RequestAuthentication patch,
 * and recognizing Dex's objects by what they are (a fork that renamed them is
 * recognized the same; what another workload also uses stays).
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertThrows,
} from "../../_assert.ts";
import { OptionsError, validateOptions } from "../../../lib/engine/options.ts";
import type { KubeObject } from "../../../lib/kube/types.ts";
import { objectName, refOf } from "../../../lib/kube/object_ref.ts";
import {
  dexObjects,
  externalAuthserviceParameters,
  type ExternalIdentity,
  externalIdentity,
  externalJwtRuleOps,
  externalOauth2ProxyConfig,
  oauthClientOf,
  orphanedProfileWarning,
  planIdentity,
  redirectUriFinding,
  withoutDex,
} from "../../../lib/steps/kubeflow/identity.ts";
import {
  type KubeflowOptions,
  kubeflowOptionsSchema,
} from "../../../lib/steps/kubeflow/options.ts";
import type { Oauth2ProxyStack } from "../../../lib/steps/kubeflow/recognize.ts";
import { tree } from "./_fixtures.ts";
import { parseYaml } from "../../../lib/deps.ts";
import {
  type KubeflowPlatformOptions,
  kubeflowPlatformSteps,
} from "../../../plans/platform.ts";

const ISSUER = "https://login.example.com/realms/kubeflow";

function parse(input: Record<string, unknown>): KubeflowOptions {
  return validateOptions(kubeflowOptionsSchema, {
    manifests: "/x",
    ...input,
  }, { prefix: ["kubeflow"] });
}

function refused(input: Record<string, unknown>): OptionsError {
  return assertThrows(() => parse(input), OptionsError);
}

const EXTERNAL = {
  identity: {
    provider: "oidc",
    issuer: ISSUER,
    clientId: "kubeflow",
    clientSecret: { env: "KF_IDP_SECRET" },
  },
};

Deno.test("identity oidc: defaults for scopes and claims; the proxy's client is identity's", () => {
  const o = parse(EXTERNAL);
  assert(o.identity.provider === "oidc");
  assertEquals(o.identity.scopes, ["openid", "profile", "email", "groups"]);
  assertEquals(o.identity.emailClaim, "email");
  assertEquals(o.identity.groupsClaim, "groups");
  assertEquals(oauthClientOf(o), {
    id: "kubeflow",
    secret: { env: "KF_IDP_SECRET" },
    field: "identity.clientSecret",
  });
  // Dex stays the default, with its own client.
  const dex = parse({
    oidcClient: { secret: { env: "S" } },
    dex: { keepDefaultUser: true },
  });
  assertEquals(dex.identity, { provider: "dex" });
  assertEquals(oauthClientOf(dex).field, "oidcClient.secret");
});

Deno.test("identity: bad input names the field and what would be valid", () => {
  const noSecret = refused({
    identity: { ...EXTERNAL.identity, clientSecret: undefined },
  });
  assertEquals(noSecret.issues[0].path, "kubeflow.identity.clientSecret");
  assertMatch(noSecret.issues[0].message, /required.*\{ env: NAME \}/);

  const inline = refused({
    identity: { ...EXTERNAL.identity, clientSecret: "hunter2" },
  });
  assertEquals(inline.issues[0].path, "kubeflow.identity.clientSecret");
  assert(!inline.message.includes("hunter2"), inline.message);

  const http = refused({
    identity: { ...EXTERNAL.identity, issuer: "http://login.example.com/kf" },
  });
  assertEquals(http.issues[0].path, "kubeflow.identity.issuer");
  assertMatch(http.issues[0].message, /not an https URL.*loopback/);
  // http on loopback is allowed (a discovery server in tests, a port-forward).
  parse({
    identity: { ...EXTERNAL.identity, issuer: "http://127.0.0.1:5556/dex" },
  });

  const unknown = refused({ identity: { provider: "keycloak" } });
  assertEquals(unknown.issues[0].path, "kubeflow.identity.provider");
  assertMatch(unknown.issues[0].message, /"dex" \(the default\) or "oidc"/);

  const withDex = refused({
    ...EXTERNAL,
    dex: { keepDefaultUser: true },
    oidcClient: { secret: { env: "S" } },
  });
  assertEquals(
    withDex.issues.map((i) => i.path).sort(),
    ["kubeflow.dex", "kubeflow.oidcClient"],
  );
  assertMatch(withDex.message, /Dex is not deployed/);

  const proxySecret = refused({
    ...EXTERNAL,
    oauth2Proxy: {
      cookieSecret: { env: "C" },
      clientSecret: { env: "OTHER" },
    },
  });
  assertEquals(
    proxySecret.issues[0].path,
    "kubeflow.oauth2Proxy.clientSecret",
  );

  const proxyIssuer = refused({
    ...EXTERNAL,
    oauth2Proxy: {
      cookieSecret: { env: "C" },
      issuer: "https://other.example.com",
    },
  });
  assertMatch(
    proxyIssuer.issues[0].message,
    /differs from identity\.issuer "https:\/\/login\.example\.com\/realms\/kubeflow"/,
  );

  const noClient = refused({ dex: { keepDefaultUser: true } });
  assertEquals(noClient.issues[0].path, "kubeflow.oidcClient");
  assertMatch(noClient.issues[0].message, /required with Dex/);
  const nobody = refused({ oidcClient: { secret: { env: "S" } } });
  assertEquals(nobody.issues[0].path, "kubeflow.dex");
  assertMatch(nobody.issues[0].message, /identity\.provider oidc/);
});

const IDENTITY: ExternalIdentity = {
  issuer: ISSUER,
  clientId: "kubeflow",
  scopes: ["openid", "email"],
  emailClaim: "preferred_email",
  groupsClaim: "roles",
  jwksUri: `${ISSUER}/protocol/openid-connect/certs`,
  authorizationEndpoint: `${ISSUER}/protocol/openid-connect/auth`,
};

function cfgValue(cfg: string, key: string): string | undefined {
  return cfg.match(new RegExp(`^${key}\\s*=\\s*(.*)$`, "m"))?.[1];
}

Deno.test("oauth2-proxy config (v1.10.2's): the provider's issuer, scopes and claims; Dex-only settings gone", async () => {
  const base = await Deno.readTextFile(
    `${tree("v1.10.2")}/common/oauth2-proxy/base/oauth2_proxy.cfg`,
  );
  assertEquals(cfgValue(base, "skip_oidc_discovery"), "true");
  const cfg = externalOauth2ProxyConfig(base, IDENTITY);
  assertEquals(cfgValue(cfg, "oidc_issuer_url"), JSON.stringify(ISSUER));
  assertEquals(cfgValue(cfg, "scope"), '"openid email"');
  assertEquals(cfgValue(cfg, "oidc_email_claim"), '"preferred_email"');
  assertEquals(cfgValue(cfg, "oidc_groups_claim"), '"roles"');
  assertEquals(cfgValue(cfg, "provider_display_name"), '"login.example.com"');
  for (
    const key of [
      "skip_oidc_discovery",
      "login_url",
      "redeem_url",
      "oidc_jwks_url",
      "prompt",
    ]
  ) assertEquals(cfgValue(cfg, key), undefined, key);
  assert(!cfg.includes('"^/dex/"'), "Dex's skip route is gone");
  const settings = cfg.split("\n").filter((l) => !l.startsWith("#"));
  assert(
    !settings.some((l) => /dex\.auth\.svc/.test(l)),
    "no setting points at the in-cluster Dex",
  );
  // The rest of the tree's settings stay as they were.
  for (const key of ["redirect_url", "cookie_name", "api_routes"]) {
    assertEquals(cfgValue(cfg, key), cfgValue(base, key), key);
  }
});

Deno.test("authservice parameters: the provider's login URL when discovered, else no Dex-relative one", () => {
  const keys = [
    "OIDC_PROVIDER",
    "OIDC_AUTH_URL",
    "OIDC_SCOPES",
    "USERID_CLAIM",
  ];
  assertEquals(externalAuthserviceParameters(keys, IDENTITY), {
    set: {
      OIDC_PROVIDER: ISSUER,
      OIDC_SCOPES: "openid email",
      USERID_CLAIM: "preferred_email",
      GROUPS_CLAIM: "roles",
      OIDC_AUTH_URL: `${ISSUER}/protocol/openid-connect/auth`,
    },
    remove: [],
  });
  const { authorizationEndpoint: _, ...undiscovered } = IDENTITY;
  const p = externalAuthserviceParameters(keys, undiscovered);
  assertEquals(p.remove, ["OIDC_AUTH_URL"]);
  assertEquals(p.set.OIDC_AUTH_URL, undefined);
});

Deno.test("RequestAuthentication: the rule that trusted Dex trusts the provider, claims mapped", () => {
  const stack: Oauth2ProxyStack = {
    kind: "oauth2-proxy",
    deployment: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      namespace: "oauth2-proxy",
      name: "oauth2-proxy",
      baseName: "oauth2-proxy",
      hashed: false,
    },
    jwtRule: 1,
    jwtClaims: [
      { header: "kubeflow-userid", claim: "email" },
      { header: "kubeflow-groups", claim: "groups" },
    ],
  };
  assertEquals(externalJwtRuleOps(stack, IDENTITY), [
    { op: "replace", path: "/spec/jwtRules/1/issuer", value: ISSUER },
    { op: "add", path: "/spec/jwtRules/1/jwksUri", value: IDENTITY.jwksUri },
    {
      op: "replace",
      path: "/spec/jwtRules/1/outputClaimToHeaders/0/claim",
      value: "preferred_email",
    },
    {
      op: "replace",
      path: "/spec/jwtRules/1/outputClaimToHeaders/1/claim",
      value: "roles",
    },
  ]);
  // Undiscovered keys: no guessed jwksUri, istiod discovers them from the issuer.
  const { jwksUri: _, ...undiscovered } = IDENTITY;
  assert(
    !externalJwtRuleOps(stack, undiscovered).some((op) =>
      op.path.endsWith("jwksUri")
    ),
  );
});

/** Dex as a fork might render it: other namespace and names, same shape. */
function forkedDex(ns: string, extra: KubeObject[] = []): KubeObject[] {
  const labels = { "app.kubernetes.io/name": "login" };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
    {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "authcodes.dex.coreos.com" },
      spec: { group: "dex.coreos.com" },
    },
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "login-sa", namespace: ns },
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "login-role" },
      rules: [{
        apiGroups: ["dex.coreos.com"],
        resources: ["*"],
        verbs: ["*"],
      }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "login-binding" },
      roleRef: { kind: "ClusterRole", name: "login-role" },
      subjects: [{ kind: "ServiceAccount", name: "login-sa", namespace: ns }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "login-config", namespace: ns },
      data: { "config.yaml": "issuer: http://login.identity:5556/dex\n" },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "login-client", namespace: ns },
      data: { OIDC_CLIENT_SECRET: "eA==" },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "login", namespace: ns },
      spec: { selector: labels },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "login", namespace: ns },
      spec: {
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "login-sa",
            containers: [{
              name: "idp",
              image: "mirror.example.com/dexidp/dex:v2.41.1",
              envFrom: [{ secretRef: { name: "login-client" } }],
            }],
            volumes: [{ name: "c", configMap: { name: "login-config" } }],
          },
        },
      },
    },
    {
      apiVersion: "networking.istio.io/v1alpha3",
      kind: "VirtualService",
      metadata: { name: "login-route", namespace: ns },
      spec: {
        http: [{
          route: [{
            destination: { host: `login.${ns}.svc.cluster.local` },
          }],
        }],
      },
    },
    ...extra,
  ];
}

const GATEWAY_ROUTE: KubeObject = {
  apiVersion: "networking.istio.io/v1alpha3",
  kind: "VirtualService",
  metadata: { name: "dashboard", namespace: "kubeflow" },
  spec: {
    http: [{ route: [{ destination: { host: "centraldashboard.kubeflow" } }] }],
  },
};

Deno.test("Dex's objects are recognized by what they are, under any names", () => {
  const objects = [...forkedDex("identity"), GATEWAY_ROUTE];
  const names = dexObjects(objects).map((o) => objectName(refOf(o)));
  assertEquals(names, [
    "Namespace identity",
    "CustomResourceDefinition authcodes.dex.coreos.com",
    "ServiceAccount identity/login-sa",
    "ClusterRole login-role",
    "ClusterRoleBinding login-binding",
    "ConfigMap identity/login-config",
    "Secret identity/login-client",
    "Service identity/login",
    "Deployment identity/login",
    "VirtualService identity/login-route",
  ]);
  const o = parse(EXTERNAL);
  const split = withoutDex(objects, o);
  assertEquals(split.objects, [GATEWAY_ROUTE]);
  assertMatch(
    split.summary ?? "",
    /left out 10 object\(s\) recognized as Dex's/,
  );
  // With Dex, nothing is left out.
  const dex = parse({
    oidcClient: { secret: { env: "S" } },
    dex: { keepDefaultUser: true },
  });
  assertEquals(withoutDex(objects, dex).objects.length, objects.length);
});

Deno.test("what Dex shares stays: a Secret another workload reads, a namespace with other tenants", () => {
  const other: KubeObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "ldap-sync", namespace: "identity" },
    spec: {
      template: {
        metadata: { labels: { app: "ldap-sync" } },
        spec: {
          containers: [{
            name: "sync",
            image: "example.com/ldap-sync:1",
            envFrom: [{ secretRef: { name: "login-client" } }],
          }],
        },
      },
    },
  };
  const names = dexObjects(forkedDex("identity", [other])).map((o) =>
    objectName(refOf(o))
  );
  assert(!names.includes("Secret identity/login-client"), names.join(", "));
  assert(!names.includes("Namespace identity"), names.join(", "));
  assert(!names.includes("Deployment identity/ldap-sync"));
  assert(names.includes("Deployment identity/login"));
  // No Dex at all: nothing.
  assertEquals(dexObjects([GATEWAY_ROUTE, other]), []);
});

Deno.test("examples/kubeflow-external-oidc.yaml validates: an external provider, no Dex settings", async () => {
  const file = new URL(
    "../../../examples/kubeflow-external-oidc.yaml",
    import.meta.url,
  ).pathname;
  const doc = parseYaml(await Deno.readTextFile(file)) as {
    kubeflow: unknown;
  };
  const o = validateOptions(kubeflowOptionsSchema, doc.kubeflow, {
    source: file,
    prefix: ["kubeflow"],
  });
  assert(o.identity.provider === "oidc");
  assertEquals(o.identity.issuer, "https://login.example.com/realms/kubeflow");
  assertEquals(o.oidcClient, undefined);
  assertEquals(o.dex.staticUsers, []);
  const steps = kubeflowPlatformSteps(doc as KubeflowPlatformOptions, {
    source: file,
  });
  assertEquals(steps.map((s) => s.id), ["kubeflow", "users"]);
});

Deno.test("planIdentity: nothing to do with Dex; offline or unreachable, a warning saying what is left to the cluster", async () => {
  const dex = parse({
    oidcClient: { secret: { env: "S" } },
    dex: { keepDefaultUser: true },
  });
  assertEquals(await planIdentity(dex), { findings: [] });
  const offline = await planIdentity(parse(EXTERNAL), { offline: true });
  assertEquals(offline.discovery?.status, "unreachable");
  assertEquals(offline.findings.length, 1);
  assertEquals(offline.findings[0].severity, "warning");
  assertMatch(offline.findings[0].seen, /planning offline/);
  assertMatch(offline.findings[0].seen, /no jwksUri \(istiod discovers it/);
  // The external identity then carries no endpoints, so nothing is guessed.
  const identity = externalIdentity(parse(EXTERNAL), offline.discovery);
  assertEquals(identity?.jwksUri, undefined);
  assertEquals(identity?.authorizationEndpoint, undefined);
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const closed = await planIdentity(parse({
    identity: {
      ...EXTERNAL.identity,
      issuer: `http://127.0.0.1:${port}/realms/kubeflow`,
    },
  }));
  assertEquals(closed.findings[0].severity, "warning");
  assertMatch(closed.findings[0].seen, /unreachable/);
});

/** Dex with a static user instead of the default one. */
const WITH_DEX = {
  oidcClient: { secret: { env: "S" } },
  dex: {
    staticUsers: [{ email: "ana@example.org", password: { env: "P" } }],
  },
};

/** The rendered auth proxy of a release: its workload and the ConfigMap it reads. */
function proxyObjects(
  kind: "oauth2-proxy" | "oidc-authservice",
  data: Record<string, string>,
): KubeObject[] {
  const oauth2 = kind === "oauth2-proxy";
  return [
    {
      apiVersion: "apps/v1",
      kind: oauth2 ? "Deployment" : "StatefulSet",
      metadata: { name: "auth-front", namespace: "gate" },
      spec: {
        template: {
          spec: {
            containers: [{
              name: "proxy",
              image: oauth2
                ? "quay.io/oauth2-proxy/oauth2-proxy:v7.7.1"
                : "gcr.io/arrikto/kubeflow/oidc-authservice:e236439",
              envFrom: [{ configMapRef: { name: "front-settings" } }],
            }],
            volumes: [{ configMap: { name: "front-settings" } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "front-settings", namespace: "gate" },
      data,
    },
  ];
}

/** A release's `params.env`, as the ConfigMap kustomize makes of it. */
async function paramsEnv(path: string): Promise<Record<string, string>> {
  const text = await Deno.readTextFile(path);
  return Object.fromEntries(
    text.split("\n").filter((l) => l.includes("=")).map((l) => {
      const at = l.indexOf("=");
      return [l.slice(0, at), l.slice(at + 1)];
    }),
  );
}

Deno.test("redirect URI finding: the callback to register at the provider, on ingress.domain when set", async () => {
  const cfg = await Deno.readTextFile(
    `${tree("v1.10.2")}/common/oauth2-proxy/base/oauth2_proxy.cfg`,
  );
  const oauth2 = proxyObjects("oauth2-proxy", { "oauth2_proxy.cfg": cfg });
  const onDomain = parse({
    ...EXTERNAL,
    ingress: { domain: "kf.example.com", tls: { mode: "selfSigned" } },
  });
  const f = redirectUriFinding(onDomain, oauth2);
  assertEquals(f?.severity, "info");
  assertEquals(f?.check, "kubeflow.identity.redirect-uri");
  assertEquals(f?.target, "https://kf.example.com/oauth2/callback");
  assertMatch(
    f?.seen ?? "",
    new RegExp(
      `^register the redirect URI https://kf\\.example\\.com/oauth2/callback for client "kubeflow" at ${ISSUER}`,
    ),
  );

  // No domain: the proxy's relative callback, the host left to the user.
  const relative = redirectUriFinding(parse(EXTERNAL), oauth2);
  assertEquals(relative?.target, "/oauth2/callback");
  assertMatch(
    relative?.seen ?? "",
    /<scheme>:\/\/<host>\/oauth2\/callback .*oauth2-proxy redirect_url.*kubeflow\.ingress\.domain/,
  );

  // oidc-authservice: v1.6.1 names REDIRECT_URL; v1.7.0 leaves it to the default.
  const plain = parse({ ...EXTERNAL, ingress: { domain: "kf.example.com" } });
  const v16 = proxyObjects(
    "oidc-authservice",
    await paramsEnv(
      `${tree("v1.6.1")}/common/oidc-authservice/base/params.env`,
    ),
  );
  assertEquals(
    redirectUriFinding(plain, v16)?.target,
    "http://kf.example.com/login/oidc",
  );
  const v17 = proxyObjects(
    "oidc-authservice",
    await paramsEnv(
      `${tree("v1.7.0")}/common/oidc-authservice/base/params.env`,
    ),
  );
  assertEquals(
    redirectUriFinding(onDomain, v17)?.target,
    "https://kf.example.com/authservice/oidc/callback",
  );
  // An absolute callback the proxy is configured with is named as it is.
  const absolute = proxyObjects("oidc-authservice", {
    OIDC_PROVIDER: ISSUER,
    REDIRECT_URL: "https://gate.example.net/login/oidc",
  });
  assertEquals(
    redirectUriFinding(parse(EXTERNAL), absolute)?.target,
    "https://gate.example.net/login/oidc",
  );

  // Dex: kfplan registers the callback at Dex itself; no auth proxy: nothing to say.
  const dex = parse(WITH_DEX);
  assertEquals(redirectUriFinding(dex, oauth2), undefined);
  assertEquals(redirectUriFinding(onDomain, []), undefined);
});

Deno.test("the orphaned-Profile warning: a password with Dex, a login at the provider with oidc", () => {
  const dex = orphanedProfileWarning(
    parse(WITH_DEX),
    "kubeflow-user-example-com",
  );
  assertMatch(
    dex,
    /Profile kubeflow-user-example-com .*give that user a password/,
  );
  const oidc = orphanedProfileWarning(
    parse(EXTERNAL),
    "kubeflow-user-example-com",
  );
  assert(!/password/.test(oidc), oidc);
  assertMatch(
    oidc,
    new RegExp(
      `owner must be able to log in at the external provider ${ISSUER} as user@example\\.com .*exclude it \\(\\{ kind: Profile, name: kubeflow-user-example-com \\}\\)`,
    ),
  );
});
