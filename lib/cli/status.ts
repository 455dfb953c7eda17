/**
 * `deno task status`: shows the checkpoint of the current cluster: per step its
 * status, when, attempts, last error, and whether its options changed since.
 *
 * @module
 */

import {
  type Checkpoint,
  type CheckpointStep,
  loadCheckpoint,
} from "../engine/checkpoint.ts";
import { identifyCluster } from "../engine/cluster.ts";
import { stepOptionsDigest } from "../engine/planner.ts";
import { loadDigestKey, type SecretDigester } from "../engine/secret_digest.ts";
import type { Step } from "../engine/types.ts";
import { stepStanding } from "../engine/standing.ts";
import { type LockInfo, readLock } from "../engine/lock.ts";
import { ioOf, runSession, start } from "./_common.ts";
import { checkpointDirFor, type SessionOptions } from "./session.ts";

/** Usage text of `status`. */
export const STATUS_USAGE = `Usage: deno task status [options]

Shows what the checkpoint records for the current cluster: each step's status
(pending, applying, applied, verified, failed), when, and its last error.

Options:
  --config FILE       configuration (default ./kfplan.yaml, else examples/kfplan.yaml)
  --context NAME      kubeconfig context
  --kubeconfig FILE   kubeconfig
  --checkpoint DIR    checkpoint directory (default .kfplan/ next to the config)
  --json              print the checkpoint as JSON
  --help              this text
`;

/**
 * Runs `status`; resolves the exit code (0, or 1 on error).
 *
 * @example
 * ```ts
 * Deno.exit(await statusCommand(["--json"]));
 * ```
 */
export async function statusCommand(
  argv: string[],
  options: SessionOptions = {},
): Promise<number> {
  const io = ioOf(options);
  const args = start(
    argv,
    {
      strings: ["config", "context", "kubeconfig", "checkpoint"],
      booleans: ["json"],
    },
    STATUS_USAGE,
    io,
  );
  if (typeof args === "number") return args;
  return await runSession(args, async ({ composition, kube, offline }) => {
    const identity = await identifyCluster(kube);
    const dir = checkpointDirFor(args, composition);
    const { digester } = await loadDigestKey(kube, { stateDir: dir });
    const { checkpoint: cp, location: path } = await loadCheckpoint(kube, {
      dir,
      cluster: identity,
      lock: options.lock,
    });
    const lock = kube ? await readLock(kube).catch(() => undefined) : undefined;
    if (args.json) {
      io.out(
        JSON.stringify(
          { checkpoint: path, lock: lock ?? null, ...cp },
          null,
          2,
        ) + "\n",
      );
      return 0;
    }
    io.out(
      kube
        ? `Cluster: ${identity.context} (${identity.server})\n`
        : `No cluster (${offline}); showing the checkpoint of runs without a cluster.\n`,
    );
    io.out(
      statusText({
        path,
        checkpoint: cp,
        lock,
        steps: composition.steps,
        digester,
      }),
    );
    return 0;
  }, { ...options, io });
}

/** What {@linkcode statusText} shows. */
interface StatusReport {
  path: string;
  checkpoint: Checkpoint;
  lock?: LockInfo;
  steps: readonly Step[];
  digester: SecretDigester;
}

/** The checkpoint, the lock and one line per step, for people. */
function statusText(report: StatusReport): string {
  const { checkpoint: cp, lock } = report;
  const lines = [
    `Checkpoint: ${report.path}${
      cp.updated_at ? ` (updated ${cp.updated_at})` : " (none yet)"
    }`,
  ];
  if (lock) {
    lines.push(
      `Lock: held by ${lock.holder} since ${lock.acquireTime ?? "?"}${
        lock.expired ? " (expired)" : ""
      }`,
    );
  }
  lines.push("");
  const width = Math.max(4, ...report.steps.map((s) => s.id.length));
  const counts: Record<string, number> = {};
  for (const step of report.steps) {
    const e = cp.steps[step.id];
    const status = e?.status ?? "pending";
    counts[status] = (counts[status] ?? 0) + 1;
    lines.push(
      ...stepLines(step, { entry: e, width, digester: report.digester }),
    );
  }
  const known = new Set(report.steps.map((s) => s.id));
  for (
    const id of Object.keys(cp.steps).filter((id) => !known.has(id)).sort()
  ) {
    lines.push(
      `  ${id.padEnd(width)}  ${
        cp.steps[id].status.padEnd(9)
      }  (no longer in the configuration)`,
    );
  }
  lines.push(
    "",
    `${
      Object.entries(counts).sort().map(([k, v]) => `${v} ${k}`).join(", ")
    } of ${report.steps.length} steps.`,
  );
  return lines.join("\n") + "\n";
}

function stepLines(
  step: Step,
  row: { entry?: CheckpointStep; width: number; digester: SecretDigester },
): string[] {
  const e = row.entry;
  const status = e?.status ?? "pending";
  const when = e?.verified_at ?? e?.finished_at ?? e?.started_at;
  // Without planning, status knows what the checkpoint recorded; `plan` shows
  // whether the cluster drifted since.
  const standing = stepStanding({
    entry: e,
    optionsDigest: stepOptionsDigest(step, row.digester),
  });
  const changed = e && standing.kind === "outstanding" &&
      e.status === "verified"
    ? `  (${standing.reason}: will re-apply)`
    : "";
  const lines = [
    `  ${step.id.padEnd(row.width)}  ${status.padEnd(9)}  ${when ?? ""}${
      e ? `  attempts ${e.attempts}` : ""
    }${changed}`,
  ];
  if (e?.last_error) {
    lines.push(`  ${" ".repeat(row.width)}  last error: ${e.last_error}`);
  }
  return lines;
}
