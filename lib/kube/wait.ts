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

// Objects arrive as untyped JSON (`KubeObject` names only the metadata kfplan needs),
// so every status and spec field is read through these readers, which check the type
// of what they find: a field that is absent or of another type reads as undefined
// instead of leaking into the messages as "[object Object]" or NaN.

/** The value at `path` inside `value`, walking through objects only. */
function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The number at `path`, if it is one. */
function numberField(value: unknown, ...path: string[]): number | undefined {
  const found = field(value, ...path);
  return typeof found === "number" ? found : undefined;
}

/** The non-empty string at `path`, if it is one. */
function stringField(value: unknown, ...path: string[]): string | undefined {
  const found = field(value, ...path);
  return typeof found === "string" && found !== "" ? found : undefined;
}

/** The array at `path`, or an empty one. */
function listField(value: unknown, ...path: string[]): unknown[] {
  const found = field(value, ...path);
  return Array.isArray(found) ? found : [];
}

/** A status condition as the API conventions define it. */
interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function conditions(object: KubeObject): Condition[] {
  return listField(object, "status", "conditions").flatMap((c) => {
    const type = stringField(c, "type");
    const status = stringField(c, "status");
    if (type === undefined || status === undefined) return [];
    return [{
      type,
      status,
      reason: stringField(c, "reason"),
      message: stringField(c, "message"),
    }];
  });
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
  const seen = numberField(object, "status", "observedGeneration");
  if (gen !== undefined && (seen === undefined || seen < gen)) {
    return `controller has not observed generation ${gen} yet (observed ${
      seen ?? "none"
    })`;
  }
  return true;
}

/** The ingress entries of a LoadBalancer Service that carry an address. */
function ingressAddresses(object: KubeObject | undefined): string[] {
  return listField(object, "status", "loadBalancer", "ingress").flatMap((i) => {
    const address = stringField(i, "ip") ?? stringField(i, "hostname");
    return address === undefined ? [] : [address];
  });
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
  const want = numberField(object, "spec", "replicas") ?? 1;
  const updated = numberField(object, "status", "updatedReplicas") ?? 0;
  const available = numberField(object, "status", "availableReplicas") ?? 0;
  const total = numberField(object, "status", "replicas") ?? 0;
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
  const want = numberField(object, "spec", "replicas") ?? 1;
  const ready = numberField(object, "status", "readyReplicas") ?? 0;
  const updated = numberField(object, "status", "updatedReplicas") ?? 0;
  const state = `${ready}/${want} ready, ${updated} updated`;
  if (ready < want) return `waiting for ready replicas: ${state}`;
  const rolling = (stringField(object, "spec", "updateStrategy", "type") ??
    "RollingUpdate") === "RollingUpdate";
  const updateRevision = stringField(object, "status", "updateRevision");
  const currentRevision = stringField(object, "status", "currentRevision");
  if (rolling && updateRevision && currentRevision !== updateRevision) {
    return `rolling update to ${updateRevision} in progress: ${state}`;
  }
  return true;
}

/** A DaemonSet updated and available on every node it is scheduled to. */
export function daemonSetRolledOut(object: KubeObject | undefined): WaitCheck {
  if (!object) return "does not exist";
  const gen = observed(object);
  if (gen !== true) return gen;
  const desired = numberField(object, "status", "desiredNumberScheduled") ?? 0;
  const updated = numberField(object, "status", "updatedNumberScheduled") ?? 0;
  const available = numberField(object, "status", "numberAvailable") ?? 0;
  if (updated < desired || available < desired) {
    return `${updated}/${desired} updated, ${available}/${desired} available`;
  }
  return true;
}

/** A PersistentVolumeClaim bound to a volume. */
export function pvcBound(object: KubeObject | undefined): WaitCheck {
  if (!object) return "does not exist";
  const phase = stringField(object, "status", "phase");
  return phase === "Bound" ? true : `phase ${phase ?? "unknown"}`;
}

/** A Service of type LoadBalancer with an ingress address. */
export function loadBalancerAssigned(
  object: KubeObject | undefined,
): WaitCheck {
  if (!object) return "does not exist";
  return ingressAddresses(object).length > 0
    ? true
    : "no load balancer ingress address assigned yet";
}

/** The LoadBalancer address of a Service, when assigned. */
export function loadBalancerAddress(
  object: KubeObject | undefined,
): string | undefined {
  return ingressAddresses(object)[0];
}

/** Whether EndpointSlices of a Service list at least one ready endpoint. */
export function endpointsReady(slices: KubeObject[]): WaitCheck {
  if (slices.length === 0) return "no EndpointSlices";
  let total = 0;
  for (const slice of slices) {
    for (const endpoint of listField(slice, "endpoints")) {
      total++;
      // The API documents an absent `ready` as "unknown, treat as ready".
      const ready = field(endpoint, "conditions", "ready") !== false;
      if (ready && listField(endpoint, "addresses").length > 0) return true;
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
      return stringField(object, "spec", "type") === "LoadBalancer"
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
