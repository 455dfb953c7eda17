/**
 * kfplan's Kubernetes layer (`@kfplan/kfplan/kube`): the {@linkcode KubeClient}
 * contract steps program against and {@linkcode connect}, which builds one from a
 * kubeconfig (server-side apply, server-side dry-run diffs, discovery, bounded
 * retries); ordered apply of manifest sets ({@linkcode applyObjects}: CRDs
 * Established before their custom resources, webhook backends ready before their
 * webhook configurations); readiness rules and bounded waits; object identity
 * ({@linkcode ObjectRef}, {@linkcode formatRef}).
 *
 * This layer knows nothing of steps or plans: it imports nothing from the engine.
 *
 * @example Apply a manifest set in phases and wait for its workloads
 * ```ts
 * import { applyObjects, connect, waitForWorkloads } from "./mod.ts";
 *
 * const result = await connect({});
 * if ("kube" in result) {
 *   const objects = [
 *     { apiVersion: "v1", kind: "Namespace", metadata: { name: "demo" } },
 *   ];
 *   await applyObjects(result.kube, objects, {});
 *   await waitForWorkloads(result.kube, objects, { timeoutMs: 60_000 });
 * } else {
 *   console.log(`offline: ${result.offline}`);
 * }
 * ```
 *
 * @module
 */

export type {
  ApiResource,
  ApplyOptions,
  ConnectOptions,
  ConnectResult,
  DeleteOptions,
  KubeClient,
  KubeObject,
  ListOptions,
  ObjectDiff,
  ObjectMeta,
  RetryEvent,
  ServerVersion,
  WaitCheck,
  WaitOptions,
} from "./types.ts";
export {
  compareRefs,
  formatRef,
  objectKey,
  type ObjectLike,
  objectName,
  type ObjectRef,
  refOf,
} from "./object_ref.ts";
export type { FieldDiff } from "./diff.ts";
export {
  connect,
  FIELD_MANAGER,
  kubeconfigPaths,
  type LoadKubeConfigOptions,
} from "./client.ts";
export {
  type ApiStatus,
  KubeApiError,
  type KubeApiErrorOptions,
  WaitTimeoutError,
  type WaitTimeoutErrorOptions,
} from "./errors.ts";
export {
  defaultRetryPolicy,
  type RetryPolicy,
  withRetry,
  type WithRetryOptions,
} from "./retry.ts";
export {
  type AppliedObject,
  type ApplyEvent,
  applyObjects,
  ApplyObjectsError,
  type ApplyObjectsOptions,
  type ApplyObjectsResult,
  type ApplyPhase,
  type ChangeAction,
  conflictGuardedClient,
  type ConflictGuardOptions,
  type FieldConflict,
  type ObjectsPlan,
  type ObservedObject,
  orderObjects,
  type PhaseName,
  PHASES,
  planObjects,
  type PlanObjectsOptions,
  planOptionsOf,
  type PlanPolicySource,
  type ResourceChange,
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
export {
  type AppliedRecord,
  type ObservationStats,
  type ObservingClient,
  observingClient,
  type ObservingOptions,
  unchangedSinceApplied,
} from "./observe.ts";
export {
  DELETE_CLASSES,
  type DeleteClass,
  deleteClassOf,
  type DeleteEvent,
  deleteObjects,
  type DeleteObjectsOptions,
  type DeleteResult,
  DeleteTimeoutError,
  deletionOrder,
  KEEP_MARKERS,
  keepMarkerOf,
  type KeptObject,
  KFPLAN_KEEP_MARKER,
  planPrune,
  type PlanPruneOptions,
  PROTECTED_CRDS,
  PROTECTED_NAMESPACES,
  type PruneCandidate,
  type PrunePlan,
} from "./prune.ts";
export {
  ADDITIONAL_NAMESPACES_ANNOTATION,
  APPLYSET_ID_LABEL,
  applySetIdFor,
  applySetIdOf,
  CONTAINS_GROUP_KINDS_ANNOTATION,
  decodeInventory,
  deleteInventory,
  ensureStateNamespace,
  type Inventory,
  INVENTORY_DATA_KEY,
  INVENTORY_FORMAT_VERSION,
  type InventoryEntry,
  type InventoryEntryState,
  InventoryError,
  inventoryJson,
  type InventoryOptions,
  inventoryParent,
  KFPLAN_TOOLING,
  listInventories,
  memberKey,
  parentName,
  parentRef,
  PART_OF_LABEL,
  readInventory,
  STATE_NAMESPACE,
  TOOLING_ANNOTATION,
  withPartOf,
  writeInventory,
} from "./inventory.ts";
export {
  attachPullSecret,
  type AttachPullSecretResult,
  findImages,
  formatImageReference,
  type ImageMirror,
  type ImageReference,
  type ImageScan,
  type ImageUse,
  looksLikeImage,
  mirrorImage,
  type MirrorLayout,
  mirrorRegistryProblem,
  mirrorRepository,
  parseImageReference,
  pullSecretObject,
  rewriteDocument,
  type RewriteDocumentResult,
  rewriteImages,
  type RewriteImagesResult,
  type UnrewritableImage,
} from "./images.ts";
