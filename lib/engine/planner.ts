/**
 * The planner: runs every step's read-only `plan` phase in dependency order and builds
 * the {@linkcode PlanDocument}. A step whose plan throws gets an `error` entry (its
 * message says what is missing and how to get it) and the rest still plans.
 *
 * Without a cluster (`kube` undefined) the plan is offline: steps see `offline: true`
 * and the document says so. Outputs of upstream steps are unknown at plan time unless
 * a checkpoint already holds them.
 *
 * @module
 */

import type { KubeClient } from "../kube/types.ts";
import {
  type Checkpoint,
  checkpointPath,
  type ClusterIdentity,
  NO_CLUSTER,
  readCheckpoint,
} from "./checkpoint.ts";
import {
  contextFor,
  errorMessage,
  removeDir,
  scrubberFor,
  silentLogger,
} from "./_context.ts";
import { DEFAULT_PARALLELISM, runGraph, topologicalOrder } from "./graph.ts";
import {
  KFPLAN_VERSION,
  objectKey,
  PLAN_FORMAT_VERSION,
  type PlanChange,
  type PlanCluster,
  type PlanDocument,
  type PlanStep,
  summarize,
} from "./plan_document.ts";
import {
  optionsDigest,
  redactChange,
  redactOptions,
  type SecretScrubber,
} from "./redact.ts";
import type {
  ChangeAction,
  Logger,
  Step,
  StepAction,
  StepPlan,
} from "./types.ts";

/** Options for {@linkcode planSteps}. */
export interface PlanStepsOptions {
  /** The cluster; absent means offline. */
  kube?: KubeClient;
  /** Why there is no cluster, written into the plan (default "no cluster configured"). */
  offlineReason?: string;
  /** The config file the steps came from (path and `sha256:` digest of its bytes). */
  config?: { path: string; digest: string };
  /** Directory of checkpoints; their verified outputs feed downstream plans. */
  checkpointDir?: string;
  /** An already loaded checkpoint (instead of `checkpointDir`). */
  checkpoint?: Checkpoint;
  /** Steps planned at once; default 4. */
  parallelism?: number;
  /** Scratch directory handed to steps; default a new temp dir. */
  workDir?: string;
  /** Receives step log messages (scrubbed); default silent. */
  log?: Logger;
  /** Cancels planning. */
  signal?: AbortSignal;
  /** Clock for `created_at`. */
  now?: () => Date;
  /** Extra secret values to scrub from error messages. */
  secrets?: Iterable<string>;
}

/** Result of {@linkcode planSteps}. */
export interface PlanStepsResult {
  /** The plan document (redacted). */
  document: PlanDocument;
  /** The raw step plans (not redacted: for the executor, never print these). */
  plans: Map<string, StepPlan>;
  /** Scrubber knowing the run's secrets. */
  scrubber: SecretScrubber;
}

const ACTION_RANK: Record<ChangeAction, number> = {
  "no-op": 0,
  create: 1,
  update: 2,
  delete: 3,
  replace: 4,
};

/** The action of a step: its most disruptive change, `unknown`, or `no-op`. */
export function stepAction(plan: StepPlan): StepAction {
  let best: ChangeAction | undefined;
  for (const c of plan.changes) {
    if (best === undefined || ACTION_RANK[c.action] > ACTION_RANK[best]) {
      best = c.action;
    }
  }
  if (best !== undefined && best !== "no-op") return best;
  if (plan.unknowns.length > 0) return "unknown";
  return "no-op";
}

/** The cluster identity of a client, or {@linkcode NO_CLUSTER}. */
export function clusterIdentity(kube?: KubeClient): ClusterIdentity {
  return kube ? { server: kube.server, context: kube.context } : NO_CLUSTER;
}

/** Outputs of steps a checkpoint records as verified with their current options. */
export function checkpointedOutputs(
  steps: readonly Step[],
  checkpoint: Checkpoint | undefined,
): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  if (!checkpoint) return out;
  for (const step of steps) {
    const entry = checkpoint.steps[step.id];
    if (
      entry?.status === "verified" &&
      entry.options_digest ===
        optionsDigest(step.options, step.sensitive ?? []) &&
      entry.outputs
    ) out.set(step.id, entry.outputs);
  }
  return out;
}

/** Converts a step plan into its (redacted, sorted) plan-document entry. */
export function planStepEntry(step: Step, plan: StepPlan): PlanStep {
  const changes: PlanChange[] = plan.changes.map((c) => {
    const r = redactChange(c);
    return {
      apiVersion: r.apiVersion,
      kind: r.kind,
      namespace: r.namespace,
      name: r.name,
      action: r.action,
      diff: r.diff.map((d) => ({
        path: d.path,
        before: d.before,
        after: d.after,
        sensitive: d.sensitive,
      })),
      reason: r.reason,
      known_after_apply: r.knownAfterApply,
    };
  });
  return {
    ...baseEntry(step),
    action: stepAction(plan),
    changes,
    findings: plan.findings.map((f) => ({ ...f })),
    warnings: [...plan.warnings],
    unknowns: [...plan.unknowns],
    observed: plan.observed
      .map((o) => ({ ...o }))
      .sort((a, b) =>
        objectKey(a) < objectKey(b) ? -1 : objectKey(a) > objectKey(b) ? 1 : 0
      ),
    desired_digest: plan.desiredDigest,
    facts: plan.facts,
  };
}

function baseEntry(step: Step): Omit<PlanStep, "action"> {
  const patterns = step.sensitive ?? [];
  return {
    id: step.id,
    title: step.title,
    needs: [...step.needs],
    options_digest: optionsDigest(step.options, patterns),
    options: redactOptions(step.options, patterns).value ?? null,
    changes: [],
    findings: [],
    warnings: [],
    unknowns: [],
    observed: [],
  };
}

/**
 * Plans every step and returns the plan document.
 *
 * @example
 * ```ts
 * const { document } = await planSteps(steps, { offlineReason: "no kubeconfig" });
 * console.log(renderPlan(document));
 * ```
 */
export async function planSteps(
  steps: readonly Step[],
  options: PlanStepsOptions = {},
): Promise<PlanStepsResult> {
  const order = topologicalOrder(steps);
  const scrubber = scrubberFor(steps, options.secrets);
  const cluster = clusterIdentity(options.kube);
  let checkpoint = options.checkpoint;
  if (!checkpoint && options.checkpointDir) {
    checkpoint = await readCheckpoint(
      checkpointPath(options.checkpointDir, cluster),
      cluster,
    );
  }
  const outputs = checkpointedOutputs(steps, checkpoint);
  const workDir = options.workDir ??
    await Deno.makeTempDir({ prefix: "kfplan-plan-" });
  const signal = options.signal ?? new AbortController().signal;
  const log = options.log ?? silentLogger();
  const plans = new Map<string, StepPlan>();
  const entries = new Map<string, PlanStep>();

  await runGraph(order, async (step) => {
    // Errors are caught here so that a failed plan never stops its dependents planning.
    try {
      const ctx = contextFor(step, {
        kube: options.kube,
        log,
        workDir,
        signal,
        scrubber,
        outputs,
      });
      const plan = await step.plan(ctx);
      plans.set(step.id, plan);
      entries.set(step.id, planStepEntry(step, plan));
    } catch (error) {
      entries.set(step.id, {
        ...baseEntry(step),
        action: "error",
        error: errorMessage(error, scrubber),
      });
    }
  }, { parallelism: options.parallelism ?? DEFAULT_PARALLELISM, signal });
  if (!options.workDir) await removeDir(workDir);

  const stepsOut = order.map((s) => entries.get(s.id)!);
  const planCluster: PlanCluster = options.kube
    ? {
      offline: false,
      server: options.kube.server,
      context: options.kube.context,
    }
    : {
      offline: true,
      reason: options.offlineReason ?? "no cluster configured",
    };
  const document: PlanDocument = {
    format_version: PLAN_FORMAT_VERSION,
    kfplan_version: KFPLAN_VERSION,
    created_at: (options.now?.() ?? new Date()).toISOString(),
    cluster: planCluster,
    config: options.config,
    summary: summarize(stepsOut),
    steps: stepsOut,
  };
  // Secrets a later step registered (ctx.addSecret) may sit in an earlier entry: scrub
  // the finished document once more, as data, so library callers are covered too.
  const scrubbed = JSON.parse(
    scrubber.scrub(JSON.stringify(document)),
  ) as PlanDocument;
  return { document: scrubbed, plans, scrubber };
}
