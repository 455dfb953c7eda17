/**
 * kfplan: install and run a Kubeflow platform on Kubernetes as a reviewed plan.
 *
 * An installation is a dependency graph of typed steps, each with plan, apply and
 * verify phases. This module re-exports everything a script needs to compose the
 * shipped steps with its own and to plan, apply and verify them with the same
 * behaviour as the `deno task` commands.
 *
 * @example Plan and apply a configuration plus a step of your own
 * ```ts
 * import { applyCommand, composeFromConfig, defineStep, emptyPlan } from "./mod.ts";
 * import { z } from "./mod.ts";
 *
 * const hello = defineStep({
 *   id: "hello",
 *   title: "Say hello",
 *   schema: z.object({ name: z.string() }).strict(),
 *   options: { name: "kubeflow" },
 *   plan: async () => emptyPlan(),
 *   apply: async (ctx, _plan, o) => ({ greeting: `hello ${o.name}` }),
 *   verify: async () => ({ checks: [{ name: "greeted", ok: true }] }),
 * });
 * const code = await applyCommand(["--yes"], {
 *   compose: async (path) => {
 *     const base = await composeFromConfig(path);
 *     return { ...base, steps: [...base.steps, hello] };
 *   },
 * });
 * ```
 *
 * @module
 */

export * from "./lib/engine/mod.ts";
export * from "./lib/kube/mod.ts";
export * from "./lib/cli/mod.ts";
export * from "./lib/config/load.ts";
export * from "./lib/tools/kustomize.ts";
export * from "./lib/tools/helm.ts";
export * from "./lib/tools/host.ts";
export * from "./lib/steps/mod.ts";
export * from "./plans/mod.ts";
export { z } from "./lib/deps.ts";
