/**
 * kfplan: install and run a Kubeflow platform on Kubernetes as a reviewed plan.
 *
 * An installation is a dependency graph of typed steps, each with plan, apply and
 * verify phases. This module names what a script needs to compose the shipped steps
 * with its own and to plan, apply and verify them with the same behaviour as the
 * `deno task` commands:
 *
 * - defining steps: {@linkcode defineStep}, {@linkcode emptyPlan}, the
 *   {@linkcode Step} types, and {@linkcode z} for option schemas (use this `z`, so
 *   your schemas and kfplan's are the same zod);
 * - composing: {@linkcode composeFromConfig}, {@linkcode stepsFromConfig}, and each
 *   shipped step's factory, options schema and types;
 * - running: {@linkcode planCommand}, {@linkcode applyCommand},
 *   {@linkcode verifyCommand}, {@linkcode statusCommand}, {@linkcode destroyCommand},
 *   or the engine's {@linkcode planSteps}, {@linkcode applySteps},
 *   {@linkcode verifySteps} and {@linkcode destroySteps};
 * - the cluster: {@linkcode KubeClient}, {@linkcode connect}, {@linkcode ObjectRef};
 * - the errors worth catching: {@linkcode OptionsError}, {@linkcode StalePlanError},
 *   {@linkcode LockHeldError}, {@linkcode GraphError}, {@linkcode VerifyFailedError}.
 *
 * More of each layer is in the subpath entries `@kfplan/kfplan/engine`, `/kube`,
 * `/steps`, `/plans` and `/cli`. kfplan's own dependencies are pinned inside it, so
 * a script in another project imports this file by path, `file://` or https URL
 * with no import map entries of its own.
 *
 * @example Plan and apply a configuration plus a step of your own
 * ```ts
 * import { applyCommand, composeFromConfig, defineStep, emptyPlan, z } from "./mod.ts";
 *
 * const hello = defineStep({
 *   id: "hello",
 *   title: "Say hello",
 *   schema: z.object({ name: z.string() }).strict(),
 *   options: { name: "kubeflow" },
 *   plan: async () => ({ ...emptyPlan(), unknowns: ["greeting"] }),
 *   apply: async (_ctx, _plan, o) => ({ greeting: `hello ${o.name}` }),
 *   verify: async () => ({ checks: [{ name: "greeted", ok: true }] }),
 * });
 * const code = await applyCommand(["--yes"], {
 *   compose: async (path) => {
 *     const base = await composeFromConfig(path);
 *     return { ...base, steps: [...base.steps, hello] };
 *   },
 * });
 * ```
 *
 * @module
 */

export { z } from "./lib/deps.ts";

// Defining steps.
export {
  type ChangeAction,
  defineStep,
  type DefineStepOptions,
  digestOf,
  emptyPlan,
  type FieldDiff,
  type Finding,
  type Logger,
  type ObservedObject,
  type OptionIssue,
  OptionsError,
  type ResourceChange,
  type Severity,
  type Step,
  type StepAction,
  type StepContext,
  type StepDefinition,
  type StepOutputs,
  type StepPlan,
  type ValidateOptions,
  validateOptions,
  type VerifyCheck,
  type VerifyResult,
} from "./lib/engine/mod.ts";

// Running steps with the engine directly.
export {
  type ApplyOutcome,
  applySteps,
  type ApplyStepsOptions,
  type ApplyStepsResult,
  type DestroyOutcome,
  destroySteps,
  type DestroyStepsOptions,
  type DestroyStepsResult,
  GraphError,
  hasChanges,
  LockHeldError,
  type LockInfo,
  type LockOptions,
  parsePlanDocument,
  type PlanChange,
  type PlanDocument,
  PlanFailedError,
  PlanFormatError,
  type PlanStep,
  planSteps,
  type PlanStepsOptions,
  type PlanStepsResult,
  type PlanSummary,
  type RunEvent,
  type RunOptions,
  type RunSummary,
  serializePlanDocument,
  StalePlanError,
  type StepVerifyReport,
  VerifyFailedError,
  verifySteps,
  type VerifyStepsResult,
} from "./lib/engine/mod.ts";

// Running steps as the `deno task` commands do.
export {
  applyCommand,
  type CapturedIO,
  capturedIO,
  type CliIO,
  composeFromConfig,
  type Composition,
  destroyCommand,
  planCommand,
  type RenderOptions,
  renderPlan,
  type SessionOptions,
  statusCommand,
  unlockCommand,
  UsageError,
  verifyCommand,
} from "./lib/cli/mod.ts";

// Composing the shipped steps from a configuration.
export {
  type ClusterSettings,
  ConfigFileError,
  type GpuPlanContext,
  type GpuPlanOptions,
  type GpuSections,
  gpuSteps,
  type KfplanConfig,
  type KubeflowPlatformContext,
  type KubeflowPlatformOptions,
  kubeflowPlatformSteps,
  loadConfig,
  type LoadConfigOptions,
  type LoadedConfig,
  type PrerequisiteContext,
  type PrerequisiteOptions,
  prerequisiteSteps,
  stepsFromConfig,
  type StepsFromConfigOptions,
} from "./plans/mod.ts";

// The image mirror (`images:`): `withImageMirror` hands it to any step, a custom
// step passes its planned objects through `mirrorObjects`.
export type { StepImages } from "./lib/engine/types.ts";
export {
  imagesSchema,
  type ImagesSettings,
  type MirroredObjects,
  mirrorObjects,
  type MirrorObjectsOptions,
  stepImages,
  type StepImagesOptions,
  withImageMirror,
} from "./lib/steps/image_mirror.ts";
export {
  type ImageListing,
  imagesCommand,
  type ImagesCommandOptions,
  listImages,
  type ListImagesOptions,
} from "./lib/cli/images.ts";

// The shipped steps: factory, options schema and types, step id.
export {
  AMD_GPU_STEP_ID,
  type AmdGpuOptions,
  type AmdGpuOptionsInput,
  amdGpuOptionsSchema,
  amdGpuStep,
  type DriverState,
  GPU_OPERATOR_STEP_ID,
  type GpuInfo,
  type GpuOperatorOptions,
  type GpuOperatorOptionsInput,
  gpuOperatorOptionsSchema,
  gpuOperatorStep,
  type GpuOperatorStepOptions,
  type Helm,
  type HelmReleaseEnv,
  KUBEFLOW_STEP_ID,
  type KubeflowOptions,
  type KubeflowOptionsInput,
  kubeflowOptionsSchema,
  kubeflowStep,
  type KubeflowStepOptions,
  METALLB_STEP_ID,
  type MetallbOptions,
  type MetallbOptionsInput,
  metallbOptionsSchema,
  metallbStep,
  type MetallbStepOptions,
  NVIDIA_TOOLKIT_STEP_ID,
  type NvidiaHostReport,
  type NvidiaToolkitOptions,
  type NvidiaToolkitOptionsInput,
  nvidiaToolkitOptionsSchema,
  nvidiaToolkitStep,
  type NvidiaToolkitStepOptions,
  type RuntimeKind,
  type RuntimeState,
  STORAGE_STEP_ID,
  type StorageOptions,
  type StorageOptionsInput,
  storageOptionsSchema,
  storageStep,
  type StorageStepOptions,
  TIME_SLICING_STEP_ID,
  type TimeSlicingOptions,
  type TimeSlicingOptionsInput,
  timeSlicingOptionsSchema,
  timeSlicingStep,
  type TimeSlicingStepOptions,
  type ToolkitState,
  USERS_STEP_ID,
  type UsersOptions,
  type UsersOptionsInput,
  usersOptionsSchema,
  usersStep,
  type UsersStepOptions,
} from "./lib/steps/mod.ts";

// The cluster.
export {
  type ApiResource,
  type ApiStatus,
  applyObjects,
  type ApplyObjectsOptions,
  type ApplyOptions,
  connect,
  type ConnectOptions,
  type ConnectResult,
  type DeleteOptions,
  formatRef,
  KubeApiError,
  type KubeClient,
  type KubeObject,
  type ListOptions,
  type ObjectDiff,
  objectKey,
  type ObjectLike,
  type ObjectMeta,
  type ObjectRef,
  type ObjectsPlan,
  planObjects,
  type PlanObjectsOptions,
  planOptionsOf,
  type PlanPolicySource,
  refOf,
  type RetryEvent,
  type ServerVersion,
  type WaitCheck,
  type WaitOptions,
  WaitTimeoutError,
} from "./lib/kube/mod.ts";
