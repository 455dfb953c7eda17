/**
 * Readiness rules and bounded waits: CRD Established, Deployment Available, StatefulSet
 * ready, DaemonSet rolled out, Service endpoints ready, LoadBalancer ingress assigned,
 * PVC Bound. The `*Ready`-style checks are pure functions of an object that return
 * `true` or a one-line description of what is still missing (which ends up in timeout
 * errors); the `waitFor*` functions poll a {@linkcode KubeClient} until they hold.
 *
 * @module
 */

import type { ObjectRef } from "./object_ref.ts";
import type { KubeClient, KubeObject, WaitCheck } from "./types.ts";
import { WaitTimeoutError } from "./errors.ts";
import { sleep } from "./retry.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function conditions(object: KubeObject): Condition[] {
  return ((object.status as Any)?.conditions ?? []) as Condition[];
}

function describeCondition(object: KubeObject, type: string): string {
  const c = conditions(object).find((c) => c.type === type);
  if (!c) return `no ${type} condition yet`;
  return `${type}=${c.status}${c.reason ? ` (${c.reason}` : ""}${
    c.message ? `: ${c.message}` : ""
  }${c.reason ? ")" : ""}`;
}

function hasCondition(object: KubeObject, type: string): boolean {
  return conditions(object).some((c) => c.type === type && c.status === "True");
}

/** The controller has seen the latest spec (`status.observedGeneration >= generation`). */
function observed(object: KubeObject): WaitCheck {
  const gen = object.metadata.generation;
  const seen = (object.status as Any)?.observedGeneration;
  if (gen !== undefined && (seen === undefined || seen < gen)) {
    return `controller has not observed generation ${gen} yet (observed ${
      seen ?? "none"
    })`;
  }
  return true;
}

/** A CustomResourceDefinition whose kinds are served. */
export function crdEstablished(object: KubeObject | undefined): WaitCheck {
  if (!object) return "does not exist";
  return hasCondition(object, "Established")
    ? true
    : describeCondition(object, "Established");
}

/** A Deployment whose latest revision is fully rolled out and Available. */
export function deploymentAvailable(object: KubeObject | undefined): WaitCheck {
  if (!object) return "does not exist";
  const gen = observed(object);
  if (gen !== true) return gen;
  const s = (object.status ?? {}) as Any;
  const want = (object.spec as Any)?.replicas ?? 1;
  const updated = s.updatedReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const total = s.replicas ?? 0;
  const state =
    `${available}/${want} available, ${updated} updated, ${total} total`;
  if (updated < want) return `rollout in progress: ${state}`;
  if (total > updated) return `old replicas still terminating: ${state}`;
  if (available < updated) return `waiting for available replicas: ${state}`;
  if (!hasCondition(object, "Available")) {
    return `${describeCondition(object, "Available")}; ${state}`;
  }
  return true;
}

/** A StatefulSet whose replicas are ready on the current revision. */
export function statefulSetReady(object: KubeObject | undefined): WaitCheck {
  if (!object) return "does not exist";
  const gen = observed(object);
  if (gen !== true) return gen;
  const s = (object.status ?? {}) as Any;
  const want = (object.spec as Any)?.replicas ?? 1;
  const ready = s.readyReplicas ?? 0;
  const state = `${ready}/${want} ready, ${s.updatedReplicas ?? 0} updated`;
  if (ready < want) return `waiting for ready replicas: ${state}`;
  const rolling =
    ((object.spec as Any)?.updateStrategy?.type ?? "RollingUpdate") ===
      "RollingUpdate";
  if (rolling && s.updateRevision && s.currentRevision !== s.updateRevision) {
    return `rolling update to ${s.updateRevision} in progress: ${state}`;
  }
  return true;
}

/** A DaemonSet updated and available on every node it is scheduled to. */
export function daemonSetRolledOut(object: KubeObject | undefined): WaitCheck {
  if (!object) return "does not exist";
  const gen = observed(object);
  if (gen !== true) return gen;
  const s = (object.status ?? {}) as Any;
  const desired = s.desiredNumberScheduled ?? 0;
  const updated = s.updatedNumberScheduled ?? 0;
  const available = s.numberAvailable ?? 0;
  if (updated < desired || available < desired) {
    return `${updated}/${desired} updated, ${available}/${desired} available`;
  }
  return true;
}

/** A PersistentVolumeClaim bound to a volume. */
export function pvcBound(object: KubeObject | undefined): WaitCheck {
  if (!object) return "does not exist";
  const phase = (object.status as Any)?.phase;
  return phase === "Bound" ? true : `phase ${phase ?? "unknown"}`;
}

/** A Service of type LoadBalancer with an ingress address. */
export function loadBalancerAssigned(
  object: KubeObject | undefined,
): WaitCheck {
  if (!object) return "does not exist";
  const ingress = (object.status as Any)?.loadBalancer?.ingress ?? [];
  return ingress.some((i: Any) => i.ip || i.hostname)
    ? true
    : "no load balancer ingress address assigned yet";
}

/** The LoadBalancer address of a Service, when assigned. */
export function loadBalancerAddress(
  object: KubeObject | undefined,
): string | undefined {
  const ingress = (object?.status as Any)?.loadBalancer?.ingress ?? [];
  const first = ingress.find((i: Any) => i.ip || i.hostname);
  return first?.ip ?? first?.hostname;
}

/** Whether EndpointSlices of a Service list at least one ready endpoint. */
export function endpointsReady(slices: KubeObject[]): WaitCheck {
  if (slices.length === 0) return "no EndpointSlices";
  let total = 0;
  for (const slice of slices) {
    for (const ep of ((slice as Any).endpoints ?? []) as Any[]) {
      total++;
      if (ep.conditions?.ready !== false && ep.addresses?.length) return true;
    }
  }
  return total === 0
    ? "EndpointSlices list no endpoints"
    : `none of ${total} endpoints ready`;
}

/** The readiness rule kfplan applies to an object's kind, if it has one. */
export function readinessCheck(
  object: Pick<KubeObject, "apiVersion" | "kind"> & { spec?: unknown },
): ((object: KubeObject | undefined) => WaitCheck) | undefined {
  const key = `${object.apiVersion}/${object.kind}`;
  switch (key) {
    case "apiextensions.k8s.io/v1/CustomResourceDefinition":
      return crdEstablished;
    case "apps/v1/Deployment":
      return deploymentAvailable;
    case "apps/v1/StatefulSet":
      return statefulSetReady;
    case "apps/v1/DaemonSet":
      return daemonSetRolledOut;
    case "v1/PersistentVolumeClaim":
      return pvcBound;
    case "v1/Service":
      return (object.spec as Any)?.type === "LoadBalancer"
        ? loadBalancerAssigned
        : undefined;
  }
  return undefined;
}

/** Options for the `waitFor*` functions. */
export interface WaitForOptions {
  /** Overall bound in milliseconds. */
  timeoutMs: number;
  /** Poll interval; default 500 ms. */
  intervalMs?: number;
  /** Cancels the wait. */
  signal?: AbortSignal;
}

/**
 * Waits until a Service has a ready endpoint in its EndpointSlices (e.g. a webhook
 * backend, before its webhook configuration is applied).
 */
export async function waitForServiceEndpoints(
  kube: KubeClient,
  service: { namespace: string; name: string },
  options: WaitForOptions,
): Promise<void> {
  const ref: ObjectRef = { apiVersion: "v1", kind: "Service", ...service };
  const deadline = Date.now() + options.timeoutMs;
  while (true) {
    const slices = await kube.list("discovery.k8s.io/v1", "EndpointSlice", {
      namespace: service.namespace,
      labelSelector: `kubernetes.io/service-name=${service.name}`,
    });
    const state = endpointsReady(slices);
    if (state === true) return;
    const left = deadline - Date.now();
    if (left <= 0 || options.signal?.aborted) {
      throw new WaitTimeoutError(ref, {
        condition: "backed by a ready endpoint",
        timeoutMs: options.timeoutMs,
        lastState: state,
      });
    }
    await sleep(Math.min(options.intervalMs ?? 500, left), options.signal);
  }
}

/** Waits for one object to satisfy its kind's readiness rule ({@linkcode readinessCheck}). */
export async function waitForReady(
  kube: KubeClient,
  object: KubeObject,
  options: WaitForOptions,
): Promise<KubeObject | undefined> {
  const check = readinessCheck(object);
  if (!check) return object;
  const ref: ObjectRef = {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata.name,
  };
  if (object.metadata.namespace) ref.namespace = object.metadata.namespace;
  return await kube.waitFor(ref, check, options);
}

/** Progress of {@linkcode waitForWorkloads}. */
export interface WaitProgress {
  /** The object. */
  ref: ObjectRef;
  /** `waiting` when its wait starts, `ready` when it holds. */
  state: "waiting" | "ready";
  /** Milliseconds since the waits started. */
  elapsedMs: number;
}

/** Options for {@linkcode waitForWorkloads}. */
export interface WaitForWorkloadsOptions extends WaitForOptions {
  /** Receives per-object progress. */
  onProgress?: (event: WaitProgress) => void;
}

/**
 * Waits, in parallel and within one overall bound, for every object of `objects` that
 * has a readiness rule. Rejects with one error listing every object that did not get
 * ready and its last state.
 */
export async function waitForWorkloads(
  kube: KubeClient,
  objects: KubeObject[],
  options: WaitForWorkloadsOptions,
): Promise<void> {
  const start = Date.now();
  const pending = objects.filter((o) => readinessCheck(o));
  const results = await Promise.allSettled(pending.map(async (object) => {
    const ref: ObjectRef = {
      apiVersion: object.apiVersion,
      kind: object.kind,
      name: object.metadata.name,
      ...(object.metadata.namespace
        ? { namespace: object.metadata.namespace }
        : {}),
    };
    options.onProgress?.({ ref, state: "waiting", elapsedMs: 0 });
    await waitForReady(kube, object, options);
    options.onProgress?.({
      ref,
      state: "ready",
      elapsedMs: Date.now() - start,
    });
  }));
  const failures = results.flatMap((r) =>
    r.status === "rejected" ? [r.reason] : []
  );
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    throw new AggregateError(
      failures,
      `${failures.length} objects did not get ready:\n` +
        failures.map((f) => `  ${(f as Error).message}`).join("\n"),
    );
  }
}
