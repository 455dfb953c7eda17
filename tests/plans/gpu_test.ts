import { parseYaml as parse } from "../../lib/deps.ts";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../lib/config/load.ts";
import { stepsFromConfig } from "../../plans/mod.ts";
import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import { gpuSteps } from "../../plans/gpu.ts";
import { validateGraph } from "../../lib/engine/graph.ts";

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
