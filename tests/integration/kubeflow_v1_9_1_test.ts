import { installScenario } from "./_kubeflow_scenario.ts";

Deno.test({
  name: "kubeflow v1.9.1: non-default settings plan, apply in one pass, re-plan clean, no secret leaks",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => installScenario("v1.9.1"),
});
