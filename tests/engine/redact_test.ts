import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
} from "../_assert.ts";
import {
  matchesSensitive,
  optionsDigest,
  parseSensitivePath,
  redactChange,
  redactOptions,
  scrubbingLogger,
  SecretScrubber,
} from "../../lib/engine/redact.ts";
import { SecretDigester } from "../../lib/engine/secret_digest.ts";

const digester = new SecretDigester(new Uint8Array(32).fill(7));

Deno.test("parseSensitivePath accepts dots, brackets and wildcards", () => {
  assertEquals(parseSensitivePath("users[*].password"), [
    "users",
    "*",
    "password",
  ]);
  assertEquals(parseSensitivePath("users.*.password"), [
    "users",
    "*",
    "password",
  ]);
  assertEquals(parseSensitivePath('data["a.b"]'), ["data", "a.b"]);
  assert(matchesSensitive(["users", 3, "password"], ["users[*].password"]));
  assert(!matchesSensitive(["users", 3, "email"], ["users[*].password"]));
});

Deno.test("redactOptions replaces secrets by a short digest and collects them", () => {
  const r = redactOptions(
    {
      users: [{ email: "a@b", password: "s3cret-one" }, {
        email: "c@d",
        password: "s3cret-two",
      }],
      oidc: { clientSecret: "cs-123456" },
    },
    { sensitive: ["users[*].password", "oidc.clientSecret"], digester },
  );
  const text = JSON.stringify(r.value);
  assert(!text.includes("s3cret"), text);
  assert(!text.includes("cs-123456"), text);
  assertMatch(text, /\(sensitive, hmac:[0-9a-f]{8}\)/);
  assertEquals(r.secrets.sort(), ["cs-123456", "s3cret-one", "s3cret-two"]);
  assertEquals(
    (r.value as { users: { email: string }[] }).users[0].email,
    "a@b",
  );
});

Deno.test("optionsDigest changes with a secret but never contains it", () => {
  const o = { sensitive: ["password"], digester };
  const a = optionsDigest({ password: "one-secret" }, o);
  const b = optionsDigest({ password: "two-secret" }, o);
  assertNotEquals(a, b);
  assertMatch(a, /^sha256:[0-9a-f]{64}$/);
});

Deno.test("Secret data diffs are always redacted, sensitive diffs too", () => {
  const change = redactChange({
    apiVersion: "v1",
    kind: "Secret",
    namespace: "auth",
    name: "dex",
    action: "update",
    diff: [
      { path: "data.password", before: "b2xk", after: "bmV3" },
      { path: "metadata.labels.app", before: "a", after: "b" },
    ],
  }, digester);
  assertEquals(change.diff[0], {
    path: "data.password",
    sensitive: true,
    before: digester.marker("b2xk"),
    after: digester.marker("bmV3"),
  });
  assertEquals(change.diff[1].after, "b");
  const cm = redactChange({
    apiVersion: "v1",
    kind: "ConfigMap",
    name: "x",
    action: "update",
    diff: [{ path: "data.token", after: "tok-123456", sensitive: true }],
  }, digester);
  assertEquals(cm.diff[0].after, digester.marker("tok-123456"));
});

Deno.test("SecretScrubber and scrubbingLogger remove secrets from any text", () => {
  const s = new SecretScrubber(['pa"ss-word-1', "abc"]);
  assertEquals(
    s.scrub('login with pa"ss-word-1 ok'),
    "login with (sensitive) ok",
  );
  // JSON-escaped form too, so serialised documents are covered.
  assertEquals(
    s.scrub(JSON.stringify({ p: 'pa"ss-word-1' })),
    '{"p":"(sensitive)"}',
  );
  // Very short values are not scrubbed: they would mangle ordinary text.
  assertEquals(s.scrub("abc"), "abc");
  const lines: string[] = [];
  const log = scrubbingLogger(
    {
      info: (m) => lines.push(m),
      warn: (m) => lines.push(m),
      debug: (m) => lines.push(m),
    },
    s,
  );
  log.warn('secret pa"ss-word-1');
  assertEquals(lines, ["secret (sensitive)"]);
});
