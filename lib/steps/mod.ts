/**
 * The shipped steps (`@kfplan/kfplan/steps`), one per capability. Each capability
 * exports a factory (`xxxStep(options, { source, prefix, baseDir })`) that validates
 * its options and throws `OptionsError` naming the field, the zod schema of those
 * options (`xxxOptionsSchema`, the authoritative reference for the `kfplan.yaml`
 * section), the schema's input and output types, the factory's context type and the
 * step id:
 *
 * | step id          | factory              | `kfplan.yaml` section |
 * | ---------------- | -------------------- | --------------------- |
 * | `storage`        | `storageStep`        | `storage`             |
 * | `metallb`        | `metallbStep`        | `metallb`             |
 * | `kubeflow`       | `kubeflowStep`       | `kubeflow`            |
 * | `users`          | `usersStep`          | `users`               |
 * | `nvidia-toolkit` | `nvidiaToolkitStep`  | `gpu.hostChecks`      |
 * | `gpu-operator`   | `gpuOperatorStep`    | `gpu.operator`        |
 * | `time-slicing`   | `timeSlicingStep`    | `gpu.timeSlicing`     |
 * | `amd-gpu`        | `amdGpuStep`         | `gpu.amd`             |
 *
 * To build them all from a configuration in the right order, use `stepsFromConfig`
 * from `@kfplan/kfplan/plans`.
 *
 * @example
 * ```ts
 * import { metallbStep, storageStep } from "./mod.ts";
 *
 * const steps = [
 *   storageStep({ nfs: { server: "10.0.0.2", path: "/srv/nfs" } }, { prefix: ["storage"] }),
 *   metallbStep({ pools: [{ name: "lan", addresses: ["10.0.0.240-10.0.0.250"] }] }, {
 *     prefix: ["metallb"],
 *   }),
 * ];
 * ```
 *
 * @module
 */

export {
  STORAGE_STEP_ID,
  type StorageOptions,
  type StorageOptionsInput,
  storageOptionsSchema,
  storageStep,
  type StorageStepOptions,
} from "./storage.ts";
export {
  METALLB_STEP_ID,
  type MetallbOptions,
  type MetallbOptionsInput,
  metallbOptionsSchema,
  metallbStep,
  type MetallbStepOptions,
} from "./metallb.ts";
export {
  type ChartSource,
  chartSourceSchema,
  type HelmReleaseEnv,
} from "./helm_release.ts";
// The helm the Helm-based steps run (`HelmReleaseEnv.helm`); there is no tools entry.
export { findHelm, type FindHelmOptions, type Helm } from "../tools/helm.ts";
export {
  type DriverState,
  type GpuInfo,
  NVIDIA_TOOLKIT_STEP_ID,
  type NvidiaHost,
  type NvidiaHostReport,
  type NvidiaToolkitOptions,
  type NvidiaToolkitOptionsInput,
  nvidiaToolkitOptionsSchema,
  nvidiaToolkitStep,
  type NvidiaToolkitStepOptions,
  type RuntimeKind,
  type RuntimeState,
  type ToolkitState,
} from "./nvidia_toolkit.ts";
export {
  GPU_OPERATOR_STEP_ID,
  type GpuOperatorOptions,
  type GpuOperatorOptionsInput,
  gpuOperatorOptionsSchema,
  gpuOperatorStep,
  type GpuOperatorStepOptions,
} from "./gpu_operator.ts";
export {
  TIME_SLICING_STEP_ID,
  type TimeSlicingOptions,
  type TimeSlicingOptionsInput,
  timeSlicingOptionsSchema,
  timeSlicingStep,
  type TimeSlicingStepOptions,
} from "./time_slicing.ts";
export {
  AMD_GPU_STEP_ID,
  type AmdGpuOptions,
  type AmdGpuOptionsInput,
  amdGpuOptionsSchema,
  amdGpuStep,
} from "./amd_gpu.ts";
export {
  USERS_STEP_ID,
  type UsersOptions,
  type UsersOptionsInput,
  usersOptionsSchema,
  usersStep,
  type UsersStepOptions,
} from "./users.ts";
export {
  type AuthStack,
  BCRYPT_COST,
  DEFAULT_ISSUER,
  DEFAULT_USER_EMAIL,
  type DetectedVersion,
  detectVersion,
  hashPassword,
  KUBEFLOW_STEP_ID,
  KUBEFLOW_VERSIONS,
  type KubeflowOptions,
  type KubeflowOptionsInput,
  kubeflowOptionsSchema,
  kubeflowStep,
  type KubeflowStepOptions,
  type KubeflowVersion,
  ManifestsTreeError,
  PreflightError,
  type ReleaseInfo,
  releaseInfo,
  type SecretRef,
  secretRefSchema,
} from "./kubeflow/mod.ts";
