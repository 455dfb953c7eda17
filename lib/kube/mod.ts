/**
 * kfplan's Kubernetes layer: a client (server-side apply, dry-run diffs, discovery,
 * bounded retries), ordered apply of manifest sets, and bounded readiness waits.
 *
 * @example
 * ```ts
 * import { applyObjects, connect } from "./mod.ts";
 *
 * const result = await connect({});
 * if ("kube" in result) {
 *   await applyObjects(result.kube, [
 *     { apiVersion: "v1", kind: "Namespace", metadata: { name: "demo" } },
 *   ], {});
 * }
 * ```
 *
 * @module
 */

export type * from "./types.ts";
export type {
  FieldDiff,
  ObjectRef,
  ObservedObject,
  ResourceChange,
} from "../engine/types.ts";
export {
  type ClosableKubeClient,
  connect,
  createKubeClient,
  type CreateKubeClientOptions,
  FIELD_MANAGER,
  kubeconfigPaths,
  loadKubeConfig,
  type LoadKubeConfigOptions,
} from "./client.ts";
export {
  type ApiStatus,
  formatRef,
  KubeApiError,
  type KubeApiErrorOptions,
  WaitTimeoutError,
  type WaitTimeoutErrorOptions,
} from "./errors.ts";
export {
  backoffDelay,
  defaultRetryPolicy,
  isRetryable,
  type RetryPolicy,
  withRetry,
  type WithRetryOptions,
} from "./retry.ts";
export {
  diffValues,
  type DiffValuesOptions,
  isIgnoredPath,
  isSecret,
  jsonEqual,
  objectFieldDiff,
  type ObjectFieldDiffOptions,
  ownsPath,
  type PathSegment,
  redactObject,
  secretDigest,
  setsPath,
} from "./diff.ts";
export {
  type AppliedObject,
  type ApplyEvent,
  applyObjects,
  ApplyObjectsError,
  type ApplyObjectsOptions,
  type ApplyObjectsResult,
  type ApplyPhase,
  crdDefinedKinds,
  groupOf,
  type ObjectsPlan,
  orderObjects,
  type PhaseName,
  phaseOf,
  PHASES,
  planObjects,
  type PlanObjectsOptions,
  refOf,
  webhookBackends,
} from "./apply_set.ts";
export {
  crdEstablished,
  daemonSetRolledOut,
  deploymentAvailable,
  endpointsReady,
  loadBalancerAddress,
  loadBalancerAssigned,
  pvcBound,
  readinessCheck,
  statefulSetReady,
  type WaitForOptions,
  waitForReady,
  waitForServiceEndpoints,
  waitForWorkloads,
  type WaitForWorkloadsOptions,
  type WaitProgress,
} from "./wait.ts";
