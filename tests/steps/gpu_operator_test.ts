import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { OptionsError, validateOptions } from "../../lib/engine/options.ts";
import {
  clusterPolicyReady,
  gpuOperatorOptionsSchema,
  gpuOperatorStep,
  gpuOperatorValues,
  validatorRan,
} from "../../lib/steps/gpu_operator.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import { sharedChart, tempDir } from "../_shared.ts";

const at = { source: "kfplan.yaml", prefix: ["gpuOperator"] };

Deno.test("gpu operator: an unknown value fails naming the field", () => {
  const e = throws(
    () =>
      gpuOperatorStep(
        { values: { driver: { enabled: false, verison: "550" } } } as never,
        at,
      ),
    OptionsError,
  );
  assertEquals(
    e.message,
    'kfplan.yaml: gpuOperator.values.driver: unknown field "verison" (check the spelling; unknown fields are rejected, not ignored)',
  );
  const top = throws(
    () =>
      gpuOperatorStep({ values: { nfdd: { enabled: false } } } as never, at),
    OptionsError,
  );
  assertMatch(top.message, /gpuOperator\.values: unknown field "nfdd"/);
  const mig = throws(
    () =>
      gpuOperatorStep({ values: { mig: { strategy: "all" } } } as never, at),
    OptionsError,
  );
  assertMatch(
    mig.message,
    /gpuOperator\.values\.mig\.strategy: use "none", "single" or "mixed"/,
  );
  const auto = throws(
    () =>
      gpuOperatorStep({ values: { toolkit: { enabled: "yes" } } } as never, at),
    OptionsError,
  );
  assertMatch(
    auto.message,
    /gpuOperator\.values\.toolkit\.enabled: use true, false or "auto"/,
  );
});

Deno.test("gpu operator: auto values follow host-check choices; explicit values win", () => {
  const o = validateOptions(gpuOperatorOptionsSchema, {});
  const k3s = [{
    name: "CONTAINERD_SOCKET",
    value: "/run/k3s/containerd/containerd.sock",
  }];
  const v = gpuOperatorValues(o, {
    choices: {
      driverEnabled: false,
      toolkitEnabled: true,
      toolkitEnv: k3s,
      reasons: [],
    },
    devicePluginConfig: { name: "time-slicing-config", default: "any" },
  });
  assertEquals(v.driver, { enabled: false });
  assertEquals(v.toolkit, { enabled: true, env: k3s });
  assertEquals((v.devicePlugin as { config: unknown }).config, {
    name: "time-slicing-config",
    default: "any",
  });
  assertEquals(gpuOperatorValues(o).driver, { enabled: true });
  const explicit = validateOptions(gpuOperatorOptionsSchema, {
    values: { driver: { enabled: true } },
  });
  assertEquals(
    gpuOperatorValues(explicit, {
      choices: {
        driverEnabled: false,
        toolkitEnabled: false,
        toolkitEnv: [],
        reasons: [],
      },
    }).driver,
    { enabled: true },
  );
});

Deno.test("gpu operator: readiness predicates explain what is missing", () => {
  assertEquals(
    clusterPolicyReady(undefined),
    "ClusterPolicy cluster-policy does not exist",
  );
  const policy = (status: unknown) =>
    ({
      apiVersion: "nvidia.com/v1",
      kind: "ClusterPolicy",
      metadata: { name: "cluster-policy" },
      status,
    }) as KubeObject;
  assertMatch(
    String(
      clusterPolicyReady(
        policy({
          state: "notReady",
          conditions: [{
            type: "Error",
            reason: "OperandNotReady",
            message: "driver",
          }],
        }),
      ),
    ),
    /state notReady \(Error: OperandNotReady driver\)/,
  );
  assertEquals(clusterPolicyReady(policy({ state: "ready" })), true);
  assertMatch(String(validatorRan([])), /no nvidia-operator-validator pod/);
  const pod = (ready: boolean, exitCode: number) =>
    ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "v" },
      status: {
        phase: "Running",
        conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
        initContainerStatuses: [{
          name: "cuda-validation",
          state: { terminated: { exitCode } },
        }],
      },
    }) as KubeObject;
  assertMatch(
    String(validatorRan([pod(false, 1)])),
    /not Ready, pending\/failed validations: cuda-validation/,
  );
  assertEquals(validatorRan([pod(true, 0)]), true);
});

Deno.test("gpu operator: the offline plan's desired objects leave out the chart's crds/ (helm's business) but plan them", async () => {
  await using work = await tempDir("kfplan-gpu-unit-");
  const step = gpuOperatorStep({
    chart: { path: sharedChart("gpu-operator-v26.3.3") },
    values: { driver: { enabled: false }, toolkit: { enabled: false } },
  });
  const plan = await step.plan({
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: work.path,
    signal: new AbortController().signal,
  });
  const desired = plan.desired ?? [];
  assertEquals(desired[0]?.kind, "Namespace");
  assertEquals(
    desired[0]?.metadata.labels?.["pod-security.kubernetes.io/enforce"],
    "privileged",
  );
  const crd = "clusterpolicies.nvidia.com";
  assertEquals(
    plan.changes.some((c) =>
      c.kind === "CustomResourceDefinition" && c.name === crd
    ),
    true,
  );
  assertEquals(
    desired.some((o) =>
      o.kind === "CustomResourceDefinition" && o.metadata.name === crd
    ),
    false,
  );
  assertEquals(desired.some((o) => o.kind === "ClusterPolicy"), true);
});
