import { tempDir } from "../_shared.ts";
import { assert, assertEquals, assertMatch, rejects } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import {
  acquireLock,
  breakLock,
  LockHeldError,
  readLock,
} from "../../lib/engine/lock.ts";
import { applySteps } from "../../lib/engine/executor.ts";
import { configMapStep } from "./_configmap_step.ts";

function unique(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

Deno.test("a second holder is refused with the holder's identity and start time", async () => {
  const { kube } = await useCluster();
  const name = unique("kfplan-lock");
  const first = await acquireLock(kube, { name, holder: "alice@host1 pid 1" });
  try {
    const e = await rejects(
      () => acquireLock(kube, { name, holder: "bob@host2 pid 2" }),
      LockHeldError,
    );
    assertMatch(e.message, /alice@host1 pid 1, started \d{4}-\d\d-\d\dT/);
    assertMatch(e.message, /deno task unlock --force/);
    const lease = await kube.get({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      namespace: "kube-system",
      name,
    });
    assertEquals(
      (lease?.spec as { holderIdentity: string }).holderIdentity,
      "alice@host1 pid 1",
    );
  } finally {
    await first.release();
  }
  assertEquals(await readLock(kube, { name }), undefined);
  const again = await acquireLock(kube, { name, holder: "bob@host2 pid 2" });
  await again.release();
});

Deno.test("an expired lock is taken over; unlock --force breaks a live one", async () => {
  const { kube } = await useCluster();
  const name = unique("kfplan-lock");
  // The first holder "dies": it never renews (renewal period far beyond the test).
  const dead = await acquireLock(kube, {
    name,
    holder: "dead@host pid 9",
    leaseDurationSeconds: 30,
    renewIntervalMs: 3_600_000,
  });
  const later = () => new Date(Date.now() + 120_000);
  const taker = await acquireLock(kube, {
    name,
    holder: "new@host pid 10",
    now: later,
  });
  assertEquals(taker.tookOver?.holder, "dead@host pid 9");
  assertEquals((await readLock(kube, { name }))?.holder, "new@host pid 10");
  // The dead holder's release must not remove the new holder's lock.
  await dead.release();
  assertEquals((await readLock(kube, { name }))?.holder, "new@host pid 10");
  await rejects(() => breakLock(kube, { name }), LockHeldError);
  const broken = await breakLock(kube, { name, force: true });
  assertEquals(broken?.holder, "new@host pid 10");
  assertEquals(await readLock(kube, { name }), undefined);
  await taker.release();
});

Deno.test("apply holds the lock for the whole run and a concurrent apply is refused", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("kfplan-lock");
  const name = unique("kfplan-lock");
  await using work = await tempDir();
  const dir = work.path;
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let inside!: () => void;
  const entered = new Promise<void>((r) => inside = r);
  const slow = configMapStep("slow", {
    namespace: ns,
    name: "slow",
    data: { a: "1" },
  });
  const held = {
    ...slow,
    async apply(
      ctx: Parameters<typeof slow.apply>[0],
      plan: Parameters<typeof slow.apply>[1],
    ) {
      inside();
      await gate;
      return slow.apply(ctx, plan);
    },
  };
  const first = applySteps([held], {
    kube: cluster.kube,
    checkpointDir: dir,
    lock: { name, holder: "first@ci pid 1" },
  });
  await entered;
  const info = await readLock(cluster.kube, { name });
  assertEquals(info?.holder, "first@ci pid 1");
  const e = await rejects(
    () =>
      applySteps([slow], {
        kube: cluster.kube,
        checkpointDir: `${dir}/2`,
        lock: { name, holder: "second@ci pid 2" },
      }),
    LockHeldError,
  );
  assertMatch(e.message, /first@ci pid 1/);
  release();
  assert((await first).ok);
  assertEquals(
    await readLock(cluster.kube, { name }),
    undefined,
    "released at the end",
  );
});

Deno.test("waitMs waits for the holder to release instead of refusing", async () => {
  const { kube } = await useCluster();
  const name = unique("kfplan-lock");
  const first = await acquireLock(kube, { name, holder: "first@ci pid 1" });
  const waited: string[] = [];
  const second = acquireLock(kube, {
    name,
    holder: "second@ci pid 2",
    waitMs: 60_000,
    onWait: (info) => waited.push(info.holder),
  });
  // Release only once the second one is known to be waiting.
  for (let i = 0; i < 1500 && waited.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assertEquals(waited.length, 1, "the second acquirer reports that it waits");
  await first.release();
  const lock = await second;
  assertEquals(waited, ["first@ci pid 1"]);
  assertEquals((await readLock(kube, { name }))?.holder, "second@ci pid 2");
  await lock.release();
});
