/**
 * `deno task unlock [--force]`: breaks the apply lock (the Lease
 * `kube-system/kfplan-lock`). Without `--force` only an expired lock is removed; a live
 * one is shown with its holder and start time.
 *
 * @module
 */

import { breakLock, LockHeldError } from "../engine/lock.ts";
import { ioOf, runSession, start } from "./_common.ts";
import type { SessionOptions } from "./session.ts";

/** Usage text of `unlock`. */
export const UNLOCK_USAGE = `Usage: deno task unlock [--force] [options]

Removes the apply lock (Lease kube-system/kfplan-lock). Without --force only a stale
lock (not renewed for its lease duration) is removed. Use --force only when you are
sure the holder is no longer running: two applies at once can interleave.

Options:
  --force             remove the lock even when it looks alive
  --context NAME      kubeconfig context
  --kubeconfig FILE   kubeconfig
  --help              this text
`;

/**
 * Runs `unlock`; resolves the exit code.
 *
 * @example
 * ```ts
 * Deno.exit(await unlockCommand(["--force"]));
 * ```
 */
export async function unlockCommand(
  argv: string[],
  options: SessionOptions = {},
): Promise<number> {
  const io = ioOf(options);
  const args = start(
    argv,
    { strings: ["context", "kubeconfig", "config"], booleans: ["force"] },
    UNLOCK_USAGE,
    io,
  );
  if (typeof args === "number") return args;
  return await runSession(args, async ({ kube }) => {
    let info;
    try {
      info = await breakLock(kube!, { force: args.force });
    } catch (error) {
      if (!(error instanceof LockHeldError)) throw error;
      io.err(`error: the lock looks alive: ${error.message}\n`);
      return 1;
    }
    if (!info) io.out("No lock held.\n");
    else {
      io.out(
        `Removed the lock held by ${info.holder} (since ${
          info.acquireTime ?? "?"
        }, last renewed ${info.renewTime ?? "?"}${
          info.expired ? ", expired" : ""
        }).\n`,
      );
    }
    return 0;
  }, { ...options, io, needsConfig: false, requireCluster: "unlock" });
}
