/**
 * `deno task verify`: re-runs every step's verify phase without applying and reports
 * per step; exit 1 when any check fails.
 *
 * @module
 */

import { verifySteps } from "../engine/executor.ts";
import { useColor } from "./render_plan.ts";
import { ioOf, runSession, start } from "./_common.ts";
import { createProgress, progressMode } from "./progress.ts";
import {
  checkpointDirFor,
  parallelismFor,
  type SessionOptions,
} from "./session.ts";

/** Usage text of `verify`. */
export const VERIFY_USAGE = `Usage: deno task verify [options]

Runs every step's verify phase (the post-conditions that define "done") against the
cluster, without applying anything, and reports per step.

Options:
  --config FILE       configuration (default ./kfplan.yaml, else examples/kfplan.yaml)
  --context NAME      kubeconfig context
  --kubeconfig FILE   kubeconfig
  --json              print the report as JSON
  --parallelism N     steps verified at once (default 4)
  --checkpoint DIR    checkpoint directory (default .kfplan/ next to the config)
  --help              this text

Exit status: 0 every check passed, 1 otherwise.
`;

/**
 * Runs `verify`; resolves the exit code.
 *
 * @example
 * ```ts
 * Deno.exit(await verifyCommand([]));
 * ```
 */
export async function verifyCommand(
  argv: string[],
  options: SessionOptions = {},
): Promise<number> {
  const io = ioOf(options);
  const args = start(
    argv,
    {
      strings: ["config", "context", "kubeconfig", "parallelism", "checkpoint"],
      booleans: ["json"],
    },
    VERIFY_USAGE,
    io,
  );
  if (typeof args === "number") return args;
  return await runSession(args, async ({ composition, kube }) => {
    const color = useColor(io.stdoutIsTerminal, { get: io.env });
    const mode = progressMode(false, io);
    const progress = args.json ? undefined : createProgress(io, {
      mode: mode === "live" ? "live" : "plain",
      steps: composition.steps.map((s) => ({ id: s.id, title: s.title })),
      color,
    });
    const result = await verifySteps(composition.steps, {
      kube,
      checkpointDir: checkpointDirFor(args, composition),
      parallelism: parallelismFor(args, composition),
      onEvent: progress ? (e) => progress.onEvent(e) : undefined,
    }).finally(() => progress?.close());
    if (args.json) {
      io.out(JSON.stringify(result, null, 2) + "\n");
    } else {
      io.out("\n");
      for (const step of result.steps) {
        io.out(`${step.ok ? "ok    " : "FAILED"} ${step.id}: ${step.title}\n`);
        if (step.error) io.out(`         error: ${step.error}\n`);
        for (const c of step.checks) {
          io.out(
            `         ${c.ok ? "ok  " : "FAIL"} ${c.name}${
              c.detail ? `: ${c.detail}` : ""
            }\n`,
          );
        }
      }
      const bad = result.steps.filter((s) => !s.ok).length;
      io.out(
        bad === 0
          ? `\nVerify: all ${result.steps.length} steps pass.\n`
          : `\nVerify: ${bad} of ${result.steps.length} steps fail; \`deno task apply\` re-applies them.\n`,
      );
    }
    return result.ok ? 0 : 1;
  }, { ...options, io, requireCluster: "verify" });
}
