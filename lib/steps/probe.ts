/**
 * Verify phases create short-lived probe objects (a PVC and a writer Job, a
 * LoadBalancer Service) to prove a capability end to end; they carry this label so a
 * leftover probe (after a kill) is easy to find and remove:
 * `kubectl delete pvc,job,svc -A -l kfplan.dev/probe`.
 *
 * @module
 */

/** Label on every verify probe object; its value names the step. */
export const PROBE_LABEL = "kfplan.dev/probe";
