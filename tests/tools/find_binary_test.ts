import { assertEquals, assertMatch, rejects } from "../_assert.ts";
import {
  BinaryNotFoundError,
  findBinary,
  type FindBinaryOptions,
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
