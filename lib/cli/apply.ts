/**
 * `deno task apply [PLAN.json]`.
 *
 * Without a plan file: plans, shows the plan and asks for confirmation (`--yes` skips
 * it; without a terminal on stdin and without `--yes` it refuses). The plan shown is
 * then applied as a saved plan, so that a cluster change between showing and
 * confirming refuses the apply instead of doing something nobody reviewed.
 *
 * With a plan file: applies exactly that plan, refusing (naming each object) when the
 * cluster or the configuration changed since it was made.
 *
 * @module
 */

import { applySteps } from "../engine/executor.ts";
import { checkpointedOutputs, planSteps } from "../engine/planner.ts";
import { hasChanges, parsePlanDocument } from "../engine/plan_document.ts";
import { renderPlan, useColor } from "../engine/render.ts";
import { CheckpointStore } from "../engine/checkpoint.ts";
import { optionsDigest } from "../engine/redact.ts";
import {
  LOCK_NAME,
  LOCK_NAMESPACE,
  LockHeldError,
  readLock,
} from "../engine/lock.ts";
import { compose, fail, ioOf, start } from "./_common.ts";
import { createProgress, progressMode, renderSummary } from "./progress.ts";
import {
  checkpointDirFor,
  type Cluster,
  openCluster,
  parallelismFor,
  type SessionOptions,
} from "./session.ts";

/** Usage text of `apply`. */
export const APPLY_USAGE = `Usage: deno task apply [PLAN.json] [options]

Applies the configuration: without PLAN.json it plans, shows the plan and asks for
confirmation; with PLAN.json (from \`deno task plan --out\`) it applies exactly that plan
and refuses when the cluster changed since. Resumes from the checkpoint: steps verified
with unchanged options are skipped.

Options:
  --config FILE       configuration (default ./kfplan.yaml, else examples/kfplan.yaml)
  --context NAME      kubeconfig context
  --kubeconfig FILE   kubeconfig (default $KUBECONFIG, else ~/.kube/config)
  --yes               do not ask for confirmation (needed when stdin is not a terminal)
  --json              progress as JSON lines (one event per line)
  --parallelism N     steps applied at once (default 4)
  --checkpoint DIR    checkpoint directory (default .kfplan/ next to the config)
  --lock-timeout SEC  wait up to SEC seconds for another apply's lock (default: refuse)
  --help              this text

The lock is the Lease kube-system/kfplan-lock. A stale lock (its holder died) expires
60 s after its last renewal and is taken over; \`deno task unlock --force\` breaks it now.

Exit status: 0 applied and verified, 1 error or a failed step.
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
      booleans: ["json", "yes"],
      maxPositional: 1,
    },
    APPLY_USAGE,
    io,
  );
  if (typeof args === "number") return args;
  let cluster: Cluster | undefined;
  try {
    const planFile = args._[0];
    const saved = planFile
      ? parsePlanDocument(await Deno.readTextFile(planFile), {
        source: planFile,
      })
      : undefined;
    if (saved?.cluster.offline) {
      throw new Error(
        `${planFile} was planned offline (${saved.cluster.reason}): it read nothing from a cluster, so it cannot be applied safely. Plan against the cluster first: deno task plan --out ${planFile}`,
      );
    }
    const composition = await compose(args, options);
    cluster = await openCluster(
      {
        ...args,
        context: args.context ??
          (saved && !saved.cluster.offline ? saved.cluster.context : undefined),
      },
      composition,
      options,
    );
    if ("offline" in cluster) {
      throw new Error(
        `apply needs a cluster, and there is none: ${cluster.offline}. Point KUBECONFIG (or --kubeconfig/--context) at the cluster; \`deno task plan\` works offline.`,
      );
    }
    const kube = cluster.kube;
    // Fail fast, like Terraform: a held lock refuses before minutes of planning. The
    // executor takes the lock for real (this read is only a courtesy).
    if (args.lockTimeout === undefined) {
      const held = await readLock(kube, options.lock);
      if (held && !held.expired) {
        const l = {
          namespace: LOCK_NAMESPACE,
          name: LOCK_NAME,
          ...options.lock,
        };
        throw new LockHeldError(held, `Lease ${l.namespace}/${l.name}`);
      }
    }
    const checkpointDir = checkpointDirFor(args, composition);
    const parallelism = parallelismFor(args, composition);
    const config = composition.config
      ? { path: composition.config.path, digest: composition.config.digest }
      : undefined;
    let plan = saved;
    if (saved && !args.json) {
      io.out(
        `Applying ${planFile} (planned ${saved.created_at} against ${
          saved.cluster.offline ? "no cluster" : saved.cluster.context
        }); checking that the cluster still matches it...\n`,
      );
    }
    if (!plan) {
      const { document, scrubber } = await planSteps(composition.steps, {
        kube,
        config,
        checkpointDir,
        parallelism,
      });
      const color = useColor(io.stdoutIsTerminal, { get: io.env });
      if (args.json) {
        io.out(
          scrubber.scrub(JSON.stringify({ type: "plan", plan: document })) +
            "\n",
        );
      } else io.out(scrubber.scrub(renderPlan(document, { color })));
      if (document.summary.errors > 0) {
        throw new Error(
          `${document.summary.errors} step${
            document.summary.errors === 1 ? "" : "s"
          } could not be planned (see above); nothing was applied`,
        );
      }
      const store = await CheckpointStore.open(checkpointDir, {
        server: kube.server,
        context: kube.context,
      });
      const verified = checkpointedOutputs(composition.steps, store.snapshot());
      const allDone = composition.steps.every((s) =>
        store.get(s.id)?.status === "verified" &&
        store.get(s.id)?.options_digest ===
          optionsDigest(s.options, s.sensitive ?? []) &&
        verified.has(s.id)
      );
      if (!hasChanges(document) && allDone) {
        if (!args.json) {
          io.out(
            "\nNothing to apply: no changes and every step is verified.\n",
          );
        }
        return 0;
      }
      if (!hasChanges(document) && !args.json) {
        io.out(
          "\nNo resource changes, but some steps are not verified in the checkpoint yet: apply runs them (and their checks).\n",
        );
      }
      if (!args.yes) {
        if (args.json) {
          throw new Error(
            "--json needs --yes: there is no interactive confirmation in JSON mode (the plan is the first JSON line).",
          );
        }
        if (!io.stdinIsTerminal) {
          throw new Error(
            "refusing to apply without confirmation: stdin is not a terminal. Re-run with --yes, or save the plan with `deno task plan --out PLAN.json`, review it and run `deno task apply PLAN.json`.",
          );
        }
        io.out(
          "\nDo you want to apply this plan? Only 'yes' will be accepted: ",
        );
        const answer = (await io.readLine())?.trim();
        if (answer !== "yes") {
          io.out("Apply cancelled; nothing was changed.\n");
          return 1;
        }
      }
      plan = document;
    }
    const progress = createProgress(io, {
      mode: progressMode(args.json, io),
      steps: composition.steps.map((s) => ({ id: s.id, title: s.title })),
      color: useColor(io.stdoutIsTerminal, { get: io.env }),
    });
    // First Ctrl-C: finish the running steps (apply is idempotent but a half-written
    // step is wasted work), start nothing new, release the lock. Second: exit now.
    const interrupt = new AbortController();
    let interrupts = 0;
    const onSigint = () => {
      interrupts++;
      if (interrupts > 1) Deno.exit(130);
      io.err(
        "\nInterrupted: letting running steps finish, starting no new ones. Press Ctrl-C again to stop at once (the checkpoint resumes either way).\n",
      );
      interrupt.abort(new Error("interrupted"));
    };
    const listen = !options.io;
    if (listen) Deno.addSignalListener("SIGINT", onSigint);
    let result;
    try {
      result = await applySteps(composition.steps, {
        signal: interrupt.signal,
        kube,
        checkpointDir,
        parallelism,
        savedPlan: plan,
        savedPlanSource: planFile ?? "the plan shown above",
        config,
        lock: {
          ...options.lock,
          ...(args.lockTimeout !== undefined
            ? { waitMs: args.lockTimeout * 1000 }
            : {}),
        },
        onEvent: (e) => progress.onEvent(e),
      });
    } finally {
      progress.close();
      if (listen) Deno.removeSignalListener("SIGINT", onSigint);
    }
    if (!args.json) {
      io.out("\n" + renderSummary("Apply", result.summary));
      io.out(`Checkpoint: ${result.checkpointPath}\n`);
    }
    return result.ok ? 0 : 1;
  } catch (error) {
    return fail(io, error);
  } finally {
    if (cluster && "close" in cluster) cluster.close();
  }
}
