/**
 * Wall time of the GPU-only plan (`plans/gpu.ts`: host checks from recorded fixtures,
 * the GPU operator chart v26.3.3 rendered by the real helm, time-slicing), offline and
 * against the test control plane (fresh cluster: everything is a create, CRDs not
 * served yet). The host checks replay fixtures, so ssh latency is not included.
 *
 *     deno run -A bench/gpu_plan.ts [--runs 5] [--json]
 *
 * Binaries must be built already (`bash tests/cluster/build.sh`).
 *
 * @module
 */

import { sharedChart } from "../tests/_shared.ts";
import { minimist } from "../lib/deps.ts";
import { fileURLToPath } from "node:url";
import { planSteps } from "../lib/engine/planner.ts";
import { findHelm } from "../lib/tools/helm.ts";
import { gpuSteps } from "../plans/gpu.ts";
import { startCluster } from "../tests/cluster/harness.ts";
import type { KubeClient } from "../lib/kube/types.ts";

const CHART = sharedChart("gpu-operator-v26.3.3");
const FIXTURES = fileURLToPath(
  new URL("../tests/fixtures/host/", import.meta.url),
);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function timePlan(
  kube: KubeClient | undefined,
  kubeconfig: string | undefined,
): Promise<number> {
  const steps = gpuSteps({
    hostChecks: {
      hosts: [
        { name: "gpu-a", fixture: FIXTURES + "containerd-v3-dropin" },
        { name: "gpu-b", fixture: FIXTURES + "k3s-template" },
      ],
    },
    operator: { chart: { path: CHART } },
    timeSlicing: {
      timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] },
    },
  }, { kubeconfig, helm: await findHelm() });
  const start = performance.now();
  const { document } = await planSteps(steps, {
    kube,
    offlineReason: "bench: offline",
  });
  const ms = performance.now() - start;
  const errors = document.steps.filter((s) => "error" in s && s.error);
  if (errors.length > 0) {
    throw new Error(`plan failed: ${JSON.stringify(errors)}`);
  }
  return ms;
}

async function main(args: string[]): Promise<void> {
  const flags = minimist(args, { default: { runs: 5 }, boolean: ["json"] });
  const runs = Number(flags.runs);
  const offline: number[] = [];
  for (let i = 0; i < runs; i++) {
    offline.push(await timePlan(undefined, undefined));
  }
  const cluster = await startCluster({});
  const online: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      online.push(await timePlan(cluster.kube, cluster.kubeconfig));
    }
  } finally {
    await cluster.stop();
  }
  const result = {
    runs,
    offlineMedianMs: Math.round(median(offline)),
    onlineMedianMs: Math.round(median(online)),
    offlineMs: offline.map(Math.round),
    onlineMs: online.map(Math.round),
  };
  if (flags.json) console.log(JSON.stringify(result));
  else {
    console.log(`GPU-only plan (3 steps), ${runs} runs each:`);
    console.log(
      `  offline:            median ${result.offlineMedianMs} ms  (${
        result.offlineMs.join(", ")
      })`,
    );
    console.log(
      `  test control plane: median ${result.onlineMedianMs} ms  (${
        result.onlineMs.join(", ")
      })`,
    );
  }
}

if (import.meta.main) main(Deno.args).then(() => Deno.exit(0));
