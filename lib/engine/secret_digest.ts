/**
 * Keyed digests of secret values. Plans get pasted into pull requests and CI logs, and
 * everything else in a rendered object is public, so a bare SHA-256 of a low-entropy
 * secret (a database password, a token a user chose) could be confirmed offline at
 * hashing speed. Every digest that covers a secret value is therefore an HMAC-SHA-256
 * with a random key per installation: it still shows that a value changed, and nothing
 * more to anyone without the key.
 *
 * The key lives in the cluster (Secret `kube-system/kfplan-digest-key`), so every
 * machine planning against one cluster computes the same digests and saved plans
 * compare. Before the first apply, and when planning offline, it lives beside the
 * local state (`<state dir>/digest-key`, mode 0600); the first apply stores that key
 * in the cluster, so the plan that was reviewed and the apply agree.
 *
 * @module
 */

import { createHmac, randomBytes } from "node:crypto";
import { join } from "node:path";
import type { KubeClient, KubeObject } from "../kube/types.ts";
import { canonicalJson } from "./digest.ts";
import { createExclusive, writeFileAtomic } from "./_files.ts";

/** Namespace of the digest key's Secret. */
export const DIGEST_KEY_NAMESPACE = "kube-system";
/** Name of the digest key's Secret. */
export const DIGEST_KEY_NAME = "kfplan-digest-key";
/** Name of the local key file inside the state directory. */
export const DIGEST_KEY_FILE = "digest-key";

const KEY_BYTES = 32;

/**
 * Computes keyed digests of secret values for one installation.
 *
 * @example
 * ```ts
 * const digester = new SecretDigester(crypto.getRandomValues(new Uint8Array(32)));
 * digester.marker("hunter2"); // "(sensitive, hmac:1a2b3c4d)"
 * ```
 */
export class SecretDigester {
  #key: Uint8Array;

  /** A digester over `key` (at least 16 random bytes). */
  constructor(key: Uint8Array) {
    if (key.length < 16) {
      throw new Error("a digest key needs at least 16 bytes");
    }
    this.#key = key;
  }

  /** `hmac-sha256:<64 hex>` of the canonical JSON of `value`. */
  digest(value: unknown): string {
    return `hmac-sha256:${this.#hex(value)}`;
  }

  /** The short form shown next to `(sensitive)`: `hmac:` and 8 hex digits. */
  short(value: unknown): string {
    return `hmac:${this.#hex(value).slice(0, 8)}`;
  }

  /**
   * A 32-byte key for another purpose (e.g. sealing cached renders), derived from the
   * installation's key so that it, too, is the same on every machine of one cluster.
   */
  derive(purpose: string): Uint8Array {
    return new Uint8Array(
      createHmac("sha256", this.#key).update(`kfplan-derive\0${purpose}`)
        .digest(),
    );
  }

  /** What replaces a secret in plans and checkpoints: `(sensitive, hmac:1a2b3c4d)`. */
  marker(value: unknown): string {
    return `(sensitive, ${this.short(value)})`;
  }

  #hex(value: unknown): string {
    return createHmac("sha256", this.#key)
      .update(canonicalJson(value) ?? "null")
      .digest("hex");
  }
}

/** True when `value` is a marker made by {@linkcode SecretDigester.marker} or a bare `(sensitive)`. */
export function isSensitiveMarker(value: unknown): boolean {
  return typeof value === "string" &&
    /^\(sensitive(, hmac:[0-9a-f]{8})?\)$/.test(value);
}

/** Where a loaded digest key came from. */
export type DigestKeySource = "cluster" | "local";

/** A loaded digest key. */
export interface DigestKey {
  /** The digester over the key. */
  digester: SecretDigester;
  /** `cluster` when read from the cluster's Secret, `local` from the state directory. */
  source: DigestKeySource;
  /** The raw key, to store in the cluster on first apply. */
  key: Uint8Array;
}

/** Options for {@linkcode loadDigestKey}. */
export interface LoadDigestKeyOptions {
  /** The local state directory (the checkpoint directory). */
  stateDir: string;
}

/**
 * Loads the installation's digest key: the cluster's Secret when it exists, else the
 * local key file, created with a new random key when missing. Read-only towards the
 * cluster: {@linkcode storeDigestKey} writes it there, once, at apply.
 */
export async function loadDigestKey(
  kube: KubeClient | undefined,
  options: LoadDigestKeyOptions,
): Promise<DigestKey> {
  if (kube) {
    const secret = await kube.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: DIGEST_KEY_NAMESPACE,
      name: DIGEST_KEY_NAME,
    });
    const key = keyFromSecret(secret);
    if (key) {
      // Offline plans on this machine then digest as the cluster does.
      await syncLocalKey(options.stateDir, key);
      return { digester: new SecretDigester(key), source: "cluster", key };
    }
  }
  const key = await localKey(options.stateDir);
  return { digester: new SecretDigester(key), source: "local", key };
}

/**
 * Stores a locally made key in the cluster (apply does this under the lock, before
 * it writes anything else), so other machines compute the same digests. Create-only:
 * when another machine stored one first, that key wins, is copied to the local state
 * directory, and is returned; resolves the key in force.
 */
export async function storeDigestKey(
  kube: KubeClient,
  key: DigestKey,
  options: LoadDigestKeyOptions,
): Promise<DigestKey> {
  if (key.source === "cluster") return key;
  try {
    await kube.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        namespace: DIGEST_KEY_NAMESPACE,
        name: DIGEST_KEY_NAME,
        labels: { "app.kubernetes.io/managed-by": "kfplan" },
      },
      type: "Opaque",
      data: { key: encodeKey(key.key) },
    });
    return { ...key, source: "cluster" };
  } catch (e) {
    if ((e as { status?: number } | null)?.status !== 409) throw e;
    return await loadDigestKey(kube, options);
  }
}

function encodeKey(key: Uint8Array): string {
  return btoa(String.fromCharCode(...key));
}

function keyFromSecret(secret: KubeObject | undefined): Uint8Array | undefined {
  const data = secret?.data as Record<string, string> | undefined;
  if (!data?.key) return undefined;
  const bytes = Uint8Array.from(atob(data.key), (c) => c.charCodeAt(0));
  return bytes.length >= 16 ? bytes : undefined;
}

async function syncLocalKey(stateDir: string, key: Uint8Array): Promise<void> {
  const path = join(stateDir, DIGEST_KEY_FILE);
  const text = encodeKey(key) + "\n";
  const current = await Deno.readTextFile(path).catch(() => undefined);
  if (current !== text) await writeFileAtomic(path, text);
}

async function localKey(stateDir: string): Promise<Uint8Array> {
  const path = join(stateDir, DIGEST_KEY_FILE);
  try {
    const text = (await Deno.readTextFile(path)).trim();
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    if (bytes.length >= 16) return bytes;
    throw new Error(
      `${path}: the digest key is shorter than 16 bytes; delete the file to make a new one`,
    );
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const key = new Uint8Array(randomBytes(KEY_BYTES));
  // Two first runs at once must end with one key: create-if-absent, then read back.
  if (!await createExclusive(path, encodeKey(key) + "\n")) {
    return await localKey(stateDir);
  }
  return key;
}
