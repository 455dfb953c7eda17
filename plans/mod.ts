/**
 * Compositions (`@kfplan/kfplan/plans`): {@linkcode loadConfig} reads a
 * `kfplan.yaml`, and {@linkcode stepsFromConfig} turns it into the full platform's
 * steps in the right order:
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
 * The parts are composable on their own: {@linkcode prerequisiteSteps},
 * {@linkcode kubeflowPlatformSteps} and {@linkcode gpuSteps} take the sections as
 * `kfplan.yaml` has them.
 *
 * @example
 * ```ts
 * import { loadConfig, stepsFromConfig } from "./mod.ts";
 *
 * const loaded = await loadConfig("examples/kfplan.yaml");
 * for (const step of stepsFromConfig(loaded)) {
 *   console.log(`${step.id} needs [${step.needs.join(", ")}]`);
 * }
 * ```
 *
 * @module
 */

import type { LoadedConfig } from "../lib/config/load.ts";
import { OptionsIssues } from "../lib/engine/options.ts";
import type { Step } from "../lib/engine/types.ts";
import { gpuSteps } from "./gpu.ts";
import { kubeflowPlatformSteps } from "./platform.ts";
import { prerequisiteSteps } from "./prerequisites.ts";
import { stepImages, withImageMirror } from "../lib/steps/image_mirror.ts";

export { type GpuPlanContext, type GpuPlanOptions, gpuSteps } from "./gpu.ts";
export {
  type KubeflowPlatformContext,
  type KubeflowPlatformOptions,
  kubeflowPlatformSteps,
} from "./platform.ts";
export {
  type PrerequisiteContext,
  type PrerequisiteOptions,
  prerequisiteSteps,
} from "./prerequisites.ts";
export {
  type ClusterSettings,
  ConfigFileError,
  exampleConfigPath,
  type GpuSections,
  type KfplanConfig,
  loadConfig,
  type LoadConfigOptions,
  type LoadedConfig,
  parseConfig,
} from "../lib/config/load.ts";

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
 * import { loadConfig, stepsFromConfig } from "./mod.ts";
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
  const steps = [...prerequisites, ...platform, ...gpu];
  if (!config.images) return steps;
  // One mirror for every step, handed over in each phase's context.
  const images = stepImages(config.images, {
    baseDir: loaded.dir,
    env: options.env,
    source: loaded.path,
  });
  return steps.map((step) => withImageMirror(step, images));
}
