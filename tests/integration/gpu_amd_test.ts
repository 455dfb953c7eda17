/**
 * The AMD GPU device plugin step on the real control plane. No plugin process runs on
 * kwok: the test plays it by setting `amd.com/gpu` capacity on a kwok node of its
 * own, and says so.
 */

import { tempDir } from "../_shared.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { nodeObject, useCluster } from "../cluster/harness.ts";
import { amdGpuStep } from "../../lib/steps/amd_gpu.ts";
import { playedClient, tag, testContext } from "./_played.ts";

Deno.test({
  name:
    "AMD GPU device plugin: DaemonSet applied, verify needs allocatable amd.com/gpu",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await using work = await tempDir("kfplan-amd-");
    const cluster = await useCluster();
    const kube = cluster.kube;
    const played = playedClient(cluster.kubeconfig);
    const ns = await cluster.namespace("amd-gpu");
    const node = `kfplan-amd-${tag()}`;
    const selector = { "kfplan.test/amd-node": node };
    await played.apply(nodeObject({ name: node, labels: selector }));
    const step = amdGpuStep({
      namespace: ns,
      image: "docker.io/rocm/k8s-device-plugin:1.31.0.7",
      nodeSelector: selector,
      timeoutSeconds: 60,
    }, { source: "kfplan.yaml", prefix: ["amdGpu"] });
    try {
      await t.step("plan and apply the DaemonSet", async () => {
        const plan = await step.plan(testContext(work.path, kube));
        assertEquals(
          plan.changes.map((c) => `${c.action} ${c.kind}/${c.name}`),
          [
            "create DaemonSet/amdgpu-device-plugin-daemonset",
          ],
        );
        assertEquals(plan.warnings, []);
        await step.apply(testContext(work.path, kube), plan);
        const again = await step.plan(testContext(work.path, kube));
        assertEquals(again.changes[0].action, "no-op");
      });
      await t.step(
        "verify fails while no node reports amd.com/gpu",
        async () => {
          const quick = amdGpuStep({
            namespace: ns,
            nodeSelector: selector,
            timeoutSeconds: 2,
          });
          const result = await quick.verify(testContext(work.path, kube));
          const gpu = result.checks.find((c) =>
            c.name === "a node has allocatable amd.com/gpu"
          );
          assertEquals(gpu?.ok, false);
          assertMatch(gpu!.detail!, /amdgpu kernel driver/);
        },
      );
      await t.step(
        "verify once the (played) plugin reports capacity",
        async () => {
          console.log(
            `  the test plays the AMD device plugin: ${node} reports amd.com/gpu: 2`,
          );
          const live = await kube.get({
            apiVersion: "v1",
            kind: "Node",
            name: node,
          });
          const status = live!.status as {
            capacity: Record<string, string>;
            allocatable: Record<string, string>;
          };
          await played.apply({
            apiVersion: "v1",
            kind: "Node",
            metadata: { name: node },
            status: {
              capacity: { ...status.capacity, "amd.com/gpu": "2" },
              allocatable: { ...status.allocatable, "amd.com/gpu": "2" },
            },
          }, { subresource: "status" });
          const result = await step.verify(testContext(work.path, kube));
          for (const c of result.checks) assert(c.ok, `${c.name}: ${c.detail}`);
          assertEquals(
            (result.outputs?.gpuNodes as Record<string, number>)[node],
            2,
          );
        },
      );
    } finally {
      await kube.delete({ apiVersion: "v1", kind: "Node", name: node }).catch(
        () => false,
      );
      played.close();
    }
  },
});
