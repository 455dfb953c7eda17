/**
 * A cache of first-pass recognitions, so that planning the same tree again (every
 * `plan`, and `apply`'s own plan) runs `kustomize build` once instead of twice.
 *
 * The key covers everything the first pass depends on: the kustomize binary and
 * version, the entry, every file of the checkout (path, size, modification time),
 * the vendor directory likewise, and {@linkcode RECOGNITION_FORMAT}. A changed file
 * is a new key. Only the recognition is kept (object identities and the Dex and
 * proxy configs as the tree ships them, which are public): never secrets, never
 * the settings. Entries live in `<cache>/kubeflow-recognition/` (`KFPLAN_CACHE`,
 * else `$XDG_CACHE_HOME/kfplan`, else `~/.cache/kfplan`) and are written
 * atomically; removing the directory is always safe.
 *
 * @module
 */

import { join, relative } from "node:path";
import { createHash } from "node:crypto";
import { kfplanCacheDir } from "../../tools/find_binary.ts";
import type { Recognition } from "./recognize.ts";

/** Bumped whenever {@linkcode Recognition}'s shape or the rules behind it change. */
export const RECOGNITION_FORMAT = "4";

async function fingerprint(
  root: string,
  hash: ReturnType<typeof createHash>,
): Promise<void> {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      continue;
    }
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    for (const e of entries) {
      if (e.name === ".git") continue;
      const path = join(dir, e.name);
      if (e.isDirectory) {
        stack.push(path);
        continue;
      }
      const stat = await Deno.lstat(path).catch(() => undefined);
      hash.update(
        `${relative(root, path)}\0${stat?.size}\0${stat?.mtime?.getTime()}\n`,
      );
    }
  }
}

/** What the cache key is made of. */
export interface CacheKeyInput {
  /** The checkout. */
  root: string;
  /** The entry kustomization. */
  entry: string;
  /** The vendor directory, when used. */
  vendor?: string;
  /** kustomize path and version. */
  kustomize: string;
}

/** The cache key of a first pass. */
export async function recognitionKey(input: CacheKeyInput): Promise<string> {
  const hash = createHash("sha256");
  hash.update(
    `${RECOGNITION_FORMAT}\0${input.kustomize}\0${input.root}\0${input.entry}\0${
      input.vendor ?? ""
    }\n`,
  );
  await fingerprint(input.root, hash);
  if (input.vendor) await fingerprint(input.vendor, hash);
  return hash.digest("hex");
}

function cachePath(
  key: string,
  env: Record<string, string | undefined> | undefined,
): string | undefined {
  const dir = kfplanCacheDir(env ?? Deno.env.toObject());
  return dir ? `${dir}/kubeflow-recognition/${key}.json` : undefined;
}

/** The cached recognition for `key`, if any. */
export async function readRecognition(
  key: string,
  env?: Record<string, string | undefined>,
): Promise<Recognition | undefined> {
  const path = cachePath(key, env);
  if (!path) return undefined;
  try {
    return JSON.parse(await Deno.readTextFile(path)) as Recognition;
  } catch {
    return undefined;
  }
}

/** Stores a recognition under `key` (best effort: a read-only cache is not an error). */
export async function writeRecognition(
  key: string,
  recognition: Recognition,
  env?: Record<string, string | undefined>,
): Promise<void> {
  const path = cachePath(key, env);
  if (!path) return;
  try {
    const dir = path.slice(0, path.lastIndexOf("/"));
    await Deno.mkdir(dir, { recursive: true });
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(recognition));
    await Deno.rename(tmp, path);
  } catch {
    // A cache that cannot be written only costs a second kustomize run next time.
  }
}
