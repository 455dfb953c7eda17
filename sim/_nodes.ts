/**
 * The simulated nodes of the test control plane. kwok manages Node objects that carry
 * the annotation `kwok.x-k8s.io/node=fake` and keeps the capacity they were created
 * with. GPU nodes carry the labels GPU feature discovery sets (`nvidia.com/gpu.count`
 * is the number of physical GPUs) but, like a real node before the NVIDIA device
 * plugin registers, no `nvidia.com/gpu` capacity: tests that need it play the device
 * plugin (`sim/controllers/gpu.ts`), so a check for "no GPU advertised" can fail.
 *
 * @module
 */

import type { KubeObject } from "../lib/kube/types.ts";

/** One simulated node. */
export interface NodeSpec {
  /** Node name. */
  name: string;
  /**
   * Physical GPUs (label `nvidia.com/gpu.count`); 0 or absent for a CPU node. The
   * node advertises no `nvidia.com/gpu` until a (simulated) device plugin sets it.
   */
  gpus?: number;
  /** GPU product label, default `NVIDIA-A100-SXM4-40GB`. */
  gpuProduct?: string;
  /** GPU memory label in MiB, default 40960. */
  gpuMemoryMiB?: number;
  /** CPU capacity, default `16`. */
  cpu?: string;
  /** Memory capacity, default `64Gi`. */
  memory?: string;
  /** Extra labels. */
  labels?: Record<string, string>;
}

/** Three nodes: one CPU node and two GPU nodes with 4 physical GPUs each. */
export function defaultNodes(): NodeSpec[] {
  return [
    { name: "kwok-cpu-0" },
    { name: "kwok-gpu-0", gpus: 4 },
    { name: "kwok-gpu-1", gpus: 4 },
  ];
}

/** The Node object for a spec, with status capacity (Node status may be set on create). */
export function nodeObject(spec: NodeSpec): KubeObject {
  const gpus = spec.gpus ?? 0;
  const resources: Record<string, string> = {
    cpu: spec.cpu ?? "16",
    memory: spec.memory ?? "64Gi",
    pods: "110",
    "ephemeral-storage": "200Gi",
  };
  const labels: Record<string, string> = {
    "kubernetes.io/arch": "amd64",
    "kubernetes.io/os": "linux",
    "kubernetes.io/hostname": spec.name,
    "type": "kwok",
    ...spec.labels,
  };
  if (gpus > 0) {
    Object.assign(labels, {
      "nvidia.com/gpu.present": "true",
      "nvidia.com/gpu.count": String(gpus),
      "nvidia.com/gpu.product": spec.gpuProduct ?? "NVIDIA-A100-SXM4-40GB",
      "nvidia.com/gpu.memory": String(spec.gpuMemoryMiB ?? 40960),
      "nvidia.com/gpu.family": "ampere",
      "nvidia.com/gpu.machine": "kwok-simulated",
      "nvidia.com/gpu.compute.major": "8",
      "nvidia.com/gpu.compute.minor": "0",
      "nvidia.com/cuda.driver.major": "550",
      "nvidia.com/cuda.driver.minor": "127",
      "nvidia.com/cuda.driver.rev": "05",
      "nvidia.com/cuda.runtime.major": "12",
      "nvidia.com/cuda.runtime.minor": "4",
      "nvidia.com/gfd.timestamp": "1700000000",
      "feature.node.kubernetes.io/pci-10de.present": "true",
    });
  }
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: spec.name,
      annotations: {
        "kwok.x-k8s.io/node": "fake",
        "node.alpha.kubernetes.io/ttl": "0",
      },
      labels,
    },
    spec: {},
    status: {
      capacity: resources,
      allocatable: resources,
      nodeInfo: {
        architecture: "amd64",
        operatingSystem: "linux",
        kubeletVersion: "fake",
      },
    },
  };
}
