/**
 * The apply lock as a run holds it, shared by apply and destroy: taken with its
 * events (waiting, acquired or taken over and why, lost: which aborts the run), and
 * released with a warning, not an error, when releasing fails.
 *
 * @module
 */

import type { KubeClient } from "../kube/types.ts";
import { errorMessage } from "./_context.ts";
import type { Emitter, RunEventInput } from "./events.ts";
import {
  acquireLock,
  type HeldLock,
  type LockInfo,
  type LockOptions,
} from "./lock.ts";
import type { SecretScrubber } from "./redact.ts";

/**
 * The `acquired` or `took-over` event for a lock `acquireLock` returned; a take-over
 * names the previous holder and the reason the lock could be taken.
 *
 * @example
 * ```ts
 * emitter.emit(lockTakenEvent(await acquireLock(kube, {})));
 * ```
 */
export function lockTakenEvent(
  lock: HeldLock & { tookOver?: LockInfo },
): RunEventInput {
  return {
    type: "lock",
    action: lock.tookOver ? "took-over" : "acquired",
    detail: lock.tookOver
      ? `took over the lock of ${lock.tookOver.holder}: ${
        lock.tookOver.reason ?? "it expired"
      }`
      : `lock held by ${lock.holder}`,
  };
}

/** What a run lends the lock: where its events go, and what to abort when it is lost. */
export interface RunLockContext {
  /** Receives the lock events. */
  emitter: Emitter;
  /** Aborted when a renewal finds the lock taken by somebody else. */
  abort: AbortController;
}

/**
 * Takes the lock for a run: says when it waits for a holder, whose lock it took
 * over and why, and aborts the run when the lock is lost.
 */
export async function takeRunLock(
  kube: KubeClient,
  lockOptions: LockOptions,
  run: RunLockContext,
): Promise<HeldLock> {
  const { emitter } = run;
  const lock: HeldLock & { tookOver?: LockInfo } = await acquireLock(kube, {
    ...lockOptions,
    onWait: (info) => {
      emitter.emit({
        type: "lock",
        action: "waiting",
        detail: `waiting for ${info.holder} (since ${
          info.acquireTime ?? "?"
        }) to release the lock`,
      });
      lockOptions.onWait?.(info);
    },
    onLost: (reason) => {
      emitter.emit({ type: "lock", action: "lost", detail: reason });
      run.abort.abort(new Error(reason));
      lockOptions.onLost?.(reason);
    },
  });
  emitter.emit(lockTakenEvent(lock));
  return lock;
}

/**
 * Releases a run's lock. A failure is a warning: the run's result matters more than
 * the cleanup, and the Lease expires by itself.
 */
export async function releaseRunLock(
  lock: HeldLock,
  run: { emitter: Emitter; scrubber: SecretScrubber },
): Promise<void> {
  try {
    await lock.release();
    run.emitter.emit({
      type: "lock",
      action: "released",
      detail: `released by ${lock.holder}`,
    });
  } catch (error) {
    run.emitter.emit({
      type: "log",
      level: "warn",
      message: `could not release the lock (it expires by itself): ${
        errorMessage(error, run.scrubber)
      }`,
    });
  }
}
