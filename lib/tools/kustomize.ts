/**
 * The real `kustomize` CLI, found and version-checked, run as a process.
 *
 * kfplan never re-implements kustomize: Kubeflow's manifests rely on its exact
 * behaviour (generators with hash suffixes, `replacements`, `vars`, `sortOptions`).
 * The binary is looked up, in order, at `$KFPLAN_KUSTOMIZE`, on `$PATH`, in the
 * test cache `~/.cache/kfplan/bin/<key>/kustomize` written by `tests/cluster/build.sh`,
 * and else provided (see `provision.ts`: the pinned release, downloaded or built once
 * into `~/.cache/kfplan/tools/`, or `kubectl kustomize`).
 *
 * @example
 * ```ts
 * import { findKustomize, kustomizeBuild } from "./kustomize.ts";
 *
 * const kustomize = await findKustomize();
 * const objects = await kustomizeBuild("/path/to/manifests/example", { kustomize });
 * console.log(objects.length);
 * ```
 *
 * @module
 */

import type { KubeObject } from "../kube/types.ts";
import { BinaryNotFoundError, findBinary } from "./find_binary.ts";
import { parseManifests } from "./manifests.ts";
import {
  cachedRender,
  type RenderCacheOptions,
  treeDigest,
} from "./render_cache.ts";
import { type ProvisionOptions, provisionTool } from "./provision.ts";

/** The lowest kustomize major version kfplan accepts. */
export const MIN_KUSTOMIZE_MAJOR = 5;

/** How to install a suitable kustomize; part of every "not found / too old" error. */
export const KUSTOMIZE_INSTALL_HINT =
  "install kustomize v5 (e.g. `go install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1`) " +
  "and put it on PATH, or set KFPLAN_KUSTOMIZE to its path";

/** A located kustomize binary and its version. */
export interface Kustomize {
  /** Absolute path of the binary. */
  path: string;
  /** The version it reports, e.g. `v5.7.1`. */
  version: string;
  /** `["kustomize"]` when the binary is kubectl (`kubectl kustomize DIR`). */
  args?: string[];
}

/** Raised when kustomize is missing, too old, or a build fails. */
export class KustomizeError extends Error {
  /** Creates the error; `message` says what is missing or too old, or what the failed build printed. */
  constructor(message: string) {
    super(message);
    this.name = "KustomizeError";
  }
}

/** Options for {@linkcode findKustomize}. */
export interface FindKustomizeOptions {
  /** Environment to read `KFPLAN_KUSTOMIZE`, `PATH` and `HOME` from; default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /**
   * Provide the pinned kustomize when none is found ({@linkcode provisionTool}, with
   * these options). Default: on for the process environment, off when `env` is given
   * (an explicit `env` describes a machine to look at, not one to change).
   */
  provision?: boolean | ProvisionOptions;
}

/**
 * Locates kustomize and checks that it is version 5 or newer.
 * Throws {@linkcode KustomizeError} with install instructions otherwise.
 *
 * @example
 * ```ts
 * const k = await findKustomize();
 * console.log(k.path, k.version);
 * ```
 */
export async function findKustomize(
  options: FindKustomizeOptions = {},
): Promise<Kustomize> {
  try {
    return await findBinary({
      name: "kustomize",
      envVar: "KFPLAN_KUSTOMIZE",
      versionArgs: ["version"],
      parseVersion: parseKustomizeVersion,
      isSupported: (version) => versionMajor(version) >= MIN_KUSTOMIZE_MAJOR,
      requirement: `kustomize ${MIN_KUSTOMIZE_MAJOR}.x or newer`,
      installHint: KUSTOMIZE_INSTALL_HINT,
      env: options.env,
      provision: provisionerFor(options),
    });
  } catch (error) {
    if (error instanceof BinaryNotFoundError) {
      throw new KustomizeError(error.message);
    }
    throw error;
  }
}

function provisionerFor(
  options: FindKustomizeOptions,
): (() => Promise<Kustomize>) | undefined {
  const provision = options.provision ?? options.env === undefined;
  if (provision === false) return undefined;
  const settings = provision === true ? {} : provision;
  return async () => {
    const { path, version, args } = await provisionTool("kustomize", {
      env: options.env,
      ...settings,
    });
    return args ? { path, version, args } : { path, version };
  };
}

/**
 * Parses the output of `kustomize version`, which differs between releases
 * (`v5.7.1`, `{Version:kustomize/v4.5.7 ...}`, `5.4.3`).
 *
 * @example
 * ```ts
 * parseKustomizeVersion("{Version:kustomize/v4.5.7 GitCommit:...}"); // "v4.5.7"
 * ```
 */
export function parseKustomizeVersion(output: string): string | undefined {
  const m = output.match(/v?(\d+)\.(\d+)\.(\d+)/);
  return m ? `v${m[1]}.${m[2]}.${m[3]}` : undefined;
}

function versionMajor(version: string): number {
  return Number(version.replace(/^v/, "").split(".")[0]);
}

/** Options for {@linkcode kustomizeBuild}. */
export interface KustomizeBuildOptions {
  /** A binary from {@linkcode findKustomize}; found when absent. */
  kustomize?: Kustomize;
  /**
   * Allow the kustomization to reference files outside its directory. Generated
   * overlays reference the user's checkout by absolute path and need it.
   */
  loadRestrictorNone?: boolean;
  /** Cancels the build. */
  signal?: AbortSignal;
  /**
   * Reuse an earlier build of the same inputs (see `render_cache.ts`): `inputs` are
   * every tree the build reads besides `dir` (a checkout an overlay points into).
   * Only for builds that carry no secret of the user's.
   */
  cache?: { inputs: readonly string[] } & RenderCacheOptions;
}

/**
 * Runs `kustomize build DIR` and returns the rendered objects in output order.
 * Empty documents and `List` wrappers are flattened away.
 *
 * @example
 * ```ts
 * const objects = await kustomizeBuild("./overlay", { loadRestrictorNone: true });
 * ```
 */
export async function kustomizeBuild(
  dir: string,
  options: KustomizeBuildOptions = {},
): Promise<KubeObject[]> {
  const kustomize = options.kustomize ?? (await findKustomize());
  const args = [...(kustomize.args ?? ["build"]), dir];
  if (options.loadRestrictorNone) {
    args.push("--load-restrictor", "LoadRestrictionsNone");
  }
  if (!options.cache) {
    return parseManifests(
      await runBuild(kustomize, { dir, args }, options),
      dir,
    );
  }
  const key = JSON.stringify({
    tool: "kustomize",
    version: kustomize.version,
    // The build directory by content only: scratch overlays live at a new path
    // each run.
    args: args.map((a) => a === dir ? "<dir>" : a),
    trees: await treeDigest([dir, ...options.cache.inputs]),
  });
  // Cached as the parsed objects' JSON: reading it back is a JSON.parse, far cheaper
  // in time and memory than parsing megabytes of YAML again.
  const { text } = await cachedRender(
    `${key}\njson`,
    async () =>
      JSON.stringify(
        parseManifests(await runBuild(kustomize, { dir, args }, options), dir),
      ),
    options.cache,
  );
  return JSON.parse(text) as KubeObject[];
}

async function runBuild(
  kustomize: Kustomize,
  build: { dir: string; args: string[] },
  options: KustomizeBuildOptions,
): Promise<string> {
  const { dir, args } = build;
  const out = await new Deno.Command(kustomize.path, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  }).output();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new KustomizeError(
      `kustomize build ${dir} failed (exit ${out.code}): ${
        stderr.slice(0, 4000)
      }`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}
