/**
 * The NVIDIA GPU operator, from its Helm chart with typed values.
 *
 * `driver.enabled` / `toolkit.enabled` default to `"auto"`: decided by the NVIDIA host
 * checks (`nvidia_toolkit.ts`): a driver already loaded on every GPU host means
 * `driver.enabled=false`, a configured toolkit means `toolkit.enabled=false`; without
 * host checks the chart's defaults (true) apply. The namespace is labelled
 * `pod-security.kubernetes.io/enforce=privileged` (the operator's pods are privileged).
 *
 * Verify: the release is deployed and its workloads ready, ClusterPolicy
 * `cluster-policy` has `status.state == "ready"`, **and** at least one node has
 * allocatable `nvidia.com/gpu` (the operator also reports ready when there is no GPU
 * node), **and** the operator validator ran (a `nvidia-operator-validator` pod whose
 * validation init containers all succeeded is Ready).
 *
 * @module
 */

import { z } from "../deps.ts";
import { defineStep, type DefineStepOptions } from "../engine/step.ts";
import type {
  Step,
  StepContext,
  StepOutputs,
  StepPlan,
  VerifyCheck,
  VerifyResult,
} from "../engine/types.ts";
import type { KubeClient, KubeObject } from "../kube/types.ts";
import { sleep } from "../kube/retry.ts";
import {
  applyRelease,
  chartSourceSchema,
  type HelmReleaseEnv,
  type HelmReleaseSpec,
  planHasChanges,
  planRelease,
  requireKube,
  splitDesired,
  verifyRelease,
} from "./helm_release.ts";
import {
  NVIDIA_TOOLKIT_STEP_ID,
  type NvidiaHostReport,
  type OperatorChoices,
  operatorChoices,
} from "./nvidia_toolkit.ts";

/** Step id of the GPU operator. */
export const GPU_OPERATOR_STEP_ID = "gpu-operator";

const auto = z.union([z.boolean(), z.literal("auto")], {
  message: 'use true, false or "auto" (decided by the NVIDIA host checks)',
});
const envVar = z.strictObject({ name: z.string().min(1), value: z.string() });
const toleration = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  tolerationSeconds: z.int().optional(),
});
const image = {
  repository: z.string().min(1).optional(),
  version: z.string().min(1).optional(),
};

/** Typed chart values: the subset of gpu-operator's values.yaml kfplan supports. Unknown keys are rejected. */
export const gpuOperatorValuesSchema = z.strictObject({
  driver: z.strictObject({
    enabled: auto.default("auto"),
    ...image,
    usePrecompiled: z.boolean().optional(),
    kernelModuleType: z.enum(["auto", "open", "proprietary"]).optional(),
    rdma: z.strictObject({
      enabled: z.boolean().default(false),
      useHostMofed: z.boolean().default(false),
    }).optional(),
    env: z.array(envVar).optional(),
  }).default({ enabled: "auto" }),
  toolkit: z.strictObject({
    enabled: auto.default("auto"),
    ...image,
    /** e.g. `CONTAINERD_CONFIG`, `CONTAINERD_SOCKET` for k3s/RKE2 (set automatically from host checks). */
    env: z.array(envVar).optional(),
    installDir: z.string().min(1).optional(),
  }).default({ enabled: "auto" }),
  devicePlugin: z.strictObject({
    enabled: z.boolean().default(true),
    ...image,
    /** Sharing config ConfigMap (time-slicing); set by `plans/gpu.ts` from the time-slicing step. */
    config: z.strictObject({
      name: z.string().min(1),
      default: z.string().min(1).optional(),
    }).optional(),
  }).default({ enabled: true }),
  mig: z.strictObject({
    strategy: z.enum(["none", "single", "mixed"], {
      message: 'use "none", "single" or "mixed"',
    }).default("single"),
  }).default({ strategy: "single" }),
  migManager: z.strictObject({ enabled: z.boolean().default(true) }).optional(),
  /** Node Feature Discovery (disable when NFD is already installed). */
  nfd: z.strictObject({ enabled: z.boolean().default(true) }).default({
    enabled: true,
  }),
  gfd: z.strictObject({ enabled: z.boolean().default(true) }).optional(),
  dcgmExporter: z.strictObject({ enabled: z.boolean().default(true) })
    .optional(),
  cdi: z.strictObject({ enabled: z.boolean().default(true) }).optional(),
  psa: z.strictObject({ enabled: z.boolean().default(false) }).optional(),
  operator: z.strictObject({
    ...image,
    /** RuntimeClass the operator creates for GPU pods (default `nvidia`). */
    runtimeClass: z.string().min(1).optional(),
    /** Run the pre-upgrade CRD hook Job on upgrades (upstream default true). */
    upgradeCRD: z.boolean().optional(),
  }).optional(),
  daemonsets: z.strictObject({
    tolerations: z.array(toleration).optional(),
    priorityClassName: z.string().min(1).optional(),
  }).optional(),
  /** Render the ClusterPolicy (leave true: verify reads it). */
  clusterPolicy: z.strictObject({ deployCR: z.boolean().default(true) })
    .optional(),
});

/** Options of {@linkcode gpuOperatorStep}. */
export const gpuOperatorOptionsSchema = z.strictObject({
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    message: "use a lowercase DNS label",
  })
    .default("gpu-operator"),
  release: z.string().min(1).default("gpu-operator"),
  chart: chartSourceSchema.default({
    repo: "https://helm.ngc.nvidia.com/nvidia",
    chart: "gpu-operator",
    version: "v26.3.3",
  }),
  values: gpuOperatorValuesSchema.default({
    driver: { enabled: "auto" },
    toolkit: { enabled: "auto" },
    devicePlugin: { enabled: true },
    mig: { strategy: "single" },
    nfd: { enabled: true },
  }),
  /** Bound of verify's waits, seconds. */
  timeoutSeconds: z.int().min(1).default(600),
});

/** Raw options as written in the config file. */
export type GpuOperatorOptionsInput = z.input<typeof gpuOperatorOptionsSchema>;
/** Validated options. */
export type GpuOperatorOptions = z.output<typeof gpuOperatorOptionsSchema>;

/** The namespace labels the operator needs under Pod Security Admission. */
export const PRIVILEGED_NAMESPACE_LABELS = {
  "pod-security.kubernetes.io/enforce": "privileged",
  "pod-security.kubernetes.io/audit": "privileged",
  "pod-security.kubernetes.io/warn": "privileged",
};

/** Inputs of {@linkcode gpuOperatorValues} besides the options. */
export interface GpuOperatorValuesOptions {
  /** Host-check choices for `"auto"`; none: the chart defaults. */
  choices?: OperatorChoices;
  /** Device plugin sharing config (time-slicing). */
  devicePluginConfig?: { name: string; default?: string };
}

/**
 * The chart values for the options, with `"auto"` resolved from host-check choices
 * (or the chart defaults when there are none).
 */
export function gpuOperatorValues(
  o: GpuOperatorOptions,
  options: GpuOperatorValuesOptions = {},
): Record<string, unknown> {
  const { choices, devicePluginConfig } = options;
  const values = structuredClone(o.values) as Record<
    string,
    Record<string, unknown>
  >;
  const c = choices ?? operatorChoices([]);
  if (values.driver.enabled === "auto") values.driver.enabled = c.driverEnabled;
  if (values.toolkit.enabled === "auto") {
    values.toolkit.enabled = c.toolkitEnabled;
    if (c.toolkitEnabled && c.toolkitEnv.length > 0 && !values.toolkit.env) {
      values.toolkit.env = c.toolkitEnv;
    }
  }
  if (
    devicePluginConfig && !(values.devicePlugin as { config?: unknown }).config
  ) {
    values.devicePlugin = {
      ...values.devicePlugin,
      config: { ...devicePluginConfig },
    };
  }
  return values;
}

/** Extra wiring for {@linkcode gpuOperatorStep}. */
export interface GpuOperatorStepOptions
  extends DefineStepOptions, HelmReleaseEnv {
  /** Host reports for `"auto"` (shared with the host-check step, see `plans/gpu.ts`). */
  hostReports?: () => Promise<NvidiaHostReport[]>;
  /** Device plugin sharing config, e.g. from `timeSlicingChartValues`. */
  devicePluginConfig?: { name: string; default?: string };
  /** Step ids this step needs; default the host-check step when `hostReports` is set. */
  needs?: string[];
}

async function resolveChoices(
  ctx: StepContext,
  stepOptions: GpuOperatorStepOptions,
): Promise<OperatorChoices | undefined> {
  const fromApply = ctx.outputs[NVIDIA_TOOLKIT_STEP_ID]?.choices as
    | OperatorChoices
    | undefined;
  if (fromApply) return fromApply;
  if (stepOptions.hostReports) {
    return operatorChoices(await stepOptions.hostReports());
  }
  return undefined;
}

function releaseSpec(
  o: GpuOperatorOptions,
  values: Record<string, unknown>,
): HelmReleaseSpec {
  return {
    release: o.release,
    namespace: o.namespace,
    chart: o.chart,
    values,
    namespaceLabels: PRIVILEGED_NAMESPACE_LABELS,
  };
}

/** ClusterPolicy `cluster-policy` is `ready`; otherwise its state and last condition. */
export function clusterPolicyReady(
  policy: KubeObject | undefined,
): true | string {
  if (!policy) return "ClusterPolicy cluster-policy does not exist";
  const status = policy.status as {
    state?: string;
    conditions?: { type: string; reason?: string; message?: string }[];
  } | undefined;
  if (status?.state === "ready") return true;
  const last = status?.conditions?.at(-1);
  return `state ${status?.state ?? "unset"}${
    last ? ` (${last.type}: ${last.reason ?? ""} ${last.message ?? ""})` : ""
  }`;
}

/** Nodes with allocatable `nvidia.com/gpu` > 0, and their counts. */
export async function nodesWithGpus(
  kube: KubeClient,
  resource = "nvidia.com/gpu",
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const node of await kube.list("v1", "Node")) {
    const n = Number(
      (node.status as { allocatable?: Record<string, string> })?.allocatable
        ?.[resource] ?? 0,
    );
    if (n > 0) out[node.metadata.name] = n;
  }
  return out;
}

/** A validator pod that ran: Ready, and every validation init container exited 0. */
export function validatorRan(pods: KubeObject[]): true | string {
  if (pods.length === 0) {
    return "no nvidia-operator-validator pod (the operator has not deployed it)";
  }
  const states: string[] = [];
  for (const pod of pods) {
    const status = pod.status as {
      phase?: string;
      conditions?: { type: string; status: string }[];
      initContainerStatuses?: {
        name: string;
        state?: { terminated?: { exitCode: number } };
      }[];
    } | undefined;
    const ready = status?.conditions?.some((c) =>
      c.type === "Ready" && c.status === "True"
    );
    const failed = (status?.initContainerStatuses ?? []).filter((c) =>
      c.state?.terminated?.exitCode !== 0
    );
    if (ready && failed.length === 0) return true;
    states.push(
      `${pod.metadata.name}: ${status?.phase ?? "?"}${
        ready ? "" : ", not Ready"
      }${
        failed.length
          ? `, pending/failed validations: ${
            failed.map((c) => c.name).join(", ")
          }`
          : ""
      }`,
    );
  }
  return states.join("; ");
}

async function planGpuOperator(
  ctx: StepContext,
  o: GpuOperatorOptions,
  stepOptions: GpuOperatorStepOptions,
): Promise<StepPlan> {
  const env: HelmReleaseEnv = stepOptions;
  const choices = await resolveChoices(ctx, stepOptions);
  const values = gpuOperatorValues(o, {
    choices,
    devicePluginConfig: stepOptions.devicePluginConfig,
  });
  const { rendered: _r, ...plan } = await planRelease(
    ctx,
    releaseSpec(o, values),
    env,
  );
  const driver = values.driver as { enabled: boolean };
  const toolkit = values.toolkit as { enabled: boolean };
  plan.facts = {
    ...plan.facts,
    "driver.enabled": driver.enabled,
    "toolkit.enabled": toolkit.enabled,
    ...(choices ? { decidedBy: choices.reasons } : {}),
  };
  if (planHasChanges(plan)) {
    plan.unknowns.push(
      "ClusterPolicy status and GPU node capacity (set by the operator after apply)",
    );
  }
  return plan;
}

async function applyGpuOperator(
  ctx: StepContext,
  plan: StepPlan,
  o: GpuOperatorOptions,
  stepOptions: GpuOperatorStepOptions,
): Promise<StepOutputs> {
  const env: HelmReleaseEnv = stepOptions;
  const values = gpuOperatorValues(o, {
    choices: await resolveChoices(ctx, stepOptions),
    devicePluginConfig: stepOptions.devicePluginConfig,
  });
  const spec = releaseSpec(o, values);
  const release = await applyRelease(ctx, spec, {
    ...env,
    desired: plan.desired ? splitDesired(spec, plan.desired) : undefined,
  });
  return { namespace: o.namespace, release: o.release, ...release };
}

/** What verify reads of the operator's work. */
interface OperatorState {
  /** `true` when ClusterPolicy `cluster-policy` is ready, else what it shows. */
  policy: true | string;
  /** Allocatable `nvidia.com/gpu` by node. */
  gpus: Record<string, number>;
  /** `true` when a validator pod ran, else what is missing. */
  validator: true | string;
}

/**
 * Reads the operator's state until the policy is ready, a node has GPUs and the
 * validator ran, or the bound passes; returns the last reading.
 */
async function operatorState(
  ctx: StepContext,
  kube: KubeClient,
  namespace: string,
  timeoutMs: number,
): Promise<OperatorState> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const state: OperatorState = {
      policy: clusterPolicyReady(
        await kube.get({
          apiVersion: "nvidia.com/v1",
          kind: "ClusterPolicy",
          name: "cluster-policy",
        }),
      ),
      gpus: await nodesWithGpus(kube),
      validator: validatorRan(
        await kube.list("v1", "Pod", {
          namespace,
          labelSelector: "app=nvidia-operator-validator",
        }),
      ),
    };
    const done = state.policy === true &&
      Object.keys(state.gpus).length > 0 && state.validator === true;
    if (done || Date.now() >= deadline) return state;
    await sleep(
      Math.min(3000, Math.max(0, deadline - Date.now())),
      ctx.signal,
    );
  }
}

async function verifyGpuOperator(
  ctx: StepContext,
  o: GpuOperatorOptions,
  plan: StepPlan | undefined,
  stepOptions: GpuOperatorStepOptions,
): Promise<VerifyResult> {
  const env: HelmReleaseEnv = stepOptions;
  const kube = requireKube(ctx);
  const values = gpuOperatorValues(o, {
    choices: await resolveChoices(ctx, stepOptions),
    devicePluginConfig: stepOptions.devicePluginConfig,
  });
  const timeoutMs = o.timeoutSeconds * 1000;
  const spec = releaseSpec(o, values);
  const checks = await verifyRelease(ctx, spec, {
    ...env,
    timeoutMs,
    manifest: plan?.desired
      ? splitDesired(spec, plan.desired).manifest
      : undefined,
  });
  const { policy, gpus, validator } = await operatorState(
    ctx,
    kube,
    o.namespace,
    timeoutMs,
  );
  const gpuCheck: VerifyCheck = {
    name: "a node has allocatable nvidia.com/gpu",
    ok: Object.keys(gpus).length > 0,
    detail: Object.keys(gpus).length > 0
      ? Object.entries(gpus).map(([n, c]) => `${n}: ${c}`).join(", ")
      : "no node has allocatable nvidia.com/gpu (ClusterPolicy reports ready even without GPU nodes)",
  };
  checks.push(
    {
      name: "ClusterPolicy cluster-policy ready",
      ok: policy === true,
      ...(policy === true ? {} : { detail: policy }),
    },
    gpuCheck,
    {
      name: "operator validator ran",
      ok: validator === true,
      ...(validator === true ? {} : { detail: validator }),
    },
  );
  return { checks, outputs: { gpuNodes: gpus } };
}

/**
 * The GPU operator step.
 *
 * @example
 * ```ts
 * const step = gpuOperatorStep({ values: { driver: { enabled: false }, mig: { strategy: "none" } } });
 * ```
 */
export function gpuOperatorStep(
  options: GpuOperatorOptionsInput,
  stepOptions: GpuOperatorStepOptions = {},
): Step<GpuOperatorOptions> {
  return defineStep({
    id: GPU_OPERATOR_STEP_ID,
    title: "NVIDIA GPU operator",
    needs: stepOptions.needs ??
      (stepOptions.hostReports ? [NVIDIA_TOOLKIT_STEP_ID] : []),
    schema: gpuOperatorOptionsSchema,
    options,
    plan: (ctx, o) => planGpuOperator(ctx, o, stepOptions),
    apply: (ctx, plan, o) => applyGpuOperator(ctx, plan, o, stepOptions),
    verify: (ctx, o, plan) => verifyGpuOperator(ctx, o, plan, stepOptions),
  }, stepOptions);
}
