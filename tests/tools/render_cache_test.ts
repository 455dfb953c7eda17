import { assertEquals, assertNotEquals } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import {
  cachedRender,
  MAX_ENTRIES,
  treeDigest,
} from "../../lib/tools/render_cache.ts";
import { kustomizeBuild } from "../../lib/tools/kustomize.ts";

Deno.test("a tree's digest follows its files' contents and names", async () => {
  await using work = await tempDir("kfplan-render-cache-");
  await Deno.mkdir(`${work.path}/a/b`, { recursive: true });
  await Deno.writeTextFile(`${work.path}/a/b/x.yaml`, "x: 1\n");
  const first = await treeDigest([`${work.path}/a`]);
  assertEquals(await treeDigest([`${work.path}/a`]), first);
  await Deno.writeTextFile(`${work.path}/a/b/x.yaml`, "x: 2\n");
  const changed = await treeDigest([`${work.path}/a`]);
  assertNotEquals(changed, first);
  await Deno.rename(`${work.path}/a/b/x.yaml`, `${work.path}/a/b/y.yaml`);
  assertNotEquals(await treeDigest([`${work.path}/a`]), changed);
});

Deno.test("a render is produced once per key and kept private", async () => {
  await using work = await tempDir("kfplan-render-cache-");
  let produced = 0;
  const produce = () => Promise.resolve(`render ${++produced}\n`);
  const a = await cachedRender("k1", produce, { dir: work.path });
  const b = await cachedRender("k1", produce, { dir: work.path });
  const c = await cachedRender("k2", produce, { dir: work.path });
  assertEquals([a.cached, b.cached, c.cached], [false, true, false]);
  assertEquals([a.text, b.text, c.text], [
    "render 1\n",
    "render 1\n",
    "render 2\n",
  ]);
  for await (const e of Deno.readDir(work.path)) {
    const mode = (await Deno.stat(`${work.path}/${e.name}`)).mode ?? 0;
    assertEquals(mode & 0o077, 0, e.name);
  }
  for (let i = 0; i < MAX_ENTRIES + 3; i++) {
    await cachedRender(`more-${i}`, produce, { dir: work.path });
  }
  let count = 0;
  for await (const _ of Deno.readDir(work.path)) count++;
  assertEquals(count, MAX_ENTRIES);
});

Deno.test("kustomizeBuild with a cache runs kustomize once for unchanged inputs", async () => {
  await using work = await tempDir("kfplan-render-cache-");
  const dir = `${work.path}/app`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(
    `${dir}/kustomization.yaml`,
    "resources: [cm.yaml]\n",
  );
  await Deno.writeTextFile(
    `${dir}/cm.yaml`,
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\ndata: {a: '1'}\n",
  );
  const log = `${work.path}/runs`;
  const wrapper = `${work.path}/kustomize`;
  const found = new Deno.Command("sh", {
    args: ["-c", "command -v kustomize"],
    stdout: "piped",
  }).outputSync();
  const kustomizePath = new TextDecoder().decode(found.stdout).trim();
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh\necho "$1" >> ${log}\nexec ${kustomizePath} "$@"\n`,
    { mode: 0o755 },
  );
  const kustomize = { path: wrapper, version: "v5.7.1" };
  const cache = { inputs: [], dir: `${work.path}/cache` };
  const first = await kustomizeBuild(dir, { kustomize, cache });
  const second = await kustomizeBuild(dir, { kustomize, cache });
  assertEquals(second, first);
  assertEquals((await Deno.readTextFile(log)).trim().split("\n"), ["build"]);
  await Deno.writeTextFile(
    `${dir}/cm.yaml`,
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\ndata: {a: '2'}\n",
  );
  const third = await kustomizeBuild(dir, { kustomize, cache });
  assertEquals((third[0].data as Record<string, string>).a, "2");
  assertEquals((await Deno.readTextFile(log)).trim().split("\n").length, 2);
});

Deno.test("a render with secrets is stored sealed and read back only with its key", async () => {
  await using work = await tempDir("kfplan-render-cache-");
  const secret = "client-secret-5e1f9a";
  const key = crypto.getRandomValues(new Uint8Array(32));
  let produced = 0;
  const produce = () => Promise.resolve(`data: ${secret} ${++produced}\n`);
  const options = { dir: work.path, encryptWith: key };
  const first = await cachedRender("sealed", produce, options);
  const again = await cachedRender("sealed", produce, options);
  assertEquals([first.cached, again.cached], [false, true]);
  assertEquals(again.text, first.text);
  for await (const e of Deno.readDir(work.path)) {
    const text = await Deno.readTextFile(`${work.path}/${e.name}`);
    assertEquals(text.includes(secret), false, e.name);
  }
  // Another installation's key cannot read it: it renders afresh.
  const other = await cachedRender("sealed", produce, {
    dir: work.path,
    encryptWith: crypto.getRandomValues(new Uint8Array(32)),
  });
  assertEquals(other.cached, false);
  assertEquals(produced, 2);
});

Deno.test("the same tree at another path digests the same", async () => {
  await using work = await tempDir("kfplan-render-cache-");
  for (const at of ["one", "two/deeper"]) {
    await Deno.mkdir(`${work.path}/${at}/sub`, { recursive: true });
    await Deno.writeTextFile(`${work.path}/${at}/sub/x.yaml`, "x: 1\n");
  }
  assertEquals(
    await treeDigest([`${work.path}/one`]),
    await treeDigest([`${work.path}/two/deeper`]),
  );
});
