import { assertEquals, assertNotEquals } from "../_assert.ts";
import { canonicalJson, digestOf, sha256Hex } from "../../lib/engine/digest.ts";

Deno.test("canonicalJson sorts keys recursively and drops undefined", () => {
  assertEquals(
    canonicalJson({ b: 1, a: [2, { d: 1, c: undefined, e: { z: 1, y: 2 } }] }),
    '{"a":[2,{"d":1,"e":{"y":2,"z":1}}],"b":1}',
  );
});

Deno.test("digestOf is independent of key order and sensitive to values", () => {
  assertEquals(digestOf({ a: 1, b: 2 }), digestOf({ b: 2, a: 1 }));
  assertNotEquals(digestOf({ a: 1 }), digestOf({ a: 2 }));
  assertEquals(sha256Hex("abc").slice(0, 8), "ba7816bf");
});
