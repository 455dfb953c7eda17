/**
 * Remote resources of a kustomize tree (git remote bases such as
 * `https://github.com/org/repo/path?ref=v1` and files over HTTPS such as a release's
 * `manifests.yaml`), found by walking the kustomizations the entry uses, and the
 * vendor directory that holds copies of them for offline renders.
 *
 * ## The vendor directory
 * Laid out by URL, so that one directory serves every tree:
 * - a git remote base `https://HOST/ORG/REPO/PATH?ref=REF` is the repository checked
 *   out at REF in `VENDOR/HOST/ORG/REPO@REF/` (the base is `.../REPO@REF/PATH`);
 * - a file `https://HOST/PATH` is `VENDOR/HOST/PATH`.
 *
 * `deno task vendor` fills it (see `lib/tools/vendor.ts`). A render with `vendor:`
 * set copies the user's tree into a private temporary directory and rewrites, in the
 * copies of the kustomizations the entry uses, each remote URL found in the vendor
 * directory to its local copy; the user's checkout is never edited.
 *
 * @module
 */

import { dirname, join, relative, resolve } from "node:path";
import { parseYaml as parse } from "../../deps.ts";

/** One remote resource a kustomization names. */
export interface RemoteResource {
  /** The URL exactly as the kustomization writes it. */
  url: string;
  /** `git` for a remote base (a repository checkout), `file` for a file fetched over HTTP(S). */
  type: "git" | "file";
  /** Tree-relative path of the kustomization that names it. */
  kustomization: string;
  /** For git: clone URL, ref and path inside the repository. */
  git?: {
    repo: string;
    ref: string;
    path: string;
    host: string;
    repoPath: string;
  };
  /** Where the vendor directory keeps it, relative to the vendor directory. */
  vendorPath: string;
}

const KUSTOMIZATION_FILES = [
  "kustomization.yaml",
  "kustomization.yml",
  "Kustomization",
];

/** Fields of a kustomization whose entries are other kustomizations or resource files. */
const RESOURCE_FIELDS = ["resources", "bases", "components"];

/** Whether a kustomization entry is a remote URL rather than a local path. */
export function isRemote(entry: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) || /^git@/.test(entry) ||
    /^(github\.com|gitlab\.com|bitbucket\.org)\//.test(entry);
}

/**
 * Classifies and parses a remote entry the way kustomize reads it: a URL ending in a
 * YAML or JSON file without `?ref=` is a file; anything else is a git remote base
 * (`HOST/ORG/REPO[.git][//]PATH?ref=REF`).
 */
export function parseRemote(url: string, kustomization = ""): RemoteResource {
  const u = new URL(
    /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`,
  );
  const ref = u.searchParams.get("ref") ?? u.searchParams.get("version") ?? "";
  const isFile = !ref && /\.(ya?ml|json)$/i.test(u.pathname);
  if (isFile) {
    return {
      url,
      type: "file",
      kustomization,
      vendorPath: `${u.host}${decodeURIComponent(u.pathname)}`,
    };
  }
  const segments = u.pathname.replace(/^\//, "").split("/");
  let repoEnd = segments.findIndex((s) => s.endsWith(".git"));
  const doubleSlash = segments.indexOf("");
  if (repoEnd < 0) repoEnd = doubleSlash > 0 ? doubleSlash - 1 : 1;
  const repoSegments = segments.slice(0, repoEnd + 1);
  const repoPath = repoSegments.join("/").replace(/\.git$/, "");
  const path = segments.slice(repoEnd + 1).filter(Boolean).join("/");
  return {
    url,
    type: "git",
    kustomization,
    git: {
      repo: `${u.protocol}//${u.host}/${repoPath}`,
      ref,
      path,
      host: u.host,
      repoPath,
    },
    vendorPath: `${u.host}/${repoPath}@${ref || "HEAD"}${
      path ? `/${path}` : ""
    }`,
  };
}

async function kustomizationFile(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    try {
      if ((await Deno.stat(join(dir, name))).isFile) return join(dir, name);
    } catch {
      // next name
    }
  }
  return undefined;
}

/** Whether `dir` holds a kustomization file. */
export async function hasKustomization(dir: string): Promise<boolean> {
  return (await kustomizationFile(dir)) !== undefined;
}

/**
 * The remote resources the kustomizations reachable from `entry` name, in the order
 * found (each URL once). Local entries are followed; files and unreadable
 * kustomizations are left to kustomize.
 */
export async function findRemoteResources(
  root: string,
  entry: string,
): Promise<RemoteResource[]> {
  const seen = new Set<string>();
  const found = new Map<string, RemoteResource>();
  async function walk(dir: string): Promise<void> {
    const real = await Deno.realPath(dir).catch(() => dir);
    if (seen.has(real)) return;
    seen.add(real);
    const file = await kustomizationFile(dir);
    if (!file) return;
    let doc: Record<string, unknown> | null;
    try {
      doc = parse(await Deno.readTextFile(file)) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const field of RESOURCE_FIELDS) {
      const entries = doc?.[field];
      if (!Array.isArray(entries)) continue;
      for (const e of entries) {
        if (typeof e !== "string") continue;
        if (isRemote(e)) {
          if (!found.has(e)) {
            found.set(e, parseRemote(e, relative(root, file)));
          }
          continue;
        }
        const next = resolve(dir, e);
        const stat = await Deno.stat(next).catch(() => undefined);
        if (stat?.isDirectory) await walk(next);
      }
    }
  }
  await walk(entry);
  return [...found.values()];
}

/** Whether the vendor directory holds a remote resource. */
export async function vendored(
  vendorDir: string,
  remote: RemoteResource,
): Promise<boolean> {
  const stat = await Deno.stat(join(vendorDir, remote.vendorPath)).catch(() =>
    undefined
  );
  return remote.type === "file"
    ? stat?.isFile === true
    : stat?.isDirectory === true;
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.name === ".git") continue;
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isDirectory) await copyTree(src, dst);
    else if (e.isSymlink) {
      await Deno.symlink(await Deno.readLink(src), dst);
    } else await Deno.copyFile(src, dst);
  }
}

/** Result of {@linkcode vendoredCopy}. */
export interface VendoredCopy {
  /** The copied tree's root. */
  root: string;
  /** The entry inside the copy. */
  entry: string;
  /** The URLs rewritten to the vendor directory. */
  fromVendor: string[];
}

/**
 * Copies `root` into `into` and rewrites, in the copied kustomizations that name
 * them, the remote URLs the vendor directory holds to absolute paths of their
 * copies. The caller removes `into`.
 */
export async function vendoredCopy(
  root: string,
  entry: string,
  options: { vendorDir: string; remotes: RemoteResource[]; into: string },
): Promise<VendoredCopy> {
  const copy = join(options.into, "tree");
  await copyTree(root, copy);
  const fromVendor: string[] = [];
  const byFile = new Map<string, RemoteResource[]>();
  for (const r of options.remotes) {
    if (!(await vendored(options.vendorDir, r))) continue;
    byFile.set(r.kustomization, [...(byFile.get(r.kustomization) ?? []), r]);
    fromVendor.push(r.url);
  }
  for (const [file, remotes] of byFile) {
    const path = join(copy, file);
    let text = await Deno.readTextFile(path);
    for (const r of remotes) {
      const local = resolve(options.vendorDir, r.vendorPath);
      text = text.split(r.url).join(relative(dirname(path), local));
    }
    await Deno.writeTextFile(path, text);
  }
  return { root: copy, entry: join(copy, relative(root, entry)), fromVendor };
}

/**
 * The message for a render that failed on remote resources: every URL, whether the
 * vendor directory has it, and how to vendor them.
 */
export function remoteHelp(
  remotes: RemoteResource[],
  vendorDir: string | undefined,
  present: Set<string>,
): string {
  const lines = remotes.map((r) =>
    `  - ${r.url} (${
      r.type === "git" ? "git remote base" : "file over HTTPS"
    }, in ${r.kustomization})${
      vendorDir
        ? present.has(r.url) ? ": vendored" : ": not in the vendor directory"
        : ""
    }`
  );
  return `the tree fetches ${remotes.length} remote resource(s) while rendering:\n${
    lines.join("\n")
  }\nto render offline, mirror them once with \`deno task vendor --config <kfplan.yaml>\` ` +
    "(or `deno task vendor --manifests <checkout> --out <dir>`) on a machine with network, " +
    "and set kubeflow.vendor to that directory";
}
