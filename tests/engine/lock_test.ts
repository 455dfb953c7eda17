// Most Lease behaviour is tested against the real control plane in
// tests/integration/engine_lock_test.ts; the takeover from a dead holder of this host
// is tested here, against the real control plane too.
import { hostname } from "node:os";
import { assertEquals, assertMatch, rejects } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import {
  acquireLock,
  breakLock,
  deadLocalHolder,
  defaultHolder,
  installationOf,
  LockHeldError,
  microTime,
  parseHolder,
  readLock,
} from "../../lib/engine/lock.ts";

Deno.test("microTime has microseconds as Lease fields require", () => {
  assertMatch(
    microTime(new Date("2026-01-02T03:04:05.678Z")),
    /^2026-01-02T03:04:05\.678000Z$/,
  );
});

Deno.test("the installation a lock serialises: none for the default Lease, else its name", () => {
  assertEquals(installationOf(), undefined);
  assertEquals(
    installationOf({ namespace: "kube-system", name: "kfplan-lock" }),
    undefined,
  );
  assertEquals(installationOf({ name: "team-a" }), "team-a");
  assertEquals(installationOf({ namespace: "ops", name: "kf" }), "ops.kf");
  assertEquals(installationOf({ namespace: "ops" }), "ops.kfplan-lock");
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

Deno.test("holder identities are parsed; other forms are never judged dead", () => {
  assertEquals(parseHolder("ana@ws1 pid 42"), {
    user: "ana",
    host: "ws1",
    pid: 42,
  });
  assertEquals(parseHolder("ana@ws 1 pid 42"), undefined);
  assertEquals(parseHolder("a CI job"), undefined);
  const info = {
    holder: "a CI job",
    leaseDurationSeconds: 60,
    expired: false,
    transitions: 0,
  };
  assertEquals(deadLocalHolder(info), undefined);
});

/** The pid of a process that ran and exited: surely not alive. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true", { stdout: "null" }).spawn();
  await child.status;
  return child.pid;
}

function holderWithPid(pid: number, host = hostname()): string {
  return `tester@${host} pid ${pid}`;
}

function leaseName(): string {
  return `kfplan-lock-${crypto.randomUUID().slice(0, 8)}`;
}

Deno.test("a lock whose holder is a dead process on this host is taken over at once, naming it", async () => {
  const { kube } = await useCluster();
  const name = leaseName();
  const dead = holderWithPid(await deadPid());
  // The dead holder's Lease is fresh and long: only the pid check can free it.
  const first = await acquireLock(kube, {
    name,
    holder: dead,
    leaseDurationSeconds: 3600,
    renewIntervalMs: 3_600_000,
  });
  const taker = await acquireLock(kube, {
    name,
    leaseDurationSeconds: 3600,
  });
  try {
    assertEquals(taker.tookOver?.holder, dead);
    assertMatch(
      taker.tookOver?.reason ?? "",
      /its process \(pid \d+ on .+\) is gone/,
    );
    assertEquals(taker.tookOver?.expired, false);
    assertEquals((await readLock(kube, { name }))?.holder, defaultHolder());
  } finally {
    await taker.release();
    await first.release(); // lost already: a no-op
    await breakLock(kube, { name, force: true });
  }
});

Deno.test("a live holder on this host, a recycled pid, and a holder on another host", async () => {
  const { kube } = await useCluster();
  const sleeper = new Deno.Command("sleep", {
    args: ["60"],
    stdout: "null",
  }).spawn();
  try {
    // Alive and started before the lock was taken: blocks.
    const live = leaseName();
    const a = await acquireLock(kube, {
      name: live,
      holder: holderWithPid(sleeper.pid),
      leaseDurationSeconds: 3600,
      renewIntervalMs: 3_600_000,
      now: () => new Date(Date.now() + 5000),
    });
    const held = await rejects(
      () => acquireLock(kube, { name: live }),
      LockHeldError,
    );
    assertMatch(held.message, new RegExp(`pid ${sleeper.pid}`));
    await a.release();

    // The same pid, but the lock was taken an hour before that process started: the
    // pid was recycled, the holder is gone.
    const recycled = leaseName();
    const hourAgo = () => new Date(Date.now() - 3_600_000);
    await acquireLock(kube, {
      name: recycled,
      holder: holderWithPid(sleeper.pid),
      leaseDurationSeconds: 7200,
      renewIntervalMs: 3_600_000,
      now: hourAgo,
    });
    const taker = await acquireLock(kube, { name: recycled });
    assertMatch(
      taker.tookOver?.reason ?? "",
      /started .*after the lock was taken/,
    );
    await taker.release();
    await breakLock(kube, { name: recycled, force: true });

    // A dead pid, but on another host: nothing is known, it blocks.
    const remote = leaseName();
    const r = await acquireLock(kube, {
      name: remote,
      holder: holderWithPid(await deadPid(), "another-host"),
      leaseDurationSeconds: 3600,
      renewIntervalMs: 3_600_000,
    });
    await rejects(() => acquireLock(kube, { name: remote }), LockHeldError);
    await r.release();
    await breakLock(kube, { name: live, force: true });
    await breakLock(kube, { name: remote, force: true });
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper.status;
  }
});
