import { assert, assertEquals } from "../_assert.ts";
import { binDir, useCluster } from "../cluster/harness.ts";
import { applyObjects } from "../../lib/kube/apply_set.ts";
import type { KubeObject } from "../../lib/kube/types.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("GPU nodes report nvidia.com/gpu allocatable and GPU feature discovery labels", async () => {
  const { kube } = await useCluster();
  const nodes = await kube.list("v1", "Node");
  const gpu = nodes.filter((n) =>
    (n.status as Any)?.allocatable?.["nvidia.com/gpu"]
  );
  assert(nodes.length >= 3, `only ${nodes.length} nodes`);
  assert(gpu.length >= 2, `only ${gpu.length} GPU nodes`);
  for (const node of gpu) {
    assertEquals((node.status as Any).allocatable["nvidia.com/gpu"], "4");
    assertEquals(node.metadata.labels?.["nvidia.com/gpu.present"], "true");
    assertEquals(node.metadata.labels?.["nvidia.com/gpu.count"], "4");
    assert(node.metadata.labels?.["nvidia.com/gpu.product"]);
    assert(node.metadata.labels?.["nvidia.com/cuda.driver.major"]);
    const ready = (node.status as Any).conditions.find((c: Any) =>
      c.type === "Ready"
    );
    assertEquals(ready.status, "True");
  }
});

Deno.test("a pod requesting GPUs is scheduled onto a GPU node and runs", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("gpu");
  const pod: KubeObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "trainer", namespace: ns },
    spec: {
      containers: [{
        name: "cuda",
        image: "nvidia/cuda:12.4.0-base-ubuntu22.04",
        resources: { limits: { "nvidia.com/gpu": "1" } },
      }],
    },
  };
  await applyObjects(kube, [pod], {});
  const running = await kube.waitFor(
    { apiVersion: "v1", kind: "Pod", namespace: ns, name: "trainer" },
    (o) =>
      (o?.status as Any)?.phase === "Running"
        ? true
        : `phase ${(o?.status as Any)?.phase}`,
    { timeoutMs: 60_000 },
  );
  const node = await kube.get({
    apiVersion: "v1",
    kind: "Node",
    name: (running?.spec as Any).nodeName,
  });
  assertEquals(node?.metadata.labels?.["nvidia.com/gpu.present"], "true");
  // Free the GPU for other tests sharing the cluster.
  await kube.delete({
    apiVersion: "v1",
    kind: "Pod",
    namespace: ns,
    name: "trainer",
  });
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
