/**
 * The GPU-only composition run by the engine, as `deno task plan/apply/verify` do:
 * planSteps, then applySteps (apply + verify per step, checkpoint), then a re-plan
 * that must be all no-op. It runs on a control plane of its own with two kwok GPU
 * nodes (ClusterPolicy `cluster-policy` is a cluster singleton, shared with
 * gpu_plan_test.ts otherwise).
 *
 * No GPU operator or device plugin runs on kwok: while the engine works, the test
 * plays them in the background through the API, and says so: it marks ClusterPolicy
 * ready and starts a validator pod, and, like the device plugin, reads the sharing
 * config from the real ConfigMap (key from the node's
 * `nvidia.com/device-plugin.config` label, else the default) and advertises
 * physical GPUs x replicas with the sharing labels.
 */

import { sharedChart } from "../_shared.ts";
import { fileURLToPath } from "node:url";
import { parseYaml as parse } from "../../lib/deps.ts";
import { assert, assertEquals } from "../_assert.ts";
import { nodeObject, startCluster } from "../cluster/harness.ts";
import { gpuSteps } from "../../plans/gpu.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { applySteps, verifySteps } from "../../lib/engine/executor.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { findHelm } from "../../lib/tools/helm.ts";
import { CONFIG_LABEL } from "../../lib/steps/time_slicing.ts";
import { playDevicePlugin, playedClient, playGpuOperator } from "./_played.ts";

const CHART = sharedChart("gpu-operator-v26.3.3");
const FIXTURES = fileURLToPath(new URL("../fixtures/host/", import.meta.url));
const namespace = "gpu-operator";

interface SharingFile {
  sharing: {
    timeSlicing: {
      renameByDefault?: boolean;
      resources: { name: string; replicas: number; rename?: string }[];
    };
  };
}

/** One round of the played operator and device plugin. */
async function playRound(kube: KubeClient): Promise<void> {
  const policy = await kube.get({
    apiVersion: "nvidia.com/v1",
    kind: "ClusterPolicy",
    name: "cluster-policy",
  });
  if (policy && (policy.status as { state?: string })?.state !== "ready") {
    await playGpuOperator(kube, { namespace, node: "gpu-e2e-0" });
  }
  const cm = await kube.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace,
    name: "time-slicing-config",
  });
  if (!cm) return;
  const data = cm.data as Record<string, string>;
  const nodes = await kube.list("v1", "Node", {
    labelSelector: "nvidia.com/gpu.present=true",
  });
  // Like the device plugin's config manager: follow the node's config label.
  const want = (node: KubeObject) => {
    const key = node.metadata.labels?.[CONFIG_LABEL] ?? "any";
    const ts = (parse(data[key]) as SharingFile).sharing.timeSlicing;
    const gpu = ts.resources[0];
    return {
      resource: ts.renameByDefault ? `${gpu.name}.shared` : gpu.name,
      replicas: gpu.replicas,
    };
  };
  const stale = nodes.filter((n) => {
    const { resource, replicas } = want(n);
    const count = Number(n.metadata.labels?.["nvidia.com/gpu.count"] ?? 0);
    const allocatable = (n.status as { allocatable?: Record<string, string> })
      ?.allocatable ?? {};
    return n.metadata.labels?.["nvidia.com/gpu.replicas"] !==
        String(replicas) ||
      allocatable[resource] !== String(count * replicas);
  });
  await playDevicePlugin(kube, { nodes: stale, replicasFor: want });
}

Deno.test({
  name:
    "GPU-only plan through the engine: plan, apply+verify with checkpoint, re-plan no-op",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    // Nodes are created under the played field manager (as kubelet and GPU feature
    // discovery would own them), so kfplan's server-side apply of one node label
    // leaves the other labels alone.
    const cluster = await startCluster({ nodes: [] });
    const played = playedClient(cluster.kubeconfig);
    for (
      const spec of [
        { name: "gpu-e2e-0", gpus: 2 },
        { name: "gpu-e2e-1", gpus: 1, gpuProduct: "Tesla-T4" },
      ]
    ) await played.apply(nodeObject(spec));
    const kube = cluster.kube;
    const checkpointDir = await Deno.makeTempDir({ prefix: "kfplan-gpu-e2e-" });
    let running = true;
    console.log(
      "  the test plays the GPU operator (ClusterPolicy status, validator pod) and the device plugin (capacity from the ConfigMap)",
    );
    const playing = (async () => {
      while (running) {
        await playRound(played).catch(() => {});
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    try {
      const steps = gpuSteps({
        hostChecks: {
          hosts: [
            { name: "gpu-e2e-0", fixture: FIXTURES + "containerd-v3-dropin" },
            { name: "gpu-e2e-1", fixture: FIXTURES + "toolkit-missing" },
          ],
          failOn: "error",
        },
        operator: { chart: { path: CHART }, namespace, timeoutSeconds: 60 },
        timeSlicing: {
          namespace,
          timeSlicing: {
            resources: [{ name: "nvidia.com/gpu", replicas: 4 }],
          },
          nodeConfigs: [{
            name: "t4",
            nodeSelector: { "nvidia.com/gpu.product": "Tesla-T4" },
            timeSlicing: {
              renameByDefault: true,
              resources: [{ name: "nvidia.com/gpu", replicas: 3 }],
            },
          }],
          verify: { timeoutSeconds: 60 },
        },
      }, { source: "kfplan.yaml", prefix: ["gpu"], helm: await findHelm() });

      const start = performance.now();
      const { document } = await planSteps(steps, { kube });
      console.log(
        `  GPU-only plan wall time (engine, fresh cluster): ${
          Math.round(performance.now() - start)
        } ms`,
      );
      // time-slicing: a ConfigMap to create and a node label to update.
      assertEquals(document.steps.map((s) => s.action), [
        "no-op",
        "create",
        "update",
      ]);

      const applied = await applySteps(steps, {
        kube,
        checkpointDir,
        lock: false,
      });
      assert(applied.ok, JSON.stringify(applied.summary));
      assertEquals(applied.summary.done, [
        "nvidia-toolkit",
        "gpu-operator",
        "time-slicing",
      ]);
      // One host lacks the toolkit: the operator installs it, but not the driver.
      const policy = await kube.get({
        apiVersion: "nvidia.com/v1",
        kind: "ClusterPolicy",
        name: "cluster-policy",
      });
      const spec = policy?.spec as {
        driver: { enabled: boolean };
        toolkit: { enabled: boolean };
      };
      assertEquals([spec.driver.enabled, spec.toolkit.enabled], [false, true]);
      const t4 = await kube.get({
        apiVersion: "v1",
        kind: "Node",
        name: "gpu-e2e-1",
      });
      assertEquals(
        (t4?.status as { allocatable: Record<string, string> }).allocatable[
          "nvidia.com/gpu.shared"
        ],
        "3",
      );

      const verified = await verifySteps(steps, { kube, checkpointDir });
      assert(verified.ok, JSON.stringify(verified.steps));

      const again = await planSteps(steps, { kube, checkpointDir });
      for (const step of again.document.steps) {
        assert(
          step.action === "no-op",
          `${step.id} re-plans as ${step.action}: ${
            JSON.stringify(step.changes)
          }`,
        );
      }
    } finally {
      running = false;
      await playing;
      played.close();
      await cluster.stop();
      await Deno.remove(checkpointDir, { recursive: true });
    }
  },
});
