/**
 * How the commands show what the engine reports, chosen once per command (as
 * Terraform's views are): a human view (the rendered plan, a progress display, a
 * summary, a confirmation prompt) or a JSON view (the plan document, one JSON event
 * per line). Commands hand every engine event to their view and never branch on
 * `--json` themselves.
 *
 * @module
 */

import type { ApplyStepsResult, RunEvent } from "../engine/executor.ts";
import {
  hasChanges,
  type PlanDocument,
  serializePlanDocument,
} from "../engine/plan_document.ts";
import type { CliIO } from "./io.ts";
import {
  createProgress,
  type ProgressDisplay,
  progressMode,
  renderSummary,
} from "./progress.ts";
import { renderPlan, useColor } from "./render_plan.ts";

/** Shows the result of `plan`. */
export interface PlanView {
  /** Shows the plan; `savedTo` names the file it was saved to, if any. */
  plan(document: PlanDocument, options?: { savedTo?: string }): void;
  /** A warning from a step while planning (always to stderr). */
  warn(message: string): void;
}

/** Options for {@linkcode planView}. */
export interface PlanViewOptions {
  /** The JSON document instead of the human plan. */
  json: boolean;
  /** Removes known secrets from text (defence in depth; the plan is redacted). */
  scrub?: (text: string) => string;
}

/** The view of `plan`: human or JSON. */
export function planView(io: CliIO, options: PlanViewOptions): PlanView {
  const scrub = options.scrub ?? ((t: string) => t);
  const warn = (m: string) => io.err(`warning: ${m}\n`);
  if (options.json) {
    return {
      plan: (document) => io.out(scrub(serializePlanDocument(document))),
      warn,
    };
  }
  const color = useColor(io.stdoutIsTerminal, { get: io.env });
  return {
    plan(document, opts = {}) {
      io.out(scrub(renderPlan(document, { color })));
      if (!opts.savedTo) return;
      io.out(
        document.cluster.offline
          ? `\nSaved the plan to ${opts.savedTo}. It was made offline, so it can be reviewed but not applied; plan against the cluster to get an applicable plan.\n`
          : `\nSaved the plan to ${opts.savedTo}. To apply exactly this plan: deno task apply ${opts.savedTo}\n`,
      );
    },
    warn,
  };
}

/** Shows an apply: the plan, the confirmation, progress and the summary. */
export interface ApplyView {
  /** One engine event (the plan, lock, step progress). */
  onEvent(event: RunEvent): void;
  /** Asks whether to apply the plan just shown; resolves the answer. */
  confirm(document: PlanDocument): Promise<boolean>;
  /** Shows how the apply ended. */
  finish(result: ApplyStepsResult): void;
  /** Stops timers of the progress display. */
  close(): void;
}

/** Options for {@linkcode applyView}. */
export interface ApplyViewOptions {
  /** JSON lines instead of the human display. */
  json: boolean;
  /** Apply without asking. */
  yes: boolean;
  /** The steps, in display order. */
  steps: { id: string; title: string }[];
  /** The saved plan being applied, when there is one: it is not shown again. */
  savedPlan?: { source: string; document: PlanDocument };
}

/**
 * The view of `apply`: human or JSON. Throws from `confirm` when it cannot ask (no
 * terminal, or JSON without `--yes`), so nothing is applied unconfirmed.
 */
export function applyView(io: CliIO, options: ApplyViewOptions): ApplyView {
  return options.json
    ? jsonApplyView(io, options)
    : humanApplyView(io, options);
}

function jsonApplyView(io: CliIO, options: ApplyViewOptions): ApplyView {
  return {
    onEvent: (e) => io.out(JSON.stringify(e) + "\n"),
    confirm() {
      if (options.yes) return Promise.resolve(true);
      throw new Error(
        "--json needs --yes: there is no interactive confirmation in JSON mode (the plan is the first JSON line).",
      );
    },
    finish() {},
    close() {},
  };
}

function humanApplyView(io: CliIO, options: ApplyViewOptions): ApplyView {
  const color = useColor(io.stdoutIsTerminal, { get: io.env });
  let planShown = false;
  let progress: ProgressDisplay | undefined;
  if (options.savedPlan) {
    const { source, document } = options.savedPlan;
    io.out(
      `Applying ${source} (planned ${document.created_at} against ${
        document.cluster.offline ? "no cluster" : document.cluster.context
      }); checking that the cluster still matches it...\n`,
    );
  }
  return {
    onEvent(e) {
      if (e.type === "plan") {
        // Shown once: a saved plan was reviewed already, and a plan made again under
        // the lock must equal the one shown.
        if (!planShown && !options.savedPlan) {
          io.out(renderPlan(e.plan, { color }));
        }
        planShown = true;
        return;
      }
      progress ??= createProgress(io, {
        mode: progressMode(false, io),
        steps: options.steps,
        color,
      });
      progress.onEvent(e);
    },
    async confirm(document) {
      if (!hasChanges(document)) {
        io.out(
          "\nNo resource changes, but some steps are not current in the checkpoint yet: apply runs them (and their checks).\n",
        );
      }
      if (options.yes || options.savedPlan) return true;
      if (!io.stdinIsTerminal) {
        throw new Error(
          "refusing to apply without confirmation: stdin is not a terminal. Re-run with --yes, or save the plan with `deno task plan --out PLAN.json`, review it and run `deno task apply PLAN.json`.",
        );
      }
      io.out("\nDo you want to apply this plan? Only 'yes' will be accepted: ");
      return (await io.readLine())?.trim() === "yes";
    },
    finish(result) {
      progress?.close();
      progress = undefined;
      if (result.outcome === "nothing-to-do") {
        io.out("\nNothing to apply: no changes and every step is verified.\n");
      } else if (result.outcome === "cancelled") {
        io.out("Apply cancelled; nothing was changed.\n");
      } else {
        io.out("\n" + renderSummary("Apply", result.summary));
        io.out(`Checkpoint: ${result.checkpointPath}\n`);
        if (!result.ok) {
          io.out(
            "To resume once the cause is fixed: deno task apply (verified steps are skipped).\n",
          );
        }
      }
    },
    close() {
      progress?.close();
    },
  };
}
