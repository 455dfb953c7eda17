/**
 * The Kubeflow step applies and verifies the plan it is given, not a fresh render:
 * the plan's desired objects are changed after planning, and what reaches the cluster
 * (and what verify waits for) is the changed set. Cheap on purpose: one real render
 * of v1.9.1 (offline plan, kustomize), then an apply of two planned objects.
 */

import { assert, assertEquals } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import type { StepContext } from "../../lib/engine/types.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { kubeflowStep } from "../../lib/steps/kubeflow/step.ts";
import { nonDefaultOptions, plantedEnv } from "../steps/kubeflow/_fixtures.ts";

const MARKER = "kfplan.test/from-the-plan";

function context(workDir: string, kube: KubeClient | undefined): StepContext {
  return {
    kube,
    offline: !kube,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir,
    signal: new AbortController().signal,
  };
}

Deno.test({
  name:
    "kubeflow: apply and verify work from the plan's desired objects, not a new render",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { kube, namespace } = await useCluster();
    const ns = await namespace("kf-from-plan");
    const workDir = await Deno.makeTempDir({ prefix: "kfplan-kf-apply-" });
    try {
      const step = kubeflowStep({
        ...nonDefaultOptions("v1.9.1"),
        ingress: { type: "ClusterIP" },
        timeoutSeconds: 5,
      }, { env: plantedEnv() });
      const plan = await step.plan(context(workDir, undefined));
      const cm = plan.desired?.find((o) =>
        o.kind === "ConfigMap" &&
        o.metadata.name === "centraldashboard-parameters"
      );
      assert(cm, "the plan holds the dashboard's ConfigMap");
      // The changed plan: that ConfigMap only, moved to a test namespace, marked.
      const marked: KubeObject = {
        ...structuredClone(cm),
        metadata: {
          ...structuredClone(cm.metadata),
          namespace: ns,
          labels: { ...cm.metadata.labels, [MARKER]: "yes" },
        },
      };
      const changed = { ...plan, desired: [marked] };

      const outputs = await step.apply(context(workDir, kube), changed);
      assertEquals(outputs.applied, 1);
      assertEquals(outputs.version, "v1.9.1");
      const live = await kube.get({
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: ns,
        name: "centraldashboard-parameters",
      });
      assertEquals(live?.metadata.labels?.[MARKER], "yes");
      assertEquals(
        (live?.data as Record<string, string>)?.CD_REGISTRATION_FLOW,
        "true",
      );
      // A re-render would have applied the platform's namespaces and Deployments.
      assertEquals(
        await kube.get({
          apiVersion: "apps/v1",
          kind: "Deployment",
          namespace: "kubeflow",
          name: "centraldashboard",
        }),
        undefined,
      );

      // Verify waits for what the plan holds: no Deployment, no CRD to wait for.
      const result = await step.verify(context(workDir, kube), changed);
      assertEquals(
        result.checks.filter((c) => / (Available|Established)$/.test(c.name)),
        [],
      );
      assert(
        result.checks.some((c) => c.name.startsWith("Dex config parses")),
        "the platform checks still run",
      );
    } finally {
      await Deno.remove(workDir, { recursive: true });
    }
  },
});
