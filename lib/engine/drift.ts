/**
 * Drift: objects kfplan applied that changed out of band (edited, scaled, deleted)
 * while their desired state stayed the same. `deno task plan --refresh-only` reports
 * it without proposing configuration changes, so a cron job can alert on it (exit 2).
 *
 * Drift is what the observing client saw while planning (see
 * `lib/kube/observe.ts`, {@linkcode ObservationStats.drifted}): an object recorded by
 * the last apply whose desired digest is unchanged but that the server would change.
 * Objects Helm applies are outside these records, so drift of Helm-installed steps is
 * not reported here.
 *
 * @module
 */

import type { ObservationStats } from "../kube/observe.ts";
import { objectKey } from "../kube/object_ref.ts";
import type { PlanChange, PlanDocument } from "./plan_document.ts";

/** Version of the JSON drift report. */
export const DRIFT_FORMAT_VERSION = "1";

/** One step's drifted objects. */
export interface StepDrift {
  /** The step id. */
  id: string;
  /** The changes apply would make to repair the drift (the plan's own entries). */
  changes: PlanChange[];
}

/** What `plan --refresh-only` reports. */
export interface DriftReport {
  /** {@linkcode DRIFT_FORMAT_VERSION}. */
  format_version: string;
  /** When the plan was made. */
  created_at: string;
  /** Steps with drift (steps without are left out). */
  steps: StepDrift[];
  /** Steps that could not be planned, with their errors. */
  errors: { id: string; error: string }[];
  /** Number of drifted objects. */
  drifted: number;
}

/**
 * The drift among a plan's changes: for each step, the changes of the objects its
 * observation found drifted.
 *
 * @example
 * ```ts
 * const { document, observation } = await planSteps(steps, { kube, checkpointDir });
 * const report = driftReport(document, observation);
 * Deno.exit(report.errors.length > 0 ? 1 : report.drifted > 0 ? 2 : 0);
 * ```
 */
export function driftReport(
  document: PlanDocument,
  observation: ReadonlyMap<string, ObservationStats>,
): DriftReport {
  const steps: StepDrift[] = [];
  const errors: { id: string; error: string }[] = [];
  for (const step of document.steps) {
    if (step.error !== undefined) {
      errors.push({ id: step.id, error: step.error });
      continue;
    }
    const drifted = new Set(observation.get(step.id)?.drifted ?? []);
    const changes = step.changes.filter((c) =>
      c.action !== "no-op" && drifted.has(objectKey(c))
    );
    if (changes.length > 0) steps.push({ id: step.id, changes });
  }
  return {
    format_version: DRIFT_FORMAT_VERSION,
    created_at: document.created_at,
    steps,
    errors,
    drifted: steps.reduce((n, s) => n + s.changes.length, 0),
  };
}

function show(value: unknown): string {
  return value === undefined ? "(absent)" : JSON.stringify(value);
}

/** The report for humans: one block per drifted object, its fields, and a summary line. */
export function renderDrift(report: DriftReport): string {
  const out: string[] = [];
  for (const step of report.steps) {
    out.push(`Step ${step.id}: drift`);
    for (const c of step.changes) {
      const where = c.namespace ? `${c.namespace}/${c.name}` : c.name;
      const what = c.action === "create"
        ? "deleted out of band; apply creates it again"
        : "changed out of band; apply restores it";
      out.push(`  ~ ${c.kind} ${where}: ${what}`);
      for (const d of c.diff) {
        out.push(
          d.sensitive
            ? `      ${d.path}: (sensitive)`
            : `      ${d.path}: ${show(d.before)} -> ${show(d.after)}`,
        );
      }
      if (c.reason) out.push(`      # ${c.reason}`);
    }
  }
  for (const e of report.errors) out.push(`Step ${e.id}: error: ${e.error}`);
  out.push(
    report.drifted === 0
      ? "No drift: every object kfplan applied is as it applied it."
      : `Drift: ${report.drifted} object(s) changed out of band; \`deno task apply\` repairs them.`,
  );
  return out.join("\n") + "\n";
}
