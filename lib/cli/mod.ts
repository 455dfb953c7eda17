/**
 * The `deno task` commands as library functions (`@kfplan/kfplan/cli`): each takes
 * the command-line arguments and optional {@linkcode SessionOptions} (your own
 * steps, where output goes, how to reach the cluster) and resolves the exit code,
 * with exactly the tasks' flags, output, checkpoint, lock and saved-plan behaviour.
 * Also here: {@linkcode renderPlan}, the human plan view the commands print.
 *
 * @example Plan the configuration's steps plus one of your own, as JSON
 * ```ts
 * import { composeFromConfig, planCommand } from "./mod.ts";
 * import { defineStep, emptyPlan, z } from "../../mod.ts";
 *
 * const hello = defineStep({
 *   id: "hello",
 *   title: "Say hello",
 *   schema: z.object({}).strict(),
 *   options: {},
 *   plan: async () => ({ ...emptyPlan(), unknowns: ["greeting"] }),
 *   apply: async () => ({}),
 *   verify: async () => ({ checks: [] }),
 * });
 * Deno.exit(await planCommand(["--json"], {
 *   compose: async (path) => {
 *     const base = await composeFromConfig(path);
 *     return { ...base, steps: [...base.steps, hello] };
 *   },
 * }));
 * ```
 *
 * @module
 */

export { APPLY_USAGE, applyCommand } from "./apply.ts";
export { DESTROY_USAGE, destroyCommand } from "./destroy.ts";
export { PLAN_USAGE, planCommand } from "./plan.ts";
export { STATUS_USAGE, statusCommand } from "./status.ts";
export { UNLOCK_USAGE, unlockCommand } from "./unlock.ts";
export { VERIFY_USAGE, verifyCommand } from "./verify.ts";
export { UsageError } from "./args.ts";
export {
  composeFromConfig,
  type Composition,
  type SessionOptions,
} from "./session.ts";
export { type CapturedIO, capturedIO, type CliIO, denoIO } from "./io.ts";
export { type RenderOptions, renderPlan, summaryLine } from "./render_plan.ts";
