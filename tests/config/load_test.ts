import {
  assert,
  assertEquals,
  assertMatch,
  rejects,
  throws,
} from "../_assert.ts";
import { join } from "node:path";
import {
  ConfigFileError,
  exampleConfigPath,
  loadConfig,
  parseConfig,
} from "../../lib/config/load.ts";
import { OptionsError } from "../../lib/engine/options.ts";

Deno.test("parseConfig keeps sections and records a digest of the bytes", () => {
  const loaded = parseConfig(
    "cluster:\n  parallelism: 2\nmetallb:\n  pools: []\n",
    "/etc/kfplan/kfplan.yaml",
  );
  assertEquals(loaded.config.cluster, { parallelism: 2 });
  assertEquals(loaded.config.metallb, { pools: [] });
  assertEquals(loaded.dir, "/etc/kfplan");
  assertMatch(loaded.digest, /^sha256:[0-9a-f]{64}$/);
  const again = parseConfig(
    "cluster:\n  parallelism: 2\nmetallb:\n  pools: []\n",
    "/x.yaml",
  );
  assertEquals(again.digest, loaded.digest);
});

Deno.test("an unknown top-level section is rejected with its name and the file", () => {
  const error = throws(
    () => parseConfig("metalb:\n  pools: []\n", "/cfg/kfplan.yaml"),
    OptionsError,
  );
  assertMatch(
    error.message,
    /^\/cfg\/kfplan\.yaml: \(root\): unknown field "metalb"/,
  );
});

Deno.test("bad cluster settings name the field path and the valid range", () => {
  const error = throws(
    () => parseConfig("cluster:\n  parallelism: 0\n", "kfplan.yaml"),
    OptionsError,
  );
  assertEquals(error.issues[0].path, "cluster.parallelism");
  assertMatch(error.message, /at least 1/);
});

Deno.test("YAML syntax errors carry file, line and column", () => {
  const error = throws(
    () => parseConfig("cluster:\n  context: [a\n", "/c/kfplan.yaml"),
    ConfigFileError,
  );
  assertMatch(error.message, /^\/c\/kfplan\.yaml:\d+:\d+: /);
});

Deno.test("duplicate keys are an error rather than last-one-wins", () => {
  throws(
    () => parseConfig("cluster: {}\ncluster: {}\n", "k.yaml"),
    ConfigFileError,
  );
});

Deno.test("loadConfig falls back to ./kfplan.yaml, then to the shipped example", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const example = await loadConfig(undefined, { cwd: dir });
    assertEquals(example.path, exampleConfigPath());
    await Deno.writeTextFile(
      join(dir, "kfplan.yaml"),
      "cluster: {context: lab}\n",
    );
    const local = await loadConfig(undefined, { cwd: dir });
    assertEquals(local.path, join(dir, "kfplan.yaml"));
    assertEquals(local.config.cluster?.context, "lab");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing file is named in the error", async () => {
  const error = await rejects(
    () => loadConfig("/nonexistent/kfplan.yaml"),
    ConfigFileError,
  );
  assert(error.message.includes("/nonexistent/kfplan.yaml"));
});
