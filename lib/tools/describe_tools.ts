/**
 * The plan header's account of which kustomize and helm kfplan uses and where they
 * came from (PATH, an environment variable, provisioned into the cache).
 *
 * @module
 */

import { kfplanCacheDir } from "./find_binary.ts";
import { findHelm } from "./helm.ts";
import { findKustomize } from "./kustomize.ts";

/**
 * One line per tool for the plan header: which kustomize and helm kfplan uses and
 * where they come from, e.g. `kustomize 5.7.1 (PATH /usr/local/bin/kustomize)` or
 * `helm 3.19.5 (provisioned, ~/.cache/kfplan/tools/helm-v3.19.5/helm)`. Finds (and
 * provides, once) both; a tool that cannot be had is described as unavailable.
 *
 * @example
 * ```ts
 * console.error(`Tools: ${(await describeTools()).join(", ")}`);
 * ```
 */
export async function describeTools(
  options: { env?: Record<string, string | undefined> } = {},
): Promise<string[]> {
  const env = options.env ?? Deno.env.toObject();
  const finders = [
    ["kustomize", "KFPLAN_KUSTOMIZE", findKustomize],
    ["helm", "KFPLAN_HELM", findHelm],
  ] as const;
  const out: string[] = [];
  for (const [name, envVar, find] of finders) {
    try {
      const found: { path: string; version: string; args?: string[] } =
        await find({ env: options.env });
      out.push(describeTool(name, envVar, found, env));
    } catch {
      out.push(`${name} unavailable (see the step errors)`);
    }
  }
  return out;
}

function describeTool(
  name: string,
  envVar: string,
  found: { path: string; version: string; args?: string[] },
  env: Record<string, string | undefined>,
): string {
  const label = `${name} ${found.version.replace(/^v/, "")}`;
  const cache = kfplanCacheDir(env);
  const shown = env.HOME && found.path.startsWith(`${env.HOME}/`)
    ? `~${found.path.slice(env.HOME.length)}`
    : found.path;
  if (found.args) return `${label} (${found.path} ${found.args.join(" ")})`;
  if (env[envVar] === found.path) return `${label} (${envVar} ${shown})`;
  if (cache && found.path.startsWith(`${cache}/tools/`)) {
    return `${label} (provisioned, ${shown})`;
  }
  if (cache && found.path.startsWith(`${cache}/bin/`)) {
    return `${label} (test build cache, ${shown})`;
  }
  return `${label} (PATH ${shown})`;
}
