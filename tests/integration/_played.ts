/**
 * Stand-ins for the controllers that do not run on a kwok cluster, acting only
 * through the real API (status subresources, ordinary objects), so steps are exercised
 * end to end: the NFS provisioner (binds PVCs), MetalLB's controller (assigns
 * LoadBalancer addresses), the GPU operator (ClusterPolicy status, validator pod) and
 * the NVIDIA device plugin (node capacity and sharing labels).
 *
 * Each `play*` starts a polling loop and returns a function that stops it.
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

/** A step context for tests, logging to the test output. */
export function testContext(
  kube: KubeClient | undefined,
  outputs: StepContext["outputs"] = {},
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
    workDir: Deno.makeTempDirSync({ prefix: "kfplan-test-" }),
    signal: new AbortController().signal,
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
          capacity: { storage: "1Mi" },
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

/** Plays the GPU operator: ClusterPolicy `ready` and a validator pod on `node`. */
export async function playGpuOperator(
  kube: KubeClient,
  options: { namespace: string; node: string },
): Promise<void> {
  await kube.apply({
    apiVersion: "nvidia.com/v1",
    kind: "ClusterPolicy",
    metadata: { name: "cluster-policy" },
    status: {
      state: "ready",
      namespace: options.namespace,
      conditions: [{
        type: "Ready",
        status: "True",
        reason: "Reconciled",
        message: "played by the integration test",
        lastTransitionTime: new Date().toISOString(),
      }],
    },
  }, { subresource: "status" });
  await kube.apply({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `nvidia-operator-validator-${options.node}`.slice(0, 63),
      namespace: options.namespace,
      labels: { app: "nvidia-operator-validator" },
    },
    spec: {
      nodeName: options.node,
      containers: [{
        name: "nvidia-operator-validator",
        image: "nvcr.io/nvidia/gpu-operator:v26.3.3",
      }],
    },
  });
}

/**
 * Plays the NVIDIA device plugin and GPU feature discovery under time-slicing: for each
 * node, `replicasFor(node)` decides the sharing; capacity/allocatable and the sharing
 * labels are set as upstream would.
 */
export async function playDevicePlugin(
  kube: KubeClient,
  options: {
    nodes: KubeObject[];
    replicasFor: (node: KubeObject) => { resource: string; replicas: number };
  },
): Promise<void> {
  const { nodes, replicasFor } = options;
  for (const node of nodes) {
    const physical = Number(
      node.metadata.labels?.["nvidia.com/gpu.count"] ?? 0,
    );
    const { resource, replicas } = replicasFor(node);
    const status = node.status as {
      capacity: Record<string, string>;
      allocatable: Record<string, string>;
    };
    const amount = String(physical * replicas);
    const capacity = { ...status.capacity, [resource]: amount };
    const allocatable = { ...status.allocatable, [resource]: amount };
    await kube.apply({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: node.metadata.name },
      status: { capacity, allocatable },
    }, { subresource: "status" });
    await kube.apply({
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: node.metadata.name,
        // Same field manager as the fixture that created the node: keep its labels.
        labels: {
          ...node.metadata.labels,
          "nvidia.com/gpu.replicas": String(replicas),
          "nvidia.com/gpu.sharing-strategy": "time-slicing",
        },
      },
    });
  }
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
