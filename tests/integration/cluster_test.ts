import { assert, assertEquals } from "../_assert.ts";
import { binDir, nodeObject, useCluster } from "../cluster/harness.ts";
import {
  devicePluginRound,
  nodeFixtureClient,
  playedClient,
} from "./_played.ts";
import { applyObjects } from "../../lib/kube/apply_set.ts";
import type { KubeObject } from "../../lib/kube/types.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("GPU nodes carry GPU feature discovery labels and advertise no nvidia.com/gpu before a device plugin runs", async () => {
  const { kube } = await useCluster();
  const nodes = await kube.list("v1", "Node", {
    labelSelector: "type=kwok,nvidia.com/gpu.present=true",
  });
  const harness = nodes.filter((n) => n.metadata.name.startsWith("kwok-gpu-"));
  assert(harness.length >= 2, `only ${harness.length} GPU nodes`);
  for (const node of harness) {
    assertEquals(node.metadata.labels?.["nvidia.com/gpu.count"], "4");
    assert(node.metadata.labels?.["nvidia.com/gpu.product"]);
    assert(node.metadata.labels?.["nvidia.com/cuda.driver.major"]);
    // Like a real node before the NVIDIA device plugin registers.
    assertEquals((node.status as Any).allocatable["nvidia.com/gpu"], undefined);
    const ready = (node.status as Any).conditions.find((c: Any) =>
      c.type === "Ready"
    );
    assertEquals(ready.status, "True");
  }
});

Deno.test({
  name:
    "a pod requesting GPUs stays Pending until the (played) device plugin advertises them, then runs",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { kube, kubeconfig, namespace } = await useCluster();
    const ns = await namespace("gpu");
    // A GPU node of this test's own: the shared GPU nodes must keep advertising
    // nothing for the other tests.
    const nodeName = `kfplan-gpu-pod-${crypto.randomUUID().slice(0, 6)}`;
    const fixtures = nodeFixtureClient(kubeconfig);
    const played = playedClient(kubeconfig);
    try {
      await fixtures.apply(nodeObject({ name: nodeName, gpus: 1 }));
      const pod: KubeObject = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "trainer", namespace: ns },
        spec: {
          nodeSelector: { "kubernetes.io/hostname": nodeName },
          containers: [{
            name: "cuda",
            image: "nvidia/cuda:12.4.0-base-ubuntu22.04",
            resources: { limits: { "nvidia.com/gpu": "1" } },
          }],
        },
      };
      await applyObjects(kube, [pod], {});
      const ref = {
        apiVersion: "v1",
        kind: "Pod",
        namespace: ns,
        name: "trainer",
      };
      // The scheduler's verdict is the event waited on: unschedulable, no GPU.
      await kube.waitFor(ref, (o) => {
        const scheduled = ((o?.status as Any)?.conditions ?? []).find((
          c: Any,
        ) => c.type === "PodScheduled");
        return scheduled?.status === "False" &&
            /nvidia\.com\/gpu/.test(scheduled.message ?? "") ||
          `PodScheduled ${JSON.stringify(scheduled ?? "none")}`;
      }, { timeoutMs: 60_000 });
      console.log(
        `  the test plays the NVIDIA device plugin (standalone) on ${nodeName}`,
      );
      await devicePluginRound(played, {
        namespace: ns,
        nodeSelector: `kubernetes.io/hostname=${nodeName}`,
        standalone: true,
      });
      const running = await kube.waitFor(
        ref,
        (o) =>
          (o?.status as Any)?.phase === "Running"
            ? true
            : `phase ${(o?.status as Any)?.phase}`,
        { timeoutMs: 120_000 },
      );
      assertEquals((running?.spec as Any).nodeName, nodeName);
    } finally {
      await kube.delete({
        apiVersion: "v1",
        kind: "Pod",
        namespace: ns,
        name: "trainer",
      }).catch(() => false);
      await kube.delete({ apiVersion: "v1", kind: "Node", name: nodeName })
        .catch(() => false);
      fixtures.close();
      played.close();
    }
  },
});

Deno.test("the control plane serves the pinned Kubernetes version and the CLIs are built", async () => {
  const { kube } = await useCluster();
  const versions = await Deno.readTextFile(
    new URL("../cluster/versions.env", import.meta.url),
  );
  const pinned = /KUBERNETES_VERSION=(\S+)/.exec(versions)![1];
  assertEquals((await kube.serverVersion()).gitVersion, pinned);
  const bin = await binDir();
  for (const tool of ["kustomize", "helm", "kubectl"]) {
    const out = await new Deno.Command(`${bin}/${tool}`, {
      args: tool === "kubectl" ? ["version", "--client"] : ["version"],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    assert(
      out.success,
      `${tool} version failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
});
