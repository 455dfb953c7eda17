/**
 * Kubeflow v1.10.2 with non-default settings on the real control plane. Webhook
 * backends are played by admission servers of the test (see `_kubeflow.ts`), so the
 * guarded resources pass through the real admission path.
 */
import { installScenario } from "./_kubeflow_scenario.ts";

Deno.test({
  name:
    "kubeflow v1.10.2 (webhooks served by the test): plan, one-pass apply, clean re-plan, no leaks",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => installScenario("v1.10.2", "serve"),
});
