/**
 * `deno task destroy`: removes what the configuration's steps installed, from their
 * inventories in the cluster. Shows the destroy plan first (every delete, every kept
 * object with its reason), asks for confirmation (`--yes` skips it; without a
 * terminal on stdin and without `--yes` it refuses), then the engine's
 * {@linkcode destroySteps} locks and deletes, dependents first.
 *
 * @module
 */

import { destroySteps, type DestroyStepsResult } from "../engine/destroy.ts";
import type { RunEvent } from "../engine/events.ts";
import { hasChanges, type PlanDocument } from "../engine/plan_document.ts";
import { formatRef } from "../kube/object_ref.ts";
import type { CliArgs } from "./args.ts";
import { ioOf, runSession, start } from "./_common.ts";
import type { CliIO } from "./io.ts";
import {
  createProgress,
  type ProgressDisplay,
  progressMode,
  renderSummary,
} from "./progress.ts";
import { renderPlan, useColor } from "./render_plan.ts";
import {
  checkpointDirFor,
  parallelismFor,
  type SessionOptions,
} from "./session.ts";

/** Usage text of `destroy`. */
export const DESTROY_USAGE = `Usage: deno task destroy [options]

Removes what the configuration's steps installed, as their inventories in the cluster
record it: shows every delete and every kept object first, asks for confirmation,
takes the apply lock, then runs the steps in reverse order (dependents first): Helm
releases are uninstalled, the remaining objects deleted (custom resources, webhooks,
workloads, configuration, CRDs, namespaces), and each step's checkpoint entry reset.
Objects holding data (PVCs, PVs, namespaces or CRDs with objects kfplan does not own,
the Profile CRD) are kept and listed unless --allow-data-loss. Run it again after an
interruption: it continues where it stopped.

Options:
  --config FILE       configuration (default ./kfplan.yaml, else examples/kfplan.yaml)
  --context NAME      kubeconfig context
  --kubeconfig FILE   kubeconfig (default $KUBECONFIG, else ~/.kube/config)
  --yes               do not ask for confirmation (needed when stdin is not a terminal)
  --allow-data-loss   delete data-holding objects too (never kube-system, default, ...);
                      cluster.allowDataLoss in the config does not apply to destroy
  --json              the plan, then progress, as JSON lines (needs --yes)
  --parallelism N     steps destroyed at once (default 4)
  --checkpoint DIR    checkpoint directory (default .kfplan/ next to the config)
  --help              this text

Exit status: 0 destroyed (or nothing to destroy), 1 error, a step that failed, an
object that is still there, or no confirmation.
`;

/**
 * Runs `destroy`; resolves the exit code.
 *
 * @example
 * ```ts
 * Deno.exit(await destroyCommand(["--yes"]));
 * ```
 */
export async function destroyCommand(
  argv: string[],
  options: SessionOptions = {},
): Promise<number> {
  const io = ioOf(options);
  const args = start(
    argv,
    {
      strings: ["config", "context", "kubeconfig", "parallelism", "checkpoint"],
      booleans: ["json", "yes", "allow-data-loss"],
    },
    DESTROY_USAGE,
    io,
  );
  if (typeof args === "number") return args;
  return await runSession(args, async ({ composition, kube }) => {
    if (args.json && !args.yes) {
      throw new Error(
        "--json needs --yes: there is no interactive confirmation in JSON mode (the plan is the first JSON line).",
      );
    }
    const view = destroyView(io, args, composition.steps);
    try {
      const result = await destroySteps(composition.steps, {
        kube: kube!,
        // Only the flag: `cluster.allowDataLoss` lets prune delete data, and a
        // destroy deletes far more than a prune.
        allowDataLoss: args.allowDataLoss,
        checkpointDir: checkpointDirFor(args, composition),
        parallelism: parallelismFor(args, composition),
        config: composition.config
          ? {
            path: composition.config.path,
            digest: composition.config.digest,
          }
          : undefined,
        lock: options.lock ?? true,
        confirm: (plan) => view.confirm(plan),
        onEvent: (e) => view.onEvent(e),
      });
      view.finish(result);
      return result.ok && result.outcome !== "cancelled" ? 0 : 1;
    } finally {
      view.close();
    }
  }, { ...options, io, requireCluster: "destroy" });
}

interface DestroyView {
  onEvent(event: RunEvent): void;
  confirm(plan: PlanDocument): Promise<boolean>;
  finish(result: DestroyStepsResult): void;
  close(): void;
}

/** The view of `destroy`: JSON lines, or the plan, a prompt, progress and a summary. */
function destroyView(
  io: CliIO,
  args: CliArgs,
  steps: { id: string; title: string }[],
): DestroyView {
  if (args.json) {
    return {
      onEvent: (e) => io.out(JSON.stringify(e) + "\n"),
      confirm: () => Promise.resolve(true),
      finish(result) {
        io.out(
          JSON.stringify({
            type: "destroy-result",
            ok: result.ok,
            outcome: result.outcome,
            kept: result.kept,
            remaining: result.remaining,
          }) + "\n",
        );
      },
      close() {},
    };
  }
  const color = useColor(io.stdoutIsTerminal, { get: io.env });
  let progress: ProgressDisplay | undefined;
  return {
    onEvent(e) {
      if (e.type === "plan") {
        io.out(renderPlan(e.plan, { color }));
        return;
      }
      if (e.type === "object-delete") {
        if (e.phase === "deleted" || e.phase === "skipped") {
          io.out(
            `${e.id}: ${e.phase} ${formatRef(e.ref)}${
              e.detail ? ` (${e.detail})` : ""
            }\n`,
          );
        }
        return;
      }
      progress ??= createProgress(io, {
        mode: progressMode(false, io),
        steps,
        color,
      });
      progress.onEvent(e);
    },
    async confirm(plan) {
      if (args.yes) return true;
      if (!io.stdinIsTerminal) {
        throw new Error(
          "refusing to destroy without confirmation: stdin is not a terminal. Review the plan above and re-run with --yes.",
        );
      }
      io.out(
        hasChanges(plan)
          ? "\nDo you really want to destroy these objects? Only 'yes' will be accepted: "
          : "\nNothing to delete, but the steps' inventories remain; clear them? Only 'yes' will be accepted: ",
      );
      return (await io.readLine())?.trim() === "yes";
    },
    finish(result) {
      progress?.close();
      progress = undefined;
      if (result.outcome === "nothing-to-do") {
        io.out(
          "\nNothing to destroy: no step of this configuration has an inventory in the cluster.\n",
        );
        return;
      }
      if (result.outcome === "cancelled") {
        io.out("Destroy cancelled; nothing was deleted.\n");
        return;
      }
      io.out("\n" + renderSummary("Destroy", result.summary));
      for (const k of result.kept) {
        io.out(`  kept: ${formatRef(k)}: ${k.reason}\n`);
      }
      for (const r of result.remaining) {
        io.out(`  still there: ${formatRef(r)}\n`);
      }
    },
    close() {
      progress?.close();
    },
  };
}
