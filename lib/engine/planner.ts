/**
 * The planner: runs every step's read-only `plan` phase in dependency order and builds
 * the {@linkcode PlanDocument}. A step whose plan throws gets an `error` entry (its
 * message says what is missing and how to get it) and the rest still plans.
 *
 * Without a cluster (`kube` undefined) the plan is offline: steps see `offline: true`
 * and the document says so. Outputs of upstream steps are unknown at plan time unless
 * a checkpoint already holds them.
 *
 * The raw step plans (desired objects included) come back beside the document: they
 * are what apply consumes, so nothing is rendered twice.
 *
 * @module
 */

import type { KubeClient } from "../kube/types.ts";
import { compareRefs, type ObjectRef, refOf } from "../kube/object_ref.ts";
import { conflictWarnings } from "../kube/apply_set.ts";
import {
  applySetIdOf,
  type Inventory,
  listInventories,
  parentName,
  readInventory,
} from "../kube/inventory.ts";
import {
  addPrune,
  claimDesired,
  type InventorySettings,
  labellingClient,
  ownedObjects,
  planStepPrune,
  type StepPrune,
} from "./_inventory.ts";
import { type ObservationStats, observingClient } from "../kube/observe.ts";
import { type Checkpoint, loadCheckpoint } from "./checkpoint.ts";
import { type ClusterIdentity, identifyCluster } from "./cluster.ts";
import {
  contextFor,
  errorMessage,
  removeDir,
  scrubberFor,
  silentLogger,
} from "./_context.ts";
import { digestOf } from "./digest.ts";
import { DEFAULT_PARALLELISM, runGraph, topologicalOrder } from "./graph.ts";
import {
  KFPLAN_VERSION,
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
import { loadDigestKey, SecretDigester } from "./secret_digest.ts";
import { installationOf } from "./lock.ts";
import { stepStanding } from "./standing.ts";
import type {
  ChangeAction,
  Logger,
  Step,
  StepAction,
  StepPlan,
  StepPolicy,
} from "./types.ts";

/** Options for {@linkcode planSteps}. */
export interface PlanStepsOptions {
  /** The cluster; absent means offline. */
  kube?: KubeClient;
  /** The cluster's identity, when the caller already read it (saves a request). */
  cluster?: ClusterIdentity;
  /** Why there is no cluster, written into the plan (default "no cluster configured"). */
  offlineReason?: string;
  /** The config file the steps came from (path and `sha256:` digest of its bytes). */
  config?: { path: string; digest: string };
  /**
   * Directory of the local state (checkpoints, the local digest key); verified
   * outputs recorded there feed downstream plans.
   */
  checkpointDir?: string;
  /** An already loaded checkpoint (instead of reading `checkpointDir`). */
  checkpoint?: Checkpoint;
  /**
   * Makes the keyed digests of secret values. Default: the installation's key (see
   * `secret_digest.ts`) from the cluster or `checkpointDir`; with neither, a key
   * made for this call alone (digests then compare only within it).
   */
  digester?: SecretDigester;
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
  /**
   * Namespace of the inventories (one ApplySet parent per step); default
   * `kfplan-system`. Tests sharing one control plane use one each.
   */
  stateNamespace?: string;
  /**
   * The apply lock's Lease of the installation planned: its checkpoint and
   * inventories are the ones named after it (see `installationOf` in `lock.ts`).
   * Default `kube-system/kfplan-lock`, the cluster's one installation.
   */
  lock?: { namespace?: string; name?: string };
  /** What the user allowed (`--force-conflicts`, ...), handed to every step. */
  policy?: StepPolicy;
}

/** Result of {@linkcode planSteps}. */
export interface PlanStepsResult {
  /** The plan document (redacted). */
  document: PlanDocument;
  /** The raw step plans (not redacted: for the executor, never print these). */
  plans: Map<string, StepPlan>;
  /**
   * Per step, the digest of the upstream outputs its plan saw: apply uses a plan only
   * while its inputs are unchanged, and plans the step again otherwise.
   */
  inputsDigests: Map<string, string>;
  /** Scrubber knowing the run's secrets. */
  scrubber: SecretScrubber;
  /** The digester the document's digests were made with. */
  digester: SecretDigester;
  /** The cluster planned against ({@linkcode NO_CLUSTER} offline). */
  cluster: ClusterIdentity;
  /** Per step, what planning read and how many dry-runs it saved (online only). */
  observation: Map<string, ObservationStats>;
  /** Per step keeping an inventory (online), its planned prune: apply carries it out. */
  prunes: Map<string, StepPrune>;
  /** Every object kfplan owns (all inventories, all desired), for prunes planned again. */
  owned: ObjectRef[];
  /** Where the inventories are and whether data may go. */
  inventory: InventorySettings;
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

/**
 * The keyed digest of a step's desired state as plans and checkpoints record it: the
 * step's own digest (or its desired objects) under the installation's key, so a
 * digest that covers Secret values cannot be used to confirm a guess.
 */
export function desiredDigest(
  plan: StepPlan,
  digester: SecretDigester,
): string | undefined {
  if (plan.desiredDigest !== undefined) {
    return digester.digest(plan.desiredDigest);
  }
  return plan.desired ? digester.digest(digestOf(plan.desired)) : undefined;
}

/** The digest of a step's options under the installation's key. */
export function stepOptionsDigest(
  step: Step,
  digester: SecretDigester,
): string {
  return optionsDigest(step.options, {
    sensitive: step.sensitive ?? [],
    digester,
  });
}

/**
 * Outputs of steps whose checkpoint entry still stands (verified with their current
 * options): what downstream plans may read before anything is applied.
 */
export function checkpointedOutputs(
  steps: readonly Step[],
  checkpoint: Checkpoint | undefined,
  digester: SecretDigester,
): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  if (!checkpoint) return out;
  for (const step of steps) {
    const entry = checkpoint.steps[step.id];
    const standing = stepStanding({
      entry,
      optionsDigest: stepOptionsDigest(step, digester),
    });
    if (standing.kind !== "outstanding" && entry?.outputs) {
      out.set(step.id, entry.outputs);
    }
  }
  return out;
}

/** Converts a step plan into its (redacted, sorted) plan-document entry. */
export function planStepEntry(
  step: Step,
  plan: StepPlan,
  digester: SecretDigester,
): PlanStep {
  const changes: PlanChange[] = plan.changes.map((c) => {
    const r = redactChange(c, digester);
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
    ...baseEntry(step, digester),
    action: stepAction(plan),
    changes,
    findings: plan.findings.map((f) => ({ ...f })),
    warnings: [...plan.warnings],
    unknowns: [...plan.unknowns],
    observed: plan.observed.map((o) => ({ ...o })).sort(compareRefs),
    desired_digest: desiredDigest(plan, digester),
    facts: plan.facts,
    kept: (plan.kept ?? []).map((k) => ({
      apiVersion: k.apiVersion,
      kind: k.kind,
      namespace: k.namespace,
      name: k.name,
      reason: k.reason,
    })).sort(compareRefs),
  };
}

function baseEntry(
  step: Step,
  digester: SecretDigester,
): Omit<PlanStep, "action"> {
  const sensitive = step.sensitive ?? [];
  return {
    id: step.id,
    title: step.title,
    needs: [...step.needs],
    options_digest: stepOptionsDigest(step, digester),
    options: redactOptions(step.options, { sensitive, digester }).value ?? null,
    changes: [],
    findings: [],
    warnings: [],
    unknowns: [],
    observed: [],
  };
}

/** The digest of the upstream outputs a step sees (sensitive outputs redacted). */
export function inputsDigestOf(
  step: Step,
  outputs: ReadonlyMap<string, Record<string, unknown>>,
  options: { steps: readonly Step[]; digester: SecretDigester },
): string {
  const inputs: Record<string, unknown> = {};
  for (const need of step.needs) {
    const upstream = options.steps.find((s) => s.id === need);
    inputs[need] = redactOptions(outputs.get(need) ?? {}, {
      sensitive: upstream?.sensitiveOutputs ?? [],
      digester: options.digester,
    }).value;
  }
  return digestOf(inputs);
}

async function digesterFor(
  options: PlanStepsOptions,
): Promise<SecretDigester> {
  if (options.digester) return options.digester;
  if (options.kube || options.checkpointDir) {
    const key = await loadDigestKey(options.kube, {
      stateDir: options.checkpointDir ?? ".kfplan",
    });
    return key.digester;
  }
  return new SecretDigester(crypto.getRandomValues(new Uint8Array(32)));
}

function planCluster(
  options: PlanStepsOptions,
  cluster: ClusterIdentity,
): PlanCluster {
  return options.kube
    ? {
      offline: false,
      server: cluster.server,
      context: cluster.context,
      uid: cluster.uid,
    }
    : {
      offline: true,
      reason: options.offlineReason ?? "no cluster configured",
    };
}

/** The plan document of the step entries: versioned, counted, scrubbed once more. */
function planDocumentOf(
  steps: PlanStep[],
  run: {
    options: PlanStepsOptions;
    cluster: ClusterIdentity;
    scrubber: SecretScrubber;
  },
): PlanDocument {
  const document: PlanDocument = {
    format_version: PLAN_FORMAT_VERSION,
    kfplan_version: KFPLAN_VERSION,
    created_at: (run.options.now?.() ?? new Date()).toISOString(),
    cluster: planCluster(run.options, run.cluster),
    config: run.options.config,
    summary: summarize(steps),
    steps,
  };
  // Secrets a later step registered (ctx.addSecret) may sit in an earlier entry: scrub
  // the finished document once more, as data, so library callers are covered too.
  return JSON.parse(
    run.scrubber.scrub(JSON.stringify(document)),
  ) as PlanDocument;
}

/**
 * Plans every step and returns the plan document with the raw plans apply consumes.
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
  const cluster = options.cluster ?? await identifyCluster(options.kube);
  const digester = await digesterFor(options);
  let checkpoint = options.checkpoint;
  if (!checkpoint && options.checkpointDir) {
    checkpoint = (await loadCheckpoint(options.kube, {
      dir: options.checkpointDir,
      cluster,
      ...(options.stateNamespace ? { namespace: options.stateNamespace } : {}),
      ...(options.lock ? { lock: options.lock } : {}),
    })).checkpoint;
  }
  const outputs = checkpointedOutputs(order, checkpoint, digester);
  const workDir = options.workDir ??
    await Deno.makeTempDir({ prefix: "kfplan-plan-" });
  const signal = options.signal ?? new AbortController().signal;
  const log = options.log ?? silentLogger();
  const plans = new Map<string, StepPlan>();
  const inputsDigests = new Map<string, string>();
  const entries = new Map<string, PlanStep>();
  const observation = new Map<string, ObservationStats>();
  const settings = inventorySettingsOf(options);

  try {
    await runGraph(order, async (step) => {
      // Errors are caught here so that a failed plan never stops its dependents planning.
      const observed = options.kube
        ? observingClient(options.kube, {
          lastApplied: checkpoint?.steps[step.id]?.applied_objects,
          digest: (o) => digester.digest(o),
        })
        : undefined;
      try {
        const ctx = contextFor(step, {
          kube: observed && labelling(observed, step.id, settings),
          log,
          workDir,
          signal,
          scrubber,
          outputs,
          renderCacheKey: digester.derive("render-cache"),
          policy: options.policy,
        });
        inputsDigests.set(
          step.id,
          inputsDigestOf(step, outputs, { steps: order, digester }),
        );
        const plan = await step.plan(ctx);
        warnBlockedConflicts(plan);
        claimStepDesired(step, plan, { kube: options.kube, settings });
        plans.set(step.id, plan);
      } catch (error) {
        entries.set(step.id, {
          ...baseEntry(step, digester),
          action: "error",
          error: errorMessage(error, scrubber),
        });
      }
      if (observed) observation.set(step.id, observed.stats());
    }, { parallelism: options.parallelism ?? DEFAULT_PARALLELISM, signal });
  } finally {
    if (!options.workDir) await removeDir(workDir);
  }
  const { prunes, owned } = options.kube
    ? await planPrunes(options.kube, order, {
      plans,
      entries,
      settings,
      fail: (step, error) =>
        entries.set(step.id, {
          ...baseEntry(step, digester),
          action: "error",
          error: errorMessage(error, scrubber),
        }),
    })
    : { prunes: new Map<string, StepPrune>(), owned: [] };
  for (const step of order) {
    const plan = plans.get(step.id);
    if (plan && !entries.has(step.id)) {
      entries.set(step.id, planStepEntry(step, plan, digester));
    }
  }

  const document = planDocumentOf(order.map((s) => entries.get(s.id)!), {
    options,
    cluster,
    scrubber,
  });
  return {
    document,
    plans,
    inputsDigests,
    scrubber,
    digester,
    cluster,
    observation,
    prunes,
    owned,
    inventory: settings,
  };
}

/** The settings of the inventories from the plan options. */
export function inventorySettingsOf(
  options: {
    stateNamespace?: string;
    lock?: { namespace?: string; name?: string };
    policy?: { allowDataLoss?: boolean };
  },
): InventorySettings {
  const installation = installationOf(options.lock);
  return {
    ...(options.stateNamespace ? { namespace: options.stateNamespace } : {}),
    ...(installation ? { installation } : {}),
    ...(options.policy?.allowDataLoss ? { allowDataLoss: true } : {}),
  };
}

/** The client a step plans with: it labels the objects it diffs as members of its set. */
function labelling(
  kube: KubeClient,
  stepId: string,
  settings: InventorySettings,
): KubeClient {
  // A step id that cannot name an inventory only matters for a step that keeps one
  // (it has desired objects): claimStepDesired reports it then.
  if (!validStepId(stepId)) return kube;
  return labellingClient(kube, applySetIdOf(stepId, settings));
}

function validStepId(stepId: string): boolean {
  try {
    parentName(stepId);
    return true;
  } catch {
    return false;
  }
}

/**
 * Adds a warning, once, for each planned change whose conflicts block apply (fields
 * other managers own on an object kfplan did not create), whichever step planned it:
 * the Kubeflow step, another shipped one or a custom one. Apply refuses them
 * (`executor.ts`); a step only names conflicts (`planOptionsOf`).
 */
export function warnBlockedConflicts(plan: StepPlan): void {
  for (const warning of conflictWarnings(plan.changes ?? [])) {
    if (!plan.warnings.includes(warning)) plan.warnings.push(warning);
  }
}

/**
 * Labels a fresh plan's owned desired objects as members of the step's set (online
 * and offline alike, so the desired digest does not depend on where it was planned).
 * Throws, online, for a step with desired objects whose id cannot name an inventory.
 */
export function claimStepDesired(
  step: Step,
  plan: StepPlan,
  run: { kube?: KubeClient; settings: InventorySettings },
): void {
  if (!plan.desired) return;
  if (!validStepId(step.id)) {
    if (run.kube) parentName(step.id);
    return;
  }
  claimDesired(plan, applySetIdOf(step.id, run.settings));
}

/** Every object kfplan owns: all inventories' members and every step's owned desired objects. */
function ownedRefs(
  inventories: Iterable<Inventory>,
  plans: Iterable<StepPlan>,
): ObjectRef[] {
  const refs: ObjectRef[] = [];
  for (const inventory of inventories) refs.push(...inventory.entries);
  for (const plan of plans) {
    for (const o of ownedObjects(plan) ?? []) refs.push(refOf(o));
  }
  return refs;
}

/**
 * The prune of every step that keeps an inventory (its plan has desired objects):
 * deletes join the step's changes, kept objects its `kept`. A step whose inventory
 * cannot be read or pruned gets an error entry, like a failed plan.
 */
async function planPrunes(
  kube: KubeClient,
  order: readonly Step[],
  run: {
    plans: Map<string, StepPlan>;
    entries: Map<string, PlanStep>;
    settings: InventorySettings;
    fail: (step: Step, error: unknown) => void;
  },
): Promise<{ prunes: Map<string, StepPrune>; owned: ObjectRef[] }> {
  const keeping = order.filter((s) =>
    run.plans.get(s.id)?.desired !== undefined && !run.entries.has(s.id)
  );
  const prunes = new Map<string, StepPrune>();
  if (keeping.length === 0) return { prunes, owned: [] };
  const inventories = new Map<string, Inventory>();
  let all: Inventory[] | undefined;
  try {
    all = await listInventories(kube, run.settings);
  } catch {
    // One unreadable parent: each step reads its own below, and only its owner fails.
  }
  for (const i of all ?? []) inventories.set(i.step, i);
  const readable: Step[] = [];
  for (const step of keeping) {
    try {
      if (!all) {
        const i = await readInventory(kube, step.id, run.settings);
        if (i) inventories.set(step.id, i);
      }
      readable.push(step);
    } catch (error) {
      run.fail(step, error);
    }
  }
  const owned = ownedRefs(inventories.values(), run.plans.values());
  await Promise.all(readable.map(async (step) => {
    const plan = run.plans.get(step.id)!;
    try {
      const prune = await planStepPrune(kube, plan, {
        stepId: step.id,
        inventory: inventories.get(step.id),
        owned,
        settings: run.settings,
      });
      addPrune(plan, prune);
      prunes.set(step.id, prune);
    } catch (error) {
      run.fail(step, error);
    }
  }));
  return { prunes, owned };
}
