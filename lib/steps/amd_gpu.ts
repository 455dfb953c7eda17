/**
 * The AMD GPU device plugin (ROCm/k8s-device-plugin): an optional step that deploys
 * DaemonSet `amdgpu-device-plugin-daemonset` (privileged, mounts
 * `/var/lib/kubelet/device-plugins` and `/sys`) as upstream's `k8s-ds-amdgpu-dp.yaml`
 * does. The host needs the amdgpu/ROCm kernel driver; kfplan does not install it.
 *
 * Verify: the DaemonSet is rolled out and at least one node has allocatable
 * `amd.com/gpu`.
 *
 * @module
 */

import { z } from "../deps.ts";
import { defineStep, type DefineStepOptions } from "../engine/step.ts";
import { emptyPlan, type Step, type VerifyCheck } from "../engine/types.ts";
import type { KubeObject } from "../kube/types.ts";
import { applyObjects, planObjects, planOptionsOf } from "../kube/apply_set.ts";
import { mirrorObjects } from "./image_mirror.ts";
import { waitForReady } from "../kube/wait.ts";
import { sleep } from "../kube/retry.ts";
import { planHasChanges, requireKube } from "./helm_release.ts";
import { nodesWithGpus } from "./gpu_operator.ts";

/** Step id of the AMD GPU device plugin. */
export const AMD_GPU_STEP_ID = "amd-gpu";

/** Options of {@linkcode amdGpuStep}. */
export const amdGpuOptionsSchema = z.strictObject({
  namespace: z.string().min(1).default("kube-system"),
  /** Pin a tag; upstream's manifest uses the untagged (latest) image. */
  image: z.string().min(1).default("docker.io/rocm/k8s-device-plugin:latest"),
  /** Nodes that get the plugin, e.g. `{ "feature.node.kubernetes.io/amd-gpu": "true" }`. */
  nodeSelector: z.record(z.string(), z.string()).default({
    "kubernetes.io/os": "linux",
  }),
  tolerations: z.array(z.strictObject({
    key: z.string().optional(),
    operator: z.enum(["Exists", "Equal"]).optional(),
    value: z.string().optional(),
    effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  })).default([{ key: "CriticalAddonsOnly", operator: "Exists" }]),
  timeoutSeconds: z.int().min(1).default(300),
});

/** Raw options as written in the config file. */
export type AmdGpuOptionsInput = z.input<typeof amdGpuOptionsSchema>;
/** Validated options. */
export type AmdGpuOptions = z.output<typeof amdGpuOptionsSchema>;

/** The device plugin DaemonSet. */
export function amdGpuDaemonSet(o: AmdGpuOptions): KubeObject {
  const labels = { name: "amdgpu-dp-ds" };
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: {
      name: "amdgpu-device-plugin-daemonset",
      namespace: o.namespace,
    },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: o.nodeSelector,
          priorityClassName: "system-node-critical",
          tolerations: o.tolerations,
          containers: [{
            name: "amdgpu-dp-cntr",
            image: o.image,
            workingDir: "/root",
            command: ["./k8s-device-plugin"],
            args: ["-logtostderr=true", "-stderrthreshold=INFO", "-v=5"],
            securityContext: {
              privileged: true,
              capabilities: { drop: ["ALL"] },
            },
            volumeMounts: [
              { name: "dp", mountPath: "/var/lib/kubelet/device-plugins" },
              { name: "sys", mountPath: "/sys" },
            ],
          }],
          volumes: [
            {
              name: "dp",
              hostPath: { path: "/var/lib/kubelet/device-plugins" },
            },
            { name: "sys", hostPath: { path: "/sys" } },
          ],
        },
      },
    },
  };
}

/**
 * The AMD GPU device plugin step.
 *
 * @example
 * ```ts
 * const step = amdGpuStep({ nodeSelector: { "feature.node.kubernetes.io/amd-gpu": "true" } });
 * ```
 */
export function amdGpuStep(
  options: AmdGpuOptionsInput,
  stepOptions: DefineStepOptions = {},
): Step<AmdGpuOptions> {
  return defineStep({
    id: AMD_GPU_STEP_ID,
    title: "AMD GPU device plugin",
    schema: amdGpuOptionsSchema,
    options,
    plan: async (ctx, o) => {
      const plan = emptyPlan();
      const { objects: desired } = await mirrorObjects(ctx, [
        amdGpuDaemonSet(o),
      ]);
      const planned = await planObjects(ctx.kube, desired, planOptionsOf(ctx));
      plan.changes = planned.changes;
      plan.observed = planned.observed;
      plan.desired = desired;
      if (/:latest$/.test(o.image) || !/:[^/]+$/.test(o.image)) {
        plan.warnings.push(
          `amdGpu.image ${o.image} is not pinned: nodes may run different plugin versions`,
        );
      }
      if (planHasChanges(plan)) {
        plan.unknowns.push(
          "amd.com/gpu capacity (reported by the plugin on nodes with the amdgpu driver)",
        );
      }
      return plan;
    },
    apply: async (ctx, plan, o) => {
      await applyObjects(
        requireKube(ctx),
        plan.desired ?? [amdGpuDaemonSet(o)],
        {
          signal: ctx.signal,
        },
      );
      return { daemonSet: `${o.namespace}/amdgpu-device-plugin-daemonset` };
    },
    verify: async (ctx, o, plan) => {
      const kube = requireKube(ctx);
      const timeoutMs = o.timeoutSeconds * 1000;
      const checks: VerifyCheck[] = [];
      const daemonSet = plan?.desired?.find((x) => x.kind === "DaemonSet") ??
        amdGpuDaemonSet(o);
      try {
        await waitForReady(kube, daemonSet, {
          timeoutMs,
          signal: ctx.signal,
        });
        checks.push({
          name: "DaemonSet amdgpu-device-plugin-daemonset rolled out",
          ok: true,
        });
      } catch (error) {
        checks.push({
          name: "DaemonSet amdgpu-device-plugin-daemonset rolled out",
          ok: false,
          detail: (error as Error).message,
        });
      }
      const deadline = Date.now() + timeoutMs;
      let gpus: Record<string, number> = {};
      while (true) {
        gpus = await nodesWithGpus(kube, "amd.com/gpu");
        if (Object.keys(gpus).length > 0 || Date.now() >= deadline) break;
        await sleep(
          Math.min(2000, Math.max(0, deadline - Date.now())),
          ctx.signal,
        );
      }
      checks.push({
        name: "a node has allocatable amd.com/gpu",
        ok: Object.keys(gpus).length > 0,
        detail: Object.keys(gpus).length > 0
          ? Object.entries(gpus).map(([n, c]) => `${n}: ${c}`).join(", ")
          : "no node reports amd.com/gpu: check the amdgpu kernel driver (`lsmod | grep amdgpu`) and the plugin logs",
      });
      return { checks, outputs: { gpuNodes: gpus } };
    },
  }, stepOptions);
}
