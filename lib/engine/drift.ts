/**
 * Drift: objects kfplan applied that changed out of band (edited, scaled, deleted)
 * while their desired state stayed the same. `deno task plan --refresh-only` reports
 * it without proposing configuration changes, so a cron job can alert on it (exit 2).
 *
 * A planned change is drift when it repairs an object kfplan owns while its desired
 * state stayed the same. Two records say so, whoever applied the object (kfplan's
 * client or Helm):
 *
 * - the observing client's (see `lib/kube/observe.ts`,
 *   {@linkcode ObservationStats.drifted}): an object recorded by the last apply whose
 *   desired digest is unchanged but that the server would change;
 * - the step's: its configuration is as when it was last verified (see
 *   {@linkcode unchangedSinceVerified}: same options, upstream outputs and desired
 *   digest as the checkpoint records), so any create, update or replace its plan
 *   still shows on an `applied` member of its inventory is an out-of-band change.
 *   This covers what Helm applies (the storage, MetalLB and GPU operator releases),
 *   which the first record never sees.
 *
 * @module
 */

import type { ObservationStats } from "../kube/observe.ts";
import { objectKey } from "../kube/object_ref.ts";
import {
  type Inventory,
  listInventories,
  memberKey,
} from "../kube/inventory.ts";
import type { KubeClient } from "../kube/types.ts";
import {
  type Checkpoint,
  type CheckpointScope,
  type CheckpointStep,
  loadCheckpoint,
} from "./checkpoint.ts";
import { type ClusterIdentity, identifyCluster } from "./cluster.ts";
import { installationOf } from "./lock.ts";
import type { PlanChange, PlanDocument, PlanStep } from "./plan_document.ts";
import { stepStanding } from "./standing.ts";

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

/** What drift is judged against besides the plan, for {@linkcode driftReport}. */
export interface DriftOptions {
  /** The checkpoint the plan was made with: what each step was last verified with. */
  checkpoint?: Checkpoint;
  /** Per step, the digest of the upstream outputs its plan saw. */
  inputsDigests?: ReadonlyMap<string, string>;
  /** Per step, its inventory as the plan read it: the objects it owns. */
  inventories?: ReadonlyMap<string, Inventory>;
}

/** Options for {@linkcode readDriftRecords}: the installation's state. */
export interface DriftRecordsOptions extends CheckpointScope {
  /** Directory of the local state (the checkpoint's offline copy). */
  checkpointDir: string;
}

/** What the last applies recorded, read before planning (see {@linkcode readDriftRecords}). */
export interface DriftRecords {
  /** The cluster's identity (hand it to `planSteps` to save a read). */
  cluster: ClusterIdentity;
  /** The installation's checkpoint (hand it to `planSteps`, so both see the same). */
  checkpoint: Checkpoint;
  /** Its step inventories, by step id. */
  inventories: Map<string, Inventory>;
}

/**
 * Reads what drift is judged against: the installation's checkpoint (which steps
 * were verified with which configuration) and its inventories (what each step
 * owns). The plan is made with the same checkpoint, so the two agree.
 *
 * @example
 * ```ts
 * const records = await readDriftRecords(kube, { checkpointDir: ".kfplan" });
 * const planned = await planSteps(steps, { kube, ...records, checkpointDir: ".kfplan" });
 * const report = driftReport(planned.document, planned.observation, {
 *   ...records,
 *   inputsDigests: planned.inputsDigests,
 * });
 * ```
 */
export async function readDriftRecords(
  kube: KubeClient,
  options: DriftRecordsOptions,
): Promise<DriftRecords> {
  const cluster = await identifyCluster(kube);
  const scope: CheckpointScope = {
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.lock ? { lock: options.lock } : {}),
  };
  const { checkpoint } = await loadCheckpoint(kube, {
    ...scope,
    dir: options.checkpointDir,
    cluster,
  });
  const installation = installationOf(options.lock);
  const inventories = await listInventories(kube, {
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(installation ? { installation } : {}),
  });
  return {
    cluster,
    checkpoint,
    inventories: new Map(inventories.map((i) => [i.step, i])),
  };
}

/** What {@linkcode unchangedSinceVerified} compares a plan entry with. */
export interface VerifiedRecord {
  /** The step's checkpoint entry, if any. */
  entry: CheckpointStep | undefined;
  /** The digest of the upstream outputs the plan saw; unknown when absent. */
  inputsDigest?: string;
}

/**
 * True when a planned step's configuration is exactly what it was last verified
 * with: verified, same options digest, same upstream outputs and, known on both
 * sides, the same desired-state digest (a chart, values or secret change moves it).
 * Whatever such a step's plan still changes on objects it owns was changed out of
 * band. The same rule as the executor's skip ({@linkcode stepStanding}), minus the
 * fresh plan's changes.
 *
 * @example
 * ```ts
 * unchangedSinceVerified(document.steps[0], { entry: checkpoint.steps.app });
 * ```
 */
export function unchangedSinceVerified(
  step: Pick<PlanStep, "options_digest" | "desired_digest">,
  record: VerifiedRecord,
): boolean {
  if (
    record.entry?.desired_digest === undefined ||
    step.desired_digest === undefined
  ) return false;
  return stepStanding({
    entry: record.entry,
    optionsDigest: step.options_digest,
    inputsDigest: record.inputsDigest,
    plan: { action: "no-op", desiredDigest: step.desired_digest },
  }).kind === "current";
}

/** Keys ({@linkcode memberKey}) of the inventory members the step applied. */
function appliedMembers(inventory: Inventory | undefined): Set<string> {
  return new Set(
    (inventory?.entries ?? []).filter((e) => e.state === "applied").map(
      memberKey,
    ),
  );
}

/**
 * The drift among a plan's changes: for each step, the changes of the objects its
 * observation found drifted, and, for a step unchanged since it was verified, the
 * creates, updates and replaces of its inventory's applied members. Deletes (a
 * prune) are never drift.
 *
 * @example
 * ```ts
 * const records = await readDriftRecords(kube, { checkpointDir });
 * const planned = await planSteps(steps, { kube, ...records, checkpointDir });
 * const report = driftReport(planned.document, planned.observation, {
 *   ...records,
 *   inputsDigests: planned.inputsDigests,
 * });
 * Deno.exit(report.errors.length > 0 ? 1 : report.drifted > 0 ? 2 : 0);
 * ```
 */
export function driftReport(
  document: PlanDocument,
  observation: ReadonlyMap<string, ObservationStats>,
  options: DriftOptions = {},
): DriftReport {
  const steps: StepDrift[] = [];
  const errors: { id: string; error: string }[] = [];
  for (const step of document.steps) {
    if (step.error !== undefined) {
      errors.push({ id: step.id, error: step.error });
      continue;
    }
    const drifted = new Set(observation.get(step.id)?.drifted ?? []);
    const owned = unchangedSinceVerified(step, {
        entry: options.checkpoint?.steps[step.id],
        inputsDigest: options.inputsDigests?.get(step.id),
      })
      ? appliedMembers(options.inventories?.get(step.id))
      : new Set<string>();
    const changes = step.changes.filter((c) =>
      c.action !== "no-op" && c.action !== "delete" &&
      (drifted.has(objectKey(c)) || owned.has(memberKey(c)))
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
