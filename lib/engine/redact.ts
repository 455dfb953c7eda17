/**
 * Redaction: secrets never reach plans, JSON, checkpoints or logs.
 *
 * Values at option paths a step marks sensitive ({@linkcode Step.sensitive}), field
 * diffs marked `sensitive`, and the `data`/`stringData` of Secrets are replaced by
 * `(sensitive, hmac:1a2b3c4d)`: a short keyed digest (see `secret_digest.ts`), so a
 * reviewer still sees that a value changed without being able to confirm a guess. {@linkcode SecretScrubber} is defence in depth: it removes
 * every known secret value from any text before it is printed or written.
 *
 * @module
 */

import { canonicalJson, sha256Hex } from "./digest.ts";
import { isSensitiveMarker, type SecretDigester } from "./secret_digest.ts";
import type { FieldDiff, Logger, ResourceChange } from "./types.ts";

/** What renderers print instead of a secret. */
export const SENSITIVE = "(sensitive)";

/** Secrets shorter than this are not scrubbed from free text (they would mangle it). */
const MIN_SCRUB_LENGTH = 4;

/**
 * Splits a sensitive-path pattern into segments. Both `users[*].password` and
 * `users.*.password` give `["users", "*", "password"]`.
 */
export function parseSensitivePath(pattern: string): string[] {
  const out: string[] = [];
  const re = /\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[([^\]]*)\]|([^.[\]]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(pattern)) !== null) {
    out.push(
      m[1] !== undefined ? JSON.parse(`"${m[1]}"`) : (m[2] ?? m[3]).trim(),
    );
  }
  return out.filter((s) => s !== "");
}

/** True when `path` (keys and indices) matches one of the patterns exactly. */
export function matchesSensitive(
  path: readonly (string | number)[],
  patterns: readonly string[],
): boolean {
  return patterns.some((p) => {
    const segs = parseSensitivePath(p);
    return segs.length === path.length &&
      segs.every((s, i) => s === "*" || s === String(path[i]));
  });
}

/** Result of {@linkcode redactOptions}. */
export interface Redacted {
  /** A copy with every sensitive subtree replaced by its marker. */
  value: unknown;
  /** The secret strings found, for a {@linkcode SecretScrubber}. */
  secrets: string[];
}

/** How to redact: which paths are secret, and the installation's digester. */
export interface RedactOptions {
  /** Sensitive-path patterns (see {@linkcode Step.sensitive}); default none. */
  sensitive?: readonly string[];
  /** Makes the markers; without one, secrets become a bare `(sensitive)`. */
  digester?: SecretDigester;
}

/**
 * Replaces every subtree at a sensitive path by the digester's marker and collects
 * the secret strings it contained.
 *
 * @example
 * ```ts
 * redactOptions({ user: "a", password: "hunter2" }, { sensitive: ["password"], digester }).value;
 * // { user: "a", password: "(sensitive, hmac:…)" }
 * ```
 */
export function redactOptions(
  value: unknown,
  options: RedactOptions = {},
): Redacted {
  const patterns = options.sensitive ?? [];
  const secrets: string[] = [];
  const walk = (v: unknown, path: (string | number)[]): unknown => {
    if (path.length > 0 && matchesSensitive(path, patterns)) {
      collectStrings(v, secrets);
      return markerOf(v, options.digester);
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, [...path, k]);
      return out;
    }
    return v;
  };
  return { value: walk(value, []), secrets };
}

function collectStrings(v: unknown, into: string[]): void {
  if (typeof v === "string" || typeof v === "number") into.push(String(v));
  else if (Array.isArray(v)) v.forEach((x) => collectStrings(x, into));
  else if (v !== null && typeof v === "object") {
    Object.values(v).forEach((x) => collectStrings(x, into));
  }
}

function markerOf(value: unknown, digester?: SecretDigester): string {
  return digester ? digester.marker(value) : SENSITIVE;
}

/**
 * The digest that decides whether a step's options changed: SHA-256 of the canonical
 * JSON of the options in which every sensitive value is replaced by its keyed digest,
 * so the secret never enters the document but a change to it still shows.
 *
 * @example
 * ```ts
 * const o = { sensitive: ["password"], digester };
 * optionsDigest({ password: "a" }, o) !== optionsDigest({ password: "b" }, o); // true
 * ```
 */
export function optionsDigest(
  value: unknown,
  options: RedactOptions & { digester: SecretDigester },
): string {
  const patterns = options.sensitive ?? [];
  const walk = (v: unknown, path: (string | number)[]): unknown => {
    if (path.length > 0 && matchesSensitive(path, patterns)) {
      return { $sensitive: options.digester.digest(v) };
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, [...path, k]);
      return out;
    }
    return v;
  };
  return `sha256:${sha256Hex(canonicalJson(walk(value, [])) ?? "null")}`;
}

/** True for diff paths that hold Secret payloads (`data...`, `stringData...`). */
function isSecretPayloadPath(path: string): boolean {
  return /^(data|stringData)([.[]|$)/.test(path);
}

/** Options for {@linkcode redactDiff}. */
export interface RedactDiffOptions {
  /** Makes the markers; without one, secrets become a bare `(sensitive)`. */
  digester?: SecretDigester;
  /** The diff belongs to a core Secret: `data`/`stringData` paths are secret too. */
  secretKind?: boolean;
}

/**
 * Redacts one field diff: when it is marked sensitive (or `secretKind` is true and the
 * path is under `data`/`stringData`), `before`/`after` become markers.
 */
export function redactDiff(
  diff: FieldDiff,
  options: RedactDiffOptions = {},
): FieldDiff {
  const sensitive = diff.sensitive === true ||
    (options.secretKind === true && isSecretPayloadPath(diff.path));
  if (!sensitive) return diff;
  const out: FieldDiff = { path: diff.path, sensitive: true };
  for (const side of ["before", "after"] as const) {
    const v = diff[side];
    if (v === undefined) continue;
    out[side] = isSensitiveMarker(v) ? v : markerOf(v, options.digester);
  }
  return out;
}

/** Redacts every diff of a resource change (Secrets' payloads always). */
export function redactChange(
  change: ResourceChange,
  digester?: SecretDigester,
): ResourceChange {
  const secretKind = change.kind === "Secret" && change.apiVersion === "v1";
  return {
    ...change,
    diff: change.diff.map((d) => redactDiff(d, { digester, secretKind })),
  };
}

/**
 * Removes known secret values from free text. Holds the secrets of one run; build one
 * per run from the steps' sensitive options.
 *
 * @example
 * ```ts
 * const s = new SecretScrubber(["hunter22"]);
 * s.scrub("password is hunter22"); // "password is (sensitive)"
 * ```
 */
export class SecretScrubber {
  #secrets = new Set<string>();

  /** Starts with the given secrets. */
  constructor(secrets: Iterable<string> = []) {
    for (const s of secrets) this.add(s);
  }

  /** Registers a secret (and its JSON-escaped form, so serialised documents are covered). */
  add(secret: string): void {
    if (secret.length < MIN_SCRUB_LENGTH) return;
    this.#secrets.add(secret);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) this.#secrets.add(escaped);
  }

  /** How many distinct secret forms are known. */
  get size(): number {
    return this.#secrets.size;
  }

  /** `text` with every known secret replaced by `(sensitive)`; longest secrets first. */
  scrub(text: string): string {
    if (this.#secrets.size === 0) return text;
    let out = text;
    for (const s of [...this.#secrets].sort((a, b) => b.length - a.length)) {
      if (out.includes(s)) out = out.split(s).join(SENSITIVE);
    }
    return out;
  }
}

/**
 * Wraps a logger so every message passes through the scrubber first.
 *
 * @example
 * ```ts
 * const log = scrubbingLogger(console, new SecretScrubber(["hunter22"]));
 * log.info("hunter22"); // prints "(sensitive)"
 * ```
 */
export function scrubbingLogger(
  logger: Logger,
  scrubber: SecretScrubber,
): Logger {
  return {
    info: (m) => logger.info(scrubber.scrub(m)),
    warn: (m) => logger.warn(scrubber.scrub(m)),
    debug: (m) => logger.debug(scrubber.scrub(m)),
  };
}
