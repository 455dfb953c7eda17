import { parseYaml as parse } from "../../lib/deps.ts";
import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { OptionsError, validateOptions } from "../../lib/engine/options.ts";
import {
  configFor,
  expectedSharing,
  nodeSharingState,
  sharedResourceNames,
  timeSlicingChartValues,
  timeSlicingConfigMap,
  timeSlicingOptionsSchema,
  timeSlicingStep,
} from "../../lib/steps/time_slicing.ts";
import type { KubeObject } from "../../lib/kube/types.ts";

const at = { source: "kfplan.yaml", prefix: ["timeSlicing"] };

Deno.test("time-slicing: replicas 1 is rejected with upstream's rule", () => {
  const e = throws(
    () =>
      timeSlicingStep({
        timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 1 }] },
      }, at),
    OptionsError,
  );
  assertEquals(
    e.message,
    "kfplan.yaml: timeSlicing.timeSlicing.resources[0].replicas: number of replicas must be >= 2 (1 would not share the GPU)",
  );
});

Deno.test("time-slicing: replicas 2.5 is rejected as not a whole number", () => {
  const e = throws(
    () =>
      timeSlicingStep({
        timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 2.5 }] },
      }, at),
    OptionsError,
  );
  assertMatch(
    e.message,
    /timeSlicing\.timeSlicing\.resources\[0\]\.replicas: replicas must be a whole number/,
  );
});

Deno.test("time-slicing: empty resources, missing replicas, duplicate names, bad config key", () => {
  const empty = throws(
    () => timeSlicingStep({ timeSlicing: { resources: [] } }, at),
    OptionsError,
  );
  assertMatch(
    empty.message,
    /timeSlicing\.timeSlicing\.resources: at least one resource is required/,
  );
  const missing = throws(
    () =>
      timeSlicingStep({
        timeSlicing: { resources: [{ name: "gpu" } as never] },
      }, at),
    OptionsError,
  );
  assertMatch(missing.message, /resources\[0\]\.replicas: required/);
  const dup = throws(
    () =>
      timeSlicingStep({
        timeSlicing: {
          resources: [{ name: "gpu", replicas: 2 }, {
            name: "nvidia.com/gpu",
            replicas: 4,
          }],
        },
      }, at),
    OptionsError,
  );
  assertMatch(
    dup.message,
    /resources\[1\]\.name: nvidia\.com\/gpu is listed twice/,
  );
  const key = throws(
    () =>
      timeSlicingStep({
        timeSlicing: { resources: [{ name: "gpu", replicas: 2 }] },
        nodeConfigs: [{
          name: "any",
          nodeSelector: { a: "b" },
          timeSlicing: { resources: [{ name: "gpu", replicas: 2 }] },
        }],
      }, at),
    OptionsError,
  );
  assertMatch(
    key.message,
    /timeSlicing\.nodeConfigs\[0\]\.name: config name "any" is used twice/,
  );
});

Deno.test("time-slicing: renders upstream's config format, one key per config, prefix added", () => {
  const o = validateOptions(timeSlicingOptionsSchema, {
    timeSlicing: {
      failRequestsGreaterThanOne: true,
      resources: [{ name: "gpu", replicas: 4 }],
    },
    nodeConfigs: [{
      name: "t4",
      nodeSelector: { "nvidia.com/gpu.product": "Tesla-T4" },
      timeSlicing: {
        renameByDefault: true,
        resources: [{ name: "nvidia.com/gpu", replicas: 2 }],
      },
    }],
  });
  const cm = timeSlicingConfigMap(o);
  assertEquals(cm.metadata, {
    name: "time-slicing-config",
    namespace: "gpu-operator",
    labels: { "app.kubernetes.io/managed-by": "kfplan" },
  });
  const data = cm.data as Record<string, string>;
  assertEquals(parse(data.any), {
    version: "v1",
    flags: { migStrategy: "none" },
    sharing: {
      timeSlicing: {
        renameByDefault: false,
        failRequestsGreaterThanOne: true,
        resources: [{ name: "nvidia.com/gpu", replicas: 4 }],
      },
    },
  });
  assertEquals(parse(data.t4).sharing.timeSlicing.renameByDefault, true);
  assertEquals(timeSlicingChartValues(o), {
    name: "time-slicing-config",
    default: "any",
  });
  assertEquals(expectedSharing(o.timeSlicing), {
    resource: "nvidia.com/gpu",
    original: "nvidia.com/gpu",
    renamed: false,
    replicas: 4,
  });
  assertEquals(expectedSharing(o.nodeConfigs[0].timeSlicing), {
    resource: "nvidia.com/gpu.shared",
    original: "nvidia.com/gpu",
    renamed: true,
    replicas: 2,
  });

  const node = (
    labels: Record<string, string>,
    allocatable: Record<string, string>,
  ): KubeObject => ({
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "n", labels },
    status: { allocatable },
  });
  const t4 = node({
    "nvidia.com/gpu.product": "Tesla-T4",
    "nvidia.com/gpu.count": "2",
  }, { "nvidia.com/gpu": "2" });
  assertEquals(configFor(t4, o).key, "t4");
  assertMatch(
    String(nodeSharingState(t4, o)),
    /config "t4": allocatable nvidia\.com\/gpu\.shared=none, want 4 \(2 GPUs x 2\); allocatable nvidia\.com\/gpu=2, want none \(renamed to nvidia\.com\/gpu\.shared: the device plugin still advertises the plain name\); label nvidia\.com\/gpu\.replicas=none, want 2/,
  );
  const done = node({
    "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB-SHARED",
    "nvidia.com/gpu.count": "4",
    "nvidia.com/gpu.replicas": "4",
    "nvidia.com/gpu.sharing-strategy": "time-slicing",
  }, { "nvidia.com/gpu": "16" });
  assertEquals(nodeSharingState(done, o), true);
});

Deno.test("time-slicing: the step does not plan the ConfigMap (the GPU operator step owns it); offline, node labels are unknown", async () => {
  const offline = {
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: "/tmp",
    signal: new AbortController().signal,
  };
  const plain = timeSlicingStep({
    timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] },
  });
  const plan = await plain.plan(offline);
  assertEquals(plan.desired, []);
  assertEquals(plan.changes, []);
  assertEquals(plan.unknowns, []);
  assertMatch(
    String(plan.facts?.configMap),
    /^gpu-operator\/time-slicing-config \(planned and applied by the gpu-operator step/,
  );
  const perNode = timeSlicingStep({
    timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] },
    nodeConfigs: [{
      name: "t4",
      nodeSelector: { "nvidia.com/gpu.product": "Tesla-T4" },
      timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 2 }] },
    }],
  });
  const labelled = await perNode.plan(offline);
  assertEquals(labelled.desired, []);
  assertEquals(labelled.unknowns.length, 1);
  assertMatch(labelled.unknowns[0], /nvidia\.com\/device-plugin\.config/);
});

/** A GPU node as GPU feature discovery and the device plugin leave it. */
function gpuNode(
  labels: Record<string, string>,
  allocatable: Record<string, string>,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "gpu-0", labels },
    status: { allocatable },
  };
}

const sharedLabels = (product: string, replicas: number) => ({
  "nvidia.com/gpu.present": "true",
  "nvidia.com/gpu.product": product,
  "nvidia.com/gpu.count": "2",
  "nvidia.com/gpu.replicas": String(replicas),
  "nvidia.com/gpu.sharing-strategy": "time-slicing",
});

Deno.test("time-slicing: shared and not renamed, the product label must carry -SHARED", () => {
  const o = validateOptions(timeSlicingOptionsSchema, {
    timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] },
  });
  // Capacity and sharing labels are right, but GPU feature discovery has not
  // relabelled the product: the node does not show the sharing yet.
  const stale = gpuNode(sharedLabels("Tesla-T4", 4), {
    "nvidia.com/gpu": "8",
  });
  assertMatch(
    String(nodeSharingState(stale, o)),
    /^config "any": label nvidia\.com\/gpu\.product=Tesla-T4, want the -SHARED suffix \(shared, not renamed\)$/,
  );
  assertEquals(
    nodeSharingState(
      gpuNode(sharedLabels("Tesla-T4-SHARED", 4), { "nvidia.com/gpu": "8" }),
      o,
    ),
    true,
  );
  const { "nvidia.com/gpu.product": _, ...unlabelled } = sharedLabels("x", 4);
  assertMatch(
    String(nodeSharingState(gpuNode(unlabelled, { "nvidia.com/gpu": "8" }), o)),
    /no nvidia\.com\/gpu\.product label/,
  );
});

Deno.test("time-slicing: renamed, the plain resource must be gone and the product has no -SHARED", () => {
  const o = validateOptions(timeSlicingOptionsSchema, {
    timeSlicing: {
      renameByDefault: true,
      resources: [{ name: "nvidia.com/gpu", replicas: 3 }],
    },
  });
  // The device plugin advertises the new name but the plain one is still allocatable.
  const both = gpuNode(sharedLabels("Tesla-T4", 3), {
    "nvidia.com/gpu.shared": "6",
    "nvidia.com/gpu": "2",
  });
  assertMatch(
    String(nodeSharingState(both, o)),
    /^config "any": allocatable nvidia\.com\/gpu=2, want none \(renamed to nvidia\.com\/gpu\.shared: the device plugin still advertises the plain name\)$/,
  );
  // A renamed resource has no -SHARED product.
  const suffixed = gpuNode(sharedLabels("Tesla-T4-SHARED", 3), {
    "nvidia.com/gpu.shared": "6",
  });
  assertMatch(
    String(nodeSharingState(suffixed, o)),
    /label nvidia\.com\/gpu\.product=Tesla-T4-SHARED, want no -SHARED suffix \(renamed to nvidia\.com\/gpu\.shared\)/,
  );
  // Gone, or left at 0 by kubelet until its grace period ends: both pass.
  for (
    const plain of [{}, { "nvidia.com/gpu": "0" }] as Record<string, string>[]
  ) {
    assertEquals(
      nodeSharingState(
        gpuNode(sharedLabels("Tesla-T4", 3), {
          "nvidia.com/gpu.shared": "6",
          ...plain,
        }),
        o,
      ),
      true,
    );
  }
  // An explicit rename is a rename too.
  const custom = validateOptions(timeSlicingOptionsSchema, {
    timeSlicing: {
      resources: [{
        name: "nvidia.com/gpu",
        replicas: 2,
        rename: "shared-gpu",
      }],
    },
  });
  assertMatch(
    String(
      nodeSharingState(
        gpuNode(sharedLabels("Tesla-T4", 2), {
          "nvidia.com/shared-gpu": "4",
          "nvidia.com/gpu": "2",
        }),
        custom,
      ),
    ),
    /allocatable nvidia\.com\/gpu=2, want none \(renamed to nvidia\.com\/shared-gpu/,
  );
});

Deno.test("time-slicing: the checks follow the config that applies to each node, also once its product is -SHARED", () => {
  const o = validateOptions(timeSlicingOptionsSchema, {
    timeSlicing: {
      renameByDefault: true,
      resources: [{ name: "nvidia.com/gpu", replicas: 2 }],
    },
    nodeConfigs: [{
      name: "t4",
      nodeSelector: { "nvidia.com/gpu.product": "Tesla-T4" },
      timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] },
    }],
  });
  // The t4 config (not renamed) is shared: GFD relabels the product Tesla-T4-SHARED,
  // and the node must still be checked against t4, not the (renamed) default.
  const t4 = gpuNode(sharedLabels("Tesla-T4-SHARED", 4), {
    "nvidia.com/gpu": "8",
  });
  assertEquals(configFor(t4, o).key, "t4");
  assertEquals(nodeSharingState(t4, o), true);
  // A default-config node is renamed: no suffix, no plain resource.
  const a100 = gpuNode(sharedLabels("NVIDIA-A100-SXM4-40GB", 2), {
    "nvidia.com/gpu.shared": "4",
  });
  assertEquals(configFor(a100, o).key, "any");
  assertEquals(nodeSharingState(a100, o), true);
  assertMatch(
    String(
      nodeSharingState(
        gpuNode(sharedLabels("NVIDIA-A100-SXM4-40GB-SHARED", 2), {
          "nvidia.com/gpu": "4",
        }),
        o,
      ),
    ),
    /^config "any": allocatable nvidia\.com\/gpu\.shared=none, want 4 \(2 GPUs x 2\); allocatable nvidia\.com\/gpu=4, want none .*; label nvidia\.com\/gpu\.product=NVIDIA-A100-SXM4-40GB-SHARED, want no -SHARED suffix/,
  );
});

Deno.test("time-slicing: the resource names a sharing ConfigMap advertises", () => {
  const o = validateOptions(timeSlicingOptionsSchema, {
    timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] },
    nodeConfigs: [{
      name: "t4",
      nodeSelector: { "nvidia.com/gpu.product": "Tesla-T4" },
      timeSlicing: {
        renameByDefault: true,
        resources: [{ name: "nvidia.com/gpu", replicas: 2 }],
      },
    }, {
      name: "custom",
      nodeSelector: { pool: "c" },
      timeSlicing: {
        resources: [{ name: "gpu", replicas: 2, rename: "shared-gpu" }],
      },
    }],
  });
  const data = timeSlicingConfigMap(o).data as Record<string, string>;
  assertEquals(sharedResourceNames(data), [
    "nvidia.com/gpu",
    "nvidia.com/gpu.shared",
    "nvidia.com/shared-gpu",
  ]);
  assertEquals(sharedResourceNames(undefined), []);
  assertEquals(
    sharedResourceNames({
      broken: "sharing: [",
      mps:
        "version: v1\nsharing:\n  mps:\n    renameByDefault: true\n    resources:\n    - name: gpu\n      replicas: 2\n",
    }),
    ["nvidia.com/gpu.shared"],
  );
});
