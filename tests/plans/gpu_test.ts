import { parseYaml as parse } from "../../lib/deps.ts";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../lib/config/load.ts";
import { stepsFromConfig } from "../../plans/mod.ts";
import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import { gpuSteps } from "../../plans/gpu.ts";
import { validateGraph } from "../../lib/engine/graph.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { findHelm } from "../../lib/tools/helm.ts";
import { sharedChart } from "../_shared.ts";

const slicing = {
  timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] },
};

Deno.test("gpu plan: checks -> operator -> time-slicing, AMD independent", () => {
  const steps = gpuSteps({
    hostChecks: {
      hosts: [{
        name: "gpu-1",
        fixture: "tests/fixtures/host/containerd-v3-dropin",
      }],
    },
    operator: {},
    timeSlicing: slicing,
    amd: {},
  });
  assertEquals(steps.map((s) => [s.id, s.needs]), [
    ["nvidia-toolkit", []],
    ["gpu-operator", ["nvidia-toolkit"]],
    ["time-slicing", ["gpu-operator"]],
    ["amd-gpu", []],
  ]);
  validateGraph(steps);
});

Deno.test("gpu plan: bad input names the config field before anything runs", () => {
  const one = throws(
    () =>
      gpuSteps({
        operator: {},
        timeSlicing: {
          timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 1 }] },
        },
      }, { source: "kfplan.yaml", prefix: ["gpu"] }),
    OptionsError,
  );
  assertMatch(
    one.message,
    /^kfplan\.yaml: gpu\.timeSlicing\.timeSlicing\.resources\[0\]\.replicas: number of replicas must be >= 2/,
  );
  const frac = throws(
    () =>
      gpuSteps({
        operator: {},
        timeSlicing: {
          timeSlicing: {
            resources: [{ name: "nvidia.com/gpu", replicas: 2.5 }],
          },
        },
      }, { source: "kfplan.yaml", prefix: ["gpu"] }),
    OptionsError,
  );
  assertMatch(
    frac.message,
    /gpu\.timeSlicing\.timeSlicing\.resources\[0\]\.replicas: replicas must be a whole number/,
  );
  const unknown = throws(
    () =>
      gpuSteps({
        operator: {
          values: { toolkit: { enabled: false, envs: [] } },
        } as never,
      }, { source: "kfplan.yaml", prefix: ["gpu"] }),
    OptionsError,
  );
  assertMatch(
    unknown.message,
    /kfplan\.yaml: gpu\.operator\.values\.toolkit: unknown field "envs"/,
  );
  const orphan = throws(
    () =>
      gpuSteps({ timeSlicing: slicing }, {
        source: "kfplan.yaml",
        prefix: ["gpu"],
      }),
    OptionsError,
  );
  assertMatch(
    orphan.message,
    /kfplan\.yaml: gpu\.timeSlicing: needs gpu\.operator/,
  );
});

Deno.test("problems in several GPU sub-sections are reported together", () => {
  const error = throws(
    () =>
      gpuSteps({
        operator: { values: { drivr: { enabled: true } } } as never,
        timeSlicing: {
          timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 1 }] },
        },
      }, { source: "kfplan.yaml", prefix: ["gpu"] }),
    OptionsError,
  );
  assertEquals(error.issues.map((i) => i.path), [
    "gpu.timeSlicing.timeSlicing.resources[0].replicas",
    "gpu.operator.values",
  ]);
});

Deno.test("examples/gpu.yaml validates as the gpu section", async () => {
  const path = new URL("../../examples/gpu.yaml", import.meta.url);
  const config = parse(await Deno.readTextFile(path)) as {
    gpu: Record<string, unknown>;
  };
  const steps = gpuSteps(config.gpu, {
    source: "examples/gpu.yaml",
    prefix: ["gpu"],
  });
  assertEquals(steps.map((s) => s.id), [
    "nvidia-toolkit",
    "gpu-operator",
    "time-slicing",
  ]);
  assertEquals((steps[0].options as { hosts: unknown[] }).hosts.length, 2);
});

Deno.test("examples/gpu.yaml loads through the config loader into the GPU steps", async () => {
  const loaded = await loadConfig(
    fileURLToPath(new URL("../../examples/gpu.yaml", import.meta.url)),
  );
  const steps = stepsFromConfig(loaded);
  assertEquals(steps.map((s) => [s.id, s.needs]), [
    ["nvidia-toolkit", []],
    ["gpu-operator", ["nvidia-toolkit"]],
    ["time-slicing", ["gpu-operator"]],
  ]);
});

Deno.test("gpu plan: examples/gpu.yaml planned offline creates the time-slicing ConfigMap once, in gpu-operator, before the ClusterPolicy", async () => {
  const path = new URL("../../examples/gpu.yaml", import.meta.url);
  const config = parse(await Deno.readTextFile(path)) as {
    gpu: {
      hostChecks: { hosts: Record<string, unknown>[] };
      operator: { chart: unknown };
    };
  };
  // The example's hosts and chart are remote: recorded hosts and the pinned chart here.
  const fixtures = fileURLToPath(
    new URL("../fixtures/host/", import.meta.url),
  );
  config.gpu.hostChecks.hosts = [
    { name: "gpu-node-1", fixture: fixtures + "containerd-v3-dropin" },
    { name: "gpu-node-2", fixture: fixtures + "k3s-template" },
  ];
  config.gpu.operator.chart = { path: sharedChart("gpu-operator-v26.3.3") };
  const steps = gpuSteps(config.gpu as never, {
    source: "examples/gpu.yaml",
    prefix: ["gpu"],
    helm: await findHelm(),
  });
  const { document, plans } = await planSteps(steps, {
    offlineReason: "unit test",
  });
  const order = document.steps.map((s) => s.id);
  assertEquals(order, ["nvidia-toolkit", "gpu-operator", "time-slicing"]);
  const isSharing = (kind: string, name: string, namespace?: string) =>
    kind === "ConfigMap" && name === "time-slicing-config" &&
    namespace === "gpu-operator";
  // Exactly one step plans (and so applies) the ConfigMap.
  const owners = order.filter((id) =>
    (plans.get(id)!.desired ?? []).some((o) =>
      isSharing(o.kind, o.metadata.name, o.metadata.namespace)
    ) ||
    plans.get(id)!.changes.some((c) => isSharing(c.kind, c.name, c.namespace))
  );
  assertEquals(owners, ["gpu-operator"]);
  const operator = plans.get("gpu-operator")!;
  const desired = operator.desired ?? [];
  const configMapAt = desired.findIndex((o) =>
    isSharing(o.kind, o.metadata.name, o.metadata.namespace)
  );
  const policyAt = desired.findIndex((o) => o.kind === "ClusterPolicy");
  assertEquals(configMapAt, 1, "right after the namespace");
  assertEquals(policyAt > configMapAt, true);
  assertEquals(
    (desired[policyAt].spec as { devicePlugin: { config: unknown } })
      .devicePlugin.config,
    { name: "time-slicing-config", default: "any" },
  );
  // Both configs of the example are in it, with their replicas.
  const data = desired[configMapAt].data as Record<string, string>;
  assertEquals(Object.keys(data), ["any", "t4"]);
  assertMatch(data.any, /replicas: 4/);
  assertMatch(data.t4, /replicas: 2/);
  const changes = operator.changes.map((c) =>
    `${c.action} ${c.kind}/${c.name}`
  );
  assertEquals(
    changes.indexOf("create ConfigMap/time-slicing-config") <
      changes.indexOf("create ClusterPolicy/cluster-policy"),
    true,
  );
  assertEquals(changes.indexOf("create ConfigMap/time-slicing-config"), 1);
  // time-slicing keeps the per-node labels (unknown offline) and the verification.
  const ts = plans.get("time-slicing")!;
  assertEquals(ts.changes, []);
  assertEquals(ts.unknowns.length, 1);
});

Deno.test("gpu plan: a time-slicing namespace other than the operator's is an error naming the field", () => {
  const error = throws(
    () =>
      gpuSteps({
        operator: { namespace: "nvidia" },
        timeSlicing: slicing,
      }, { source: "kfplan.yaml", prefix: ["gpu"] }),
    OptionsError,
  );
  assertMatch(
    error.message,
    /kfplan\.yaml: gpu\.timeSlicing\.namespace: "gpu-operator" is not the GPU operator's namespace "nvidia"/,
  );
  const steps = gpuSteps({
    operator: { namespace: "nvidia" },
    timeSlicing: { ...slicing, namespace: "nvidia" },
  });
  assertEquals(steps.map((s) => s.id), ["gpu-operator", "time-slicing"]);
});
