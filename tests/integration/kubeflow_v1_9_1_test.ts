/**
 * Kubeflow v1.9.1 with non-default settings on the real control plane. The webhook
 * configurations are excluded through the step's `exclude` option, which the plan
 * lists with its reason (see `_kubeflow.ts`).
 */
import { installScenario } from "./_kubeflow_scenario.ts";

Deno.test({
  name:
    "kubeflow v1.9.1 (webhook configurations excluded): plan, one-pass apply, clean re-plan, no leaks",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => installScenario("v1.9.1", "exclude"),
});
