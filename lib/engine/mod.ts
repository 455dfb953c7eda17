/**
 * The kfplan engine (`@kfplan/kfplan/engine`): typed steps ({@linkcode defineStep}),
 * their dependency graph, plans as data ({@linkcode planSteps} and the versioned
 * {@linkcode PlanDocument}), apply with checkpoints, resume and a cluster lock
 * ({@linkcode applySteps}), verify ({@linkcode verifySteps}), and the typed
 * {@linkcode RunEvent} union that reports their progress.
 *
 * This entry names what a script composes and runs steps with, and the errors it
 * may catch. The digests, redaction, checkpoint files and saved-plan comparison
 * behind it are internal.
 *
 * @example Define a step, plan it and apply it
 * ```ts
 * import { applySteps, defineStep, emptyPlan, planSteps } from "./mod.ts";
 * import { z } from "../../mod.ts";
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
 * const { document } = await planSteps([hello]);
 * console.log(document.summary);
 * const result = await applySteps([hello], { checkpointDir: ".kfplan" });
 * ```
 *
 * @module
 */

export {
  type ChangeAction,
  emptyPlan,
  type FieldDiff,
  type Finding,
  type Logger,
  type ObjectRef,
  type ObservedObject,
  type ResourceChange,
  type Severity,
  type Step,
  type StepAction,
  type StepContext,
  type StepOutputs,
  type StepPlan,
  type VerifyCheck,
  type VerifyResult,
} from "./types.ts";
export {
  defineStep,
  type DefineStepOptions,
  type StepDefinition,
} from "./step.ts";
export {
  type OptionIssue,
  OptionsError,
  OptionsIssues,
  type ValidateOptions,
  validateOptions,
} from "./options.ts";
export { digestOf } from "./digest.ts";
export {
  DEFAULT_PARALLELISM,
  GraphError,
  type GraphNode,
  topologicalOrder,
  validateGraph,
} from "./graph.ts";
export {
  hasChanges,
  KFPLAN_VERSION,
  parsePlanDocument,
  PLAN_FORMAT_VERSION,
  type PlanChange,
  type PlanCluster,
  type PlanDocument,
  planDocumentSchema,
  type PlanFieldDiff,
  PlanFormatError,
  type PlanStep,
  type PlanSummary,
  serializePlanDocument,
} from "./plan_document.ts";
export {
  planSteps,
  type PlanStepsOptions,
  type PlanStepsResult,
} from "./planner.ts";

export type { RunEvent, RunSummary } from "./events.ts";
export {
  type ApplyOutcome,
  applySteps,
  type ApplyStepsOptions,
  type ApplyStepsResult,
  PlanFailedError,
  type RunOptions,
  type StepVerifyReport,
  VerifyFailedError,
  verifySteps,
  type VerifyStepsResult,
} from "./executor.ts";
export { StalePlanError } from "./saved_plan.ts";
export {
  DESTROY_REASON,
  type DestroyOutcome,
  destroySteps,
  type DestroyStepsOptions,
  type DestroyStepsResult,
} from "./destroy.ts";
// Named by the options and results above; their constructors and file formats stay
// internal.
export type { ClusterIdentity } from "./cluster.ts";
export type {
  Checkpoint,
  CheckpointStatus,
  CheckpointStep,
} from "./checkpoint.ts";
export type { SecretScrubber } from "./redact.ts";
export type { SecretDigester } from "./secret_digest.ts";
export {
  breakLock,
  LOCK_NAME,
  LOCK_NAMESPACE,
  LockHeldError,
  type LockInfo,
  type LockOptions,
  readLock,
} from "./lock.ts";
