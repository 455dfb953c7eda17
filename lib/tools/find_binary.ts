/**
 * Finding an external CLI (kustomize, helm): an explicit path from an environment
 * variable, else `PATH`, else the binaries `tests/cluster/build.sh` cached under
 * `~/.cache/kfplan/bin/<versions>/`; each candidate's version is checked.
 *
 * @module
 */

/** A CLI that was found and is recent enough. */
export interface FoundBinary {
  path: string;
  /** Normalised `vMAJOR.MINOR.PATCH`. */
  version: string;
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
}

/** The CLI is missing or too old; the message says how to get it. */
export class BinaryNotFoundError extends Error {
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
    candidates.push(...(await cachedBinaries(options.name, env.HOME)));
  }
  const unsuitable: string[] = [];
  for (const path of candidates) {
    if (!(await isExecutable(path))) continue;
    const version = await versionOf(path, options);
    if (version && options.isSupported(version)) return { path, version };
    unsuitable.push(`${path} (${version ?? "unknown version"})`);
    if (explicit) break;
  }
  if (unsuitable.length > 0) {
    throw new BinaryNotFoundError(
      `${options.requirement} is required; found only ${
        unsuitable.join(", ")
      }; ${options.installHint}`,
    );
  }
  throw new BinaryNotFoundError(
    `${options.name} not found (looked at ${options.envVar}, PATH and ~/.cache/kfplan/bin/*/); ${options.installHint}`,
  );
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

async function cachedBinaries(
  name: string,
  home: string | undefined,
): Promise<string[]> {
  if (!home) return [];
  const root = `${home}/.cache/kfplan/bin`;
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      // build.sh writes into `<key>.tmp.<pid>` and renames when complete: skip those.
      if (entry.isDirectory && !entry.name.includes(".tmp.")) {
        found.push(`${root}/${entry.name}/${name}`);
      }
    }
  } catch {
    return [];
  }
  return found.sort().reverse();
}
