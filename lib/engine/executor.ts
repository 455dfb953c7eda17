/**
 * Apply and verify. {@linkcode applySteps} is the engine's one entry point for an
 * apply, used by the CLI and by scripts alike: it plans once, compares with a saved
 * plan, asks for confirmation, takes the cluster lock, applies the plan it made (each
 * step's `apply` receives that plan, desired objects included, so nothing renders
 * twice), verifies, and records every step in the checkpoint.
 *
 * A step is skipped only when it is current (see `standing.ts`): verified with the
 * same options and inputs, and its fresh plan shows nothing to do. A failed or
 * interrupted step is applied again, which is safe because apply is idempotent.
 *
 * Nothing is written to the cluster before the plan is known to be good: planning,
 * the saved-plan comparison and confirmation come before the lock is taken. If
 * another apply held the lock in between (its `leaseTransitions` moved), the plan is
 * made again under the lock and must equal the one shown.
 *
 * @module
 */

import type { KubeClient } from "../kube/types.ts";
import { type ObservingClient, observingClient } from "../kube/observe.ts";
import { CheckpointStore } from "./checkpoint.ts";
import { type ClusterIdentity, identifyCluster } from "./cluster.ts";
import {
  contextFor,
  errorMessage,
  removeDir,
  scrubberFor,
} from "./_context.ts";
import {
  createEmitter,
  type Emitter,
  eventLogger,
  type RunEvent,
  type RunSummary,
} from "./events.ts";
import { DEFAULT_PARALLELISM, runGraph, topologicalOrder } from "./graph.ts";
import { type HeldLock, type LockOptions, lockTransitions } from "./lock.ts";
import { hasChanges, type PlanDocument } from "./plan_document.ts";
import { releaseRunLock, takeRunLock } from "./_run_lock.ts";
import {
  checkpointedOutputs,
  claimStepDesired,
  desiredDigest,
  inputsDigestOf,
  planSteps,
  type PlanStepsResult,
  stepAction,
  stepOptionsDigest,
  warnBlockedConflicts,
} from "./planner.ts";
import { redactOptions, type SecretScrubber } from "./redact.ts";
import {
  type DigestKey,
  loadDigestKey,
  type SecretDigester,
  storeDigestKey,
} from "./secret_digest.ts";
import {
  compareSavedPlan,
  savedPlanTargetProblems,
  StalePlanError,
} from "./saved_plan.ts";
import { stepStanding } from "./standing.ts";
import { refOf } from "../kube/object_ref.ts";
import {
  conflictGuardedClient,
  refuseBlockedConflicts,
} from "../kube/apply_set.ts";
import { applySetIdOf, parentName, readInventory } from "../kube/inventory.ts";
import {
  addPrune,
  applyLabellingClient,
  labellingClient,
  ownedObjects,
  planStepPrune,
  pruneAndRecord,
  recordPending,
  stepOwnPlan,
  type StepPrune,
} from "./_inventory.ts";
import type {
  Logger,
  Step,
  StepPlan,
  StepPolicy,
  VerifyCheck,
} from "./types.ts";

export type { RunEvent, RunSummary };

/** Thrown by verify when checks fail; lists them. */
export class VerifyFailedError extends Error {
  /** The failed checks. */
  readonly checks: VerifyCheck[];
  /** Names the step and its failed checks. */
  constructor(id: string, checks: VerifyCheck[]) {
    super(
      `verify of ${id} failed: ${
        checks.map((c) => `${c.name}${c.detail ? ` (${c.detail})` : ""}`).join(
          "; ",
        )
      }`,
    );
    this.name = "VerifyFailedError";
    this.checks = checks;
  }
}

/** Thrown when some steps could not be planned: nothing was applied. */
export class PlanFailedError extends Error {
  /** Ids of the steps whose plan failed, with their errors. */
  readonly steps: { id: string; error: string }[];
  /** Names every failed step. */
  constructor(steps: { id: string; error: string }[]) {
    super(
      `${steps.length} step${
        steps.length === 1 ? "" : "s"
      } could not be planned; nothing was applied:\n${
        steps.map((s) => `  - ${s.id}: ${s.error}`).join("\n")
      }`,
    );
    this.name = "PlanFailedError";
    this.steps = steps;
  }
}

/** Options shared by {@linkcode applySteps} and {@linkcode verifySteps}. */
export interface RunOptions {
  /** The cluster; absent runs steps with `offline: true` (custom steps, tests). */
  kube?: KubeClient;
  /** Directory of the local state (checkpoints, digest key); default `.kfplan`. */
  checkpointDir?: string;
  /** Steps run at once; default 4. */
  parallelism?: number;
  /** Receives progress events (already scrubbed of secrets). */
  onEvent?: (event: RunEvent) => void;
  /** Logger for step messages; default: forwarded as `log` events only. */
  log?: Logger;
  /** Scratch directory for steps; default a temp dir removed afterwards. */
  workDir?: string;
  /** Aborting stops new steps from starting; running ones finish. */
  signal?: AbortSignal;
  /** Clock, for tests. */
  now?: () => Date;
  /** What the user allowed (`--force-conflicts`, ...), handed to every step. */
  policy?: StepPolicy;
  /**
   * Namespace of the step inventories (ApplySet parents); default `kfplan-system`.
   * Tests sharing one control plane use one each.
   */
  stateNamespace?: string;
}

/** Options for {@linkcode applySteps}. */
export interface ApplyStepsOptions extends RunOptions {
  /** Apply exactly this plan: the fresh plan must equal it, else nothing is applied. */
  savedPlan?: PlanDocument;
  /** Name of the saved plan file, for messages. */
  savedPlanSource?: string;
  /** The config (path, digest), recorded in the plan. */
  config?: { path: string; digest: string };
  /** Take the cluster Lease lock (default true when `kube` is set), or its options. */
  lock?: boolean | LockOptions;
  /**
   * Asked with the plan before anything is written; resolving false cancels the
   * apply. Not asked when there is nothing to do. Default: no question.
   */
  confirm?: (plan: PlanDocument) => Promise<boolean>;
}

/** How an apply ended. */
export type ApplyOutcome = "applied" | "nothing-to-do" | "cancelled";

/** What an apply did. */
export interface ApplyStepsResult {
  /** True when every step is done or current (and for `nothing-to-do`). */
  ok: boolean;
  /** `applied` (steps ran), `nothing-to-do` (every step current), `cancelled` (confirm said no). */
  outcome: ApplyOutcome;
  /** The plan that was shown and carried out (redacted). */
  plan: PlanDocument;
  /** Done / skipped / failed / not started. */
  summary: RunSummary;
  /** Outputs of every done or skipped step (sensitive ones as the step returned them). */
  outputs: Record<string, Record<string, unknown>>;
  /** The checkpoint file. */
  checkpointPath: string;
}

/** What one run shares between its phases. */
interface RunState {
  order: Step[];
  kube?: KubeClient;
  cluster: ClusterIdentity;
  store: CheckpointStore;
  scrubber: SecretScrubber;
  /** Keyed digests; replaced once under the lock by the cluster's key in force. */
  digester: SecretDigester;
  emitter: Emitter;
  workDir: string;
  signal: AbortSignal;
  parallelism: number;
  log?: Logger;
  policy?: StepPolicy;
}

/**
 * Plans, confirms, locks, applies, verifies and records the steps: the engine's one
 * entry point for an apply. Never throws for a failing step (see `result.ok` and the
 * summary); throws before anything is written for an invalid graph, a step that
 * cannot be planned ({@linkcode PlanFailedError}), a stale saved plan
 * ({@linkcode StalePlanError}) or a held lock.
 *
 * @example
 * ```ts
 * const result = await applySteps(steps, { kube, onEvent: (e) => console.log(e.type) });
 * if (!result.ok) Deno.exit(1);
 * ```
 */
export async function applySteps(
  steps: readonly Step[],
  options: ApplyStepsOptions = {},
): Promise<ApplyStepsResult> {
  const cluster = await identifyCluster(options.kube);
  refuseWrongTarget(options, cluster);
  const lockOptions = lockOptionsOf(options);
  const transitionsBefore = options.kube && lockOptions
    ? await lockTransitions(options.kube, lockOptions)
    : undefined;
  // Steps see one signal: aborted by the caller, or when the lock is lost (another
  // apply took it over), so no new step starts without the lock.
  const abort = new AbortController();
  const { state, key } = await openRun(steps, options, {
    cluster,
    signal: abort.signal,
    prefix: "kfplan-apply-",
  });
  const { emitter, workDir } = state;
  const stateDir = options.checkpointDir ?? ".kfplan";
  const onAbort = () => abort.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let lock: HeldLock | undefined;
  try {
    let planned = await planRun(state, options);
    const reviewed = options.savedPlan ?? planned.document;
    const pending = outstandingSteps(state, planned);
    if (pending.length === 0 && !hasChanges(planned.document)) {
      return nothingToDo(state, planned.document);
    }
    if (options.confirm && !await options.confirm(planned.document)) {
      return finished(state, planned.document, "cancelled", emptySummary());
    }
    if (options.kube && lockOptions) {
      lock = await takeRunLock(options.kube, lockOptions, { emitter, abort });
      if (lock.transitions !== (transitionsBefore ?? -1) + 1) {
        // Another apply ran between our plan and our lock: what we showed may be
        // out of date. Plan again under the lock; it must equal what was reviewed.
        planned = await planRun(state, {
          ...options,
          savedPlan: reviewed,
          savedPlanSource: options.savedPlanSource ?? "the plan shown",
        });
      }
      // The key in force from here on: ours, or one another machine stored first.
      state.digester = (await storeDigestKey(options.kube, key, { stateDir }))
        .digester;
    }
    const { summary, outputs } = await executeSteps(state, planned);
    return {
      ...finished(state, planned.document, "applied", summary),
      outputs,
    };
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    if (lock) await releaseRunLock(lock, state);
    if (!options.workDir) await removeDir(workDir);
  }
}

/**
 * What apply and verify share first: the graph order, the run's scrubber and
 * events, the digest key, the checkpoint of this cluster and a scratch directory.
 */
async function openRun(
  steps: readonly Step[],
  options: RunOptions,
  run: { cluster: ClusterIdentity; signal: AbortSignal; prefix: string },
): Promise<{ state: RunState; key: DigestKey }> {
  const order = topologicalOrder(steps);
  const scrubber = scrubberFor(steps);
  const emitter = createEmitter(scrubber, options);
  const stateDir = options.checkpointDir ?? ".kfplan";
  const key = await loadDigestKey(options.kube, { stateDir });
  const lock = (options as ApplyStepsOptions).lock;
  const store = await CheckpointStore.open(stateDir, run.cluster, {
    kube: options.kube,
    // One lock, one checkpoint: an apply under a Lease of its own has its own.
    lock: typeof lock === "object" ? lock : undefined,
    // Beside the inventories.
    ...(options.stateNamespace ? { namespace: options.stateNamespace } : {}),
    scrub: (t) => scrubber.scrub(t),
    now: emitter.now,
    onLog: (message) => emitter.emit({ type: "log", level: "info", message }),
  });
  const workDir = options.workDir ??
    await Deno.makeTempDir({ prefix: run.prefix });
  const state: RunState = {
    order,
    kube: options.kube,
    cluster: run.cluster,
    store,
    scrubber,
    digester: key.digester,
    emitter,
    workDir,
    signal: run.signal,
    parallelism: options.parallelism ?? DEFAULT_PARALLELISM,
    log: options.log,
    policy: options.policy,
  };
  return { state, key };
}

function refuseWrongTarget(
  options: ApplyStepsOptions,
  cluster: ClusterIdentity,
): void {
  if (!options.savedPlan) return;
  const target = savedPlanTargetProblems(
    options.savedPlan,
    options.kube ? cluster : undefined,
  );
  if (target.length > 0) {
    throw new StalePlanError(target, options.savedPlanSource);
  }
}

function lockOptionsOf(options: ApplyStepsOptions): LockOptions | undefined {
  if (!options.kube || options.lock === false) return undefined;
  return typeof options.lock === "object" ? options.lock : {};
}

/** Plans every step; refuses (throws) on planning errors and on a stale saved plan. */
async function planRun(
  state: RunState,
  options: ApplyStepsOptions,
): Promise<PlanStepsResult> {
  const planned = await planSteps(state.order, {
    kube: state.kube,
    cluster: state.cluster,
    config: options.config ?? options.savedPlan?.config,
    checkpoint: state.store.snapshot(),
    digester: state.digester,
    parallelism: state.parallelism,
    workDir: state.workDir,
    signal: state.signal,
    log: state.log,
    policy: state.policy,
    stateNamespace: options.stateNamespace,
    // The installation this apply's lock serialises: its inventories.
    ...(typeof options.lock === "object" ? { lock: options.lock } : {}),
    now: state.emitter.now,
  });
  state.emitter.emit({ type: "plan", plan: planned.document });
  const failed = planned.document.steps
    .filter((s) => s.error !== undefined)
    .map((s) => ({ id: s.id, error: s.error ?? "" }));
  if (failed.length > 0) throw new PlanFailedError(failed);
  if (options.savedPlan) {
    const problems = compareSavedPlan(options.savedPlan, planned.document);
    if (problems.length > 0) {
      throw new StalePlanError(problems, options.savedPlanSource);
    }
  }
  return planned;
}

/** Steps a fresh plan says apply must run (everything but the current ones). */
function outstandingSteps(state: RunState, planned: PlanStepsResult): string[] {
  const outputs = checkpointedOutputs(
    state.order,
    state.store.snapshot(),
    state.digester,
  );
  return state.order.filter((step) => {
    const plan = planned.plans.get(step.id);
    const standing = stepStanding({
      entry: state.store.get(step.id),
      optionsDigest: stepOptionsDigest(step, state.digester),
      inputsDigest: inputsDigestOf(step, outputs, {
        steps: state.order,
        digester: state.digester,
      }),
      plan: plan ? freshPlanOf(plan, state.digester) : undefined,
    });
    return standing.kind !== "current";
  }).map((s) => s.id);
}

function freshPlanOf(plan: StepPlan, digester: SecretDigester) {
  return {
    action: stepAction(plan),
    desiredDigest: desiredDigest(plan, digester),
  };
}

function emptySummary(): RunSummary {
  return { done: [], skipped: [], failed: [], not_started: [] };
}

function nothingToDo(state: RunState, plan: PlanDocument): ApplyStepsResult {
  const outputs = checkpointedOutputs(
    state.order,
    state.store.snapshot(),
    state.digester,
  );
  const summary = {
    ...emptySummary(),
    skipped: state.order.map((s) => s.id),
  };
  return {
    ...finished(state, plan, "nothing-to-do", summary),
    outputs: Object.fromEntries(outputs),
  };
}

function finished(
  state: RunState,
  plan: PlanDocument,
  outcome: ApplyOutcome,
  summary: RunSummary,
): ApplyStepsResult {
  return {
    ok: summary.failed.length === 0 && summary.not_started.length === 0,
    outcome,
    plan,
    summary,
    outputs: {},
    checkpointPath: state.store.path,
  };
}

/** The redacted form of a step's outputs, as the checkpoint stores them. */
function redactOutputs(
  step: Step,
  outputs: Record<string, unknown>,
  state: RunState,
): Record<string, unknown> {
  const redacted = redactOptions(outputs, {
    sensitive: step.sensitiveOutputs ?? [],
    digester: state.digester,
  });
  // Secret outputs become known secrets of the run, so logs and errors get scrubbed too.
  for (const s of redacted.secrets) state.scrubber.add(s);
  return redacted.value as Record<string, unknown>;
}

/** Runs the steps of a plan in graph order; see {@linkcode applySteps}. */
async function executeSteps(
  state: RunState,
  planned: PlanStepsResult,
): Promise<{
  summary: RunSummary;
  outputs: Record<string, Record<string, unknown>>;
}> {
  const { emitter } = state;
  emitter.emit({
    type: "run-start",
    command: "apply",
    steps: state.order.map((s) => s.id),
  });
  const outputs = checkpointedOutputs(
    state.order,
    state.store.snapshot(),
    state.digester,
  );
  const skipped = new Set<string>();
  const failedErrors = new Map<string, string>();
  const result = await runGraph(state.order, async (step) => {
    const outcome = await runStep(step, { state, planned, outputs });
    if (outcome.skipped) skipped.add(step.id);
    if (outcome.error !== undefined) {
      failedErrors.set(step.id, outcome.error.message);
      throw outcome.error.cause;
    }
  }, { parallelism: state.parallelism, signal: state.signal });
  await state.store.flush();
  const summary: RunSummary = {
    done: result.done.filter((id) => !skipped.has(id)),
    skipped: result.done.filter((id) => skipped.has(id)),
    failed: result.failed.map((id) => ({
      id,
      error: failedErrors.get(id) ?? "failed",
    })),
    not_started: result.notStarted.map((id) => {
      const o = result.outcomes.get(id);
      return {
        id,
        reason: o?.status === "not-started" ? o.reason : "not started",
      };
    }),
  };
  for (const n of summary.not_started) {
    emitter.emit({ type: "step-not-started", id: n.id, reason: n.reason });
  }
  const ok = summary.failed.length === 0 && summary.not_started.length === 0;
  emitter.emit({ type: "run-end", ok, summary });
  return { summary, outputs: Object.fromEntries(outputs) };
}

/** What one step's run shares with the graph. */
interface StepRun {
  state: RunState;
  planned: PlanStepsResult;
  /** Known outputs of every step, by id (updated as steps finish). */
  outputs: Map<string, Record<string, unknown>>;
}

/** How one step ended. */
interface StepOutcome {
  skipped: boolean;
  error?: { message: string; cause: unknown };
}

/** The cluster as one step sees it: observed in bulk, its applies recorded. */
function observedKube(
  step: Step,
  state: RunState,
): ObservingClient | undefined {
  return state.kube
    ? observingClient(state.kube, {
      lastApplied: state.store.get(step.id)?.applied_objects,
      digest: (o) => state.digester.digest(o),
    })
    : undefined;
}

function stepContextOf(
  step: Step,
  run: Pick<StepRun, "state" | "outputs">,
  kube: KubeClient | undefined = run.state.kube,
) {
  const { state } = run;
  return contextFor(step, {
    kube,
    log: eventLogger(state.log, { emitter: state.emitter, id: step.id }),
    workDir: state.workDir,
    signal: state.signal,
    scrubber: state.scrubber,
    outputs: run.outputs,
    renderCacheKey: state.digester.derive("render-cache"),
    policy: state.policy,
  });
}

/**
 * The plan this step applies: the one made for the run, unless the outputs of the
 * steps it needs changed since (an upstream step applied in this run), in which case
 * it is planned again now with what they produced.
 */
async function planForApply(
  step: Step,
  run: StepRun,
  inputsDigest: string,
): Promise<{ plan: StepPlan; replanned: boolean; prune?: StepPrune }> {
  const made = run.planned.plans.get(step.id);
  if (made && run.planned.inputsDigests.get(step.id) === inputsDigest) {
    return {
      plan: made,
      replanned: false,
      prune: run.planned.prunes.get(step.id),
    };
  }
  run.state.emitter.emit({ type: "step-phase", id: step.id, phase: "plan" });
  const { state } = run;
  const settings = run.planned.inventory;
  const observed = observedKube(step, state);
  const ctx = stepContextOf(
    step,
    run,
    observed && parentNameOk(step.id)
      ? labellingClient(observed, applySetIdOf(step.id, settings))
      : observed,
  );
  const plan = await step.plan(ctx);
  warnBlockedConflicts(plan);
  claimStepDesired(step, plan, { kube: state.kube, settings });
  if (!state.kube || !plan.desired) return { plan, replanned: true };
  // Planned again with what upstream steps produced: its prune too.
  const prune = await planStepPrune(state.kube, plan, {
    stepId: step.id,
    inventory: await readInventory(state.kube, step.id, settings),
    owned: [
      ...run.planned.owned,
      ...(ownedObjects(plan) ?? []).map((o) => refOf(o)),
    ],
    settings,
  });
  addPrune(plan, prune);
  return { plan, replanned: true, prune };
}

function parentNameOk(stepId: string): boolean {
  try {
    parentName(stepId);
    return true;
  } catch {
    return false;
  }
}

async function runStep(step: Step, run: StepRun): Promise<StepOutcome> {
  const { state } = run;
  const optionsDigest = stepOptionsDigest(step, state.digester);
  const inputsDigest = inputsDigestOf(step, run.outputs, {
    steps: state.order,
    digester: state.digester,
  });
  const entry = state.store.get(step.id);
  const started = state.emitter.now();
  const { plan, prune } = await planForApply(step, run, inputsDigest);
  const standing = stepStanding({
    entry,
    optionsDigest,
    inputsDigest,
    plan: freshPlanOf(plan, state.digester),
  });
  if (
    standing.kind === "current" &&
    await recoverOutputs(step, run, entry?.outputs ?? {})
  ) {
    state.emitter.emit({
      type: "step-skipped",
      id: step.id,
      reason: `${standing.reason} — skipped`,
    });
    return { skipped: true };
  }
  state.emitter.emit({ type: "step-start", id: step.id, title: step.title });
  await state.store.update(step.id, {
    status: "applying",
    options_digest: optionsDigest,
    inputs_digest: inputsDigest,
    started_at: started.toISOString(),
    finished_at: undefined,
    attempts: (entry?.attempts ?? 0) + 1,
  });
  try {
    await applyAndVerify(step, run, { plan, prune });
    state.emitter.emit({
      type: "step-done",
      id: step.id,
      elapsed_ms: state.emitter.now().getTime() - started.getTime(),
    });
    return { skipped: false };
  } catch (error) {
    const message = errorMessage(error, state.scrubber);
    const at = state.emitter.now();
    await state.store.update(step.id, {
      status: "failed",
      finished_at: at.toISOString(),
      last_error: message,
    });
    state.emitter.emit({
      type: "step-failed",
      id: step.id,
      error: message,
      failed_checks: error instanceof VerifyFailedError
        ? error.checks
        : undefined,
      elapsed_ms: at.getTime() - started.getTime(),
    });
    return { skipped: false, error: { message, cause: error } };
  }
}

/**
 * Applies and verifies one step. A step keeping an inventory (online, with desired
 * objects) records it around that: old ∪ new as `pending` before the apply (a kill
 * between create and record leaves no object nobody owns), then, only once verify
 * passed, the planned deletes and the new set (`applied` with uids, `kept`). A kill
 * at any point leaves a superset that the next plan resolves.
 */
async function applyAndVerify(
  step: Step,
  run: StepRun,
  planned: { plan: StepPlan; prune?: StepPrune },
): Promise<void> {
  const { state } = run;
  const { plan, prune } = planned;
  // Whichever step planned them: fields other managers own on objects kfplan did not
  // create refuse the step before anything in the cluster changes.
  refuseBlockedConflicts(plan.changes ?? []);
  const settings = run.planned.inventory;
  const observed = observedKube(step, state);
  const labelled = observed && prune
    ? applyLabellingClient(observed, plan, prune.applySetId)
    : undefined;
  const kube = labelled ?? observed;
  // Apply forces only what the plan agreed to (drift repair, --force-conflicts).
  const ctx = stepContextOf(
    step,
    run,
    kube && conflictGuardedClient(kube, plan.changes ?? [], {
      forceConflicts: state.policy?.forceConflicts,
    }),
  );
  const pending = state.kube && prune
    ? await recordPending(state.kube, plan, { stepId: step.id, settings })
    : undefined;
  state.emitter.emit({ type: "step-phase", id: step.id, phase: "apply" });
  const applied =
    await step.apply(ctx, prune ? stepOwnPlan(plan, prune) : plan) ?? {};
  const records = observed?.appliedRecords() ?? {};
  await state.store.update(step.id, {
    status: "applied",
    desired_digest: desiredDigest(plan, state.digester),
    applied_at: state.emitter.now().toISOString(),
    outputs: redactOutputs(step, applied, state),
    // Objects applied through the cluster client (Helm applies its own).
    ...(Object.keys(records).length > 0 ? { applied_objects: records } : {}),
  });
  state.emitter.emit({ type: "step-phase", id: step.id, phase: "verify" });
  const verified = await step.verify(ctx, plan);
  const failedChecks = verified.checks.filter((c) => !c.ok);
  if (failedChecks.length > 0) {
    throw new VerifyFailedError(step.id, failedChecks);
  }
  if (state.kube && prune && pending && labelled) {
    await pruneAndRecord(state.kube, plan, {
      stepId: step.id,
      prune,
      pending,
      uids: labelled.appliedUids(),
      settings,
      signal: state.signal,
      log: (level, message) =>
        state.emitter.emit({ type: "log", id: step.id, level, message }),
    });
  }
  const all = { ...applied, ...(verified.outputs ?? {}) };
  run.outputs.set(step.id, all);
  const at = state.emitter.now().toISOString();
  await state.store.update(step.id, {
    status: "verified",
    verified_at: at,
    finished_at: at,
    outputs: redactOutputs(step, all, state),
    last_error: undefined,
  });
}

/**
 * The checkpoint holds sensitive outputs only redacted; a skipped step that has some
 * gets them back from its verify phase (which also proves it is still done).
 */
async function recoverOutputs(
  step: Step,
  run: StepRun,
  recorded: Record<string, unknown>,
): Promise<boolean> {
  if ((step.sensitiveOutputs ?? []).length === 0) {
    run.outputs.set(step.id, recorded);
    return true;
  }
  try {
    const r = await step.verify(stepContextOf(step, run));
    if (!r.checks.every((c) => c.ok)) return false;
    run.outputs.set(step.id, { ...recorded, ...(r.outputs ?? {}) });
    redactOutputs(step, r.outputs ?? {}, run.state);
    return true;
  } catch {
    return false;
  }
}

/** One step's verify result. */
export interface StepVerifyReport {
  /** Step id. */
  id: string;
  /** Step title. */
  title: string;
  /** True when every check passed. */
  ok: boolean;
  /** The checks verify reported. */
  checks: VerifyCheck[];
  /** Set when verify threw rather than reporting checks. */
  error?: string;
}

/** Result of {@linkcode verifySteps}. */
export interface VerifyStepsResult {
  /** True when every step passed. */
  ok: boolean;
  /** Per-step reports, in dependency order. */
  steps: StepVerifyReport[];
}

/**
 * Runs every step's verify phase without applying and reports per step. A step whose
 * checkpoint said `verified` but now fails verification is marked `failed`, so the next
 * apply repairs it.
 *
 * @example
 * ```ts
 * const { ok, steps } = await verifySteps(steps, { kube });
 * ```
 */
export async function verifySteps(
  steps: readonly Step[],
  options: RunOptions = {},
): Promise<VerifyStepsResult> {
  const { state, key } = await openRun(steps, options, {
    cluster: await identifyCluster(options.kube),
    signal: options.signal ?? new AbortController().signal,
    prefix: "kfplan-verify-",
  });
  const { order, store, emitter, workDir } = state;
  const outputs = checkpointedOutputs(order, store.snapshot(), key.digester);
  const reports = new Map<string, StepVerifyReport>();
  emitter.emit({
    type: "run-start",
    command: "verify",
    steps: order.map((s) => s.id),
  });
  try {
    await runGraph(order, async (step) => {
      reports.set(step.id, await verifyOne(step, { state, outputs }));
    }, { parallelism: state.parallelism, signal: state.signal });
    await store.flush();
  } finally {
    if (!options.workDir) await removeDir(workDir);
  }
  const list = order.map((s) => reports.get(s.id)!);
  const ok = list.every((r) => r.ok);
  emitter.emit({
    type: "run-end",
    ok,
    summary: {
      done: list.filter((r) => r.ok).map((r) => r.id),
      skipped: [],
      failed: list.filter((r) => !r.ok).map((r) => ({
        id: r.id,
        error: r.error ?? "checks failed",
      })),
      not_started: [],
    },
  });
  return { ok, steps: list };
}

async function verifyOne(
  step: Step,
  run: { state: RunState; outputs: Map<string, Record<string, unknown>> },
): Promise<StepVerifyReport> {
  const { state } = run;
  const started = state.emitter.now();
  state.emitter.emit({ type: "step-start", id: step.id, title: step.title });
  state.emitter.emit({ type: "step-phase", id: step.id, phase: "verify" });
  const ctx = stepContextOf(step, run);
  let report: StepVerifyReport;
  try {
    const r = await step.verify(ctx);
    report = {
      id: step.id,
      title: step.title,
      ok: r.checks.every((c) => c.ok),
      checks: r.checks,
    };
  } catch (error) {
    report = {
      id: step.id,
      title: step.title,
      ok: false,
      checks: [],
      error: errorMessage(error, state.scrubber),
    };
  }
  const elapsed = state.emitter.now().getTime() - started.getTime();
  if (report.ok) {
    state.emitter.emit({ type: "step-done", id: step.id, elapsed_ms: elapsed });
    return report;
  }
  const failed = report.checks.filter((c) => !c.ok);
  const message = report.error ??
    new VerifyFailedError(step.id, failed).message;
  state.emitter.emit({
    type: "step-failed",
    id: step.id,
    error: message,
    failed_checks: failed,
    elapsed_ms: elapsed,
  });
  if (state.store.get(step.id)?.status === "verified") {
    await state.store.update(step.id, {
      status: "failed",
      last_error: state.scrubber.scrub(message),
    });
  }
  return report;
}
