/**
 * The NVIDIA GPU operator, from its Helm chart with typed values.
 *
 * `driver.enabled` / `toolkit.enabled` default to `"auto"`: decided by the NVIDIA host
 * checks (`nvidia_toolkit.ts`): a driver already loaded on every GPU host means
 * `driver.enabled=false`, a configured toolkit means `toolkit.enabled=false`; without
 * host checks the chart's defaults (true) apply. The namespace is labelled
 * `pod-security.kubernetes.io/enforce=privileged` (the operator's pods are privileged).
 *
 * With time-slicing configured (`timeSlicing`, wired by `plans/gpu.ts`) this step owns
 * the device plugin's sharing ConfigMap: it is part of what the operator consumes, so
 * the plan shows it (after the namespace, before the release's objects) and apply
 * creates it in the operator namespace **before** `helm upgrade --install`. The operator
 * mounts it into the device plugin pod as a non-optional volume (upstream
 * `handleDevicePluginConfig`, NVIDIA/gpu-operator#412, #2641): were it created later,
 * the device plugin would stay in ContainerCreating, no node would advertise GPUs and
 * this step's verify could never pass. A change of replicas is an update of this step.
 *
 * Verify: the release is deployed and its workloads ready, ClusterPolicy
 * `cluster-policy` has `status.state == "ready"`, **and** at least one node has
 * allocatable NVIDIA GPUs (the operator also reports ready when there is no GPU node):
 * `nvidia.com/gpu`, or the names a sharing config advertises them under
 * (`nvidia.com/gpu.shared` with `renameByDefault`, see {@linkcode gpuResourceNames}),
 * **and** the operator validator ran: a Ready `nvidia-operator-validator` pod whose
 * init containers `driver-validation`, `toolkit-validation`, `cuda-validation` and
 * `plugin-validation` (the last only with the device plugin enabled) all terminated
 * with exit code 0.
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
  assertSameCluster,
  chartSourceSchema,
  checkChartSource,
  type HelmReleaseEnv,
  type HelmReleaseSpec,
  namespaceObject,
  planHasChanges,
  planRelease,
  requireKube,
  splitDesired,
  uninstallRelease,
  verifyRelease,
} from "./helm_release.ts";
import {
  NVIDIA_TOOLKIT_STEP_ID,
  type NvidiaHostReport,
  type OperatorChoices,
  operatorChoices,
} from "./nvidia_toolkit.ts";
import {
  sharedResourceNames,
  timeSlicingChartValues,
  timeSlicingConfigMap,
  type TimeSlicingOptions,
} from "./time_slicing.ts";
import { digestOf } from "../engine/digest.ts";
import { planObjects, planOptionsOf } from "../kube/apply_set.ts";
import { objectName, refOf } from "../kube/object_ref.ts";

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
  /**
   * Device plugin sharing config for a ConfigMap managed elsewhere; default, with
   * `timeSlicing`, the ConfigMap this step applies (`timeSlicingChartValues`).
   */
  devicePluginConfig?: { name: string; default?: string };
  /**
   * Time-slicing options (the `time-slicing` step's, see `plans/gpu.ts`): this step then
   * plans and applies their sharing ConfigMap in the operator namespace before the
   * release and points `devicePlugin.config` at it.
   */
  timeSlicing?: TimeSlicingOptions;
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

/** The chart's `devicePlugin.config`: explicit, else the time-slicing ConfigMap's. */
function devicePluginConfigOf(
  stepOptions: GpuOperatorStepOptions,
): { name: string; default?: string } | undefined {
  return stepOptions.devicePluginConfig ??
    (stepOptions.timeSlicing
      ? timeSlicingChartValues(stepOptions.timeSlicing)
      : undefined);
}

/**
 * The sharing ConfigMap this step applies before its release (none without
 * time-slicing). It must be in the operator namespace: the operator reads it there.
 */
export function sharingConfigMap(
  o: GpuOperatorOptions,
  stepOptions: Pick<GpuOperatorStepOptions, "timeSlicing">,
): KubeObject | undefined {
  const ts = stepOptions.timeSlicing;
  if (!ts) return undefined;
  if (ts.namespace !== o.namespace) {
    throw new Error(
      `the time-slicing ConfigMap is in namespace "${ts.namespace}" but the GPU operator in "${o.namespace}": ` +
        "the operator reads the device plugin's sharing config from its own namespace",
    );
  }
  return timeSlicingConfigMap(ts);
}

/** Picks the sharing ConfigMap out of a plan's desired objects. */
function isSharingConfig(
  configMap: KubeObject | undefined,
): (object: KubeObject) => boolean {
  return (x) =>
    configMap !== undefined && x.apiVersion === "v1" &&
    x.kind === "ConfigMap" &&
    x.metadata.namespace === configMap.metadata.namespace &&
    x.metadata.name === configMap.metadata.name;
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

/** The plain GPU resource and its default shared name (`renameByDefault`). */
export const DEFAULT_GPU_RESOURCES: readonly string[] = [
  "nvidia.com/gpu",
  "nvidia.com/gpu.shared",
];

/**
 * The resource names GPUs may be advertised under: `nvidia.com/gpu`,
 * `nvidia.com/gpu.shared`, and every name the device plugin's sharing ConfigMap
 * declares (its data, when the ClusterPolicy points at one that exists).
 */
export function gpuResourceNames(
  sharingConfigData?: Record<string, string>,
): string[] {
  return [
    ...new Set([
      ...DEFAULT_GPU_RESOURCES,
      ...sharedResourceNames(sharingConfigData),
    ]),
  ];
}

/** A node's allocatable count summed over `resources` (absent names count 0). */
export function allocatableGpus(
  node: KubeObject,
  resources: readonly string[],
): number {
  const allocatable =
    (node.status as { allocatable?: Record<string, string> } | undefined)
      ?.allocatable ?? {};
  return resources.reduce((sum, r) => {
    const n = Number(allocatable[r] ?? 0);
    return sum + (Number.isFinite(n) && n > 0 ? n : 0);
  }, 0);
}

/**
 * Nodes with allocatable GPUs > 0 under any of the resource names (default
 * {@linkcode DEFAULT_GPU_RESOURCES}), and their counts summed over those names.
 */
export async function nodesWithGpus(
  kube: KubeClient,
  resource: string | readonly string[] = DEFAULT_GPU_RESOURCES,
): Promise<Record<string, number>> {
  const resources = typeof resource === "string" ? [resource] : resource;
  const out: Record<string, number> = {};
  for (const node of await kube.list("v1", "Node")) {
    const n = allocatableGpus(node, resources);
    if (n > 0) out[node.metadata.name] = n;
  }
  return out;
}

/** The validations the operator validator runs as init containers, in order. */
export const VALIDATIONS: readonly string[] = [
  "driver-validation",
  "toolkit-validation",
  "cuda-validation",
  "plugin-validation",
];

/** The validations a validator pod must have passed (no `plugin-validation` without the device plugin, which the operator then leaves out). */
export function requiredValidations(devicePluginEnabled: boolean): string[] {
  return VALIDATIONS.filter((v) =>
    devicePluginEnabled || v !== "plugin-validation"
  );
}

interface InitContainerStatus {
  name: string;
  state?: {
    waiting?: { reason?: string; message?: string };
    running?: { startedAt?: string };
    terminated?: { exitCode: number; reason?: string; message?: string };
  };
}

/** Why an init container has not succeeded; `undefined` when it exited 0. */
function validationProblem(
  c: InitContainerStatus | undefined,
): string | undefined {
  if (!c) return "not run (no init container status)";
  const { waiting, running, terminated } = c.state ?? {};
  if (terminated) {
    if (terminated.exitCode === 0) return undefined;
    const why = [terminated.reason, terminated.message].filter(Boolean)
      .join(": ");
    return `exited ${terminated.exitCode}${why ? ` (${why})` : ""}`;
  }
  if (running) return "still running";
  if (waiting) {
    const why = [waiting.reason, waiting.message].filter(Boolean).join(": ");
    return `waiting${why ? ` (${why})` : ""}`;
  }
  return "no state";
}

/**
 * A validator pod that ran: Ready, each `required` validation present among its init
 * container statuses and terminated with exit code 0, and no other init container
 * failed. Otherwise, per pod, every validation missing, pending or failed with why.
 */
export function validatorRan(
  pods: KubeObject[],
  required: readonly string[] = VALIDATIONS,
): true | string {
  if (pods.length === 0) {
    return "no nvidia-operator-validator pod (the operator has not deployed it)";
  }
  const states: string[] = [];
  for (const pod of pods) {
    const status = pod.status as {
      phase?: string;
      conditions?: { type: string; status: string }[];
      initContainerStatuses?: InitContainerStatus[];
    } | undefined;
    const ready = status?.conditions?.some((c) =>
      c.type === "Ready" && c.status === "True"
    );
    const statuses = status?.initContainerStatuses ?? [];
    const names = [
      ...statuses.map((c) => c.name),
      ...required.filter((r) => !statuses.some((c) => c.name === r)),
    ];
    const problems = names.flatMap((name) => {
      const problem = validationProblem(statuses.find((c) => c.name === name));
      return problem ? [{ name, problem }] : [];
    });
    if (ready && problems.length === 0) return true;
    states.push(
      `${pod.metadata.name}: ${status?.phase ?? "?"}${
        ready ? "" : ", not Ready"
      }${
        problems.length
          ? `, pending/failed validations: ${
            problems.map((p) => p.name).join(", ")
          } (${problems.map((p) => `${p.name} ${p.problem}`).join("; ")})`
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
    devicePluginConfig: devicePluginConfigOf(stepOptions),
  });
  const configMap = sharingConfigMap(o, stepOptions);
  const { rendered: _r, ...plan } = await planRelease(
    ctx,
    releaseSpec(o, values),
    env,
  );
  if (configMap) {
    // Applied right after the namespace, before helm: shown there too.
    const sharing = await planObjects(
      ctx.kube,
      [configMap],
      planOptionsOf(ctx),
    );
    const afterNamespace = plan.changes.findIndex((c) =>
      c.kind === "Namespace" && c.name === o.namespace
    ) + 1;
    plan.changes.splice(afterNamespace, 0, ...sharing.changes);
    plan.observed.push(...sharing.observed);
    const [namespace, ...manifest] = plan.desired ?? [];
    plan.desired = [namespace, configMap, ...manifest];
    plan.desiredDigest = digestOf({
      release: plan.desiredDigest,
      sharingConfig: configMap,
    });
  }
  const driver = values.driver as { enabled: boolean };
  const toolkit = values.toolkit as { enabled: boolean };
  plan.facts = {
    ...plan.facts,
    "driver.enabled": driver.enabled,
    "toolkit.enabled": toolkit.enabled,
    ...(choices ? { decidedBy: choices.reasons } : {}),
    ...(configMap
      ? {
        sharingConfig: `${
          objectName(refOf(configMap))
        } (applied before the release: the device plugin mounts it)`,
      }
      : {}),
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
    devicePluginConfig: devicePluginConfigOf(stepOptions),
  });
  const spec = releaseSpec(o, values);
  const configMap = sharingConfigMap(o, stepOptions);
  const own = isSharingConfig(configMap);
  const desired = plan.desired
    ? splitDesired(spec, plan.desired, own)
    : undefined;
  const sharing = plan.desired
    ? plan.desired.filter(own)
    : configMap
    ? [configMap]
    : [];
  if (sharing.length > 0) {
    // The device plugin's ConfigMap volume is not optional: it exists before the
    // operator (installed by helm below) deploys the device plugin.
    const kube = requireKube(ctx);
    checkChartSource(spec.chart, env);
    assertSameCluster(kube, env);
    await kube.apply(desired?.namespace ?? namespaceObject(spec));
    for (const object of sharing) {
      ctx.log.info(
        `applying ${objectName(refOf(object))} (device plugin sharing config)`,
      );
      await kube.apply(object);
    }
  }
  const release = await applyRelease(ctx, spec, {
    ...env,
    desired,
    changes: plan.changes,
  });
  return {
    namespace: o.namespace,
    release: o.release,
    ...release,
    ...(configMap ? { sharingConfig: objectName(refOf(configMap)) } : {}),
  };
}

/** What verify reads of the operator's work. */
interface OperatorState {
  /** `true` when ClusterPolicy `cluster-policy` is ready, else what it shows. */
  policy: true | string;
  /** Allocatable GPUs by node, under any of `resources`. */
  gpus: Record<string, number>;
  /** The resource names counted (see {@linkcode gpuResourceNames}). */
  resources: string[];
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
  required: readonly string[],
): Promise<OperatorState> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const clusterPolicy = await kube.get({
      apiVersion: "nvidia.com/v1",
      kind: "ClusterPolicy",
      name: "cluster-policy",
    });
    const resources = gpuResourceNames(
      await sharingConfigData(kube, namespace, clusterPolicy),
    );
    const state: OperatorState = {
      policy: clusterPolicyReady(clusterPolicy),
      gpus: await nodesWithGpus(kube, resources),
      resources,
      validator: validatorRan(
        await kube.list("v1", "Pod", {
          namespace,
          labelSelector: "app=nvidia-operator-validator",
        }),
        required,
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

/** The data of the sharing ConfigMap the ClusterPolicy points the device plugin at, if it exists. */
async function sharingConfigData(
  kube: KubeClient,
  namespace: string,
  policy: KubeObject | undefined,
): Promise<Record<string, string> | undefined> {
  const name = (policy?.spec as
    | { devicePlugin?: { config?: { name?: string } } }
    | undefined)?.devicePlugin?.config?.name;
  if (!name) return undefined;
  const cm = await kube.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace,
    name,
  });
  return cm?.data as Record<string, string> | undefined;
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
    devicePluginConfig: devicePluginConfigOf(stepOptions),
  });
  const timeoutMs = o.timeoutSeconds * 1000;
  const spec = releaseSpec(o, values);
  const configMap = sharingConfigMap(o, stepOptions);
  const checks = await verifyRelease(ctx, spec, {
    ...env,
    timeoutMs,
    manifest: plan?.desired
      ? splitDesired(spec, plan.desired, isSharingConfig(configMap)).manifest
      : undefined,
  });
  if (configMap) {
    const ref = refOf(configMap);
    checks.push({
      name: `${objectName(ref)} exists (device plugin sharing config)`,
      ok: Boolean(await kube.get(ref)),
    });
  }
  const devicePlugin = values.devicePlugin as { enabled?: boolean };
  const { policy, gpus, resources, validator } = await operatorState(
    ctx,
    kube,
    o.namespace,
    timeoutMs,
    requiredValidations(devicePlugin.enabled !== false),
  );
  const names = resources.join(", ");
  const gpuCheck: VerifyCheck = {
    name: "a node has allocatable nvidia.com/gpu",
    ok: Object.keys(gpus).length > 0,
    detail: Object.keys(gpus).length > 0
      ? `${
        Object.entries(gpus).map(([n, c]) => `${n}: ${c}`).join(", ")
      } (counting ${names})`
      : `no node has allocatable nvidia.com/gpu (counting ${names}; ClusterPolicy reports ready even without GPU nodes)`,
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
    uninstall: async (ctx, o) => {
      await uninstallRelease(ctx, o, stepOptions);
    },
  }, stepOptions);
}
