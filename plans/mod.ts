/**
 * Ready-made compositions, and {@linkcode stepsFromConfig}, which turns a loaded
 * `kfplan.yaml` into the full platform's steps in the right order:
 *
 * ```
 * storage ─┐
 *          ├─> kubeflow ─> users
 * metallb ─┘
 * nvidia-toolkit ─> gpu-operator ─> time-slicing      amd-gpu
 * ```
 *
 * Storage comes before anything that creates PVCs (authservice, pipelines, katib),
 * MetalLB before a `LoadBalancer` ingress. The GPU branch is independent of Kubeflow,
 * so it applies in parallel.
 *
 * @module
 */

import type { LoadedConfig } from "../lib/config/load.ts";
import { OptionsIssues } from "../lib/engine/options.ts";
import type { Step } from "../lib/engine/types.ts";
import { gpuSteps } from "./gpu.ts";
import { kubeflowPlatformSteps } from "./platform.ts";
import { prerequisiteSteps } from "./prerequisites.ts";

export * from "./gpu.ts";
export * from "./platform.ts";
export * from "./prerequisites.ts";

/** Options for {@linkcode stepsFromConfig}. */
export interface StepsFromConfigOptions {
  /** Environment for `{ env: NAME }` secrets; default `Deno.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * Builds and validates every step the configuration asks for. Problems in several
 * sections are reported together, each naming the file and the field, before anything
 * runs.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../lib/config/load.ts";
 * import { stepsFromConfig } from "./mod.ts";
 *
 * const steps = stepsFromConfig(await loadConfig("examples/kfplan.yaml"));
 * console.log(steps.map((s) => s.id));
 * ```
 */
export function stepsFromConfig(
  loaded: LoadedConfig,
  options: StepsFromConfigOptions = {},
): Step[] {
  const { config } = loaded;
  const context = { source: loaded.path, baseDir: loaded.dir };
  const issues = new OptionsIssues();
  function collect(build: () => Step[]): Step[] {
    return issues.attempt(build) ?? [];
  }

  const prerequisites = collect(() =>
    prerequisiteSteps(
      { storage: config.storage, metallb: config.metallb },
      context,
    )
  );
  const platform = collect(() =>
    kubeflowPlatformSteps(
      { kubeflow: config.kubeflow, users: config.users },
      {
        ...context,
        needs: prerequisites.map((step) => step.id),
        defaultStorageClassFromPlan: config.storage !== undefined,
        env: options.env,
      },
    )
  );
  const gpuSection = config.gpu;
  const gpu = gpuSection
    ? collect(() => gpuSteps(gpuSection, { ...context, prefix: ["gpu"] }))
    : [];
  issues.throwIfAny(loaded.path);
  return [...prerequisites, ...platform, ...gpu];
}
