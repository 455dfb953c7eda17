/**
 * The NVIDIA GPU operator and device plugin, simulated through the real API: the
 * operator's ClusterPolicy status and one validator pod per GPU node running its four
 * validations, and the device plugin with GPU feature discovery, whose node capacity
 * and labels follow the ClusterPolicy's `devicePlugin.config` and the time-slicing
 * ConfigMap. They are no kinder than the real ones: GPU nodes advertise nothing until
 * the device plugin runs, the ClusterPolicy is `notReady` until the validator passed,
 * and a validation can be made to fail.
 *
 * @module
 */

import { parseYaml } from "../../lib/deps.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { CONFIG_LABEL } from "../../lib/steps/time_slicing.ts";
import { loop, type Played, simulatedLabels } from "./_loop.ts";

/** The validations NVIDIA's operator validator runs as init containers, in order. */
export const VALIDATIONS = [
  "driver-validation",
  "toolkit-validation",
  "cuda-validation",
  "plugin-validation",
] as const;

/** One validation of {@linkcode VALIDATIONS}. */
export type Validation = typeof VALIDATIONS[number];

/** Options of {@linkcode playGpuOperator}. */
export interface PlayGpuOperatorOptions {
  /** The operator's namespace (validator pods live there). */
  namespace: string;
  /** Label selector of the GPU nodes this operator serves; default `nvidia.com/gpu.present=true`. */
  nodeSelector?: string;
  /** A validation that exits 1 on every node, as when the driver does not load. */
  failValidation?: Validation;
}

const CLUSTER_POLICY = {
  apiVersion: "nvidia.com/v1",
  kind: "ClusterPolicy",
  name: "cluster-policy",
};

const GPU_PRESENT = "nvidia.com/gpu.present=true";

interface InitStatus {
  name: string;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  state: {
    waiting?: { reason: string };
    running?: { startedAt: string };
    terminated?: {
      exitCode: number;
      reason: string;
      message?: string;
      startedAt: string;
      finishedAt: string;
    };
  };
}

/** Allocatable GPUs under any `nvidia.com/gpu*` name (plain, `.shared` or renamed). */
function advertisedGpus(node: KubeObject): number {
  const allocatable =
    (node.status as { allocatable?: Record<string, string> })?.allocatable ??
      {};
  return Object.entries(allocatable)
    .filter(([k]) => k.startsWith("nvidia.com/gpu"))
    .reduce((sum, [, v]) => sum + Number(v), 0);
}

function validatorName(node: string): string {
  return `nvidia-operator-validator-${node}`.slice(0, 63);
}

/**
 * The validator's init container statuses on `node`, as upstream runs them one after
 * the other: each waits for the previous; `plugin-validation` keeps running until the
 * device plugin advertises GPUs on the node; `fail` exits 1.
 */
function validationStatuses(
  node: KubeObject,
  fail: Validation | undefined,
): InitStatus[] {
  const at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  let blocked = false;
  return VALIDATIONS.map((name): InitStatus => {
    const base = {
      name,
      restartCount: 0,
      image: "nvcr.io/nvidia/gpu-operator:v26.3.3",
      imageID: "",
    };
    if (blocked) {
      return {
        ...base,
        ready: false,
        state: { waiting: { reason: "PodInitializing" } },
      };
    }
    if (name === fail) {
      blocked = true;
      return {
        ...base,
        ready: false,
        state: {
          terminated: {
            exitCode: 1,
            reason: "Error",
            message: `${name} failed (simulated)`,
            startedAt: at,
            finishedAt: at,
          },
        },
      };
    }
    if (name === "plugin-validation" && advertisedGpus(node) === 0) {
      blocked = true;
      return { ...base, ready: false, state: { running: { startedAt: at } } };
    }
    return {
      ...base,
      ready: true,
      state: {
        terminated: {
          exitCode: 0,
          reason: "Completed",
          startedAt: at,
          finishedAt: at,
        },
      },
    };
  });
}

/** `true` when every validation exited 0, else what holds it up. */
function validated(statuses: InitStatus[]): true | string {
  const first = statuses.find((s) => s.state.terminated?.exitCode !== 0);
  if (!first) return true;
  return first.state.terminated
    ? `${first.name} failed`
    : `${first.name} ${first.state.running ? "running" : "waiting"}`;
}

function podInitStatuses(pod: KubeObject): InitStatus[] {
  return (pod.status as { initContainerStatuses?: InitStatus[] } | undefined)
    ?.initContainerStatuses ?? [];
}

/** Which state each init container is in: equal signatures need no write. */
function signature(statuses: InitStatus[]): string {
  return statuses.map((s) =>
    `${s.name}:${Object.keys(s.state).join()}:${
      s.state.terminated?.exitCode ?? ""
    }:${s.state.terminated?.reason ?? ""}`
  ).join(" ");
}

/**
 * One round of the played GPU operator: ClusterPolicy status and one validator pod
 * per GPU node. What upstream does, through the API:
 * - no GPU node: ClusterPolicy `ready` with reason `NoGPUNodes` (so the step must also
 *   require an advertised GPU);
 * - otherwise `notReady` (reason `OperandNotReady`, naming the node and validation)
 *   until every node's validator has run all of {@linkcode VALIDATIONS}, then `ready`.
 *
 * kwok starts the validator pod (podIP, Ready, init containers Completed); the round
 * then writes the validations' real outcome over it (kwok leaves a pod with a podIP
 * alone), so the pod is Ready only once all four succeeded.
 */
export async function gpuOperatorRound(
  kube: KubeClient,
  options: PlayGpuOperatorOptions,
  history: string[] = [],
): Promise<void> {
  const policy = await kube.get(CLUSTER_POLICY);
  if (!policy) return; // The chart is not installed: nothing runs the operator.
  const nodes = await kube.list("v1", "Node", {
    labelSelector: options.nodeSelector ?? GPU_PRESENT,
  });
  const waiting: string[] = [];
  for (const node of nodes) {
    const name = validatorName(node.metadata.name);
    const ref = {
      apiVersion: "v1",
      kind: "Pod",
      namespace: options.namespace,
      name,
    };
    let pod = await kube.get(ref);
    if (!pod) {
      pod = await kube.apply({
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name,
          namespace: options.namespace,
          labels: {
            app: "nvidia-operator-validator",
            ...simulatedLabels(),
          },
        },
        spec: {
          nodeName: node.metadata.name,
          initContainers: VALIDATIONS.map((v) => ({
            name: v,
            image: "nvcr.io/nvidia/gpu-operator:v26.3.3",
          })),
          containers: [{
            name: "nvidia-operator-validator",
            image: "nvcr.io/nvidia/gpu-operator:v26.3.3",
          }],
        },
      });
    }
    const podIP = (pod.status as { podIP?: string } | undefined)?.podIP;
    if (!podIP) {
      waiting.push(`${name}: not started`);
      continue;
    }
    const statuses = validationStatuses(node, options.failValidation);
    const state = validated(statuses);
    if (signature(statuses) !== signature(podInitStatuses(pod))) {
      const done = state === true;
      const at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      const condition = (type: string, ok: boolean) => ({
        type,
        status: ok ? "True" : "False",
        lastTransitionTime: at,
        ...(ok ? {} : { reason: "ContainersNotInitialized" }),
      });
      await kube.apply({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: options.namespace },
        status: {
          phase: done ? "Running" : "Pending",
          conditions: [
            condition("Initialized", done),
            condition("Ready", done),
            condition("ContainersReady", done),
          ],
          initContainerStatuses: statuses,
          containerStatuses: [{
            name: "nvidia-operator-validator",
            ready: done,
            restartCount: 0,
            image: "nvcr.io/nvidia/gpu-operator:v26.3.3",
            imageID: "",
            started: done,
            state: done
              ? { running: { startedAt: at } }
              : { waiting: { reason: "PodInitializing" } },
          }],
        },
      }, { subresource: "status" });
    }
    if (state !== true) {
      waiting.push(`${name} on ${node.metadata.name}: ${state}`);
    }
  }
  const ready = waiting.length === 0;
  const reason = nodes.length === 0
    ? "NoGPUNodes"
    : ready
    ? "Reconciled"
    : "OperandNotReady";
  const message = nodes.length === 0
    ? "no NVIDIA GPU node in the cluster (simulated)"
    : ready
    ? "all operands ready (simulated)"
    : `nvidia-operator-validator not ready: ${waiting.join("; ")} (simulated)`;
  const live = policy.status as {
    state?: string;
    conditions?: { reason?: string; message?: string }[];
  } | undefined;
  const state = ready ? "ready" : "notReady";
  if (
    live?.state === state && live.conditions?.[0]?.reason === reason &&
    live.conditions?.[0]?.message === message
  ) return;
  await kube.apply({
    apiVersion: "nvidia.com/v1",
    kind: "ClusterPolicy",
    metadata: { name: "cluster-policy" },
    status: {
      state,
      namespace: options.namespace,
      conditions: [{
        type: "Ready",
        status: ready ? "True" : "False",
        reason,
        message,
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      }],
    },
  }, { subresource: "status" });
  if (history.at(-1) !== `ClusterPolicy ${state}`) {
    history.push(`ClusterPolicy ${state}`);
  }
}

/**
 * Plays the GPU operator until stopped ({@linkcode gpuOperatorRound} every 200 ms).
 * The first status it writes for a cluster with GPU nodes is `notReady`.
 */
export function playGpuOperator(
  kube: KubeClient,
  options: PlayGpuOperatorOptions,
): Played {
  const history: string[] = [];
  return {
    stop: loop(() => gpuOperatorRound(kube, options, history), {
      name: "simulated GPU operator",
    }),
    history,
  };
}

/** Options of {@linkcode playDevicePlugin}. */
export interface PlayDevicePluginOptions {
  /** The operator's namespace (the sharing ConfigMap lives there). */
  namespace: string;
  /** Label selector of the GPU nodes; default `nvidia.com/gpu.present=true`. */
  nodeSelector?: string;
  /**
   * A device plugin installed on its own (no GPU operator): no ClusterPolicy, no
   * validator to wait for, no sharing config. Default: deployed by the operator.
   */
  standalone?: boolean;
}

interface SharingFile {
  sharing?: {
    timeSlicing?: {
      renameByDefault?: boolean;
      resources?: { name: string; replicas: number; rename?: string }[];
    };
  };
}

/** What one node advertises: resource name, replicas per GPU, renamed or not. */
interface Advertised {
  resource: string;
  replicas: number;
  renamed: boolean;
}

/**
 * The sharing a node gets, as the device plugin's config manager decides it: the
 * ClusterPolicy's `devicePlugin.config.name` ConfigMap, key from the node label
 * `nvidia.com/device-plugin.config`, else `devicePlugin.config.default`; without a
 * config (or key) no sharing.
 */
function sharingFor(
  node: KubeObject,
  config: { name?: string; default?: string } | undefined,
  data: Record<string, string> | undefined,
): Advertised {
  const plain = { resource: "nvidia.com/gpu", replicas: 1, renamed: false };
  const key = node.metadata.labels?.[CONFIG_LABEL] ?? config?.default;
  if (!config?.name || !data || !key || !data[key]) return plain;
  const ts = (parseYaml(data[key]) as SharingFile).sharing?.timeSlicing;
  const gpu = ts?.resources?.find((r) =>
    r.name === "nvidia.com/gpu" || r.name === "gpu"
  );
  if (!gpu) return plain;
  if (gpu.rename) {
    return {
      resource: gpu.rename.includes("/")
        ? gpu.rename
        : `nvidia.com/${gpu.rename}`,
      replicas: gpu.replicas,
      renamed: true,
    };
  }
  return ts?.renameByDefault
    ? {
      resource: "nvidia.com/gpu.shared",
      replicas: gpu.replicas,
      renamed: true,
    }
    : { resource: "nvidia.com/gpu", replicas: gpu.replicas, renamed: false };
}

/**
 * One round of the played NVIDIA device plugin and GPU feature discovery, per GPU
 * node, as upstream behaves:
 * - deployed by the operator, it starts on a node only once the node's validator has
 *   passed `toolkit-validation`, and reads the sharing config from the ClusterPolicy's
 *   `spec.devicePlugin.config` (see {@linkcode sharingFor});
 * - capacity and allocatable = physical GPUs (`nvidia.com/gpu.count`) x replicas,
 *   under the advertised name only (`nvidia.com/gpu.shared` when renamed: the old
 *   name disappears, as kubelet drops a resource no plugin serves any more);
 * - labels `nvidia.com/gpu.replicas`, `nvidia.com/gpu.sharing-strategy` and the
 *   product with the `-SHARED` suffix when shared and not renamed.
 *
 * Writes under the played client's field manager only the fields it owns, so nodes
 * must be created by another manager (the harness creates them under its own).
 */
export async function devicePluginRound(
  kube: KubeClient,
  options: PlayDevicePluginOptions,
): Promise<void> {
  let config: { name?: string; default?: string } | undefined;
  let data: Record<string, string> | undefined;
  if (!options.standalone) {
    const policy = await kube.get(CLUSTER_POLICY);
    const plugin = (policy?.spec as {
      devicePlugin?: {
        enabled?: boolean;
        config?: { name?: string; default?: string };
      };
    } | undefined)?.devicePlugin;
    if (!policy || plugin?.enabled === false) return;
    config = plugin?.config;
    if (config?.name) {
      const cm = await kube.get({
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: options.namespace,
        name: config.name,
      });
      data = cm?.data as Record<string, string> | undefined;
    }
  }
  const nodes = await kube.list("v1", "Node", {
    labelSelector: options.nodeSelector ?? GPU_PRESENT,
  });
  for (const node of nodes) {
    if (!options.standalone) {
      const validator = await kube.get({
        apiVersion: "v1",
        kind: "Pod",
        namespace: options.namespace,
        name: validatorName(node.metadata.name),
      });
      const toolkit = (validator?.status as {
        initContainerStatuses?: InitStatus[];
      } | undefined)?.initContainerStatuses?.find((c) =>
        c.name === "toolkit-validation"
      );
      if (toolkit?.state.terminated?.exitCode !== 0) continue;
    }
    const physical = Number(
      node.metadata.labels?.["nvidia.com/gpu.count"] ?? 0,
    );
    const { resource, replicas, renamed } = sharingFor(node, config, data);
    const amount = String(physical * replicas);
    const status = node.status as {
      capacity?: Record<string, string>;
      allocatable?: Record<string, string>;
    };
    const stale = Object.keys(status.capacity ?? {}).some((k) =>
      k.startsWith("nvidia.com/gpu") && k !== resource
    );
    if (stale || status.capacity?.[resource] !== amount) {
      // Only the advertised name, under this manager: a name it set before is dropped.
      await kube.apply({
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: node.metadata.name },
        status: {
          capacity: { [resource]: amount },
          allocatable: { [resource]: amount },
        },
      }, { subresource: "status" });
    }
    const product = (node.metadata.labels?.["nvidia.com/gpu.product"] ?? "")
      .replace(/-SHARED$/, "");
    const labels = {
      "nvidia.com/gpu.product": replicas > 1 && !renamed
        ? `${product}-SHARED`
        : product,
      "nvidia.com/gpu.replicas": String(replicas),
      "nvidia.com/gpu.sharing-strategy": replicas > 1 ? "time-slicing" : "none",
    };
    if (
      Object.entries(labels).some(([k, v]) => node.metadata.labels?.[k] !== v)
    ) {
      await kube.apply({
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: node.metadata.name, labels },
      });
    }
  }
}

/** Plays the device plugin until stopped ({@linkcode devicePluginRound} every 200 ms). */
export function playDevicePlugin(
  kube: KubeClient,
  options: PlayDevicePluginOptions,
): Played {
  return {
    stop: loop(() => devicePluginRound(kube, options), {
      name: "simulated device plugin",
    }),
    history: [],
  };
}

/**
 * The namespace the GPU operator runs in: that of its Deployment (label
 * `app.kubernetes.io/component=gpu-operator`, as the chart sets it), or `undefined`
 * while none is installed.
 */
export async function gpuOperatorNamespace(
  kube: KubeClient,
): Promise<string | undefined> {
  const [operator] = await kube.list("apps/v1", "Deployment", {
    labelSelector: "app.kubernetes.io/component=gpu-operator",
  });
  return operator?.metadata.namespace;
}

/**
 * One round of the operator and the device plugin wherever the operator's chart is
 * installed (see {@linkcode gpuOperatorNamespace}); nothing while it is not.
 */
export async function gpuRound(
  kube: KubeClient,
  history: string[] = [],
): Promise<void> {
  const namespace = await gpuOperatorNamespace(kube);
  if (!namespace) return;
  await gpuOperatorRound(kube, { namespace }, history);
  await devicePluginRound(kube, { namespace });
}
