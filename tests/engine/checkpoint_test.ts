import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  rejects,
} from "../_assert.ts";
import {
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_LOCATION,
  checkpointPath,
  checkpointRef,
  checkpointSecret,
  CheckpointStore,
  readCheckpoint,
  readClusterCheckpoint,
} from "../../lib/engine/checkpoint.ts";
import { identifyCluster } from "../../lib/engine/cluster.ts";
import { useCluster } from "../cluster/harness.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import { writeFileAtomic } from "../../lib/engine/_files.ts";
import { tempDir } from "../_shared.ts";

const prod = { server: "https://10.0.0.1:6443", context: "prod" };
const dev = { server: "https://10.0.0.2:6443", context: "dev" };

Deno.test("checkpoints are keyed by cluster", () => {
  assertNotEquals(
    checkpointPath(".kfplan", prod),
    checkpointPath(".kfplan", dev),
  );
  assertNotEquals(
    checkpointPath(".kfplan", prod),
    checkpointPath(".kfplan", { ...prod, server: "https://10.9.9.9:6443" }),
  );
  assertMatch(
    checkpointPath(".kfplan", prod),
    /^\.kfplan\/checkpoint-prod-[0-9a-f]{12}\.json$/,
  );
});

Deno.test("updates are durable, merged and leave no temp files", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const store = await CheckpointStore.open(dir, prod);
  await Promise.all([
    store.update("a", {
      status: "applying",
      options_digest: "d1",
      attempts: 1,
    }),
    store.update("b", {
      status: "applying",
      options_digest: "d2",
      attempts: 1,
    }),
    store.update("a", {
      status: "verified",
      verified_at: "2026-01-01T00:00:00.000Z",
    }),
  ]);
  const cp = await readCheckpoint(store.path, prod);
  assertEquals(cp.steps.a.status, "verified");
  assertEquals(cp.steps.a.options_digest, "d1");
  assertEquals(cp.steps.b.status, "applying");
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assertEquals(names, [store.path.split("/").pop()]);
});

Deno.test("a checkpoint of another cluster is refused, a corrupt one is named", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const store = await CheckpointStore.open(dir, prod);
  await store.update("a", {
    status: "failed",
    options_digest: "d",
    attempts: 1,
  });
  const other = await rejects(() => readCheckpoint(store.path, dev), Error);
  assertMatch(other.message, /belongs to cluster prod/);
  await Deno.writeTextFile(
    store.path,
    '{"format_version":"1","cluster":{"server":"s","context":"c"},"steps":{"a":{"status":"done"}}}',
  );
  const bad = await rejects(
    () => readCheckpoint(store.path, { server: "s", context: "c" }),
    OptionsError,
  );
  assertMatch(bad.message, /steps\.a\.status/);
});

Deno.test("writeFileAtomic replaces the whole file", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/x/y.json`;
  await writeFileAtomic(path, "a".repeat(10000));
  await writeFileAtomic(path, "b");
  assertEquals(await Deno.readTextFile(path), "b");
  assert((await Deno.stat(path)).isFile);
});

Deno.test("temp files a killed writer left behind are cleaned up when old", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = checkpointPath(dir, prod);
  const base = path.split("/").pop();
  const old = `${dir}/.${base}.dead.tmp`;
  const young = `${dir}/.${base}.alive.tmp`;
  await Deno.writeTextFile(old, "{");
  await Deno.writeTextFile(young, "{");
  const hourAgo = new Date(Date.now() - 3_600_000);
  await Deno.utime(old, hourAgo, hourAgo);
  await CheckpointStore.open(dir, prod);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assertEquals(names, [`.${base}.alive.tmp`]);
});

Deno.test("a format 2 checkpoint is read as format 3", async () => {
  await using tmp = await tempDir();
  const path = checkpointPath(tmp.path, prod);
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      format_version: "2",
      cluster: prod,
      steps: { a: { status: "verified", options_digest: "d", attempts: 1 } },
    }),
  );
  const cp = await readCheckpoint(path, prod);
  assertEquals(cp.format_version, CHECKPOINT_FORMAT_VERSION);
  assertEquals(cp.steps.a.status, "verified");
  const store = await CheckpointStore.open(tmp.path, prod, { writer: "w@h" });
  await store.update("b", { status: "pending", options_digest: "e" });
  const written = JSON.parse(await Deno.readTextFile(path));
  assertEquals(written.format_version, "3");
  assertEquals(written.written_by, "w@h");
  assertEquals(Object.keys(written.steps).sort(), ["a", "b"]);
});

Deno.test("a checkpoint too large for one Secret is refused with its size", async () => {
  const noise = new Uint8Array(800_000);
  for (let i = 0; i < noise.length; i += 65536) {
    crypto.getRandomValues(noise.subarray(i, i + 65536));
  }
  const text = Array.from(noise, (b) => b.toString(16)).join("");
  const e = await rejects(() => checkpointSecret(text), Error);
  assertMatch(
    e.message,
    /checkpoint is \d+ bytes gzipped .* Secret kfplan-system\/kfplan-checkpoint/,
  );
  const small = await checkpointSecret('{"steps":{}}\n');
  assertEquals(
    (small as { type?: string }).type,
    "kfplan.dev/checkpoint",
  );
});

Deno.test("with a cluster the checkpoint is one Secret two checkouts share; concurrent writers merge by step", async () => {
  const { kube } = await useCluster();
  const cluster = await identifyCluster(kube);
  await using a = await tempDir();
  await using b = await tempDir();
  const id = (s: string) => `${s}-${crypto.randomUUID().slice(0, 8)}`;
  const [one, two, three] = [id("one"), id("two"), id("three")];
  const storeA = await CheckpointStore.open(a.path, cluster, { kube });
  assertEquals(storeA.location, CHECKPOINT_LOCATION);
  await storeA.update(one, {
    status: "verified",
    options_digest: "d1",
    attempts: 1,
  });
  // Another checkout (another directory, another machine) sees it.
  const storeB = await CheckpointStore.open(b.path, cluster, { kube });
  assertEquals(storeB.get(one)?.status, "verified");
  // Both write after reading the same resourceVersion: the second write conflicts,
  // takes the other's entry and writes again; nothing is lost.
  await Promise.all([
    storeA.update(two, { status: "failed", options_digest: "d2", attempts: 1 }),
    storeB.update(three, {
      status: "applying",
      options_digest: "d3",
      attempts: 1,
    }),
  ]);
  const remote = await readClusterCheckpoint(kube, cluster);
  assert(remote);
  assertEquals(remote.checkpoint.steps[one]?.status, "verified");
  assertEquals(remote.checkpoint.steps[two]?.status, "failed");
  assertEquals(remote.checkpoint.steps[three]?.status, "applying");
  // The local file of each checkout is a cache of what it last wrote or read.
  const cacheB = await readCheckpoint(storeB.path, cluster);
  assertEquals(cacheB.steps[three]?.status, "applying");
  const secret = await kube.get({
    apiVersion: "v1",
    kind: "Secret",
    namespace: "kfplan-system",
    name: "kfplan-checkpoint",
  });
  assertEquals((secret as { type?: string }).type, "kfplan.dev/checkpoint");
  // The Secret holds gzip, not readable JSON with step ids in clear.
  assert(!JSON.stringify(secret).includes(one));
});

Deno.test("one checkpoint Secret per lock and state namespace", () => {
  assertEquals(checkpointRef({}), {
    apiVersion: "v1",
    kind: "Secret",
    namespace: "kfplan-system",
    name: "kfplan-checkpoint",
  });
  assertEquals(
    checkpointRef({ lock: { namespace: "kube-system", name: "kfplan-lock" } })
      .name,
    "kfplan-checkpoint",
  );
  assertEquals(
    checkpointRef({ lock: { name: "team-a" } }).name,
    "kfplan-checkpoint.team-a",
  );
  assertEquals(
    checkpointRef({
      namespace: "state-b",
      lock: { namespace: "ops", name: "kf" },
    }),
    {
      apiVersion: "v1",
      kind: "Secret",
      namespace: "state-b",
      name: "kfplan-checkpoint.ops.kf",
    },
  );
});
