/**
 * Canonical JSON and digests. Plans must be byte-identical for the same inputs, so
 * every document kfplan writes goes through {@linkcode canonicalJson}: object keys
 * sorted, `undefined` dropped, no insignificant whitespace differences.
 *
 * @module
 */

import { createHash } from "node:crypto";

/**
 * Serialises a JSON value with object keys sorted recursively. `undefined` values and
 * functions are dropped like `JSON.stringify` does.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [2, { d: 1, c: 2 }] }); // '{"a":[2,{"c":2,"d":1}],"b":1}'
 * ```
 */
export function canonicalJson(
  value: unknown,
  options: { indent?: number } = {},
): string {
  return JSON.stringify(sortKeys(value), null, options.indent);
}

/** Returns a deep copy of `value` whose objects have their keys in sorted order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => v === undefined ? null : sortKeys(v));
  }
  if (value !== null && typeof value === "object") {
    if (value instanceof Date) return value.toISOString();
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined || typeof v === "function") continue;
      out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/**
 * Hex SHA-256 of a string, synchronously (node:crypto), so digests can be taken inside
 * renderers and loggers.
 *
 * @example
 * ```ts
 * sha256Hex("abc").slice(0, 8); // "ba7816bf"
 * ```
 */
export function sha256Hex(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

/** `sha256:<hex>` of the canonical JSON of a value. */
export function digestOf(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(value) ?? "null")}`;
}
