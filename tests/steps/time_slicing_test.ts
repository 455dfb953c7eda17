import { parseYaml as parse } from "../../lib/deps.ts";
import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { OptionsError, validateOptions } from "../../lib/engine/options.ts";
import {
  configFor,
  expectedSharing,
  nodeSharingState,
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
    replicas: 4,
  });
  assertEquals(expectedSharing(o.nodeConfigs[0].timeSlicing), {
    resource: "nvidia.com/gpu.shared",
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
    /config "t4": allocatable nvidia\.com\/gpu\.shared=none, want 4 \(2 GPUs x 2\); label nvidia\.com\/gpu\.replicas=none, want 2/,
  );
  const done = node({
    "nvidia.com/gpu.count": "4",
    "nvidia.com/gpu.replicas": "4",
    "nvidia.com/gpu.sharing-strategy": "time-slicing",
  }, { "nvidia.com/gpu": "16" });
  assertEquals(nodeSharingState(done, o), true);
});

Deno.test("time-slicing: the offline plan's desired objects are the ConfigMap apply makes so", async () => {
  const step = timeSlicingStep({
    timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] },
  });
  const plan = await step.plan({
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: "/tmp",
    signal: new AbortController().signal,
  });
  assertEquals(plan.desired, [timeSlicingConfigMap(step.options)]);
});
