/**
 * `deno task plan`: plans every step and prints a Terraform-like plan, or the JSON
 * document with `--json`, and saves it with `--out`. Exit codes follow Terraform's
 * `-detailed-exitcode`: 0 no changes, 2 changes, 1 error.
 *
 * @module
 */

import { planSteps } from "../engine/planner.ts";
import { hasChanges, serializePlanDocument } from "../engine/plan_document.ts";
import { writeFileAtomic } from "../engine/_files.ts";
import { ioOf, runSession, start } from "./_common.ts";
import {
  checkpointDirFor,
  parallelismFor,
  type SessionOptions,
} from "./session.ts";
import { planView } from "./views.ts";
import { policyOf } from "./args.ts";
import { driftReport, readDriftRecords, renderDrift } from "../engine/drift.ts";
import { describeTools } from "../tools/describe_tools.ts";

/** Usage text of `plan`. */
export const PLAN_USAGE = `Usage: deno task plan [options]

Plans the configuration against the cluster (offline when there is none) and prints
what apply would change.

Options:
  --config FILE       configuration (default ./kfplan.yaml, else examples/kfplan.yaml)
  --context NAME      kubeconfig context (default: cluster.context, else current)
  --kubeconfig FILE   kubeconfig (default $KUBECONFIG, else ~/.kube/config)
  --out PLAN.json     also save the plan; apply it exactly with \`deno task apply PLAN.json\`
  --json              print the JSON plan document instead of the human plan
  --parallelism N     steps planned at once (default 4)
  --checkpoint DIR    checkpoint directory (default .kfplan/ next to the config)
  --refresh-only      report drift only: objects kfplan applied that changed out of
                      band (not configuration changes); exit 2 when there is drift
  --force-conflicts   take fields other field managers own on objects kfplan did not
                      create (otherwise such conflicts block apply)
  --allow-downgrade   plan a lower Kubeflow release over the installed one
  --allow-data-loss   plan deletes of data-holding objects no longer rendered (PVCs,
                      PVs, non-empty namespaces, CRDs with instances) instead of
                      keeping them (also: cluster.allowDataLoss in the config)
  --help              this text

Exit status: 0 no changes (no drift), 2 changes planned (drift found), 1 error.
`;

/**
 * Runs `plan` with the given arguments; resolves the exit code.
 *
 * @example
 * ```ts
 * Deno.exit(await planCommand(["--config", "kfplan.yaml", "--out", "plan.json"]));
 * ```
 */
export async function planCommand(
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
        "out",
        "parallelism",
        "checkpoint",
      ],
      booleans: [
        "json",
        "refresh-only",
        "force-conflicts",
        "allow-downgrade",
        "allow-data-loss",
      ],
    },
    PLAN_USAGE,
    io,
  );
  if (typeof args === "number") return args;
  return await runSession(args, async ({ composition, kube, offline }) => {
    let view = planView(io, { json: args.json });
    // Finding (and once providing) the tools before planning keeps parallel steps
    // from each providing them.
    const tools = await describeTools();
    if (!args.json) io.err(`Tools: ${tools.join(", ")}\n`);
    const checkpointDir = checkpointDirFor(args, composition);
    // Drift is judged against what the last applies recorded: the plan uses the
    // same checkpoint.
    const records = args.refreshOnly && kube
      ? await readDriftRecords(kube, {
        checkpointDir,
        ...(options.lock ? { lock: options.lock } : {}),
      })
      : undefined;
    const planned = await planSteps(composition.steps, {
      kube,
      offlineReason: offline,
      config: composition.config
        ? { path: composition.config.path, digest: composition.config.digest }
        : undefined,
      checkpointDir,
      ...(records
        ? { cluster: records.cluster, checkpoint: records.checkpoint }
        : {}),
      // The installation the session's apply lock serialises: its checkpoint and
      // inventories.
      ...(options.lock ? { lock: options.lock } : {}),
      parallelism: parallelismFor(args, composition),
      policy: {
        ...policyOf(args),
        ...dataLossPolicy(args, composition).policy,
      },
      // Warnings go to stderr so that `--json` output stays a single document.
      log: { info() {}, debug() {}, warn: (m) => view.warn(m) },
    });
    const { document, scrubber } = planned;
    if (args.refreshOnly) {
      // Steps unchanged since verified: their plans' changes to objects they own
      // are drift too, whoever applied them (Helm).
      const report = driftReport(document, planned.observation, {
        ...records,
        inputsDigests: planned.inputsDigests,
      });
      io.out(scrubber.scrub(
        args.json
          ? JSON.stringify(report, null, 2) + "\n"
          : renderDrift(report),
      ));
      return report.errors.length > 0 ? 1 : report.drifted > 0 ? 2 : 0;
    }
    // Scrubbing the serialised text is defence in depth: the document is redacted already.
    view = planView(io, { json: args.json, scrub: (t) => scrubber.scrub(t) });
    if (args.out) {
      await writeFileAtomic(
        args.out,
        scrubber.scrub(serializePlanDocument(document)),
      );
    }
    view.plan(document, { savedTo: args.out });
    if (document.summary.errors > 0) {
      io.err(
        `error: ${document.summary.errors} step${
          document.summary.errors === 1 ? "" : "s"
        } could not be planned (see above)\n`,
      );
      return 1;
    }
    return hasChanges(document) ? 2 : 0;
  }, { ...options, io });
}

/** `--allow-data-loss` or `cluster.allowDataLoss`, as the engine's policy. */
export function dataLossPolicy(
  args: { allowDataLoss?: boolean },
  composition: { allowDataLoss?: boolean },
): { policy?: { allowDataLoss: true } } {
  return args.allowDataLoss || composition.allowDataLoss
    ? { policy: { allowDataLoss: true } }
    : {};
}
