/**
 * The GPU-only composition (host checks, GPU operator, time-slicing) planned, applied
 * and verified on the real control plane with kwok nodes. No GPU operator or device
 * plugin runs there: the test plays them through the API (ClusterPolicy status going
 * notReady then ready, validator pods with their validations, node capacity read from
 * the ClusterPolicy's sharing config, sharing and product labels) and says so in its
 * output. Its nodes advertise no GPU until the played device plugin runs.
 */

import { sharedChart, tempDir } from "../_shared.ts";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { nodeObject, useCluster } from "../cluster/harness.ts";
import { gpuSteps } from "../../plans/gpu.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import type { Step, StepOutputs } from "../../lib/engine/types.ts";
import { findHelm, helmStatus } from "../../lib/tools/helm.ts";
import { CONFIG_LABEL } from "../../lib/steps/time_slicing.ts";
import {
  nodeFixtureClient,
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
    await using work = await tempDir("kfplan-gpu-");
    const cluster = await useCluster();
    const kube = cluster.kube;
    const played = playedClient(cluster.kubeconfig);
    const nodes = nodeFixtureClient(cluster.kubeconfig);
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
    ) await nodes.apply(nodeObject(spec));
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
          // The operator's device plugin mounts the sharing ConfigMap: the
          // gpu-operator step creates it right after the namespace, before the
          // ClusterPolicy that names it.
          const kinds = op.changes.map((c) => `${c.kind}/${c.name}`);
          assertEquals(
            kinds.indexOf("ConfigMap/time-slicing-config"),
            kinds.indexOf(`Namespace/${namespace}`) + 1,
          );
          const policy = op.changes.findIndex((c) =>
            c.kind === "ClusterPolicy" && c.action === "create"
          );
          assert(policy > kinds.indexOf("ConfigMap/time-slicing-config"));
          const ts = plans.get("time-slicing")!;
          assertEquals(
            ts.changes.map((c) => `${c.action} ${c.kind}/${c.name}`),
            [`update Node/${nodeB}`],
          );
          assertMatch(
            JSON.stringify(ts.changes[0].diff),
            /nvidia\.com\/device-plugin\.config/,
          );
        },
      );

      const outputs: Record<string, StepOutputs> = {};
      const apply = async (step: Step) => {
        const ctx = testContext(
          work.path,
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
          const result = await quick.verify(testContext(work.path, kube));
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
        "before any device plugin runs, no node advertises a GPU and time-slicing fails",
        async () => {
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
            testContext(work.path, kube),
          );
          const a = early.checks.find((c) => c.name.includes(nodeA));
          assertEquals(a?.ok, false);
          assertMatch(
            a!.detail!,
            /allocatable nvidia\.com\/gpu=none, want 16 \(4 GPUs x 4\)/,
          );
        },
      );

      await t.step(
        "verify after the test plays the GPU operator and device plugin",
        async () => {
          console.log(
            "  the test now plays the GPU operator (ClusterPolicy status, validator pods) and the device plugin (capacity from the ClusterPolicy's sharing config, labels)",
          );
          const nodeSelector = `kfplan.test/gpu-pool=${pool}`;
          const operator = playGpuOperator(played, { namespace, nodeSelector });
          const plugin = playDevicePlugin(played, { namespace, nodeSelector });
          try {
            const op = await byId("gpu-operator").verify(
              testContext(work.path, kube, {
                "nvidia-toolkit": outputs["nvidia-toolkit"],
              }),
            );
            for (const c of op.checks) assert(c.ok, `${c.name}: ${c.detail}`);
            // nodeB advertises only the renamed resource, so only nodeA counts here.
            assertEquals(
              (op.outputs?.gpuNodes as Record<string, number>)[nodeA],
              16,
            );
            assertEquals(operator.history.slice(0, 2), [
              "ClusterPolicy notReady",
              "ClusterPolicy ready",
            ]);
            const result = await byId("time-slicing").verify(
              testContext(work.path, kube),
            );
            assertEquals(result.checks.length, 2);
            for (const c of result.checks) {
              assert(c.ok, `${c.name}: ${c.detail}`);
            }
            const [a, b] = await Promise.all(
              [nodeA, nodeB].map((name) =>
                kube.get({ apiVersion: "v1", kind: "Node", name })
              ),
            );
            const allocatable = (n: typeof a) =>
              (n?.status as { allocatable: Record<string, string> })
                .allocatable;
            assertEquals(allocatable(a)["nvidia.com/gpu"], "16");
            // Renamed: the original name is gone, the product has no -SHARED suffix.
            assertEquals(allocatable(b)["nvidia.com/gpu.shared"], "4");
            assertEquals(allocatable(b)["nvidia.com/gpu"], undefined);
            assertEquals(
              [a, b].map((n) => n?.metadata.labels?.["nvidia.com/gpu.product"]),
              ["NVIDIA-A100-SXM4-40GB-SHARED", "Tesla-T4"],
            );
          } finally {
            await operator.stop();
            await plugin.stop();
          }
        },
      );

      await t.step(
        "apply again: helm upgrade (with the chart's CRD hook Job), still verified",
        async () => {
          await apply(byId("gpu-operator"));
          assertEquals(outputs["gpu-operator"].revision, 2);
          assertEquals(outputs["gpu-operator"].status, "deployed");
          const op = await byId("gpu-operator").verify(
            testContext(work.path, kube, {
              "nvidia-toolkit": outputs["nvidia-toolkit"],
            }),
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
      nodes.close();
    }
  },
});
