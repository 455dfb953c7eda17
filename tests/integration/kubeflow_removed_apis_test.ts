/**
 * v1.5.0 and v1.6.1 on Kubernetes 1.33: planning fails before any write, listing each
 * object whose API the server no longer serves and the release that removed it.
 * Only reads the cluster, so the shared control plane is fine.
 */
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { serializePlanDocument } from "../../lib/engine/plan_document.ts";
import { renderPlan } from "../../lib/cli/render_plan.ts";
import { kubeflowStep } from "../../lib/steps/kubeflow/step.ts";
import type { KubeflowVersion } from "../../lib/steps/kubeflow/version.ts";
import { useCluster } from "../cluster/harness.ts";
import {
  nonDefaultOptions,
  PLANTED,
  plantedEnv,
} from "../steps/kubeflow/_fixtures.ts";
import { findLeaks, timed } from "./_kubeflow.ts";

const EXPECTED: Record<string, { count: number; patterns: RegExp[] }> = {
  // From the manifests: CRD v1beta1 x6, admissionregistration v1beta1 x4, rbac v1beta1 x2
  // (1.22), PDB policy/v1beta1 x3 (1.25), HPA autoscaling/v2beta2 x5 (1.26).
  "v1.5.0": {
    count: 20,
    patterns: [
      /apiextensions\.k8s\.io\/v1beta1 CustomResourceDefinition \S+: apiextensions\.k8s\.io\/v1beta1 was removed in Kubernetes 1\.22/,
      /admissionregistration\.k8s\.io\/v1beta1 \w+WebhookConfiguration \S+: .*removed in Kubernetes 1\.22/,
      /rbac\.authorization\.k8s\.io\/v1beta1 \w+ \S+: .*removed in Kubernetes 1\.22/,
      /policy\/v1beta1 PodDisruptionBudget \S+: .*removed in Kubernetes 1\.25/,
      /autoscaling\/v2beta2 HorizontalPodAutoscaler \S+: .*removed in Kubernetes 1\.26/,
    ],
  },
  // PDB policy/v1beta1 x1 (1.25), HPA autoscaling/v2beta2 x3 (1.26).
  "v1.6.1": {
    count: 4,
    patterns: [
      /policy\/v1beta1 PodDisruptionBudget \S+: .*removed in Kubernetes 1\.25/,
      /autoscaling\/v2beta2 HorizontalPodAutoscaler \S+: .*removed in Kubernetes 1\.26/,
    ],
  },
};

for (const version of ["v1.5.0", "v1.6.1"] as KubeflowVersion[]) {
  Deno.test({
    name:
      `kubeflow ${version} on Kubernetes 1.33: plan fails before any write, listing removed APIs`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const { kube } = await useCluster();
      const step = kubeflowStep(nonDefaultOptions(version), {
        source: "kfplan.yaml",
        prefix: ["kubeflow"],
        env: plantedEnv(),
      });
      const { document } = await timed(
        `${version} plan (expected to fail)`,
        () => planSteps([step], { kube }),
      );
      const entry = document.steps[0];
      assertEquals(entry.action, "error");
      const error = entry.error ?? "";
      assertMatch(
        error,
        new RegExp(
          `kubeflow ${version.replaceAll(".", "\\.")}: \\d+ preflight error`,
        ),
      );
      const removed = error.split("\n").filter((l) =>
        /was removed in Kubernetes/.test(l)
      );
      assertEquals(removed.length, EXPECTED[version].count, error);
      for (const p of EXPECTED[version].patterns) assertMatch(error, p);
      assertEquals(entry.changes, []);
      // Nothing was written: none of the release's namespaces exist. (Other tests
      // share this cluster and create namespaces of their own, so the check names
      // the release's rather than comparing the whole list.)
      const namespaces = (await kube.list("v1", "Namespace")).map((n) =>
        n.metadata.name
      );
      for (const ns of ["kubeflow", "auth", "istio-system", "cert-manager"]) {
        assert(!namespaces.includes(ns), `namespace ${ns} was created`);
      }
      const leaks = findLeaks({
        "plan.json": serializePlanDocument(document),
        "plan.txt": renderPlan(document),
      }, Object.values(PLANTED));
      assertEquals(leaks, []);
    },
  });
}
