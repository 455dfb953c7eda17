/**
 * The executor: applies steps in dependency order, independent branches in parallel,
 * recording each step in the checkpoint. Per step: (re)plan at apply time, apply,
 * verify (a failed check fails the step, listing the failed checks), record outputs.
 *
 * Resume: a step verified with unchanged options (and unchanged upstream outputs) is
 * skipped ("unchanged, verified at <time> — skipped"); a failed or interrupted
 * (`applying`) step is applied again, which is safe because apply is idempotent.
 *
 * With a cluster, the whole apply holds the Lease lock (see `lock.ts`). With a saved
 * plan, everything is planned again first and the apply is refused when anything
 * differs (see `saved_plan.ts`).
 *
 * @module
 */

import type { KubeClient } from "../kube/types.ts";
import { CheckpointStore, type ClusterIdentity } from "./checkpoint.ts";
import {
  contextFor,
  errorMessage,
  removeDir,
  scrubberFor,
} from "./_context.ts";
import { digestOf } from "./digest.ts";
import { DEFAULT_PARALLELISM, runGraph, topologicalOrder } from "./graph.ts";
import { acquireLock, type HeldLock, type LockOptions } from "./lock.ts";
import type { PlanDocument } from "./plan_document.ts";
import { checkpointedOutputs, clusterIdentity, planSteps } from "./planner.ts";
import { optionsDigest, redactOptions, type SecretScrubber } from "./redact.ts";
import {
  compareSavedPlan,
  savedPlanTargetProblems,
  StalePlanError,
} from "./saved_plan.ts";
import type { Logger, Step, StepContext, VerifyCheck } from "./types.ts";

/** Progress of an apply or verify, for displays and `--json` (one JSON line each). */
export type RunEvent =
  | {
    type: "run-start";
    command: "apply" | "verify";
    steps: string[];
    at: string;
  }
  | {
    type: "lock";
    action: "waiting" | "acquired" | "took-over" | "released" | "lost";
    detail: string;
    at: string;
  }
  | { type: "step-start"; id: string; title: string; at: string }
  | {
    type: "step-phase";
    id: string;
    phase: "plan" | "apply" | "verify";
    at: string;
  }
  | { type: "step-skipped"; id: string; reason: string; at: string }
  | { type: "step-done"; id: string; elapsed_ms: number; at: string }
  | {
    type: "step-failed";
    id: string;
    error: string;
    failed_checks?: VerifyCheck[];
    elapsed_ms: number;
    at: string;
  }
  | { type: "step-not-started"; id: string; reason: string; at: string }
  | {
    type: "log";
    id?: string;
    level: "info" | "warn" | "debug";
    message: string;
    at: string;
  }
  | { type: "run-end"; ok: boolean; summary: RunSummary; at: string };

/** Done / skipped / failed / not started, by step id. */
export interface RunSummary {
  /** Steps applied and verified in this run. */
  done: string[];
  /** Steps skipped: verified earlier with unchanged options. */
  skipped: string[];
  /** Steps that failed, with the error (secrets scrubbed). */
  failed: { id: string; error: string }[];
  /** Steps not started, with why (e.g. `skipped: dependency X failed`). */
  not_started: { id: string; reason: string }[];
}

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

/** Options shared by {@linkcode applySteps} and {@linkcode verifySteps}. */
export interface RunOptions {
  /** The cluster; absent runs steps with `offline: true` (custom steps, tests). */
  kube?: KubeClient;
  /** Directory of checkpoints; default `.kfplan`. */
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
}

/** Options for {@linkcode applySteps}. */
export interface ApplyStepsOptions extends RunOptions {
  /** Apply exactly this plan: re-plan and refuse when anything differs. */
  savedPlan?: PlanDocument;
  /** Name of the saved plan file, for messages. */
  savedPlanSource?: string;
  /** The config (path, digest), for re-planning a saved plan. */
  config?: { path: string; digest: string };
  /** Take the cluster Lease lock (default true when `kube` is set), or its options. */
  lock?: boolean | LockOptions;
}

/** What an apply did. */
export interface ApplyStepsResult {
  /** True when every step is done or unchanged. */
  ok: boolean;
  /** Done / unchanged / failed / not started. */
  summary: RunSummary;
  /** Outputs of every done or skipped step (sensitive ones as the step returned them). */
  outputs: Record<string, Record<string, unknown>>;
  /** The checkpoint file written. */
  checkpointPath: string;
}

function emitter(options: RunOptions, scrubber: SecretScrubber) {
  const now = options.now ?? (() => new Date());
  return {
    now,
    emit(event: Record<string, unknown> & { type: RunEvent["type"] }): void {
      if (!options.onEvent) return;
      const full = { ...event, at: now().toISOString() };
      // Events may carry error texts from steps: scrub the serialised form, once.
      options.onEvent(
        JSON.parse(scrubber.scrub(JSON.stringify(full))) as RunEvent,
      );
    },
  };
}

function eventLogger(
  base: Logger | undefined,
  emit: (e: Record<string, unknown> & { type: "log" }) => void,
): Logger {
  return {
    info(m) {
      base?.info(m);
      emit({ type: "log", level: "info", message: m });
    },
    warn(m) {
      base?.warn(m);
      emit({ type: "log", level: "warn", message: m });
    },
    debug(m) {
      base?.debug(m);
      emit({ type: "log", level: "debug", message: m });
    },
  };
}

function redactOutputs(
  step: Step,
  outputs: Record<string, unknown>,
  scrubber?: SecretScrubber,
): Record<string, unknown> {
  const redacted = redactOptions(outputs, step.sensitiveOutputs ?? []);
  // Secret outputs become known secrets of the run, so logs and errors get scrubbed too.
  for (const s of redacted.secrets) scrubber?.add(s);
  return redacted.value as Record<string, unknown>;
}

/**
 * Applies the steps. Never throws for a failing step (see `result.ok` and the summary);
 * throws for an invalid graph, a held lock, or a stale saved plan, before anything is
 * written.
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
  const order = topologicalOrder(steps);
  const scrubber = scrubberFor(steps);
  const { now, emit } = emitter(options, scrubber);
  const cluster: ClusterIdentity = clusterIdentity(options.kube);
  const checkpointDir = options.checkpointDir ?? ".kfplan";

  if (options.savedPlan) {
    const target = savedPlanTargetProblems(
      options.savedPlan,
      options.kube ? cluster : undefined,
    );
    if (target.length > 0) {
      throw new StalePlanError(target, options.savedPlanSource);
    }
  }

  // Steps see one signal: aborted by the caller, or when the lock is lost (another
  // apply took it over), so no new step starts without the lock.
  const abort = new AbortController();
  const onAbort = () => abort.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const runOptions: ApplyStepsOptions = { ...options, signal: abort.signal };

  let lock: (HeldLock & { tookOver?: unknown }) | undefined;
  if (options.kube && options.lock !== false) {
    const lockOptions: LockOptions = typeof options.lock === "object"
      ? options.lock
      : {};
    lock = await acquireLock(options.kube, {
      ...lockOptions,
      onWait: (info) => {
        emit({
          type: "lock",
          action: "waiting",
          detail: `waiting for ${info.holder} (since ${
            info.acquireTime ?? "?"
          }) to release the lock`,
        });
        lockOptions.onWait?.(info);
      },
      onLost: (reason) => {
        emit({ type: "lock", action: "lost", detail: reason });
        abort.abort(new Error(reason));
        lockOptions.onLost?.(reason);
      },
    });
    emit({
      type: "lock",
      action: lock.tookOver ? "took-over" : "acquired",
      detail: lock.tookOver
        ? `took over the expired lock of ${
          (lock.tookOver as { holder: string }).holder
        }`
        : `lock held by ${lock.holder}`,
    });
  }
  try {
    const store = await CheckpointStore.open(checkpointDir, cluster, {
      scrub: (t) => scrubber.scrub(t),
      now,
    });
    if (options.savedPlan) {
      const { document: fresh } = await planSteps(steps, {
        kube: options.kube,
        checkpoint: store.snapshot(),
        parallelism: options.parallelism,
        config: options.config ?? options.savedPlan.config,
        workDir: options.workDir,
        signal: abort.signal,
      });
      const problems = compareSavedPlan(options.savedPlan, fresh);
      if (problems.length > 0) {
        throw new StalePlanError(problems, options.savedPlanSource);
      }
    }
    return await runApply(order, store, scrubber, runOptions, emit, now);
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    if (lock) {
      try {
        await lock.release();
        emit({
          type: "lock",
          action: "released",
          detail: `released by ${lock.holder}`,
        });
      } catch (error) {
        // The run's result matters more than the cleanup; the lease expires by itself.
        emit({
          type: "log",
          level: "warn",
          message: `could not release the lock (it expires by itself): ${
            errorMessage(error, scrubber)
          }`,
        });
      }
    }
  }
}

async function runApply(
  order: Step[],
  store: CheckpointStore,
  scrubber: SecretScrubber,
  options: ApplyStepsOptions,
  emit: (e: Record<string, unknown> & { type: RunEvent["type"] }) => void,
  now: () => Date,
): Promise<ApplyStepsResult> {
  emit({ type: "run-start", command: "apply", steps: order.map((s) => s.id) });
  const outputs = checkpointedOutputs(order, store.snapshot());
  const workDir = options.workDir ??
    await Deno.makeTempDir({ prefix: "kfplan-apply-" });
  const signal = options.signal ?? new AbortController().signal;
  const skipped: string[] = [];
  const failedErrors = new Map<string, string>();

  /** The context of one step: its log events carry the step's id. */
  function stepContext(step: Step): StepContext {
    const log = eventLogger(options.log, (e) => emit({ ...e, id: step.id }));
    return contextFor(step, {
      kube: options.kube,
      log,
      workDir,
      signal,
      scrubber,
      outputs,
    });
  }

  // The checkpoint holds sensitive outputs only redacted; a skipped step that has some
  // gets them back from its verify phase (which also proves it is still done).
  async function recoverSensitiveOutputs(
    step: Step,
    recorded: Record<string, unknown>,
  ): Promise<boolean> {
    if ((step.sensitiveOutputs ?? []).length === 0) {
      outputs.set(step.id, recorded);
      return true;
    }
    const ctx = stepContext(step);
    try {
      const r = await step.verify(ctx);
      if (!r.checks.every((c) => c.ok)) return false;
      outputs.set(step.id, { ...recorded, ...(r.outputs ?? {}) });
      redactOutputs(step, r.outputs ?? {}, scrubber);
      return true;
    } catch {
      return false;
    }
  }

  const result = await runGraph(order, async (step) => {
    const digest = optionsDigest(step.options, step.sensitive ?? []);
    const inputs: Record<string, unknown> = {};
    for (const need of step.needs) {
      inputs[need] = redactOutputs(
        order.find((s) => s.id === need)!,
        outputs.get(need) ?? {},
      );
    }
    const inputsDigest = digestOf(inputs);
    const entry = store.get(step.id);
    const reviewed = options.savedPlan?.steps.find((s) => s.id === step.id)
      ?.desired_digest;
    if (
      entry?.status === "verified" && entry.options_digest === digest &&
      (entry.inputs_digest === undefined ||
        entry.inputs_digest === inputsDigest) &&
      (reviewed === undefined || entry.desired_digest === undefined ||
        entry.desired_digest === reviewed) &&
      await recoverSensitiveOutputs(step, entry.outputs ?? {})
    ) {
      emit({
        type: "step-skipped",
        id: step.id,
        reason: `unchanged, verified at ${
          entry.verified_at ?? "(unknown)"
        } — skipped`,
      });
      skipped.push(step.id);
      return;
    }
    const started = now();
    const ctx = stepContext(step);
    emit({ type: "step-start", id: step.id, title: step.title });
    await store.update(step.id, {
      status: "applying",
      options_digest: digest,
      inputs_digest: inputsDigest,
      started_at: started.toISOString(),
      finished_at: undefined,
      attempts: (entry?.attempts ?? 0) + 1,
    });
    try {
      emit({ type: "step-phase", id: step.id, phase: "plan" });
      const plan = await step.plan(ctx);
      emit({ type: "step-phase", id: step.id, phase: "apply" });
      const applied = await step.apply(ctx, plan) ?? {};
      await store.update(step.id, {
        status: "applied",
        desired_digest: plan.desiredDigest,
        applied_at: now().toISOString(),
        outputs: redactOutputs(step, applied, scrubber),
      });
      emit({ type: "step-phase", id: step.id, phase: "verify" });
      const verified = await step.verify(ctx);
      const failedChecks = verified.checks.filter((c) => !c.ok);
      if (failedChecks.length > 0) {
        throw new VerifyFailedError(step.id, failedChecks);
      }
      const all = { ...applied, ...(verified.outputs ?? {}) };
      outputs.set(step.id, all);
      const at = now();
      await store.update(step.id, {
        status: "verified",
        verified_at: at.toISOString(),
        finished_at: at.toISOString(),
        outputs: redactOutputs(step, all, scrubber),
        last_error: undefined,
      });
      emit({
        type: "step-done",
        id: step.id,
        elapsed_ms: at.getTime() - started.getTime(),
      });
    } catch (error) {
      const message = errorMessage(error, scrubber);
      failedErrors.set(step.id, message);
      const at = now();
      await store.update(step.id, {
        status: "failed",
        finished_at: at.toISOString(),
        last_error: message,
      });
      emit({
        type: "step-failed",
        id: step.id,
        error: message,
        failed_checks: error instanceof VerifyFailedError
          ? error.checks
          : undefined,
        elapsed_ms: at.getTime() - started.getTime(),
      });
      throw error;
    }
  }, { parallelism: options.parallelism ?? DEFAULT_PARALLELISM, signal });
  await store.flush();
  if (!options.workDir) await removeDir(workDir);

  const summary: RunSummary = {
    done: result.done.filter((id) => !skipped.includes(id)),
    skipped: result.done.filter((id) => skipped.includes(id)),
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
    emit({ type: "step-not-started", id: n.id, reason: n.reason });
  }
  const ok = summary.failed.length === 0 && summary.not_started.length === 0;
  emit({ type: "run-end", ok, summary });
  return {
    ok,
    summary,
    outputs: Object.fromEntries(outputs),
    /** The checkpoint file written. */
    checkpointPath: store.path,
  };
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
  /** Per-step reports, in dependency order. */
  steps: readonly Step[],
  options: RunOptions = {},
): Promise<VerifyStepsResult> {
  const order = topologicalOrder(steps);
  const scrubber = scrubberFor(steps);
  const { now, emit } = emitter(options, scrubber);
  const cluster = clusterIdentity(options.kube);
  const store = await CheckpointStore.open(
    options.checkpointDir ?? ".kfplan",
    cluster,
    {
      scrub: (t) => scrubber.scrub(t),
      now,
    },
  );
  const outputs = checkpointedOutputs(order, store.snapshot());
  const workDir = options.workDir ??
    await Deno.makeTempDir({ prefix: "kfplan-verify-" });
  const signal = options.signal ?? new AbortController().signal;
  const reports = new Map<string, StepVerifyReport>();
  emit({ type: "run-start", command: "verify", steps: order.map((s) => s.id) });
  await runGraph(order, async (step) => {
    const started = now();
    emit({ type: "step-start", id: step.id, title: step.title });
    emit({ type: "step-phase", id: step.id, phase: "verify" });
    const log = eventLogger(options.log, (e) => emit({ ...e, id: step.id }));
    const ctx = contextFor(step, {
      kube: options.kube,
      log,
      workDir,
      signal,
      scrubber,
      outputs,
    });
    let report: StepVerifyReport;
    try {
      const r = await step.verify(ctx);
      report = {
        id: step.id,
        title: step.title,
        /** True when every step passed. */
        ok: r.checks.every((c) => c.ok),
        checks: r.checks,
      };
    } catch (error) {
      report = {
        id: step.id,
        title: step.title,
        /** True when every step passed. */
        ok: false,
        checks: [],
        error: errorMessage(error, scrubber),
      };
    }
    reports.set(step.id, report);
    const elapsed = now().getTime() - started.getTime();
    if (report.ok) {
      emit({ type: "step-done", id: step.id, elapsed_ms: elapsed });
    } else {
      const failed = report.checks.filter((c) => !c.ok);
      const message = report.error ??
        new VerifyFailedError(step.id, failed).message;
      emit({
        type: "step-failed",
        id: step.id,
        error: message,
        failed_checks: failed,
        elapsed_ms: elapsed,
      });
      if (store.get(step.id)?.status === "verified") {
        await store.update(step.id, {
          status: "failed",
          last_error: scrubber.scrub(message),
        });
      }
    }
  }, { parallelism: options.parallelism ?? DEFAULT_PARALLELISM, signal });
  await store.flush();
  if (!options.workDir) await removeDir(workDir);
  const list = order.map((s) => reports.get(s.id)!);
  const ok = list.every((r) => r.ok);
  emit({
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
