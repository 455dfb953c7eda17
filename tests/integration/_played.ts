/**
 * Stand-ins for the controllers that do not run on a kwok cluster, acting only
 * through the real API (status subresources, ordinary objects), so steps are exercised
 * end to end: the NFS provisioner (binds PVCs), MetalLB's controller (assigns
 * LoadBalancer addresses), the GPU operator (ClusterPolicy status, validator pod with
 * its four validations) and the NVIDIA device plugin with GPU feature discovery (node
 * capacity from the ClusterPolicy's sharing config, sharing and product labels).
 * They are no kinder than the real ones: GPU nodes advertise nothing until the
 * played device plugin runs, the ClusterPolicy is `notReady` until the validator
 * passed, and a validation can be made to fail.
 *
 * Each `play*` starts a polling loop and returns a way to stop it.
 *
 * @module
 */

import { type Helm, helmUninstall } from "../../lib/tools/helm.ts";
import type { StepContext } from "../../lib/engine/types.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import {
  type ClosableKubeClient,
  createKubeClient,
} from "../../lib/kube/client.ts";
import { parseYaml } from "../../lib/deps.ts";
import { CONFIG_LABEL } from "../../lib/steps/time_slicing.ts";
import { WEBHOOK_SERVICE } from "../../lib/steps/metallb.ts";
import { type ClusterHandle, startCluster } from "../cluster/harness.ts";

/**
 * A control plane of its own (one kwok node) for a test that changes cluster-wide
 * behaviour other tests rely on: which StorageClass is the default, who answers
 * LoadBalancer Services. The shared cluster of `deno task test` runs the Kubeflow
 * scenario in parallel, with its own default class and LoadBalancer stand-in.
 */
export function privateCluster(): Promise<ClusterHandle> {
  return startCluster({ nodes: [{ name: "kwok-node-0" }] });
}

/**
 * A client for the played controllers and test fixtures, under its own field manager:
 * server-side apply under kfplan's manager would otherwise drop fields kfplan applied
 * earlier (and the other way round).
 */
export function playedClient(kubeconfig: string): ClosableKubeClient {
  return createKubeClient({
    kubeconfig,
    fieldManager: "kfplan-test-controller",
  });
}

/**
 * A step context for tests, logging to the test output. `workDir` is a directory the
 * test owns and removes (see `tempDir` in `tests/_shared.ts`).
 */
export function testContext(
  workDir: string,
  kube: KubeClient | undefined,
  outputs: StepContext["outputs"] = {},
  signal: AbortSignal = new AbortController().signal,
): StepContext {
  return {
    kube,
    offline: !kube,
    outputs,
    log: {
      info: (m) => console.log(`  [step] ${m}`),
      warn: (m) => console.log(`  [step] WARN ${m}`),
      debug() {},
    },
    workDir,
    signal,
  };
}

/** A short random suffix for cluster-scoped names. */
export function tag(): string {
  return crypto.randomUUID().slice(0, 6);
}

/** Runs `tick` every `intervalMs` until stopped; errors are kept and rethrown by `stop`. */
function loop(
  tick: () => Promise<void>,
  intervalMs = 200,
): () => Promise<void> {
  let running = true;
  let lastError: unknown;
  const done = (async () => {
    while (running) {
      try {
        await tick();
        lastError = undefined;
      } catch (error) {
        lastError = error;
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return async () => {
    running = false;
    await done;
    if (lastError) {
      console.log(
        `  [played controller] last error: ${(lastError as Error).message}`,
      );
    }
  };
}

/**
 * Plays the NFS subdir provisioner: every Pending PVC of `storageClass` gets a
 * PersistentVolume with an NFS source and a `claimRef`; the real PV controller binds.
 */
export function playNfsProvisioner(
  kube: KubeClient,
  options: {
    storageClass: string;
    provisioner: string;
    server: string;
    path: string;
  },
): () => Promise<void> {
  const created = new Set<string>();
  const stop = loop(async () => {
    for (const pvc of await kube.list("v1", "PersistentVolumeClaim")) {
      const spec = pvc.spec as {
        storageClassName?: string;
        accessModes: string[];
        volumeName?: string;
        resources?: { requests?: { storage?: string } };
      };
      if (spec.storageClassName !== options.storageClass || spec.volumeName) {
        continue;
      }
      const sc = await kube.get({
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        name: options.storageClass,
      });
      const name = `pvc-${pvc.metadata.uid}`;
      created.add(name);
      await kube.apply({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: {
          name,
          annotations: {
            "pv.kubernetes.io/provisioned-by": options.provisioner,
          },
        },
        spec: {
          // What the claim asks for: a smaller volume would not bind.
          capacity: { storage: spec.resources?.requests?.storage ?? "1Mi" },
          accessModes: spec.accessModes,
          storageClassName: options.storageClass,
          persistentVolumeReclaimPolicy:
            (sc as { reclaimPolicy?: string } | undefined)?.reclaimPolicy ??
              "Delete",
          nfs: {
            server: options.server,
            path:
              `${options.path}/${pvc.metadata.namespace}-${pvc.metadata.name}-${name}`,
          },
          claimRef: {
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            namespace: pvc.metadata.namespace,
            name: pvc.metadata.name,
            uid: pvc.metadata.uid,
          },
        },
      });
    }
  });
  return async () => {
    await stop();
    // No real provisioner deletes released volumes here: clean up what was "provisioned".
    for (const name of created) {
      await kube.delete({ apiVersion: "v1", kind: "PersistentVolume", name })
        .catch(() => false);
    }
  };
}

/**
 * Plays MetalLB's address assignment: a LoadBalancer Service labelled `label` without
 * an address gets `address` in `status.loadBalancer` (status subresource).
 */
export function playLoadBalancer(
  kube: KubeClient,
  options: { label: string; address: string },
): () => Promise<void> {
  return loop(async () => {
    for (
      const svc of await kube.list("v1", "Service", {
        labelSelector: options.label,
      })
    ) {
      const ingress =
        (svc.status as { loadBalancer?: { ingress?: unknown[] } })?.loadBalancer
          ?.ingress ?? [];
      if (
        (svc.spec as { type?: string }).type !== "LoadBalancer" ||
        ingress.length > 0
      ) continue;
      await kube.apply({
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: svc.metadata.name,
          namespace: svc.metadata.namespace,
        },
        status: {
          loadBalancer: { ingress: [{ ip: options.address, ipMode: "VIP" }] },
        },
      }, { subresource: "status" });
    }
  });
}

/** MetalLB's namespace in the tests. */
export const METALLB_NAMESPACE = "metallb-system";

/**
 * When the played webhook backend may come up, and the resourceVersion of the
 * Endpoints it created: the backend appears only once the test opens the gate, so a
 * step that applied pools without waiting for it would be refused.
 */
export interface BackendGate {
  open: boolean;
  endpointsVersion?: string;
}

/**
 * Plays the webhook half of MetalLB's controller until stopped: the webhook Service
 * loses its selector and gets Endpoints pointing at `server` (once `gate.open`), and
 * the webhook configuration gets the server's CA (MetalLB's controller patches
 * `caBundle` itself).
 */
export function playMetallbWebhook(
  kube: KubeClient,
  server: { hostname: string; port: number; caBundle: string },
  gate: BackendGate,
): () => Promise<void> {
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const svc = await kube.get({
          apiVersion: "v1",
          kind: "Service",
          namespace: METALLB_NAMESPACE,
          name: WEBHOOK_SERVICE,
        });
        const spec = svc?.spec as { selector?: unknown } | undefined;
        if (svc && spec?.selector) {
          delete spec.selector;
          await kube.replace(svc);
        }
        if (svc) {
          const ep = await kube.get({
            apiVersion: "v1",
            kind: "Endpoints",
            namespace: METALLB_NAMESPACE,
            name: WEBHOOK_SERVICE,
          });
          const ours = JSON.stringify(ep?.subsets ?? []).includes(
            server.hostname,
          );
          if (!ours && gate.open) {
            if (ep) {
              await kube.delete({
                apiVersion: "v1",
                kind: "Endpoints",
                namespace: METALLB_NAMESPACE,
                name: WEBHOOK_SERVICE,
              });
            }
            const created = await kube.create({
              apiVersion: "v1",
              kind: "Endpoints",
              metadata: { name: WEBHOOK_SERVICE, namespace: METALLB_NAMESPACE },
              // The chart's Service port has no name, so neither has this one.
              subsets: [{
                addresses: [{ ip: server.hostname }],
                ports: [{ port: server.port, protocol: "TCP" }],
              }],
            });
            gate.endpointsVersion = created.metadata.resourceVersion;
          }
        }
        const vwc = await kube.get({
          apiVersion: "admissionregistration.k8s.io/v1",
          kind: "ValidatingWebhookConfiguration",
          name: "metallb-webhook-configuration",
        });
        const hooks = (vwc?.webhooks ?? []) as {
          clientConfig: { caBundle?: string };
        }[];
        if (
          vwc && hooks.some((h) => h.clientConfig.caBundle !== server.caBundle)
        ) {
          for (const h of hooks) h.clientConfig.caBundle = server.caBundle;
          await kube.replace(vwc);
        }
      } catch { /* retried on the next tick */ }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    running = false;
    await done;
  };
}

/** The validations NVIDIA's operator validator runs as init containers, in order. */
export const VALIDATIONS = [
  "driver-validation",
  "toolkit-validation",
  "cuda-validation",
  "plugin-validation",
] as const;

/** One validation of {@linkcode VALIDATIONS}. */
export type Validation = typeof VALIDATIONS[number];

/** A played controller running in the background. */
export interface Played {
  /** Stops the loop; rethrows nothing, logs its last error. */
  stop(): Promise<void>;
  /** What the controller wrote, in order (e.g. `ClusterPolicy notReady`). */
  history: string[];
}

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
            message: `${name} failed (played by the integration test)`,
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
          labels: { app: "nvidia-operator-validator" },
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
    ? "no NVIDIA GPU node in the cluster (played)"
    : ready
    ? "all operands ready (played)"
    : `nvidia-operator-validator not ready: ${waiting.join("; ")} (played)`;
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
    stop: loop(() => gpuOperatorRound(kube, options, history)),
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
 * must be created by another manager (see {@linkcode nodeFixtureClient}).
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
  return { stop: loop(() => devicePluginRound(kube, options)), history: [] };
}

/**
 * A client that creates simulated nodes as kubelet and node feature discovery would
 * own them: a field manager of its own, so the played device plugin's and kfplan's
 * server-side applies of a few node fields leave the rest alone.
 */
export function nodeFixtureClient(kubeconfig: string): ClosableKubeClient {
  return createKubeClient({ kubeconfig, fieldManager: "kfplan-test-kubelet" });
}

/** What {@linkcode removeRelease} cleans up. */
export interface ReleaseToRemove {
  kubeconfig: string;
  release: string;
  namespace: string;
}

/**
 * Test cleanup: uninstalls a Helm release and deletes its namespace, ignoring what is
 * already gone, so a failed test still leaves the shared cluster tidy.
 */
export async function removeRelease(
  helm: Helm,
  kube: KubeClient,
  target: ReleaseToRemove,
): Promise<void> {
  await helmUninstall(helm, target).catch(() => false);
  await kube.delete({
    apiVersion: "v1",
    kind: "Namespace",
    name: target.namespace,
  }).catch(() => false);
}
