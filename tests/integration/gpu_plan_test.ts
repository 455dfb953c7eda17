/**
 * The GPU-only composition (host checks, GPU operator, time-slicing) planned, applied
 * and verified on the real control plane with kwok nodes. No GPU operator or device
 * plugin runs there: the test plays them through the API (ClusterPolicy status, a
 * validator pod, node capacity and sharing labels) and says so in its output.
 */

import { sharedChart } from "../_shared.ts";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { nodeObject, useCluster } from "../cluster/harness.ts";
import { gpuSteps } from "../../plans/gpu.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import type { Step, StepOutputs } from "../../lib/engine/types.ts";
import { findHelm, helmStatus } from "../../lib/tools/helm.ts";
import { CONFIG_LABEL } from "../../lib/steps/time_slicing.ts";
import {
  playDevicePlugin,
  playedClient,
  playGpuOperator,
  removeRelease,
  tag,
  testContext,
} from "./_played.ts";

const CHART = sharedChart("gpu-operator-v26.3.3");
const FIXTURES = fileURLToPath(new URL("../fixtures/host/", import.meta.url));

Deno.test({
  name:
    "GPU-only plan: host checks gate the operator, operator and time-slicing apply and verify",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const cluster = await useCluster();
    const kube = cluster.kube;
    const played = playedClient(cluster.kubeconfig);
    const helm = await findHelm();
    const pool = tag();
    const nodeA = `kfplan-gpu-${pool}-a`;
    const nodeB = `kfplan-gpu-${pool}-b`;
    for (
      const spec of [
        { name: nodeA, gpus: 4, labels: { "kfplan.test/gpu-pool": pool } },
        {
          name: nodeB,
          gpus: 2,
          gpuProduct: "Tesla-T4",
          labels: { "kfplan.test/gpu-pool": pool },
        },
      ]
    ) await played.apply(nodeObject(spec));
    const namespace = "gpu-operator";
    const steps = gpuSteps({
      hostChecks: {
        hosts: [
          { name: nodeA, fixture: FIXTURES + "containerd-v3-dropin" },
          { name: nodeB, fixture: FIXTURES + "k3s-template" },
        ],
        cudaVersion: "12.4",
      },
      operator: { chart: { path: CHART }, namespace, timeoutSeconds: 90 },
      timeSlicing: {
        namespace,
        timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] },
        nodeConfigs: [{
          name: "t4",
          nodeSelector: { "nvidia.com/gpu.product": "Tesla-T4" },
          timeSlicing: {
            renameByDefault: true,
            resources: [{ name: "nvidia.com/gpu", replicas: 2 }],
          },
        }],
        nodeSelector: { "kfplan.test/gpu-pool": pool },
        verify: { timeoutSeconds: 60 },
      },
    }, { source: "kfplan.yaml", kubeconfig: cluster.kubeconfig, helm });
    const byId = (id: string) => steps.find((s) => s.id === id)!;
    try {
      const start = performance.now();
      const { document, plans } = await planSteps(steps, { kube });
      const planMs = Math.round(performance.now() - start);
      console.log(
        `  GPU-only plan wall time: ${planMs} ms (3 steps, helm template + server-side dry-run)`,
      );

      await t.step(
        "plan: findings are data, operator values follow the host checks",
        () => {
          assertEquals(document.steps.map((s) => s.id), [
            "nvidia-toolkit",
            "gpu-operator",
            "time-slicing",
          ]);
          const checks = plans.get("nvidia-toolkit")!;
          assert(
            checks.findings.some((f) =>
              f.target === nodeA && f.check === "nvidia.runtime.containerd" &&
              f.severity === "ok"
            ),
          );
          assert(
            checks.findings.some((f) =>
              f.target === nodeB && f.check === "nvidia.runtime.k3s" &&
              f.severity === "ok"
            ),
          );
          const op = plans.get("gpu-operator")!;
          assertEquals(op.facts?.["driver.enabled"], false);
          assertEquals(op.facts?.["toolkit.enabled"], false);
          const ns = op.changes.find((c) => c.kind === "Namespace");
          assertEquals(ns?.name, namespace);
          assert(
            op.changes.some((c) =>
              c.kind === "ClusterPolicy" && c.action === "create"
            ),
          );
          const ts = plans.get("time-slicing")!;
          assertEquals(
            ts.changes.map((c) => `${c.action} ${c.kind}/${c.name}`),
            [
              "create ConfigMap/time-slicing-config",
              `update Node/${nodeB}`,
            ],
          );
          assertMatch(
            JSON.stringify(ts.changes[1].diff),
            /nvidia\.com\/device-plugin\.config/,
          );
        },
      );

      const outputs: Record<string, StepOutputs> = {};
      const apply = async (step: Step) => {
        const ctx = testContext(
          kube,
          Object.fromEntries(step.needs.map((n) => [n, outputs[n] ?? {}])),
        );
        outputs[step.id] = await step.apply(ctx, plans.get(step.id)!);
      };

      await t.step(
        "apply: checks, then helm upgrade --install with gated values, then the sharing config",
        async () => {
          await apply(byId("nvidia-toolkit"));
          assertEquals(
            (outputs["nvidia-toolkit"].choices as { driverEnabled: boolean })
              .driverEnabled,
            false,
          );
          await apply(byId("gpu-operator"));
          const status = await helmStatus(helm, {
            kubeconfig: cluster.kubeconfig,
            release: "gpu-operator",
            namespace,
          });
          assertEquals(status?.status, "deployed");
          const ns = await kube.get({
            apiVersion: "v1",
            kind: "Namespace",
            name: namespace,
          });
          assertEquals(
            ns?.metadata.labels?.["pod-security.kubernetes.io/enforce"],
            "privileged",
          );
          const policy = await kube.get({
            apiVersion: "nvidia.com/v1",
            kind: "ClusterPolicy",
            name: "cluster-policy",
          });
          const spec = policy?.spec as {
            driver: { enabled: boolean };
            toolkit: { enabled: boolean };
            devicePlugin: { config: { name: string; default: string } };
          };
          assertEquals(spec.driver.enabled, false);
          assertEquals(spec.toolkit.enabled, false);
          assertEquals(spec.devicePlugin.config, {
            name: "time-slicing-config",
            default: "any",
          });
          await apply(byId("time-slicing"));
          const cm = await kube.get({
            apiVersion: "v1",
            kind: "ConfigMap",
            namespace,
            name: "time-slicing-config",
          });
          assertMatch((cm?.data as Record<string, string>).any, /replicas: 4/);
          assertMatch(
            (cm?.data as Record<string, string>).t4,
            /renameByDefault: true/,
          );
          const b = await kube.get({
            apiVersion: "v1",
            kind: "Node",
            name: nodeB,
          });
          assertEquals(b?.metadata.labels?.[CONFIG_LABEL], "t4");
        },
      );

      await t.step(
        "re-plan after apply: the release and the sharing config are unchanged",
        async () => {
          const { plans: again } = await planSteps(steps, { kube });
          for (const id of ["gpu-operator", "time-slicing"]) {
            const changed = again.get(id)!.changes.filter((c) =>
              c.action !== "no-op"
            );
            assertEquals(
              changed.map((c) => `${c.action} ${c.kind}/${c.name}`),
              [],
              id,
            );
            assert(again.get(id)!.changes.length > 0);
          }
        },
      );

      await t.step(
        "verify fails until the operator has reconciled (nothing plays it yet)",
        async () => {
          const quick = gpuSteps({
            operator: {
              chart: { path: CHART },
              namespace,
              timeoutSeconds: 2,
            },
          }, {
            kubeconfig: cluster.kubeconfig,
            helm,
          })[0];
          const result = await quick.verify(testContext(kube));
          const policy = result.checks.find((c) =>
            c.name === "ClusterPolicy cluster-policy ready"
          );
          assertEquals(policy?.ok, false);
          assertEquals(
            result.checks.find((c) => c.name === "operator validator ran")?.ok,
            false,
          );
        },
      );

      await t.step(
        "verify after the test plays the GPU operator and device plugin",
        async () => {
          console.log(
            "  the test now plays the GPU operator (ClusterPolicy status, validator pod) and the device plugin (node capacity, labels)",
          );
          await playGpuOperator(played, { namespace, node: nodeA });
          const op = await byId("gpu-operator").verify(
            testContext(kube, { "nvidia-toolkit": outputs["nvidia-toolkit"] }),
          );
          for (const c of op.checks) assert(c.ok, `${c.name}: ${c.detail}`);
          assert(
            op.checks.some((c) =>
              c.name === "a node has allocatable nvidia.com/gpu" &&
              /kfplan-gpu-/.test(c.detail ?? "")
            ),
          );

          const slicing = byId("time-slicing");
          const early = await gpuSteps({
            operator: { chart: { path: CHART }, namespace },
            timeSlicing: {
              namespace,
              timeSlicing: {
                resources: [{ name: "nvidia.com/gpu", replicas: 4 }],
              },
              nodeSelector: { "kfplan.test/gpu-pool": pool },
              verify: { timeoutSeconds: 1 },
            },
          }, { kubeconfig: cluster.kubeconfig, helm })[1].verify(
            testContext(kube),
          );
          const a = early.checks.find((c) => c.name.includes(nodeA));
          assertEquals(a?.ok, false);
          assertMatch(
            a!.detail!,
            /allocatable nvidia\.com\/gpu=4, want 16 \(4 GPUs x 4\)/,
          );

          const mine = await kube.list("v1", "Node", {
            labelSelector: `kfplan.test/gpu-pool=${pool}`,
          });
          await playDevicePlugin(played, {
            nodes: mine,
            replicasFor: (node) =>
              node.metadata.labels?.[CONFIG_LABEL] === "t4"
                ? { resource: "nvidia.com/gpu.shared", replicas: 2 }
                : { resource: "nvidia.com/gpu", replicas: 4 },
          });
          const result = await slicing.verify(testContext(kube));
          assertEquals(result.checks.length, 2);
          for (const c of result.checks) assert(c.ok, `${c.name}: ${c.detail}`);
        },
      );

      await t.step(
        "apply again: helm upgrade (with the chart's CRD hook Job), still verified",
        async () => {
          await apply(byId("gpu-operator"));
          assertEquals(outputs["gpu-operator"].revision, 2);
          assertEquals(outputs["gpu-operator"].status, "deployed");
          const op = await byId("gpu-operator").verify(
            testContext(kube, { "nvidia-toolkit": outputs["nvidia-toolkit"] }),
          );
          for (const c of op.checks) assert(c.ok, `${c.name}: ${c.detail}`);
        },
      );
    } finally {
      await removeRelease(helm, kube, {
        kubeconfig: cluster.kubeconfig,
        release: "gpu-operator",
        namespace,
      });
      for (const name of [nodeA, nodeB]) {
        await kube.delete({ apiVersion: "v1", kind: "Node", name }).catch(() =>
          false
        );
      }
      played.close();
    }
  },
});
