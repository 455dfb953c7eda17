/**
 * The GPU-only composition: NVIDIA host checks, the GPU operator (its driver/toolkit
 * choices decided by the checks), time-slicing, and optionally the AMD device plugin.
 *
 * Order: `nvidia-toolkit` -> `gpu-operator` -> `time-slicing`; `amd-gpu` is independent.
 * The time-slicing ConfigMap belongs to the `gpu-operator` step: it is applied in the
 * operator namespace before the operator's release (whose `devicePlugin.config` names
 * it), because the operator's device plugin cannot start without it. The
 * `time-slicing` step sets the per-node config labels and verifies shared capacity.
 * The host checks run once per plan and are shared by the check step and the
 * operator's plan, so the plan shows the operator values the checks imply.
 *
 * @example
 * ```ts
 * import { gpuSteps } from "./gpu.ts";
 * import { planSteps } from "../lib/engine/planner.ts";
 *
 * const steps = gpuSteps({
 *   hostChecks: { hosts: [{ name: "gpu-1", address: "10.0.0.11", user: "ubuntu" }] },
 *   operator: {},
 *   timeSlicing: { timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] } },
 * }, { source: "kfplan.yaml", prefix: ["gpu"] });
 * const { document } = await planSteps(steps, { offlineReason: "no cluster yet" });
 * ```
 *
 * @module
 */

import type { Step } from "../lib/engine/types.ts";
import { formatPath, OptionsIssues } from "../lib/engine/options.ts";
import type { Helm } from "../lib/tools/helm.ts";
import {
  inspectNvidiaHosts,
  type NvidiaHostReport,
  type NvidiaToolkitOptionsInput,
  nvidiaToolkitStep,
} from "../lib/steps/nvidia_toolkit.ts";
import {
  type GpuOperatorOptionsInput,
  gpuOperatorStep,
} from "../lib/steps/gpu_operator.ts";
import {
  type TimeSlicingOptionsInput,
  timeSlicingStep,
} from "../lib/steps/time_slicing.ts";
import { type AmdGpuOptionsInput, amdGpuStep } from "../lib/steps/amd_gpu.ts";

/** The `gpu` section of `kfplan.yaml`: one sub-section per GPU step. */
export interface GpuPlanOptions {
  /** Host checks; omit to let the operator use the chart defaults. */
  hostChecks?: NvidiaToolkitOptionsInput;
  /** The GPU operator; omit for an AMD-only composition. */
  operator?: GpuOperatorOptionsInput;
  /** Time-slicing; needs `operator`. */
  timeSlicing?: TimeSlicingOptionsInput;
  /** AMD GPU device plugin (optional). */
  amd?: AmdGpuOptionsInput;
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
  /** A located helm for the operator's release; found with `findHelm()` when absent. */
  helm?: Helm;
}

/**
 * The GPU steps, validated (throws `OptionsError` naming the field on bad input).
 */
export function gpuSteps(
  options: GpuPlanOptions,
  context: GpuPlanContext = {},
): Step[] {
  const prefix = context.prefix ?? [];
  const at = (key: string) => ({
    source: context.source,
    prefix: [...prefix, key],
    baseDir: context.baseDir,
  });
  const helmEnv = {
    kubeconfig: context.kubeconfig,
    helm: context.helm,
    baseDir: context.baseDir,
  };
  const steps: Step[] = [];
  // Each sub-section is validated even when another one is wrong, so one error lists
  // every problem.
  const issues = new OptionsIssues();
  let hostReports: (() => Promise<NvidiaHostReport[]>) | undefined;
  if (options.hostChecks) {
    let memo: Promise<NvidiaHostReport[]> | undefined;
    const checks = issues.attempt(() => {
      const step = nvidiaToolkitStep(options.hostChecks!, {
        ...at("hostChecks"),
        inspect: () =>
          memo ??= inspectNvidiaHosts(step.options, {
            baseDir: context.baseDir,
          }),
      });
      return step;
    });
    if (checks) {
      hostReports = () =>
        memo ??= inspectNvidiaHosts(checks.options, {
          baseDir: context.baseDir,
        });
      steps.push(checks);
    }
  }
  const slicing = options.timeSlicing
    ? issues.attempt(() =>
      timeSlicingStep(options.timeSlicing!, at("timeSlicing"))
    )
    : undefined;
  if (options.operator) {
    const operator = issues.attempt(() =>
      gpuOperatorStep(options.operator!, {
        ...at("operator"),
        ...helmEnv,
        hostReports,
        // The operator step applies the sharing ConfigMap before its release.
        timeSlicing: slicing?.options,
      })
    );
    if (operator) steps.push(operator);
    if (
      operator && slicing &&
      slicing.options.namespace !== operator.options.namespace
    ) {
      issues.issues.push({
        path: formatPath([...prefix, "timeSlicing", "namespace"]),
        message: `"${slicing.options.namespace}" is not the GPU operator's ` +
          `namespace "${operator.options.namespace}": the operator reads the ` +
          "sharing ConfigMap from its own namespace",
      });
    }
  } else if (options.timeSlicing) {
    issues.issues.push({
      path: formatPath([...prefix, "timeSlicing"]),
      message:
        "needs gpu.operator: the device plugin reads the sharing config " +
        "through the operator's chart values",
    });
  }
  if (slicing) steps.push(slicing);
  if (options.amd) {
    const amd = issues.attempt(() => amdGpuStep(options.amd!, at("amd")));
    if (amd) steps.push(amd);
  }
  issues.throwIfAny(context.source);
  return steps;
}
