import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  rejects,
} from "../_assert.ts";
import {
  checkpointPath,
  CheckpointStore,
  readCheckpoint,
} from "../../lib/engine/checkpoint.ts";
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
