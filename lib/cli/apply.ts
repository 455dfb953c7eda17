/**
 * `deno task apply [PLAN.json]`.
 *
 * Without a plan file: plans, shows the plan and asks for confirmation (`--yes` skips
 * it; without a terminal on stdin and without `--yes` it refuses), then applies the
 * plan it showed.
 *
 * With a plan file: applies exactly that plan, with the configuration the plan
 * recorded, refusing (naming each object) when the cluster or the configuration
 * changed since it was made.
 *
 * The command parses flags and renders events; the engine's {@linkcode applySteps}
 * plans, compares, locks, applies and records.
 *
 * @module
 */

import { applySteps } from "../engine/executor.ts";
import {
  parsePlanDocument,
  type PlanDocument,
} from "../engine/plan_document.ts";
import {
  LOCK_NAME,
  LOCK_NAMESPACE,
  LockHeldError,
  type LockOptions,
  readLock,
} from "../engine/lock.ts";
import type { KubeClient } from "../kube/types.ts";
import { type CliArgs, policyOf } from "./args.ts";
import { compose, fail, ioOf, start } from "./_common.ts";
import type { CliIO } from "./io.ts";
import {
  checkpointDirFor,
  type Cluster,
  type Composition,
  openCluster,
  parallelismFor,
  type SessionOptions,
} from "./session.ts";
import { applyView } from "./views.ts";
import { dataLossPolicy } from "./plan.ts";

/** Usage text of `apply`. */
export const APPLY_USAGE = `Usage: deno task apply [PLAN.json] [options]

Applies the configuration: without PLAN.json it plans, shows the plan and asks for
confirmation; with PLAN.json (from \`deno task plan --out\`) it applies exactly that plan,
with the configuration file the plan recorded, and refuses when the cluster changed
since. Resumes from the checkpoint: a step is skipped only when it is verified and its
fresh plan shows nothing to do.

Options:
  --config FILE       configuration (default: the one PLAN.json recorded, else
                      ./kfplan.yaml, else examples/kfplan.yaml)
  --context NAME      kubeconfig context
  --kubeconfig FILE   kubeconfig (default $KUBECONFIG, else ~/.kube/config)
  --yes               do not ask for confirmation (needed when stdin is not a terminal)
  --json              progress as JSON lines (one event per line; the first is the plan)
  --parallelism N     steps applied at once (default 4)
  --checkpoint DIR    checkpoint directory (default .kfplan/ next to the config)
  --lock-timeout SEC  wait up to SEC seconds for another apply's lock (default: refuse)
  --force-conflicts   take fields other field managers own on objects kfplan did not
                      create (otherwise such conflicts refuse the apply)
  --allow-downgrade   install a lower Kubeflow release over the installed one
  --allow-data-loss   delete data-holding objects no longer rendered (PVCs, PVs,
                      non-empty namespaces, CRDs with instances) instead of keeping
                      them (also: cluster.allowDataLoss in the config)
  --help              this text

The lock is the Lease kube-system/kfplan-lock. A stale lock (its holder died) expires
60 s after its last renewal and is taken over; \`deno task unlock --force\` breaks it now.

Exit status: 0 applied and verified (or nothing to do), 1 error or a failed step.
`;

/**
 * Runs `apply`; resolves the exit code.
 *
 * @example
 * ```ts
 * Deno.exit(await applyCommand(["plan.json"]));
 * ```
 */
export async function applyCommand(
  argv: string[],
  options: SessionOptions = {},
): Promise<number> {
  const io = ioOf(options);
  const args = start(
    argv,
    {
      strings: [
        "config",
        "context",
        "kubeconfig",
        "parallelism",
        "checkpoint",
        "lock-timeout",
      ],
      booleans: [
        "json",
        "yes",
        "force-conflicts",
        "allow-downgrade",
        "allow-data-loss",
      ],
      maxPositional: 1,
    },
    APPLY_USAGE,
    io,
  );
  if (typeof args === "number") return args;
  let cluster: Cluster | undefined;
  try {
    if (args.json && !args.yes) {
      throw new Error(
        "--json needs --yes: there is no interactive confirmation in JSON mode (the plan is the first JSON line).",
      );
    }
    const saved = await readSavedPlan(args._[0]);
    const composition = await composeForApply(args, options, saved);
    cluster = await openCluster(
      {
        ...args,
        context: args.context ??
          (saved && !saved.document.cluster.offline
            ? saved.document.cluster.context
            : undefined),
      },
      composition,
      options,
    );
    if ("offline" in cluster) {
      throw new Error(
        `apply needs a cluster, and there is none: ${cluster.offline}. Point KUBECONFIG (or --kubeconfig/--context) at the cluster; \`deno task plan\` works offline.`,
      );
    }
    const lock = lockOptionsFor(args, options);
    if (args.lockTimeout === undefined) {
      await refuseHeldLock(cluster.kube, lock);
    }
    return await runApply(io, {
      args,
      composition,
      kube: cluster.kube,
      lock,
      saved,
      listenForSigint: !options.io,
    });
  } catch (error) {
    return fail(io, error);
  } finally {
    if (cluster && "close" in cluster) cluster.close();
  }
}

/** A saved plan and the file it came from. */
interface SavedPlan {
  source: string;
  document: PlanDocument;
}

async function readSavedPlan(
  file: string | undefined,
): Promise<SavedPlan | undefined> {
  if (!file) return undefined;
  const document = parsePlanDocument(await Deno.readTextFile(file), {
    source: file,
  });
  if (document.cluster.offline) {
    throw new Error(
      `${file} was planned offline (${document.cluster.reason}): it read nothing from a cluster, so it cannot be applied safely. Plan against the cluster first: deno task plan --out ${file}`,
    );
  }
  return { source: file, document };
}

/**
 * The steps to apply: with a saved plan, from the configuration the plan recorded
 * (unless `--config` names one, which must then be the same bytes).
 */
async function composeForApply(
  args: CliArgs,
  options: SessionOptions,
  saved: SavedPlan | undefined,
): Promise<Composition> {
  const recorded = saved?.document.config;
  if (!recorded) return await compose(args, options);
  if (!args.config) {
    try {
      await Deno.stat(recorded.path);
    } catch {
      throw new Error(
        `${saved.source} was planned with ${recorded.path}, which is not there (relative paths are relative to the directory the plan was made in). Run apply from that directory, or pass the same file with --config FILE.`,
      );
    }
  }
  const composition = await compose(
    { ...args, config: args.config ?? recorded.path },
    options,
  );
  const now = composition.config;
  if (now && now.digest !== recorded.digest) {
    throw new Error(
      `refusing to apply ${saved.source}: it was planned with ${recorded.path} (${
        recorded.digest.slice(0, 19)
      }), but ${now.path} has different contents (${
        now.digest.slice(0, 19)
      }). Apply with the configuration the plan was made from, or make a new plan.`,
    );
  }
  return composition;
}

function lockOptionsFor(args: CliArgs, options: SessionOptions): LockOptions {
  return {
    ...options.lock,
    ...(args.lockTimeout !== undefined
      ? { waitMs: args.lockTimeout * 1000 }
      : {}),
  };
}

/**
 * Fails fast, like Terraform: a held lock refuses before minutes of planning. The
 * engine takes the lock for real (this read is only a courtesy, and writes nothing).
 */
async function refuseHeldLock(
  kube: KubeClient,
  lock: LockOptions,
): Promise<void> {
  const held = await readLock(kube, lock);
  if (held && !held.expired) {
    throw new LockHeldError(
      held,
      `Lease ${lock.namespace ?? LOCK_NAMESPACE}/${lock.name ?? LOCK_NAME}`,
    );
  }
}

/** What {@linkcode runApply} needs. */
interface ApplyRun {
  args: CliArgs;
  composition: Composition;
  kube: KubeClient;
  lock: LockOptions;
  saved?: SavedPlan;
  listenForSigint: boolean;
}

async function runApply(io: CliIO, run: ApplyRun): Promise<number> {
  const { args, composition } = run;
  const view = applyView(io, {
    json: args.json,
    yes: args.yes,
    steps: composition.steps.map((s) => ({ id: s.id, title: s.title })),
    savedPlan: run.saved,
  });
  const interrupt = interruptOnSigint(io, run.listenForSigint);
  try {
    const result = await applySteps(composition.steps, {
      signal: interrupt.signal,
      kube: run.kube,
      checkpointDir: checkpointDirFor(args, composition),
      parallelism: parallelismFor(args, composition),
      savedPlan: run.saved?.document,
      savedPlanSource: run.saved?.source,
      config: composition.config
        ? { path: composition.config.path, digest: composition.config.digest }
        : undefined,
      lock: run.lock,
      policy: {
        ...policyOf(args),
        ...dataLossPolicy(args, composition).policy,
      },
      confirm: (plan) => view.confirm(plan),
      onEvent: (e) => view.onEvent(e),
    });
    view.finish(result);
    return result.ok && result.outcome !== "cancelled" ? 0 : 1;
  } finally {
    view.close();
    interrupt.stop();
  }
}

/**
 * First Ctrl-C: finish the running steps (apply is idempotent but a half-written step
 * is wasted work), start nothing new, release the lock. Second: exit now.
 */
function interruptOnSigint(
  io: CliIO,
  listen: boolean,
): { signal: AbortSignal; stop(): void } {
  const interrupt = new AbortController();
  let interrupts = 0;
  function onSigint(): void {
    interrupts++;
    if (interrupts > 1) Deno.exit(130);
    io.err(
      "\nInterrupted: letting running steps finish, starting no new ones. Press Ctrl-C again to stop at once (the checkpoint resumes either way).\n",
    );
    interrupt.abort(new Error("interrupted"));
  }
  if (listen) Deno.addSignalListener("SIGINT", onSigint);
  return {
    signal: interrupt.signal,
    stop() {
      if (listen) Deno.removeSignalListener("SIGINT", onSigint);
    },
  };
}
