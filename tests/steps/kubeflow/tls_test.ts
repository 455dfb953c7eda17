/**
 * `ingress.tls` as objects and patches, on a small synthetic render whose names are
 * not upstream's (a fork): the Gateway is found by the VirtualServices bound to it,
 * cert-manager by its image, the auth policies and filter by what they do.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertThrows,
} from "../../_assert.ts";
import { X509Certificate } from "node:crypto";
import { parseYaml } from "../../../lib/deps.ts";
import { OptionsError, validateOptions } from "../../../lib/engine/options.ts";
import type { KubeObject } from "../../../lib/kube/types.ts";
import {
  type KubeflowOptionsInput,
  kubeflowOptionsSchema,
} from "../../../lib/steps/kubeflow/options.ts";
import { recognize } from "../../../lib/steps/kubeflow/recognize.ts";
import { readSecret } from "../../../lib/steps/kubeflow/secrets.ts";
import {
  ACME_CHALLENGE_PREFIX,
  ACME_ROUTE,
  acmeServerUrl,
  GATEWAY_TLS_SECRET,
  handshakeCheck,
  readTlsFiles,
  tlsOverlay,
  tlsProblems,
} from "../../../lib/steps/kubeflow/tls.ts";
import { mintCertificate } from "../../../sim/controllers/cert_manager.ts";
import { tempDir } from "../../_shared.ts";

const DOMAIN = "ml.example.net";
const GW_NS = "edge";

function deployment(
  namespace: string,
  name: string,
  image: string,
  args: string[] = [],
): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: { template: { spec: { containers: [{ name, image, args }] } } },
  };
}

function gateway(namespace: string, name: string): KubeObject {
  return {
    apiVersion: "networking.istio.io/v1beta1",
    kind: "Gateway",
    metadata: { name, namespace },
    spec: {
      selector: { istio: "ingressgateway" },
      servers: [{
        port: { number: 80, name: "http", protocol: "HTTP" },
        hosts: ["*"],
      }],
    },
  };
}

function vs(namespace: string, name: string, gw: string): KubeObject {
  return {
    apiVersion: "networking.istio.io/v1beta1",
    kind: "VirtualService",
    metadata: { name, namespace },
    spec: { hosts: ["*"], gateways: [gw], http: [] },
  };
}

/** A fork's render: its own names, two Gateways on the ingress pods, one bound by VirtualServices. */
function render(
  auth: "oauth2-proxy" | "authservice",
  certManager = true,
): KubeObject[] {
  const objects: KubeObject[] = [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "edge-ingress", namespace: GW_NS },
      spec: { selector: { istio: "ingressgateway", app: "edge" } },
    },
    gateway(GW_NS, "default-gw"),
    gateway("ml", "platform-gw"),
    vs("ml", "dashboard", "platform-gw"),
    vs("ml", "notebooks", "ml/platform-gw"),
    vs("other", "x", `${GW_NS}/default-gw`),
  ];
  if (certManager) {
    objects.push(
      deployment(
        "certs",
        "cm",
        "quay.io/jetstack/cert-manager-controller:v1.16.1",
        [
          "--cluster-resource-namespace=$(POD_NAMESPACE)",
        ],
      ),
    );
  }
  if (auth === "oauth2-proxy") {
    objects.push(
      deployment("auth", "proxy", "quay.io/oauth2-proxy/oauth2-proxy:v7.7.1"),
      {
        apiVersion: "security.istio.io/v1beta1",
        kind: "AuthorizationPolicy",
        metadata: { name: "ext-auth", namespace: GW_NS },
        spec: {
          action: "CUSTOM",
          provider: { name: "oauth2-proxy" },
          selector: { matchLabels: { app: "edge" } },
          rules: [{ to: [{ operation: { notPaths: ["/dex/*"] } }] }],
        },
      },
      {
        apiVersion: "security.istio.io/v1beta1",
        kind: "AuthorizationPolicy",
        metadata: { name: "need-jwt", namespace: GW_NS },
        spec: {
          action: "DENY",
          selector: { matchLabels: { app: "edge" } },
          rules: [{
            from: [{ source: { notRequestPrincipals: ["*"] } }],
            to: [{ operation: { notPaths: ["/dex/*"] } }],
          }],
        },
      },
      {
        apiVersion: "security.istio.io/v1beta1",
        kind: "AuthorizationPolicy",
        metadata: { name: "allow-all", namespace: GW_NS },
        spec: {
          action: "ALLOW",
          selector: { matchLabels: { app: "edge" } },
          rules: [{}],
        },
      },
    );
  } else {
    objects.push(
      {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "authservice", namespace: GW_NS },
        spec: {
          template: {
            spec: {
              containers: [{
                name: "a",
                image: "gcr.io/arrikto/kubeflow/oidc-authservice:e236439",
              }],
            },
          },
        },
      },
      {
        apiVersion: "networking.istio.io/v1alpha3",
        kind: "EnvoyFilter",
        metadata: { name: "authn", namespace: GW_NS },
        spec: {
          workloadSelector: { labels: { istio: "ingressgateway" } },
          configPatches: [{
            applyTo: "HTTP_FILTER",
            match: { context: "GATEWAY" },
            patch: {
              operation: "INSERT_BEFORE",
              value: { name: "envoy.filters.http.ext_authz" },
            },
          }],
        },
      },
    );
  }
  return objects;
}

function options(
  tls: NonNullable<KubeflowOptionsInput["ingress"]>["tls"],
  extra: Partial<KubeflowOptionsInput> = {},
) {
  return kubeflowOptionsSchema.parse({
    manifests: "/nonexistent",
    oidcClient: { secret: { env: "S" } },
    dex: { keepDefaultUser: true },
    ingress: { domain: DOMAIN, tls },
    ...extra,
  });
}

function names(objects: KubeObject[]): string[] {
  return objects.map((o) =>
    `${o.kind} ${
      o.metadata.namespace ? `${o.metadata.namespace}/` : ""
    }${o.metadata.name}`
  );
}

Deno.test("recognize: Kubeflow's Gateway is the one VirtualServices bind to; cert-manager by image", () => {
  const r = recognize(render("oauth2-proxy"));
  assertEquals(r.ingress?.kubeflowGateway?.name, "platform-gw");
  assertEquals(r.ingress?.kubeflowGateway?.namespace, "ml");
  assertEquals(r.certManager?.clusterResourceNamespace, "certs");
  assertEquals(r.ingress?.authExemptions.map((e) => e.policy.name), [
    "ext-auth",
    "need-jwt",
  ]);
});

Deno.test("selfSigned: self-signed issuer, CA Certificate in cert-manager's namespace, CA issuer, gateway Certificate, 443 server", () => {
  const tls = tlsOverlay(
    options({ mode: "selfSigned" }),
    recognize(render("oauth2-proxy")),
  )!;
  assertEquals(names(tls.resources), [
    "ClusterIssuer kubeflow-gateway-selfsigned",
    "Certificate certs/kubeflow-gateway-ca",
    "ClusterIssuer kubeflow-gateway-ca",
    `Certificate ${GW_NS}/${GATEWAY_TLS_SECRET}`,
    `VirtualService ${GW_NS}/kubeflow-https-redirect`,
  ]);
  const gatewayCert = tls.resources[3].spec as Record<string, unknown>;
  assertEquals(gatewayCert.dnsNames, [DOMAIN]);
  assertEquals(gatewayCert.secretName, GATEWAY_TLS_SECRET);
  assertEquals((tls.resources[1].spec as { isCA: boolean }).isCA, true);
  assertEquals(tls.patches.length, 1);
  assertEquals(tls.patches[0].target.name, "platform-gw");
  assertEquals(tls.patches[0].ops, [{
    op: "add",
    path: "/spec/servers/-",
    value: {
      port: { number: 443, name: "https", protocol: "HTTPS" },
      hosts: [DOMAIN],
      tls: { mode: "SIMPLE", credentialName: GATEWAY_TLS_SECRET },
    },
  }]);
  const redirect = tls.resources[4].spec as {
    gateways: string[];
    http: { name: string; match: unknown; redirect?: unknown }[];
  };
  assertEquals(redirect.gateways, ["ml/platform-gw"]);
  assertEquals(redirect.http, [{
    name: "kubeflow-https-redirect",
    match: [{ port: 80 }],
    redirect: { scheme: "https" },
  }]);
  assertEquals(tls.secret, undefined);
});

Deno.test("acme on oauth2-proxy: ClusterIssuer, challenge route, and the prefix added to both CUSTOM and DENY policies only", () => {
  const o = options({
    mode: "acme",
    email: "ops@example.net",
    server: "production",
  });
  const tls = tlsOverlay(o, recognize(render("oauth2-proxy")))!;
  const issuer = tls.resources.find((x) => x.kind === "ClusterIssuer")!;
  const acme = (issuer.spec as { acme: Record<string, unknown> }).acme;
  assertEquals(acme.server, acmeServerUrl("production"));
  assertEquals(acme.email, "ops@example.net");
  assertEquals(tls.patches.map((p) => p.target.name), [
    "platform-gw",
    "ext-auth",
    "need-jwt",
  ]);
  for (const p of tls.patches.slice(1)) {
    assertEquals(p.ops, [{
      op: "add",
      path: "/spec/rules/0/to/0/operation/notPaths/-",
      value: `${ACME_CHALLENGE_PREFIX}*`,
    }]);
  }
  const route = tls.resources.find((x) => x.kind === "VirtualService")!;
  const http =
    (route.spec as { http: { name: string; match: unknown }[] }).http;
  assertEquals(http[0].name, ACME_ROUTE);
  assertEquals(http[0].match, [{
    port: 80,
    uri: { prefix: ACME_CHALLENGE_PREFIX },
  }]);
  assertEquals(tls.resources.some((x) => x.kind === "EnvoyFilter"), false);
});

Deno.test("acme on authservice: the filter stays, ext_authz is disabled on the challenge route only", () => {
  const o = options({ mode: "acme", email: "ops@example.net" });
  const tls = tlsOverlay(o, recognize(render("authservice")))!;
  const filter = tls.resources.find((x) => x.kind === "EnvoyFilter")!;
  const spec = filter.spec as {
    workloadSelector: { labels: Record<string, string> };
    configPatches: { applyTo: string; match: Record<string, unknown> }[];
  };
  assertEquals(spec.workloadSelector.labels, {
    istio: "ingressgateway",
    app: "edge",
  });
  assertEquals(spec.configPatches.length, 1);
  assertEquals(spec.configPatches[0].applyTo, "HTTP_ROUTE");
  assertEquals(spec.configPatches[0].match, {
    context: "GATEWAY",
    routeConfiguration: { vhost: { route: { name: ACME_ROUTE } } },
  });
  // No patch of the recognized filter itself: only the Gateway is patched.
  assertEquals(tls.patches.map((p) => p.target.kind), ["Gateway"]);
});

Deno.test("tlsProblems: cert-manager missing or excluded, no exception point, name the field", () => {
  const selfSigned = options({ mode: "selfSigned" });
  const missing = tlsProblems(
    selfSigned,
    recognize(render("oauth2-proxy", false)),
  );
  assertEquals(missing.map((p) => p.path), ["ingress.tls.mode"]);
  assertMatch(missing[0].message, /deploys none .*cert-manager-controller/);
  assertThrows(
    () => tlsOverlay(selfSigned, recognize(render("oauth2-proxy", false))),
    OptionsError,
  );
  // The cluster runs cert-manager itself: fine.
  assertEquals(
    tlsProblems(
      options({ mode: "selfSigned" }, {
        components: { exclude: [], external: ["cert-manager"] },
      }),
      recognize(render("oauth2-proxy", false)),
    ),
    [],
  );
  const excluded = tlsProblems(
    options({ mode: "acme", email: "a@example.net" }, {
      components: { exclude: ["cert-manager"], external: [] },
    }),
    recognize(render("oauth2-proxy")),
  );
  assertMatch(excluded[0].message, /components\.exclude leaves out/);
  // The secret mode needs no cert-manager.
  assertEquals(
    tlsProblems(
      options({
        mode: "secret",
        certificate: { file: "c" },
        key: { file: "k" },
      }),
      recognize(render("oauth2-proxy", false)),
    ),
    [],
  );
  const noPolicies = render("oauth2-proxy").filter((o) =>
    o.kind !== "AuthorizationPolicy"
  );
  const acme = tlsProblems(
    options({ mode: "acme", email: "a@example.net" }),
    recognize(noPolicies),
  );
  assertMatch(
    acme[0].message,
    /challenge path .* no CUSTOM\/DENY AuthorizationPolicy/,
  );
  const noGateway = render("oauth2-proxy").filter((o) =>
    o.kind !== "VirtualService"
  );
  assertMatch(
    tlsProblems(selfSigned, recognize(noGateway))[0].message,
    /no Gateway .* has VirtualServices bound to it/,
  );
});

Deno.test("readTlsFiles: unreadable file, key mismatch and uncovered domain fail naming the field", async () => {
  await using dir = await tempDir("kfplan-tls-files-");
  const good = await mintCertificate({
    commonName: DOMAIN,
    dnsNames: [DOMAIN],
  });
  const other = await mintCertificate({
    commonName: "o",
    dnsNames: ["o.example.net"],
  });
  const write = async (name: string, text: string) => {
    await Deno.writeTextFile(`${dir.path}/${name}`, text);
    return `${dir.path}/${name}`;
  };
  const files = {
    crt: await write("tls.crt", good.certPem),
    key: await write("tls.key", good.keyPem),
    otherKey: await write("other.key", other.keyPem),
    otherCrt: await write("other.crt", other.certPem),
  };
  const read = (ref: { file: string } | { env: string }, field: string) =>
    readSecret(ref, { field });
  const run = (certificate: string, key: string) =>
    readTlsFiles(
      options({
        mode: "secret",
        certificate: { file: certificate },
        key: { file: key },
      }),
      read,
      () => false,
    );
  const ok = await run(files.crt, files.key);
  assertEquals(ok.files?.key, good.keyPem.trimEnd());
  assertEquals(ok.warnings, []);
  const failure = async (certificate: string, key: string) => {
    try {
      await run(certificate, key);
    } catch (e) {
      assert(e instanceof OptionsError, String(e));
      return e.issues.map((i) => `${i.path}: ${i.message}`);
    }
    throw new Error("expected an OptionsError");
  };
  const unreadable = await failure(`${dir.path}/missing.crt`, files.key);
  assertMatch(
    unreadable[0],
    /^ingress\.tls\.certificate: cannot read secret file .*missing\.crt/,
  );
  const mismatch = await failure(files.crt, files.otherKey);
  assertEquals(mismatch.length, 1);
  assertMatch(
    mismatch[0],
    /^ingress\.tls\.key: ingress\.tls\.key \(file .*other\.key\) does not match the certificate/,
  );
  const uncovered = await failure(files.otherCrt, files.otherKey);
  assertMatch(
    uncovered[0],
    /^ingress\.tls\.certificate: .* does not cover ingress\.domain "ml\.example\.net"/,
  );
  for (const line of [...mismatch, ...uncovered]) {
    assert(!line.includes("PRIVATE KEY"), "no key material in messages");
  }
  // Placeholders (an offline plan without the files) are not checked.
  const placeholder = await readTlsFiles(
    options({
      mode: "secret",
      certificate: { env: "NOPE" },
      key: { env: "NOPE" },
    }),
    () => Promise.resolve("kfplan-placeholder-x"),
    (v) => v.startsWith("kfplan-placeholder-"),
  );
  assertEquals(placeholder.warnings, []);
});

Deno.test("examples/kubeflow-tls-*.yaml validate, one per mode, with the domain's issuer", async () => {
  const modes: string[] = [];
  for (const name of ["selfsigned", "acme", "secret"]) {
    const file = new URL(
      `../../../examples/kubeflow-tls-${name}.yaml`,
      import.meta.url,
    ).pathname;
    const doc = parseYaml(await Deno.readTextFile(file));
    const o = validateOptions(kubeflowOptionsSchema, doc.kubeflow, {
      source: file,
      prefix: ["kubeflow"],
    });
    assertEquals(o.ingress.domain, "kubeflow.example.com", file);
    assertEquals(o.dex.issuer, "https://kubeflow.example.com/dex", file);
    modes.push(o.ingress.tls!.mode);
  }
  assertEquals(modes, ["selfSigned", "acme", "secret"]);
});

Deno.test({
  name:
    "handshakeCheck: a TLS handshake with SNI compares the served certificate; no address or none reachable is said",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const served = await mintCertificate({
      commonName: DOMAIN,
      dnsNames: [DOMAIN],
    });
    const other = await mintCertificate({
      commonName: "o",
      dnsNames: [DOMAIN],
    });
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: served.certPem,
      key: served.keyPem,
    });
    const serving = (async () => {
      for await (const conn of listener) {
        try {
          await conn.handshake();
        } catch {
          // The client may hang up right after reading the certificate.
        }
        conn.close();
      }
    })();
    try {
      const port = (listener.addr as Deno.NetAddr).port;
      const fingerprint = new X509Certificate(served.certPem).fingerprint256;
      const ok = await handshakeCheck({
        domain: DOMAIN,
        address: "127.0.0.1",
        port,
        expectedFingerprint: fingerprint,
      });
      assertEquals(ok.ok, true, ok.detail);
      assertMatch(ok.detail!, /served the Secret's certificate/);
      const wrong = await handshakeCheck({
        domain: DOMAIN,
        address: "127.0.0.1",
        port,
        expectedFingerprint: new X509Certificate(other.certPem).fingerprint256,
      });
      assertEquals(wrong.ok, false);
      assertMatch(
        wrong.detail!,
        new RegExp(`fingerprint ${fingerprint}, not the Secret's`),
      );
    } finally {
      listener.close();
      await serving.catch(() => {});
    }
    const closed = await handshakeCheck({
      domain: DOMAIN,
      address: "127.0.0.1",
      port: (listener.addr as Deno.NetAddr).port,
      expectedFingerprint: "x",
    });
    assertEquals(closed.ok, true);
    assertMatch(
      closed.detail!,
      /^not checked: 127\.0\.0\.1:\d+ is not reachable from here/,
    );
    const none = await handshakeCheck({ domain: DOMAIN });
    assertMatch(
      none.detail!,
      /^not checked: the ingress Service has no external address/,
    );
  },
});
