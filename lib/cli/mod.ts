/**
 * The `deno task` commands as library functions: each takes the command-line
 * arguments and optional {@linkcode SessionOptions} (your own steps, output, cluster
 * connection) and resolves the exit code. Re-exports only.
 *
 * @example
 * ```ts
 * import { planCommand } from "./mod.ts";
 * Deno.exit(await planCommand(["--json"], { compose: async () => ({ steps: mySteps }) }));
 * ```
 *
 * @module
 */

export { APPLY_USAGE, applyCommand } from "./apply.ts";
export { type ArgSpec, type CliArgs, parseArgs, UsageError } from "./args.ts";
export { type CapturedIO, capturedIO, type CliIO, denoIO } from "./io.ts";
export { PLAN_USAGE, planCommand } from "./plan.ts";
export {
  createProgress,
  type ProgressDisplay,
  progressMode,
  type ProgressOptions,
  renderSummary,
} from "./progress.ts";
export {
  checkpointDirFor,
  type Cluster,
  composeFromConfig,
  type Composition,
  displayPath,
  openCluster,
  parallelismFor,
  type SessionOptions,
} from "./session.ts";
export { STATUS_USAGE, statusCommand } from "./status.ts";
export { UNLOCK_USAGE, unlockCommand } from "./unlock.ts";
export { VERIFY_USAGE, verifyCommand } from "./verify.ts";
