/**
 * A cache of renders by content: the same inputs (every file of the trees a render
 * reads, the tool and its version, the arguments) give the same output, so an
 * unchanged input does not run kustomize or helm again.
 *
 * Entries live under `<kfplan cache>/renders/`, mode 0600, written atomically; the
 * newest {@linkcode MAX_ENTRIES} are kept. A render that carries secrets of the
 * user's (a Kubeflow overlay with client secrets and password hashes) is cached only
 * encrypted ({@linkcode RenderCacheOptions.encryptWith}, AES-256-GCM under a key
 * derived from the installation's digest key), so a copied cache directory alone
 * reveals nothing; other callers must not cache such renders.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join, relative } from "node:path";
import { kfplanCacheDir } from "./find_binary.ts";

/** How many renders the cache keeps. */
export const MAX_ENTRIES = 24;

/** Options for {@linkcode cachedRender}. */
export interface RenderCacheOptions {
  /** The cache directory; default `<kfplan cache>/renders`. */
  dir?: string;
  /** Environment for the default cache location. */
  env?: Record<string, string | undefined>;
  /** Whether a fresh render may be stored (e.g. not when it holds Secrets); default yes. */
  storable?: (text: string) => boolean;
  /** Store the render encrypted with this 32-byte key (AES-256-GCM). */
  encryptWith?: Uint8Array;
}

/**
 * A digest of every regular file below each path (or of the file itself), by
 * relative path and content, in the order given; where the trees are does not
 * matter (a scratch directory at a new path each run digests the same). Symlinks
 * are followed; `.git` directories are skipped.
 *
 * @example
 * ```ts
 * const digest = await treeDigest(["/src/manifests"]);
 * ```
 */
export async function treeDigest(paths: readonly string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const [index, root] of paths.entries()) {
    hash.update(`root\0${index}\0`);
    for (const file of (await filesBelow(root)).sort()) {
      hash.update(`${relative(root, file)}\0`);
      hash.update(await Deno.readFile(file));
      hash.update("\0");
    }
  }
  return hash.digest("hex");
}

async function filesBelow(path: string): Promise<string[]> {
  const info = await Deno.stat(path);
  if (info.isFile) return [path];
  const out: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    if (entry.name === ".git") continue;
    const child = join(path, entry.name);
    const stat = await Deno.stat(child).catch(() => undefined);
    if (stat?.isDirectory) out.push(...await filesBelow(child));
    else if (stat?.isFile) out.push(child);
  }
  return out;
}

/**
 * The render for `key`, from the cache when present, else from `produce` (then
 * stored). `key` must cover every input of the render. Without a cache directory
 * (no `KFPLAN_CACHE`, `XDG_CACHE_HOME` or `HOME`) it always produces.
 */
export async function cachedRender(
  key: string,
  produce: () => Promise<string>,
  options: RenderCacheOptions = {},
): Promise<{ text: string; cached: boolean }> {
  const root = kfplanCacheDir(options.env ?? Deno.env.toObject());
  const dir = options.dir ?? (root ? join(root, "renders") : undefined);
  // No cache directory anywhere (no HOME): render every time.
  if (!dir) return { text: await produce(), cached: false };
  const name = createHash("sha256").update(key).digest("hex");
  const path = join(dir, `${name}.yaml`);
  try {
    const stored = await Deno.readTextFile(path);
    const text = options.encryptWith
      ? await decrypt(stored, options.encryptWith)
      : stored;
    if (text !== undefined) {
      // Touch it, so pruning keeps the renders in use.
      const now = new Date();
      await Deno.utime(path, now, now).catch(() => {});
      return { text, cached: true };
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const text = await produce();
  if (options.storable && !options.storable(text)) {
    return { text, cached: false };
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${name}.${crypto.randomUUID()}.tmp`);
  const stored = options.encryptWith
    ? await encrypt(text, options.encryptWith)
    : text;
  await Deno.writeTextFile(tmp, stored, { mode: 0o600 });
  await Deno.rename(tmp, path);
  await prune(dir);
  return { text, cached: false };
}

async function prune(dir: string): Promise<void> {
  const entries: { path: string; mtime: number }[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".yaml")) continue;
    const path = join(dir, entry.name);
    const stat = await Deno.stat(path).catch(() => undefined);
    if (stat) entries.push({ path, mtime: stat.mtime?.getTime() ?? 0 });
  }
  entries.sort((a, b) => b.mtime - a.mtime);
  for (const old of entries.slice(MAX_ENTRIES)) {
    await Deno.remove(old.path).catch(() => {});
  }
}

const SEALED = "kfplan-sealed-v1:";

async function aesKey(raw: Uint8Array): Promise<CryptoKey> {
  return await crypto.subtle.importKey(
    "raw",
    new Uint8Array(raw),
    "AES-GCM",
    false,
    [
      "encrypt",
      "decrypt",
    ],
  );
}

async function encrypt(text: string, raw: Uint8Array): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv },
      await aesKey(raw),
      new TextEncoder().encode(text),
    ),
  );
  const all = new Uint8Array(iv.length + sealed.length);
  all.set(iv);
  all.set(sealed, iv.length);
  return SEALED + encodeBase64(all);
}

/** The plain render, or undefined when it was sealed with another key (or not at all). */
async function decrypt(
  stored: string,
  raw: Uint8Array,
): Promise<string | undefined> {
  if (!stored.startsWith(SEALED)) return undefined;
  const all = decodeBase64(stored.slice(SEALED.length));
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: all.slice(0, 12) },
      await aesKey(raw),
      all.slice(12),
    );
    return new TextDecoder().decode(plain);
  } catch {
    return undefined;
  }
}

function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
