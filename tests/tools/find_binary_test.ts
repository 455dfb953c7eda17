import { assertEquals, assertMatch, rejects } from "../_assert.ts";
import {
  BinaryNotFoundError,
  findBinary,
  type FindBinaryOptions,
  kfplanCacheDir,
} from "../../lib/tools/find_binary.ts";

async function script(path: string, output: string): Promise<void> {
  await Deno.mkdir(path.replace(/\/[^/]+$/, ""), { recursive: true });
  await Deno.writeTextFile(path, `#!/bin/sh\necho '${output}'\n`);
  await Deno.chmod(path, 0o755);
}

function toolOptions(env: Record<string, string>): FindBinaryOptions {
  return {
    name: "tool",
    envVar: "KFPLAN_TOOL",
    versionArgs: ["--version"],
    parseVersion: (out) => out.match(/v\d+\.\d+\.\d+/)?.[0],
    isSupported: (v) => Number(v.slice(1).split(".")[0]) >= 5,
    requirement: "tool 5.x or newer",
    installHint: "install tool 5",
    env,
  };
}

Deno.test("findBinary prefers PATH, checks the version, and falls back to the build cache", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await script(`${dir}/old/tool`, "tool v4.5.7");
    await script(`${dir}/home/.cache/kfplan/bin/k1/tool`, "tool v5.7.1");
    await script(`${dir}/home/.cache/kfplan/bin/k0.tmp.42/tool`, "tool v9.0.0");
    const found = await findBinary(
      toolOptions({ PATH: `${dir}/old`, HOME: `${dir}/home` }),
    );
    assertEquals(found, {
      path: `${dir}/home/.cache/kfplan/bin/k1/tool`,
      version: "v5.7.1",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findBinary says what it found and how to install when nothing is suitable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await script(`${dir}/old/tool`, "tool v4.5.7");
    const old = await rejects(
      () => findBinary(toolOptions({ PATH: `${dir}/old`, HOME: dir })),
      BinaryNotFoundError,
    );
    assertEquals(
      old.message,
      `tool 5.x or newer is required; found only ${dir}/old/tool (v4.5.7); install tool 5`,
    );
    const none = await rejects(
      () => findBinary(toolOptions({ PATH: `${dir}/empty`, HOME: dir })),
      BinaryNotFoundError,
    );
    assertMatch(none.message, /^tool not found \(looked at KFPLAN_TOOL, PATH/);
    const explicit = await rejects(
      () => findBinary(toolOptions({ KFPLAN_TOOL: `${dir}/nope`, PATH: "" })),
      BinaryNotFoundError,
    );
    assertMatch(
      explicit.message,
      /KFPLAN_TOOL=.*nope is not an executable file/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findBinary looks in $KFPLAN_CACHE: provided tools first, then the build cache", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cache = `${dir}/cache`;
    await script(`${cache}/bin/k1/tool`, "tool v5.0.0");
    const env = {
      PATH: `${dir}/empty`,
      HOME: `${dir}/home`,
      KFPLAN_CACHE: cache,
    };
    assertEquals(await findBinary(toolOptions(env)), {
      path: `${cache}/bin/k1/tool`,
      version: "v5.0.0",
    });
    await script(`${cache}/tools/tool-v5.7.1/tool`, "tool v5.7.1");
    await script(`${cache}/tools/.tool-v5.8.0.tmp-x/out/tool`, "tool v5.8.0");
    assertEquals(await findBinary(toolOptions(env)), {
      path: `${cache}/tools/tool-v5.7.1/tool`,
      version: "v5.7.1",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findBinary asks the provision hook only when nothing suitable was found, and adds its error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await script(`${dir}/old/tool`, "tool v4.5.7");
    await script(`${dir}/new/tool`, "tool v5.7.1");
    const calls: string[] = [];
    const provided = { path: "/provided/tool", version: "v5.7.1" };
    const provision = () => {
      calls.push("provision");
      return Promise.resolve(provided);
    };
    const onPath = await findBinary({
      ...toolOptions({ PATH: `${dir}/new`, HOME: dir }),
      provision,
    });
    assertEquals([onPath.path, calls], [`${dir}/new/tool`, []]);
    const old = await findBinary({
      ...toolOptions({ PATH: `${dir}/old`, HOME: dir }),
      provision,
    });
    assertEquals([old, calls], [provided, ["provision"]]);
    // An explicit path is the user's choice: never replaced by a provided one.
    await rejects(
      () =>
        findBinary({
          ...toolOptions({ KFPLAN_TOOL: `${dir}/old/tool`, PATH: "" }),
          provision,
        }),
      BinaryNotFoundError,
    );
    assertEquals(calls.length, 1);
    const failed = await rejects(
      () =>
        findBinary({
          ...toolOptions({ PATH: `${dir}/old`, HOME: dir }),
          provision: () => Promise.reject(new Error("no way worked")),
        }),
      BinaryNotFoundError,
    );
    assertEquals(
      failed.message,
      `tool 5.x or newer is required; found only ${dir}/old/tool (v4.5.7), and providing it failed: no way worked`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kfplanCacheDir: KFPLAN_CACHE, else XDG_CACHE_HOME/kfplan, else HOME/.cache/kfplan", () => {
  assertEquals(
    kfplanCacheDir({ KFPLAN_CACHE: "/c", XDG_CACHE_HOME: "/x", HOME: "/h" }),
    "/c",
  );
  assertEquals(
    kfplanCacheDir({ XDG_CACHE_HOME: "/x", HOME: "/h" }),
    "/x/kfplan",
  );
  assertEquals(
    kfplanCacheDir({ KFPLAN_CACHE: "", XDG_CACHE_HOME: "", HOME: "/h" }),
    "/h/.cache/kfplan",
  );
  assertEquals(kfplanCacheDir({}), undefined);
});
