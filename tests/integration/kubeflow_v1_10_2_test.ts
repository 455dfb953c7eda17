import { installScenario } from "./_kubeflow_scenario.ts";

Deno.test({
  name: "kubeflow v1.10.2: non-default settings plan, apply in one pass, re-plan clean, no secret leaks",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => installScenario("v1.10.2"),
});
