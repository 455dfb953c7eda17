/**
 * `components.external`: cert-manager left out because "the cluster runs it", on a
 * cluster that does not: planning against it fails before any write, naming each
 * CRD the kept objects need and the versions they use. Only reads the cluster, so
 * the shared control plane is fine.
 */
import { assertEquals, assertMatch } from "../_assert.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { kubeflowStep } from "../../lib/steps/kubeflow/step.ts";
import { useCluster } from "../cluster/harness.ts";
import { nonDefaultOptions, plantedEnv } from "../steps/kubeflow/_fixtures.ts";

Deno.test({
  name:
    "kubeflow components.external: cert-manager's CRDs missing from the cluster are named at plan time",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { kube } = await useCluster();
    const step = kubeflowStep({
      ...nonDefaultOptions("v1.10.2"),
      components: { exclude: [], external: ["cert-manager"] },
    }, { source: "kfplan.yaml", prefix: ["kubeflow"], env: plantedEnv() });
    const { document } = await planSteps([step], { kube });
    const entry = document.steps[0];
    assertEquals(entry.action, "error");
    const error = entry.error ?? "";
    assertMatch(
      error,
      /CRD certificates\.cert-manager\.io is not installed \(needed at cert-manager\.io\/v1\)/,
    );
    assertMatch(
      error,
      /CRD clusterissuers\.cert-manager\.io is not installed/,
    );
    assertMatch(error, /fix: install that component/);
    assertEquals(entry.changes, []);
  },
});
