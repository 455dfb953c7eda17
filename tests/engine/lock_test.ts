// The Lease behaviour itself is tested against the real control plane in
// tests/integration/engine_lock_test.ts; these are the pure parts.
import { assertMatch } from "../_assert.ts";
import {
  defaultHolder,
  LockHeldError,
  microTime,
} from "../../lib/engine/lock.ts";

Deno.test("microTime has microseconds as Lease fields require", () => {
  assertMatch(
    microTime(new Date("2026-01-02T03:04:05.678Z")),
    /^2026-01-02T03:04:05\.678000Z$/,
  );
});

Deno.test("the holder identity names user, host and pid", () => {
  assertMatch(defaultHolder(), new RegExp(`^.+@.+ pid ${Deno.pid}$`));
});

Deno.test("LockHeldError says who holds it, since when, and how to break it", () => {
  const e = new LockHeldError({
    holder: "ana@ws1 pid 42",
    acquireTime: "2026-01-02T03:04:05.000000Z",
    renewTime: "2026-01-02T03:05:05.000000Z",
    leaseDurationSeconds: 60,
    expired: false,
    transitions: 0,
  }, "Lease kube-system/kfplan-lock");
  assertMatch(
    e.message,
    /Lease kube-system\/kfplan-lock: ana@ws1 pid 42, started 2026-01-02T03:04:05/,
  );
  assertMatch(e.message, /deno task unlock --force/);
});
