/**
 * `ingress.domain`: what is a DNS name, the URLs derived from it, and the options'
 * cross-checks (another host or plain http with TLS on is an error naming both
 * fields).
 */
import { assert, assertEquals, assertMatch } from "../../_assert.ts";
import {
  authCallback,
  dnsNameProblem,
  domainIssues,
  domainUrls,
  oauth2ProxyDomainConfig,
} from "../../../lib/steps/kubeflow/domain.ts";
import {
  DEFAULT_ISSUER,
  kubeflowOptionsSchema,
} from "../../../lib/steps/kubeflow/options.ts";

Deno.test("dnsNameProblem accepts host names and says what is wrong with the rest", () => {
  for (const ok of ["kubeflow.example.com", "kf-1.a.example.co.uk", "x.io"]) {
    assertEquals(dnsNameProblem(ok), undefined, ok);
  }
  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["Kubeflow.example.com", /upper-case/],
    ["https://kubeflow.example.com", /URL/],
    ["kubeflow.example.com/dex", /URL or path/],
    ["kubeflow.example.com:443", /port/],
    ["10.0.0.1", /IP address/],
    ["kubeflow", /single label/],
    ["*.example.com", /wildcard/],
    ["kube_flow.example.com", /label "kube_flow"/],
    ["-kf.example.com", /label "-kf"/],
    ["kubeflow.example.com.", /dot/],
    [`${"a".repeat(64)}.example.com`, /label/],
  ];
  for (const [value, why] of bad) {
    assertMatch(dnsNameProblem(value) ?? "(accepted)", why, value);
  }
});

Deno.test("domainUrls derives every URL from one origin", () => {
  const tls = domainUrls("kf.example.com", { tls: true });
  assertEquals(tls.issuer, "https://kf.example.com/dex");
  assertEquals(tls.dexCallback, "https://kf.example.com/dex/callback");
  assertEquals(
    tls.oauth2ProxyCallback,
    "https://kf.example.com/oauth2/callback",
  );
  assertEquals(
    tls.authserviceCallback("/authservice/oidc/callback"),
    "https://kf.example.com/authservice/oidc/callback",
  );
  assertEquals(tls.cookieDomain, "kf.example.com");
  assertEquals(tls.secureCookies, true);
  const plain = domainUrls("kf.example.com", { tls: false });
  assertEquals(plain.issuer, "http://kf.example.com/dex");
  assertEquals(plain.secureCookies, false);
});

Deno.test("authCallback: the tree's or given path, absolute on the domain", () => {
  assertEquals(
    authCallback({ tls: false, auth: "oauth2-proxy" }),
    "/oauth2/callback",
  );
  assertEquals(
    authCallback({ domain: "kf.example.com", tls: true, auth: "oauth2-proxy" }),
    "https://kf.example.com/oauth2/callback",
  );
  assertEquals(
    authCallback({
      domain: "kf.example.com",
      tls: true,
      auth: "oidc-authservice",
      treeCallback: "/authservice/oidc/callback",
    }),
    "https://kf.example.com/authservice/oidc/callback",
  );
  assertEquals(
    authCallback({
      domain: "kf.example.com",
      tls: false,
      auth: "oidc-authservice",
      configured: "/login/oidc",
    }),
    "http://kf.example.com/login/oidc",
  );
});

Deno.test("domainIssues: another host, or http with TLS on, names both fields", () => {
  const issues = domainIssues({
    domain: "kf.example.com",
    tls: true,
    fields: [
      { path: ["dex", "issuer"], url: "https://login.example.org/dex" },
      {
        path: ["dex", "connectors", 0, "config", "redirectURI"],
        url: "http://kf.example.com/dex/callback",
      },
      { path: ["authservice", "redirectUrl"], url: "/login/oidc" },
      { path: ["x"], url: "https://kf.example.com/ok" },
    ],
  });
  assertEquals(issues.length, 2);
  assertEquals(issues[0].path, ["dex", "issuer"]);
  assertMatch(
    issues[0].message,
    /dex\.issuer .*login\.example\.org.*ingress\.domain "kf\.example\.com"/,
  );
  assertMatch(issues[0].message, /https:\/\/kf\.example\.com\/dex/);
  assertMatch(
    issues[1].message,
    /dex\.connectors\[0\]\.config\.redirectURI .* plain http but ingress\.tls is on/,
  );
});

Deno.test("oauth2ProxyDomainConfig sets callback, cookie domain and Secure, keeping the rest", () => {
  const base = [
    'provider = "oidc"',
    'redirect_url = "/oauth2/callback"',
    "relative_redirect_url = true",
    "# a comment kept as it is",
  ].join("\n");
  const cfg = oauth2ProxyDomainConfig(
    base,
    domainUrls("kf.example.com", { tls: true }),
  );
  assertMatch(
    cfg,
    /^redirect_url = "https:\/\/kf\.example\.com\/oauth2\/callback"$/m,
  );
  assertMatch(cfg, /^relative_redirect_url = false$/m);
  assertMatch(cfg, /^cookie_domains = \["kf\.example\.com"\]$/m);
  assertMatch(cfg, /^cookie_secure = true$/m);
  assertMatch(cfg, /^# a comment kept as it is$/m);
  assertEquals(cfg.match(/^redirect_url/gm)?.length, 1);
});

const BASE = {
  manifests: "/nonexistent",
  oidcClient: { secret: { env: "S" } },
  dex: { keepDefaultUser: true },
};

function issuesOf(input: unknown): string[] {
  const r = kubeflowOptionsSchema.safeParse(input);
  return r.success
    ? []
    : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

Deno.test("options: the domain sets the default Dex issuer (https with TLS), a given one stays", () => {
  const tls = kubeflowOptionsSchema.parse({
    ...BASE,
    ingress: { domain: "kf.example.com", tls: { mode: "selfSigned" } },
  });
  assertEquals(tls.dex.issuer, "https://kf.example.com/dex");
  const plain = kubeflowOptionsSchema.parse({
    ...BASE,
    ingress: { domain: "kf.example.com" },
  });
  assertEquals(plain.dex.issuer, "http://kf.example.com/dex");
  const none = kubeflowOptionsSchema.parse(BASE);
  assertEquals(none.dex.issuer, DEFAULT_ISSUER);
  const given = kubeflowOptionsSchema.parse({
    ...BASE,
    dex: { keepDefaultUser: true, issuer: "https://kf.example.com/auth/dex" },
    ingress: { domain: "kf.example.com", tls: { mode: "selfSigned" } },
  });
  assertEquals(given.dex.issuer, "https://kf.example.com/auth/dex");
});

Deno.test("options: bad domain and TLS input fails naming the field", () => {
  assertEquals(issuesOf({ ...BASE, ingress: { domain: "kubeflow" } }), [
    'ingress.domain: "kubeflow" is not a DNS name: it is a single label; give a fully qualified name such as kubeflow.example.com',
  ]);
  const acme = issuesOf({
    ...BASE,
    ingress: { domain: "kf.example.com", tls: { mode: "acme" } },
  });
  assertEquals(acme.length, 1);
  assertMatch(acme[0], /^ingress\.tls\.email: /);
  assertMatch(
    issuesOf({ ...BASE, ingress: { tls: { mode: "selfSigned" } } })[0],
    /^ingress\.tls: needs ingress\.domain/,
  );
  const http = issuesOf({
    ...BASE,
    dex: { keepDefaultUser: true, issuer: "http://kf.example.com/dex" },
    ingress: { domain: "kf.example.com", tls: { mode: "selfSigned" } },
  });
  assertEquals(http.length, 1);
  assertMatch(http[0], /^dex\.issuer: .*plain http but ingress\.tls is on/);
  const other = issuesOf({
    ...BASE,
    dex: { keepDefaultUser: true, issuer: "https://sso.example.net/dex" },
    ingress: { domain: "kf.example.com" },
  });
  assertMatch(other[0], /^dex\.issuer: .*differs from ingress\.domain/);
  assertMatch(
    issuesOf({
      ...BASE,
      ingress: {
        domain: "kf.example.com",
        tls: {
          mode: "acme",
          email: "a@example.com",
          server: "http://acme.test/dir",
        },
      },
    })[0],
    /^ingress\.tls\.server: /,
  );
  assertMatch(
    issuesOf({
      ...BASE,
      ingress: { domain: "kf.example.com", tls: { mode: "letsencrypt" } },
    })[0],
    /tls\.mode is one of "selfSigned", "acme", "secret"/,
  );
  assert(
    issuesOf({
      ...BASE,
      ingress: {
        domain: "kf.example.com",
        tls: { mode: "secret", certificate: { file: "a" } },
      },
    }).some((i) => i.startsWith("ingress.tls.key")),
  );
});
