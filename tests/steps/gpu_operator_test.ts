import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { OptionsError, validateOptions } from "../../lib/engine/options.ts";
import {
  allocatableGpus,
  clusterPolicyReady,
  gpuOperatorOptionsSchema,
  gpuOperatorStep,
  gpuOperatorValues,
  gpuResourceNames,
  nodesWithGpus,
  requiredValidations,
  sharingConfigMap,
  VALIDATIONS,
  validatorRan,
} from "../../lib/steps/gpu_operator.ts";
import {
  timeSlicingConfigMap,
  timeSlicingOptionsSchema,
} from "../../lib/steps/time_slicing.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import type { StepContext } from "../../lib/engine/types.ts";
import { findHelm } from "../../lib/tools/helm.ts";
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
  // One passed validation is not the validator having run: the other three are missing.
  assertMatch(
    String(validatorRan([pod(true, 0)])),
    /^v: Running, pending\/failed validations: driver-validation, toolkit-validation, plugin-validation \(driver-validation not run/,
  );
});

type Init = { name: string; state: Record<string, unknown> };
const done = (name: string): Init => ({
  name,
  state: { terminated: { exitCode: 0, reason: "Completed" } },
});
function validatorPod(
  ready: boolean,
  initContainerStatuses: Init[] | undefined,
  name = "nvidia-operator-validator-gpu-0",
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    status: {
      phase: ready ? "Running" : "Pending",
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      ...(initContainerStatuses ? { initContainerStatuses } : {}),
    },
  };
}

Deno.test("gpu operator: a Ready validator pod without init container statuses has not run its validations", () => {
  assertEquals(
    validatorRan([validatorPod(true, undefined)]),
    "nvidia-operator-validator-gpu-0: Running, pending/failed validations: " +
      "driver-validation, toolkit-validation, cuda-validation, plugin-validation " +
      "(driver-validation not run (no init container status); toolkit-validation not run " +
      "(no init container status); cuda-validation not run (no init container status); " +
      "plugin-validation not run (no init container status))",
  );
  assertEquals(
    validatorRan([validatorPod(true, VALIDATIONS.map(done))]),
    true,
  );
  assertEquals(VALIDATIONS, [
    "driver-validation",
    "toolkit-validation",
    "cuda-validation",
    "plugin-validation",
  ]);
});

Deno.test("gpu operator: each validation missing, pending or failed is named with its reason", () => {
  const statuses: Init[] = [
    done("driver-validation"),
    done("toolkit-validation"),
    {
      name: "cuda-validation",
      state: {
        terminated: {
          exitCode: 1,
          reason: "Error",
          message: "cuda workload failed",
        },
      },
    },
    {
      name: "plugin-validation",
      state: { waiting: { reason: "PodInitializing" } },
    },
  ];
  assertEquals(
    validatorRan([validatorPod(false, statuses)]),
    "nvidia-operator-validator-gpu-0: Pending, not Ready, pending/failed validations: " +
      "cuda-validation, plugin-validation (cuda-validation exited 1 (Error: cuda workload failed); " +
      "plugin-validation waiting (PodInitializing))",
  );
  const running: Init[] = [
    ...statuses.slice(0, 3).map((s) => done(s.name)),
    { name: "plugin-validation", state: { running: { startedAt: "t" } } },
  ];
  assertMatch(
    String(validatorRan([validatorPod(false, running)])),
    /pending\/failed validations: plugin-validation \(plugin-validation still running\)$/,
  );
  // Ready, yet one required validation never reported: not run.
  const noToolkit = VALIDATIONS.filter((v) => v !== "toolkit-validation").map(
    done,
  );
  assertMatch(
    String(validatorRan([validatorPod(true, noToolkit)])),
    /^nvidia-operator-validator-gpu-0: Running, pending\/failed validations: toolkit-validation \(toolkit-validation not run \(no init container status\)\)$/,
  );
  // Without the device plugin the operator leaves plugin-validation out.
  const noPlugin = requiredValidations(false);
  assertEquals(noPlugin, [
    "driver-validation",
    "toolkit-validation",
    "cuda-validation",
  ]);
  assertEquals(
    validatorRan([validatorPod(true, noPlugin.map(done))], noPlugin),
    true,
  );
  assertMatch(
    String(validatorRan([validatorPod(true, noPlugin.map(done))])),
    /plugin-validation not run/,
  );
  // One validator pod that ran is enough; the others are reported when none did.
  assertEquals(
    validatorRan([
      validatorPod(false, statuses, "a"),
      validatorPod(true, VALIDATIONS.map(done), "b"),
    ]),
    true,
  );
});

Deno.test("gpu operator: GPUs count under nvidia.com/gpu, .shared and the names the sharing config declares", async () => {
  const node = (name: string, allocatable: Record<string, string>) =>
    ({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name },
      status: { allocatable },
    }) as KubeObject;
  const nodes = [
    node("plain", { "nvidia.com/gpu": "4", cpu: "8" }),
    node("shared", { "nvidia.com/gpu.shared": "8" }),
    node("custom", { "nvidia.com/shared-gpu": "2" }),
    node("cpu", { cpu: "8" }),
    node("amd", { "amd.com/gpu": "1" }),
  ];
  const kube = { list: () => Promise.resolve(nodes) } as unknown as KubeClient;
  // renameByDefault: GPUs are advertised as nvidia.com/gpu.shared only.
  assertEquals(await nodesWithGpus(kube), { plain: 4, shared: 8 });
  const o = validateOptions(timeSlicingOptionsSchema, {
    timeSlicing: {
      resources: [{
        name: "nvidia.com/gpu",
        replicas: 2,
        rename: "shared-gpu",
      }],
    },
  });
  const names = gpuResourceNames(
    timeSlicingConfigMap(o).data as Record<string, string>,
  );
  assertEquals(names, [
    "nvidia.com/gpu",
    "nvidia.com/gpu.shared",
    "nvidia.com/shared-gpu",
  ]);
  assertEquals(await nodesWithGpus(kube, names), {
    plain: 4,
    shared: 8,
    custom: 2,
  });
  assertEquals(gpuResourceNames(undefined), [
    "nvidia.com/gpu",
    "nvidia.com/gpu.shared",
  ]);
  // The AMD step's single resource still works.
  assertEquals(await nodesWithGpus(kube, "amd.com/gpu"), { amd: 1 });
  assertEquals(
    allocatableGpus(
      node("both", { "nvidia.com/gpu": "0", "nvidia.com/gpu.shared": "6" }),
      names,
    ),
    6,
  );
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

function offlineContext(workDir: string): StepContext {
  return {
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir,
    signal: new AbortController().signal,
  };
}

function slicingOptions(replicas: number, namespace = "gpu-operator") {
  return validateOptions(timeSlicingOptionsSchema, {
    namespace,
    timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas }] },
  });
}

const CHART = sharedChart("gpu-operator-v26.3.3");
const VALUES = { driver: { enabled: false }, toolkit: { enabled: false } };

Deno.test("gpu operator: with time-slicing, the plan creates the sharing ConfigMap after the namespace, before the release's objects", async () => {
  await using work = await tempDir("kfplan-gpu-unit-");
  const helm = await findHelm();
  const plan = (replicas: number) =>
    gpuOperatorStep({ chart: { path: CHART }, values: VALUES }, {
      helm,
      timeSlicing: slicingOptions(replicas),
    }).plan(offlineContext(work.path));
  const four = await plan(4);
  const desired = four.desired ?? [];
  const configMap = timeSlicingConfigMap(slicingOptions(4));
  assertEquals(desired[0]?.kind, "Namespace");
  assertEquals(desired[1], configMap);
  const policyAt = desired.findIndex((o) => o.kind === "ClusterPolicy");
  assertEquals(policyAt > 1, true);
  assertEquals(
    (desired[policyAt].spec as { devicePlugin: { config: unknown } })
      .devicePlugin.config,
    { name: "time-slicing-config", default: "any" },
  );
  // Exactly one ConfigMap of that name, and the changes list it in apply order.
  assertEquals(
    desired.filter((o) =>
      o.kind === "ConfigMap" && o.metadata.name === "time-slicing-config"
    ).length,
    1,
  );
  const order = four.changes.map((c) => `${c.action} ${c.kind}/${c.name}`);
  assertEquals(order.slice(0, 2), [
    "create Namespace/gpu-operator",
    "create ConfigMap/time-slicing-config",
  ]);
  assertEquals(
    order.indexOf("create ConfigMap/time-slicing-config") <
      order.indexOf("create ClusterPolicy/cluster-policy"),
    true,
  );
  assertMatch(String(four.facts?.sharingConfig), /time-slicing-config/);
  // A change of replicas is a change of this step's desired state.
  const eight = await plan(8);
  assertEquals(four.desiredDigest === eight.desiredDigest, false);
  assertEquals(
    eight.desired?.find((o) => o.kind === "ClusterPolicy"),
    desired[policyAt],
  );
  // Without time-slicing there is no ConfigMap to apply.
  const plain = await gpuOperatorStep({
    chart: { path: CHART },
    values: VALUES,
  }, { helm }).plan(offlineContext(work.path));
  assertEquals(
    (plain.desired ?? []).some((o) =>
      o.kind === "ConfigMap" && o.metadata.name === "time-slicing-config"
    ),
    false,
  );
});

Deno.test("gpu operator: the sharing ConfigMap must be in the operator namespace", () => {
  const o = validateOptions(gpuOperatorOptionsSchema, { namespace: "nvidia" });
  const e = throws(
    () => sharingConfigMap(o, { timeSlicing: slicingOptions(4) }),
    Error,
  );
  assertMatch(
    e.message,
    /time-slicing ConfigMap is in namespace "gpu-operator" but the GPU operator in "nvidia"/,
  );
  assertEquals(
    sharingConfigMap(o, { timeSlicing: slicingOptions(4, "nvidia") })?.metadata
      .namespace,
    "nvidia",
  );
  assertEquals(sharingConfigMap(o, {}), undefined);
});

Deno.test("gpu operator: apply creates the namespace and the sharing ConfigMap before helm runs", async () => {
  await using work = await tempDir("kfplan-gpu-unit-");
  const server = "https://127.0.0.1:1";
  const kubeconfig = `${work.path}/kubeconfig`;
  await Deno.writeTextFile(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{ name: c, cluster: { server: " + JSON.stringify(server) +
      " } }]",
      "contexts: [{ name: fake, context: { cluster: c, user: u } }]",
      "users: [{ name: u, user: {} }]",
      "current-context: fake",
      "",
    ].join("\n"),
  );
  const applied: string[] = [];
  const kube = {
    context: "fake",
    server,
    kubeconfigPath: kubeconfig,
    apply: (object: KubeObject) => {
      applied.push(`${object.kind}/${object.metadata.name}`);
      return Promise.resolve(object);
    },
  } as unknown as KubeClient;
  const options = { chart: { path: CHART }, values: VALUES };
  const timeSlicing = slicingOptions(4);
  const plan = await gpuOperatorStep(options, {
    helm: await findHelm(),
    timeSlicing,
  }).plan(offlineContext(work.path));
  // A helm that cannot run: everything applied before it fails came first.
  const step = gpuOperatorStep(options, {
    helm: { path: `${work.path}/no-helm`, version: "v3.19.5" },
    kubeconfig,
    timeSlicing,
  });
  const ctx = { ...offlineContext(work.path), offline: false, kube };
  let failed: unknown;
  await step.apply(ctx, plan).catch((e) => failed = e);
  assertEquals(failed instanceof Error, true);
  assertEquals(applied.slice(0, 2), [
    "Namespace/gpu-operator",
    "ConfigMap/time-slicing-config",
  ]);
  // Nothing of the release was applied by kfplan itself (helm installs it).
  assertEquals(applied.includes("ClusterPolicy/cluster-policy"), false);
});
