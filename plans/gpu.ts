/**
 * The GPU-only composition: NVIDIA host checks, the GPU operator (its driver/toolkit
 * choices decided by the checks), time-slicing (wired into the operator's chart values
 * `devicePlugin.config.name/default`), and optionally the AMD device plugin.
 *
 * Order: `nvidia-toolkit` -> `gpu-operator` -> `time-slicing`; `amd-gpu` is independent.
 * The host checks run once per plan and are shared by the check step and the
 * operator's plan, so the plan shows the operator values the checks imply.
 *
 * @example
 * ```ts
 * import { gpuSteps } from "./gpu.ts";
 * import { planSteps } from "../lib/engine/planner.ts";
 *
 * const steps = gpuSteps({
 *   nvidiaToolkit: { hosts: [{ name: "gpu-1", address: "10.0.0.11", user: "ubuntu" }] },
 *   gpuOperator: {},
 *   timeSlicing: { timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] } },
 * }, { source: "kfplan.yaml" });
 * const { document } = await planSteps(steps, { offlineReason: "no cluster yet" });
 * ```
 *
 * @module
 */

import type { Step } from "../lib/engine/types.ts";
import type { Helm } from "../lib/tools/helm.ts";
import {
  inspectNvidiaHosts,
  type NvidiaHostReport,
  nvidiaToolkitStep,
  type NvidiaToolkitOptionsInput,
} from "../lib/steps/nvidia_toolkit.ts";
import { gpuOperatorStep, type GpuOperatorOptionsInput } from "../lib/steps/gpu_operator.ts";
import { timeSlicingChartValues, timeSlicingStep, type TimeSlicingOptionsInput } from "../lib/steps/time_slicing.ts";
import { amdGpuStep, type AmdGpuOptionsInput } from "../lib/steps/amd_gpu.ts";

/** The config sections of the GPU composition (keys as in `kfplan.yaml`). */
export interface GpuPlanOptions {
  /** Host checks; omit to let the operator use the chart defaults. */
  nvidiaToolkit?: NvidiaToolkitOptionsInput;
  /** The GPU operator; omit for an AMD-only composition. */
  gpuOperator?: GpuOperatorOptionsInput;
  /** Time-slicing; needs `gpuOperator`. */
  timeSlicing?: TimeSlicingOptionsInput;
  /** AMD GPU device plugin (optional). */
  amdGpu?: AmdGpuOptionsInput;
}

/** Where the options came from and how steps reach tools. */
export interface GpuPlanContext {
  /** Config file named in validation errors. */
  source?: string;
  /** Path of the sections inside the config (default: top level). */
  prefix?: PropertyKey[];
  /** Directory relative paths (charts, fixtures) resolve against. */
  baseDir?: string;
  /** Kubeconfig for helm (see `HelmReleaseEnv.kubeconfig`). */
  kubeconfig?: string;
  helm?: Helm;
}

/**
 * The GPU steps, validated (throws `OptionsError` naming the field on bad input).
 */
export function gpuSteps(options: GpuPlanOptions, context: GpuPlanContext = {}): Step[] {
  const prefix = context.prefix ?? [];
  const at = (key: string) => ({ source: context.source, prefix: [...prefix, key], baseDir: context.baseDir });
  const helmEnv = { kubeconfig: context.kubeconfig, helm: context.helm, baseDir: context.baseDir };
  const steps: Step[] = [];
  let hostReports: (() => Promise<NvidiaHostReport[]>) | undefined;
  if (options.nvidiaToolkit) {
    let memo: Promise<NvidiaHostReport[]> | undefined;
    const checks = nvidiaToolkitStep(options.nvidiaToolkit, {
      ...at("nvidiaToolkit"),
      inspect: () => memo ??= inspectNvidiaHosts(checks.options, { baseDir: context.baseDir }),
    });
    hostReports = () => memo ??= inspectNvidiaHosts(checks.options, { baseDir: context.baseDir });
    steps.push(checks);
  }
  const slicing = options.timeSlicing ? timeSlicingStep(options.timeSlicing, at("timeSlicing")) : undefined;
  if (options.gpuOperator) {
    steps.push(gpuOperatorStep(options.gpuOperator, {
      ...at("gpuOperator"),
      ...helmEnv,
      hostReports,
      devicePluginConfig: slicing ? timeSlicingChartValues(slicing.options) : undefined,
    }));
  } else if (slicing) {
    throw new Error(
      `${context.source ? `${context.source}: ` : ""}timeSlicing needs gpuOperator: the device plugin reads ` +
        "the sharing config through the operator's chart values",
    );
  }
  if (slicing) steps.push(slicing);
  if (options.amdGpu) steps.push(amdGpuStep(options.amdGpu, at("amdGpu")));
  return steps;
}
