/**
 * Finding an external CLI (kustomize, helm): an explicit path from an environment
 * variable, else `PATH`, else kfplan's cache (tools provided earlier under
 * `<cache>/tools/`, then those `tests/cluster/build.sh` built under
 * `<cache>/bin/<versions>/`), else whatever the caller's `provision` hook provides
 * (see `provision.ts`); each candidate's version is checked.
 *
 * @module
 */

/** A CLI that was found and is recent enough. */
export interface FoundBinary {
  /** Path of the executable. */
  path: string;
  /** Normalised `vMAJOR.MINOR.PATCH`. */
  version: string;
  /**
   * Arguments that select the tool when it is a subcommand of another binary, e.g.
   * `["kustomize"]` for `kubectl kustomize`; absent for the tool's own binary.
   */
  args?: string[];
}

/**
 * kfplan's cache directory: `$KFPLAN_CACHE`, else `$XDG_CACHE_HOME/kfplan`, else
 * `$HOME/.cache/kfplan` (as `tests/cluster/build.sh` and `.ci/run` compute it);
 * `undefined` when none of the three is set.
 *
 * @example
 * ```ts
 * kfplanCacheDir({ HOME: "/home/ada" }); // "/home/ada/.cache/kfplan"
 * ```
 */
export function kfplanCacheDir(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string | undefined {
  if (env.KFPLAN_CACHE) return env.KFPLAN_CACHE;
  if (env.XDG_CACHE_HOME) return `${env.XDG_CACHE_HOME}/kfplan`;
  return env.HOME ? `${env.HOME}/.cache/kfplan` : undefined;
}

/** What to look for and how to judge it. */
export interface FindBinaryOptions {
  /** Executable name, e.g. `kustomize`. */
  name: string;
  /** Environment variable holding an explicit path, e.g. `KFPLAN_KUSTOMIZE`. */
  envVar: string;
  /** Arguments that print the version, e.g. `["version", "--short"]`. */
  versionArgs: string[];
  /** Extracts the version from the command's stdout and stderr. */
  parseVersion(output: string): string | undefined;
  /** Whether a version is usable. */
  isSupported(version: string): boolean;
  /** Human requirement for errors, e.g. `kustomize 5.x or newer`. */
  requirement: string;
  /** How to install it, appended to every error. */
  installHint: string;
  /** Environment to read the variable, `PATH` and `HOME` from; default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /**
   * Provides a suitable binary when none was found (not when the explicit variable is
   * set): kustomize and helm pass {@linkcode provisionTool}'s download / `go install`
   * ways here. Its error message is added to the "not found" error.
   */
  provision?: () => Promise<FoundBinary>;
}

/** The CLI is missing or too old; the message says how to get it. */
export class BinaryNotFoundError extends Error {
  /** Creates the error; `message` names what was found and how to get a suitable one. */
  constructor(message: string) {
    super(message);
    this.name = "BinaryNotFoundError";
  }
}

/**
 * Locates a CLI and checks its version; throws {@linkcode BinaryNotFoundError} naming
 * what was found and how to install a suitable one.
 *
 * @example
 * ```ts
 * const helm = await findBinary({
 *   name: "helm",
 *   envVar: "KFPLAN_HELM",
 *   versionArgs: ["version", "--short"],
 *   parseVersion: (out) => out.match(/v\d+\.\d+\.\d+/)?.[0],
 *   isSupported: (v) => v.startsWith("v3."),
 *   requirement: "helm v3",
 *   installHint: "go install helm.sh/helm/v3/cmd/helm@v3.19.5",
 * });
 * ```
 */
export async function findBinary(
  options: FindBinaryOptions,
): Promise<FoundBinary> {
  const env = options.env ?? Deno.env.toObject();
  const explicit = env[options.envVar];
  const candidates: string[] = [];
  if (explicit) {
    if (!(await isExecutable(explicit))) {
      throw new BinaryNotFoundError(
        `${options.envVar}=${explicit} is not an executable file; ${options.installHint}`,
      );
    }
    candidates.push(explicit);
  } else {
    for (const dir of (env.PATH ?? "").split(":")) {
      if (dir) candidates.push(`${dir}/${options.name}`);
    }
    candidates.push(...(await cachedBinaries(options.name, env)));
  }
  const unsuitable: string[] = [];
  for (const path of candidates) {
    if (!(await isExecutable(path))) continue;
    const version = await versionOf(path, options);
    if (version && options.isSupported(version)) return { path, version };
    unsuitable.push(`${path} (${version ?? "unknown version"})`);
    if (explicit) break;
  }
  const missing = unsuitable.length > 0
    ? `${options.requirement} is required; found only ${unsuitable.join(", ")}`
    : `${options.name} not found (looked at ${options.envVar}, PATH and ~/.cache/kfplan/bin/*/)`;
  if (options.provision && !explicit) {
    try {
      return await options.provision();
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      throw new BinaryNotFoundError(
        `${missing}, and providing it failed: ${error.message}`,
      );
    }
  }
  throw new BinaryNotFoundError(`${missing}; ${options.installHint}`);
}

async function versionOf(
  path: string,
  options: FindBinaryOptions,
): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(path, {
      args: options.versionArgs,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return options.parseVersion(
      decoder.decode(out.stdout) + decoder.decode(out.stderr),
    );
  } catch {
    return undefined;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Binaries kfplan cached: provided ones (`<cache>/tools/<name>-<version>/<name>`, see
 * `provision.ts`), then `tests/cluster/build.sh`'s (`<cache>/bin/<key>/<name>`);
 * newest-looking first. Temporary directories of either are skipped.
 */
async function cachedBinaries(
  name: string,
  env: Record<string, string | undefined>,
): Promise<string[]> {
  const cache = kfplanCacheDir(env);
  if (!cache) return [];
  const provided = await subdirs(
    `${cache}/tools`,
    (d) => d.startsWith(`${name}-`),
  );
  // build.sh writes into `<key>.tmp.<pid>` and renames when complete: skip those.
  const built = await subdirs(`${cache}/bin`, (d) => !d.includes(".tmp."));
  return [
    ...provided.map((d) => `${cache}/tools/${d}/${name}`),
    ...built.map((d) => `${cache}/bin/${d}/${name}`),
  ];
}

async function subdirs(
  root: string,
  keep: (name: string) => boolean,
): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      if (entry.isDirectory && keep(entry.name)) found.push(entry.name);
    }
  } catch {
    return [];
  }
  return found.sort().reverse();
}
