// The README's first command on a fresh machine: an empty HOME and cache, no kustomize,
// helm or go on PATH. `deno task plan` of the example provides both tools itself (from
// a loopback mirror serving archives built from the test run's binaries, checked
// against the test's own pins) and plans: exit 2.
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import { releaseArchive, serveMirror, toolBinDir } from "../tools/_mirror.ts";

const root = new URL("../../", import.meta.url).pathname;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("fresh machine: the first `deno task plan` provides kustomize and helm once and exits 2", async () => {
  await using work = await tempDir("kfplan-fresh-machine-");
  const bin = await toolBinDir();
  const kustomize = await releaseArchive(
    "kustomize",
    `${bin}/kustomize`,
    work.path,
  );
  const helm = await releaseArchive("helm", `${bin}/helm`, work.path);
  await using mirror = serveMirror({
    [kustomize.file]: kustomize.bytes,
    [helm.file]: helm.bytes,
  });
  const checksums = `${work.path}/checksums.json`;
  await Deno.writeTextFile(
    checksums,
    JSON.stringify({
      [kustomize.file]: kustomize.sha256,
      [helm.file]: helm.sha256,
    }),
  );
  const home = `${work.path}/home`;
  const cache = `${work.path}/cache`;
  await Deno.mkdir(home);
  await Deno.mkdir(cache);
  const path = `${Deno.execPath().replace(/\/[^/]+$/, "")}:/usr/bin:/bin`;
  // The machine is fresh: none of the tools (nor go, which would build them) on PATH.
  for (const dir of path.split(":")) {
    for (const tool of ["kustomize", "helm", "go"]) {
      assert(!await exists(`${dir}/${tool}`), `${dir}/${tool} exists`);
    }
  }

  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/plan.ts"],
    cwd: root,
    env: {
      PATH: path,
      HOME: home,
      KFPLAN_CACHE: cache,
      KFPLAN_TOOLS_MIRROR: mirror.url,
      KFPLAN_TOOLS_CHECKSUMS: checksums,
      NO_COLOR: "1",
      // Deno's own module cache lives under the real HOME.
      DENO_DIR: Deno.env.get("DENO_DIR") ??
        `${Deno.env.get("HOME")}/.cache/deno`,
    },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);

  assertEquals(out.code, 2, stderr);
  assertMatch(stdout, /Planned OFFLINE/);
  assertMatch(
    stdout,
    /Plan: \d+ to create, 0 to update, 0 to replace, 0 to delete\./,
  );
  assertMatch(
    stderr,
    new RegExp(
      `kfplan: kustomize v5\\.7\\.1 not found; downloading ${mirror.url}/${kustomize.file}`,
    ),
  );
  assertMatch(
    stderr,
    new RegExp(
      `kfplan: helm v3\\.19\\.5 not found; downloading ${mirror.url}/${helm.file}`,
    ),
  );
  assertMatch(
    stderr,
    new RegExp(
      `Tools: kustomize 5\\.7\\.1 \\(provisioned, ${cache}/tools/kustomize-v5\\.7\\.1/kustomize\\), ` +
        `helm 3\\.19\\.5 \\(provisioned, ${cache}/tools/helm-v3\\.19\\.5/helm\\)`,
    ),
  );
  // Each archive was fetched once, although several steps use the tools.
  assertEquals(mirror.requests.sort(), [`/${helm.file}`, `/${kustomize.file}`]);
  for (const tool of ["kustomize-v5.7.1/kustomize", "helm-v3.19.5/helm"]) {
    assert(await exists(`${cache}/tools/${tool}`), tool);
  }
});
