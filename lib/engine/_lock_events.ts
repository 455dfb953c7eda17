/**
 * The `lock` event of a lock just taken, shared by apply and destroy so both say
 * whose lock they took over and why (expired, or a dead local holder).
 *
 * @module
 */

import type { RunEventInput } from "./events.ts";
import type { HeldLock, LockInfo } from "./lock.ts";

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
