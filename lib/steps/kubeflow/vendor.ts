/**
 * Mirrors a tree's remote resources into a vendor directory once, so that later
 * renders (`kubeflow.vendor`) run offline without editing the checkout. Layout:
 * see `remote.ts` (by URL: `HOST/ORG/REPO@REF/...` for git remote bases,
 * `HOST/PATH` for files).
 *
 * Git remote bases are fetched with `git clone --depth 1 --branch REF URL`, files
 * with an HTTP GET: the way kustomize fetches them. Mirrors rewrite URL prefixes
 * first, git's through its own `url.<base>.insteadOf` (so `git` sees the URL the
 * tree names, as with a user's git config), files' by replacing the prefix: an
 * internal mirror, or the loopback servers of the tests.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { findRemoteResources, type RemoteResource } from "./remote.ts";

/** A URL prefix served elsewhere, e.g. `https://github.com/` at `file:///srv/git/`. */
export interface Mirror {
  /** The prefix as the tree writes it. */
  prefix: string;
  /** What serves it instead. */
  replacement: string;
}

/** Options of {@linkcode vendorTree}. */
export interface VendorOptions {
  /** The entry kustomization, relative to the tree; default `example`. */
  entry?: string;
  /** The vendor directory to fill. */
  out: string;
  /** Mirrors for git remote bases (applied as `url.<replacement>.insteadOf=<prefix>`). */
  gitMirrors?: Mirror[];
  /** Mirrors for files fetched over HTTP(S). */
  httpMirrors?: Mirror[];
  /** Fetch again what the vendor directory already holds. */
  refresh?: boolean;
  /** Cancels fetches. */
  signal?: AbortSignal;
}

/** What {@linkcode vendorTree} did, per remote resource. */
export interface VendoredResource {
  /** The URL as the tree writes it. */
  url: string;
  /** Where it is now, relative to the vendor directory. */
  path: string;
  /** `fetched`, or `present` when the directory already held it. */
  status: "fetched" | "present";
}

/** Raised when a remote resource cannot be fetched; names the URL and what failed. */
export class VendorError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "VendorError";
  }
}

function rewrite(url: string, mirrors: Mirror[] | undefined): string {
  for (const m of mirrors ?? []) {
    if (url.startsWith(m.prefix)) {
      return m.replacement + url.slice(m.prefix.length);
    }
  }
  return url;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function fetchFile(
  remote: RemoteResource,
  target: string,
  options: VendorOptions,
): Promise<void> {
  const url = rewrite(remote.url, options.httpMirrors);
  let response: Response;
  try {
    response = await fetch(url, { signal: options.signal });
  } catch (e) {
    throw new VendorError(
      `${remote.url}: fetching ${url} failed: ${(e as Error).message}`,
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new VendorError(
      `${remote.url}: ${url} answered ${response.status} ${response.statusText}`,
    );
  }
  const text = await response.text();
  await Deno.mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.partial`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, target);
}

async function cloneRepo(
  remote: RemoteResource,
  target: string,
  options: VendorOptions,
): Promise<void> {
  const git = remote.git!;
  const config = (options.gitMirrors ?? []).flatMap((m) => [
    "-c",
    `url.${m.replacement}.insteadOf=${m.prefix}`,
  ]);
  const tmp = `${target}.partial`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(dirname(target), { recursive: true });
  const args = [
    ...config,
    "-c",
    "advice.detachedHead=false",
    "clone",
    "--quiet",
    "--depth",
    "1",
    ...(git.ref ? ["--branch", git.ref] : []),
    git.repo,
    tmp,
  ];
  const out = await new Deno.Command("git", {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
    env: { GIT_TERMINAL_PROMPT: "0" },
  }).output().catch((e: Error) => {
    throw new VendorError(`${remote.url}: cannot run git: ${e.message}`);
  });
  if (!out.success) {
    throw new VendorError(
      `${remote.url}: git clone ${git.repo}${
        git.ref ? ` at ${git.ref}` : ""
      } failed: ${new TextDecoder().decode(out.stderr).trim().slice(0, 1000)}`,
    );
  }
  await Deno.remove(join(tmp, ".git"), { recursive: true });
  await Deno.rename(tmp, target);
}

/**
 * Mirrors every remote resource the kustomizations reachable from the entry name
 * into `options.out`. Idempotent: what is already there is kept unless `refresh`.
 *
 * @example
 * ```ts
 * const done = await vendorTree("/src/kubeflow-manifests", { out: "/src/vendor" });
 * for (const v of done) console.log(v.url, "->", v.path);
 * ```
 */
export async function vendorTree(
  root: string,
  options: VendorOptions,
): Promise<VendoredResource[]> {
  const remotes = await findRemoteResources(
    root,
    join(root, options.entry ?? "example"),
  );
  const done: VendoredResource[] = [];
  const cloned = new Set<string>();
  for (const r of remotes) {
    if (r.type === "file") {
      const target = join(options.out, r.vendorPath);
      const present = !options.refresh && await exists(target);
      if (!present) await fetchFile(r, target, options);
      done.push({
        url: r.url,
        path: r.vendorPath,
        status: present ? "present" : "fetched",
      });
      continue;
    }
    const git = r.git!;
    const repoDir = `${git.host}/${git.repoPath}@${git.ref || "HEAD"}`;
    const target = join(options.out, repoDir);
    const present = !cloned.has(repoDir) &&
      (!options.refresh && await exists(target));
    if (!present && !cloned.has(repoDir)) {
      await Deno.remove(target, { recursive: true }).catch(() => {});
      await cloneRepo(r, target, options);
      cloned.add(repoDir);
    }
    if (!(await exists(join(options.out, r.vendorPath)))) {
      throw new VendorError(
        `${r.url}: ${git.repo} at ${git.ref} has no ${git.path || "root"}`,
      );
    }
    done.push({
      url: r.url,
      path: r.vendorPath,
      status: present ? "present" : "fetched",
    });
  }
  return done;
}
