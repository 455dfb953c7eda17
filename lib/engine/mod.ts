/**
 * The kfplan engine: typed steps, the graph, plans, apply with checkpoints and resume,
 * verify, redaction and the cluster lock. Re-exports only.
 *
 * @example
 * ```ts
 * import { applySteps, defineStep, emptyPlan, planSteps, renderPlan } from "./mod.ts";
 * import { z } from "../../mod.ts";
 *
 * const hello = defineStep({
 *   id: "hello",
 *   title: "Say hello",
 *   schema: z.object({ name: z.string() }).strict(),
 *   options: { name: "kubeflow" },
 *   plan: async () => ({ ...emptyPlan(), unknowns: ["greeting"] }),
 *   apply: async (ctx, _plan, o) => ({ greeting: `hello ${o.name}` }),
 *   verify: async () => ({ checks: [{ name: "greeted", ok: true }] }),
 * });
 * const { document } = await planSteps([hello]);
 * console.log(renderPlan(document));
 * const result = await applySteps([hello], { checkpointDir: ".kfplan" });
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./step.ts";
export * from "./options.ts";
export {
  DEFAULT_PARALLELISM,
  dependentsOf,
  findCycle,
  GraphError,
  type GraphNode,
  type GraphRunResult,
  type NodeOutcome,
  runGraph,
  type RunGraphOptions,
  topologicalOrder,
  validateGraph,
} from "./graph.ts";
export { canonicalJson, digestOf, sha256Hex } from "./digest.ts";
export {
  isSensitiveMarker,
  optionsDigest,
  redactChange,
  redactDiff,
  type Redacted,
  redactOptions,
  scrubbingLogger,
  SecretScrubber,
  SENSITIVE,
  sensitiveDigest,
  sensitiveMarker,
} from "./redact.ts";
export {
  hasChanges,
  KFPLAN_VERSION,
  objectName,
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
  summarize,
} from "./plan_document.ts";
export {
  checkpointedOutputs,
  clusterIdentity,
  planSteps,
  type PlanStepsOptions,
  type PlanStepsResult,
  stepAction,
} from "./planner.ts";
export {
  formatValue,
  type RenderOptions,
  renderPlan,
  summaryLine,
  useColor,
} from "./render.ts";
export {
  type Checkpoint,
  checkpointPath,
  type CheckpointStatus,
  type CheckpointStep,
  CheckpointStore,
  type CheckpointStoreOptions,
  type ClusterIdentity,
  emptyCheckpoint,
  NO_CLUSTER,
  readCheckpoint,
  writeFileAtomic,
} from "./checkpoint.ts";
export {
  applySteps,
  type ApplyStepsOptions,
  type ApplyStepsResult,
  type RunEvent,
  type RunOptions,
  type RunSummary,
  type StepVerifyReport,
  VerifyFailedError,
  verifySteps,
  type VerifyStepsResult,
} from "./executor.ts";
export {
  compareSavedPlan,
  savedPlanTargetProblems,
  StalePlanError,
} from "./saved_plan.ts";
export {
  acquireLock,
  breakLock,
  defaultHolder,
  type HeldLock,
  LOCK_DURATION_SECONDS,
  LOCK_NAME,
  LOCK_NAMESPACE,
  LockHeldError,
  type LockInfo,
  type LockOptions,
  readLock,
} from "./lock.ts";
export type {
  ConnectOptions,
  ConnectResult,
  KubeClient,
  KubeObject,
} from "../kube/types.ts";
