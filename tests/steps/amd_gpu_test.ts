import { assertEquals } from "../_assert.ts";
import { validateOptions } from "../../lib/engine/options.ts";
import {
  amdGpuDaemonSet,
  amdGpuOptionsSchema,
  amdGpuStep,
} from "../../lib/steps/amd_gpu.ts";

Deno.test("amd gpu: DaemonSet mirrors upstream's manifest with the chosen image and nodes", () => {
  const o = validateOptions(amdGpuOptionsSchema, {
    image: "docker.io/rocm/k8s-device-plugin:1.31.0.7",
    nodeSelector: { "feature.node.kubernetes.io/amd-gpu": "true" },
  });
  const ds = amdGpuDaemonSet(o);
  assertEquals(ds.metadata, {
    name: "amdgpu-device-plugin-daemonset",
    namespace: "kube-system",
  });
  const pod =
    (ds.spec as { template: { spec: Record<string, unknown> } }).template.spec;
  assertEquals(pod.nodeSelector, {
    "feature.node.kubernetes.io/amd-gpu": "true",
  });
  const c = (pod.containers as Record<string, unknown>[])[0];
  assertEquals(c.image, "docker.io/rocm/k8s-device-plugin:1.31.0.7");
  assertEquals((c.securityContext as { privileged: boolean }).privileged, true);
  assertEquals(
    (pod.volumes as { hostPath: { path: string } }[]).map((v) =>
      v.hostPath.path
    ),
    [
      "/var/lib/kubelet/device-plugins",
      "/sys",
    ],
  );
});

Deno.test("amd gpu: the offline plan's desired objects are the DaemonSet apply makes so", async () => {
  const step = amdGpuStep({
    image: "docker.io/rocm/k8s-device-plugin:1.31.0.7",
  });
  const plan = await step.plan({
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: "/tmp",
    signal: new AbortController().signal,
  });
  assertEquals(plan.desired, [amdGpuDaemonSet(step.options)]);
  assertEquals(plan.changes.map((c) => `${c.action} ${c.kind}`), [
    "create DaemonSet",
  ]);
});
