/**
 * Plan-time OIDC discovery against a real HTTP server on loopback (`Deno.serve` on
 * port 0) playing identity providers: one consistent, one naming another issuer,
 * one without `jwks_uri`, one whose JWKS has no keys, one that never answers, and a
 * closed port.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../../_assert.ts";
import { OptionsError } from "../../../lib/engine/options.ts";
import {
  discoverIssuer,
  discoveryUrl,
} from "../../../lib/steps/kubeflow/oidc_discovery.ts";

const KEY = { kty: "RSA", kid: "k1", use: "sig", n: "sXch", e: "AQAB" };

/** A loopback server playing several providers, one per path prefix. */
function providers(): { base: string; close: () => Promise<void> } {
  const controller = new AbortController();
  let base = "";
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      signal: controller.signal,
      onListen: () => {},
    },
    async (req) => {
      const path = new URL(req.url).pathname;
      const json = (body: unknown) => Response.json(body);
      const doc = (name: string, extra: Record<string, unknown>) =>
        json({
          issuer: `${base}/${name}`,
          authorization_endpoint: `${base}/${name}/auth`,
          token_endpoint: `${base}/${name}/token`,
          ...extra,
        });
      switch (path) {
        case "/good/.well-known/openid-configuration":
          return doc("good", { jwks_uri: `${base}/good/keys` });
        case "/good/keys":
          return json({ keys: [KEY] });
        case "/mismatch/.well-known/openid-configuration":
          return json({
            issuer: `${base}/elsewhere`,
            jwks_uri: `${base}/good/keys`,
          });
        case "/nojwks/.well-known/openid-configuration":
          return doc("nojwks", {});
        case "/nokeys/.well-known/openid-configuration":
          return doc("nokeys", { jwks_uri: `${base}/nokeys/keys` });
        case "/nokeys/keys":
          return json({ keys: [] });
        case "/broken/.well-known/openid-configuration":
          return new Response("upstream down", { status: 503 });
        case "/slow/.well-known/openid-configuration":
          // Answers only after the client gave up.
          await new Promise((r) => setTimeout(r, 1500));
          return doc("slow", { jwks_uri: `${base}/good/keys` });
        default:
          return new Response("not found", { status: 404 });
      }
    },
  );
  base = `http://127.0.0.1:${server.addr.port}`;
  return {
    base,
    close: async () => {
      controller.abort();
      await server.finished;
    },
  };
}

Deno.test("discovery URL: one slash between the issuer and .well-known", () => {
  assertEquals(
    discoveryUrl("https://id.example.com/realms/kf"),
    "https://id.example.com/realms/kf/.well-known/openid-configuration",
  );
  assertEquals(
    discoveryUrl("https://accounts.example.com/"),
    "https://accounts.example.com/.well-known/openid-configuration",
  );
});

Deno.test("a consistent provider: its document and the number of keys", async () => {
  const p = providers();
  try {
    const found = await discoverIssuer(`${p.base}/good`);
    assert(found.status === "ok", JSON.stringify(found));
    assertEquals(found.metadata.issuer, `${p.base}/good`);
    assertEquals(found.metadata.jwks_uri, `${p.base}/good/keys`);
    assertEquals(found.metadata.authorization_endpoint, `${p.base}/good/auth`);
    assertEquals(found.keys, 1);
  } finally {
    await p.close();
  }
});

Deno.test("a mismatching issuer is an error naming the field and both values", async () => {
  const p = providers();
  try {
    const e = await assertRejects(
      () => discoverIssuer(`${p.base}/mismatch`),
      OptionsError,
    );
    assertEquals(e.issues[0].path, "kubeflow.identity.issuer");
    assertMatch(e.issues[0].message, /issuer mismatch/);
    assert(e.issues[0].message.includes(`"${p.base}/mismatch"`));
    assert(e.issues[0].message.includes(`"${p.base}/elsewhere"`));
    // Byte for byte: a trailing slash the provider does not have is a mismatch too.
    const slash = await assertRejects(
      () => discoverIssuer(`${p.base}/good/`),
      OptionsError,
    );
    assertMatch(slash.issues[0].message, /issuer mismatch.*trailing slash/);
  } finally {
    await p.close();
  }
});

Deno.test("no jwks_uri, a JWKS without keys, or no configuration at all: errors", async () => {
  const p = providers();
  try {
    const noJwks = await assertRejects(
      () => discoverIssuer(`${p.base}/nojwks`, { field: "x.identity.issuer" }),
      OptionsError,
    );
    assertEquals(noJwks.issues[0].path, "x.identity.issuer");
    assertMatch(noJwks.issues[0].message, /has no jwks_uri/);
    const noKeys = await assertRejects(
      () => discoverIssuer(`${p.base}/nokeys`),
      OptionsError,
    );
    assertMatch(noKeys.issues[0].message, /serves no JWKS with keys/);
    const missing = await assertRejects(
      () => discoverIssuer(`${p.base}/typo`),
      OptionsError,
    );
    assertMatch(
      missing.issues[0].message,
      /answered HTTP 404: .* serves no OpenID configuration/,
    );
  } finally {
    await p.close();
  }
});

Deno.test("a closed port, a provider that does not answer in time, a 503 and offline: findings, not errors", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const refused = await discoverIssuer(`http://127.0.0.1:${closed}/realm`);
  assert(refused.status === "unreachable");
  assertEquals(refused.finding.severity, "warning");
  assertEquals(refused.finding.check, "kubeflow.identity.discovery");
  assertMatch(refused.finding.seen, /unreachable/);
  assert(refused.finding.fix && refused.finding.fix.length > 0);

  const p = providers();
  try {
    const slow = await discoverIssuer(`${p.base}/slow`, { timeoutMs: 200 });
    assert(slow.status === "unreachable");
    assertMatch(slow.reason, /timed out after 0\.2 s/);
    const broken = await discoverIssuer(`${p.base}/broken`);
    assert(broken.status === "unreachable");
    assertMatch(broken.reason, /HTTP 503/);
  } finally {
    await p.close();
  }

  const offline = await discoverIssuer("https://id.example.com/realms/kf", {
    offline: true,
  });
  assert(offline.status === "unreachable");
  assertMatch(offline.finding.seen, /not fetched: planning offline/);
});
