/**
 * A cache of renders by content: the same inputs (every file of the trees a render
 * reads, the tool and its version, the arguments) give the same output, so an
 * unchanged input does not run kustomize or helm again.
 *
 * Entries live under `<kfplan cache>/renders/`, mode 0600, written atomically; the
 * newest {@linkcode MAX_ENTRIES} are kept. Callers cache only renders that carry no
 * secret of the user's (a checkout's own render, a chart's templates), never output
 * that kfplan filled with passwords or client secrets.
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
}

/**
 * A digest of every regular file below each path (or of the file itself), by
 * relative path and content. Symlinks are followed; `.git` directories are skipped.
 *
 * @example
 * ```ts
 * const digest = await treeDigest(["/src/manifests"]);
 * ```
 */
export async function treeDigest(paths: readonly string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const root of paths) {
    hash.update(`root\0${root}\0`);
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
    const text = await Deno.readTextFile(path);
    // Touch it, so pruning keeps the renders in use.
    const now = new Date();
    await Deno.utime(path, now, now).catch(() => {});
    return { text, cached: true };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const text = await produce();
  if (options.storable && !options.storable(text)) {
    return { text, cached: false };
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${name}.${crypto.randomUUID()}.tmp`);
  await Deno.writeTextFile(tmp, text, { mode: 0o600 });
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
