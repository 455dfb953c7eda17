/**
 * The GPU-only composition run by the engine, as `deno task plan/apply/verify` do:
 * planSteps, then applySteps (apply + verify per step, checkpoint), then a re-plan
 * that must be all no-op. It runs on a control plane of its own with two kwok GPU
 * nodes (ClusterPolicy `cluster-policy` is a cluster singleton, shared with
 * gpu_plan_test.ts otherwise).
 *
 * No GPU operator or device plugin runs on kwok: while the engine works, the test
 * plays them in the background through the API (`_played.ts`), and says so: the
 * ClusterPolicy is notReady until each node's validator has passed its four
 * validations; the device plugin starts once the toolkit is validated, reads the
 * sharing config the ClusterPolicy names (key from the node's
 * `nvidia.com/device-plugin.config` label, else the default) and advertises physical
 * GPUs x replicas with the sharing labels. A second test makes a validation fail.
 */

import { sharedChart, tempDir } from "../_shared.ts";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { nodeObject, startCluster } from "../cluster/harness.ts";
import { gpuSteps } from "../../plans/gpu.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { applySteps, verifySteps } from "../../lib/engine/executor.ts";
import { findHelm } from "../../lib/tools/helm.ts";
import { gpuOperatorStep } from "../../lib/steps/gpu_operator.ts";
import {
  nodeFixtureClient,
  playDevicePlugin,
  playedClient,
  playGpuOperator,
  testContext,
} from "./_played.ts";

const CHART = sharedChart("gpu-operator-v26.3.3");
const FIXTURES = fileURLToPath(new URL("../fixtures/host/", import.meta.url));
const namespace = "gpu-operator";

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
    const fixtures = nodeFixtureClient(cluster.kubeconfig);
    for (
      const spec of [
        { name: "gpu-e2e-0", gpus: 2 },
        { name: "gpu-e2e-1", gpus: 1, gpuProduct: "Tesla-T4" },
      ]
    ) await fixtures.apply(nodeObject(spec));
    const kube = cluster.kube;
    const checkpointDir = await Deno.makeTempDir({ prefix: "kfplan-gpu-e2e-" });
    console.log(
      "  the test plays the GPU operator (ClusterPolicy status, validator pods) and the device plugin (capacity from the ClusterPolicy's sharing config)",
    );
    const operator = playGpuOperator(played, { namespace });
    const plugin = playDevicePlugin(played, { namespace });
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
      // time-slicing: a node label to update (its ConfigMap comes with the operator).
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
      await operator.stop();
      await plugin.stop();
      played.close();
      fixtures.close();
      await cluster.stop();
      await Deno.remove(checkpointDir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "GPU operator verify fails when the operator is ready without GPU nodes, and names a failed validation",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using work = await tempDir("kfplan-gpu-fail-");
    // A cluster of its own: "no node advertises a GPU" must hold cluster-wide.
    const cluster = await startCluster({ nodes: [{ name: "cpu-only-0" }] });
    const kube = cluster.kube;
    const played = playedClient(cluster.kubeconfig);
    const fixtures = nodeFixtureClient(cluster.kubeconfig);
    const step = gpuOperatorStep({
      chart: { path: CHART },
      namespace,
      values: { driver: { enabled: false }, toolkit: { enabled: false } },
      // Bounds the failing verifies below; each runs after the state it checks exists.
      timeoutSeconds: 5,
    }, { kubeconfig: cluster.kubeconfig, helm: await findHelm() });
    let operator = playGpuOperator(played, { namespace });
    const plugin = playDevicePlugin(played, { namespace });
    console.log(
      "  the test plays the GPU operator and device plugin; the second round fails cuda-validation",
    );
    try {
      await step.apply(
        testContext(work.path, kube),
        await step.plan(testContext(work.path, kube)),
      );
      const policyRef = {
        apiVersion: "nvidia.com/v1",
        kind: "ClusterPolicy",
        name: "cluster-policy",
      };
      // Upstream reports ready when there is no GPU node (reason NoGPUNodes).
      await kube.waitFor(policyRef, (p) => {
        const status = p?.status as
          | { state?: string; conditions?: { reason?: string }[] }
          | undefined;
        return status?.conditions?.[0]?.reason === "NoGPUNodes" ||
          `state ${status?.state ?? "unset"}`;
      }, { timeoutMs: 120_000 });
      const noGpus = await step.verify(testContext(work.path, kube));
      const byName = (r: typeof noGpus, name: string) =>
        r.checks.find((c) => c.name === name);
      assertEquals(
        byName(noGpus, "ClusterPolicy cluster-policy ready")?.ok,
        true,
      );
      const gpu = byName(noGpus, "a node has allocatable nvidia.com/gpu");
      assertEquals(gpu?.ok, false);
      assertMatch(gpu!.detail!, /no node has allocatable nvidia\.com\/gpu/);

      // A GPU node whose CUDA validation fails: the plugin still advertises (the
      // toolkit was validated), the validator never becomes Ready.
      await operator.stop();
      operator = playGpuOperator(played, {
        namespace,
        failValidation: "cuda-validation",
      });
      await fixtures.apply(nodeObject({ name: "gpu-bad-0", gpus: 2 }));
      await kube.waitFor({
        apiVersion: "v1",
        kind: "Pod",
        namespace,
        name: "nvidia-operator-validator-gpu-bad-0",
      }, (pod) => {
        const failed = (pod?.status as {
          initContainerStatuses?: {
            name: string;
            state?: { terminated?: { exitCode: number } };
          }[];
        } | undefined)?.initContainerStatuses?.find((c) =>
          c.name === "cuda-validation"
        )?.state?.terminated?.exitCode === 1;
        return failed || "cuda-validation has not failed yet";
      }, { timeoutMs: 120_000 });
      await kube.waitFor(
        { apiVersion: "v1", kind: "Node", name: "gpu-bad-0" },
        (
          n,
        ) =>
          (n?.status as { allocatable?: Record<string, string> })?.allocatable
              ?.["nvidia.com/gpu"] === "2" || "no GPU advertised yet",
        {
          timeoutMs: 120_000,
        },
      );
      const failed = await step.verify(testContext(work.path, kube));
      assertEquals(
        byName(failed, "a node has allocatable nvidia.com/gpu")?.ok,
        true,
      );
      const validator = byName(failed, "operator validator ran");
      assertEquals(validator?.ok, false);
      assertMatch(
        validator!.detail!,
        /nvidia-operator-validator-gpu-bad-0: Pending, not Ready, pending\/failed validations: cuda-validation, plugin-validation/,
      );
      const policy = byName(failed, "ClusterPolicy cluster-policy ready");
      assertEquals(policy?.ok, false);
      assertMatch(policy!.detail!, /state notReady .*cuda-validation failed/);
    } finally {
      await operator.stop();
      await plugin.stop();
      played.close();
      fixtures.close();
      await cluster.stop();
    }
  },
});
