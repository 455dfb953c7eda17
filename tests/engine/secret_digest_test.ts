import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
} from "../_assert.ts";
import {
  DIGEST_KEY_FILE,
  isSensitiveMarker,
  loadDigestKey,
  SecretDigester,
} from "../../lib/engine/secret_digest.ts";
import { createHash } from "node:crypto";

Deno.test("digests of one secret differ between installations and are stable within one", async () => {
  const one = await Deno.makeTempDir();
  const two = await Deno.makeTempDir();
  try {
    const a1 = (await loadDigestKey(undefined, { stateDir: one })).digester;
    const a2 = (await loadDigestKey(undefined, { stateDir: one })).digester;
    const b = (await loadDigestKey(undefined, { stateDir: two })).digester;
    const secret = "hunter2";
    assertEquals(a1.digest(secret), a2.digest(secret));
    assertEquals(a1.marker(secret), a2.marker(secret));
    assertNotEquals(a1.digest(secret), b.digest(secret));
    assertNotEquals(a1.marker(secret), b.marker(secret));
    assertNotEquals(a1.digest(secret), a1.digest("hunter3"));
    const stat = await Deno.stat(`${one}/${DIGEST_KEY_FILE}`);
    assertEquals((stat.mode ?? 0) & 0o777, 0o600);
  } finally {
    await Deno.remove(one, { recursive: true });
    await Deno.remove(two, { recursive: true });
  }
});

Deno.test("a keyed digest is not the bare SHA-256 a guesser could compute", () => {
  const d = new SecretDigester(new Uint8Array(32).fill(1));
  const bare = createHash("sha256").update('"hunter2"').digest("hex");
  assertMatch(d.digest("hunter2"), /^hmac-sha256:[0-9a-f]{64}$/);
  assert(!d.digest("hunter2").includes(bare));
  assert(!d.marker("hunter2").includes(bare.slice(0, 8)));
  assertMatch(d.marker("hunter2"), /^\(sensitive, hmac:[0-9a-f]{8}\)$/);
  assert(isSensitiveMarker(d.marker("x")));
  assert(isSensitiveMarker("(sensitive)"));
  assert(!isSensitiveMarker("(sensitive, sha256:12345678)"));
});

Deno.test("two first runs at once end with one local key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const keys = await Promise.all(
      Array.from(
        { length: 8 },
        () => loadDigestKey(undefined, { stateDir: dir }),
      ),
    );
    const digests = new Set(keys.map((k) => k.digester.digest("x")));
    assertEquals(digests.size, 1);
    assertEquals(keys[0].source, "local");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a key shorter than 16 bytes is refused", () => {
  let message = "";
  try {
    new SecretDigester(new Uint8Array(8));
  } catch (e) {
    message = (e as Error).message;
  }
  assertMatch(message, /at least 16 bytes/);
});

Deno.test("keys derived for other purposes differ by purpose and installation, and stay stable", () => {
  const a = new SecretDigester(new Uint8Array(32).fill(1));
  const b = new SecretDigester(new Uint8Array(32).fill(2));
  assertEquals(a.derive("render-cache"), a.derive("render-cache"));
  assertEquals(a.derive("render-cache").length, 32);
  assertNotEquals(a.derive("render-cache"), a.derive("other"));
  assertNotEquals(a.derive("render-cache"), b.derive("render-cache"));
});
