import { fileURLToPath } from "node:url";
import { assertEquals, assertMatch, assertRejects } from "../_assert.ts";
import {
  FixtureNotFoundError,
  fixtureRunner,
  listHostDir,
  localRunner,
  readHostFile,
  recordingRunner,
  shellQuote,
  sshRunner,
} from "../../lib/tools/host.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/host/", import.meta.url));

Deno.test("local runner: exit codes, output, and 127 for a missing program", async () => {
  const runner = localRunner();
  const ok = await runner.run(["sh", "-c", "echo out; echo err >&2; exit 3"]);
  assertEquals(ok, { code: 3, stdout: "out\n", stderr: "err\n" });
  const missing = await runner.run(["kfplan-no-such-program-xyz"]);
  assertEquals(missing.code, 127);
  assertMatch(missing.stderr, /command not found/);
});

Deno.test("local runner: timeout kills the command and reports 124", async () => {
  const r = await localRunner().run(["sleep", "5"], { timeoutMs: 100 });
  assertEquals(r.code, 124);
  assertMatch(r.stderr, /timed out/);
});

Deno.test("shellQuote survives a POSIX shell", async () => {
  const args = ["plain", "with space", "it's", "$HOME", 'a"b'];
  const r = await localRunner().run([
    "sh",
    "-c",
    `printf '%s\\n' ${args.map(shellQuote).join(" ")}`,
  ]);
  assertEquals(r.stdout, args.map((a) => `${a}\n`).join(""));
});

Deno.test("ssh runner passes a quoted command line to ssh in batch mode", async () => {
  // `echo` stands in for ssh so the argv ssh would receive can be inspected.
  const runner = sshRunner("gpu-1", {
    user: "ubuntu",
    port: 2222,
    ssh: "echo",
  });
  assertEquals(runner.target, "ssh:gpu-1");
  const r = await runner.run(["cat", "/etc/my file"]);
  assertEquals(
    r.stdout,
    "-o BatchMode=yes -o ConnectTimeout=10 -p 2222 ubuntu@gpu-1 -- cat '/etc/my file'\n",
  );
});

Deno.test("fixture runner replays commands, files and directory listings", async () => {
  const runner = await fixtureRunner(FIXTURES + "containerd-v3-dropin");
  assertEquals(runner.target, "fixture:containerd-v3-dropin");
  const ctk = await runner.run(["nvidia-ctk", "--version"]);
  assertEquals(ctk.code, 0);
  assertMatch(ctk.stdout, /version 1\.18\.0/);
  assertEquals((await runner.run(["nvidia-smi", "-L"])).code, 127);
  const file = await readHostFile(runner, "/etc/containerd/config.toml");
  assertMatch(file.text!, /version = 3/);
  const missing = await readHostFile(runner, "/etc/docker/daemon.json");
  assertEquals(missing.text, undefined);
  assertMatch(missing.error!, /No such file/);
  assertEquals(await listHostDir(runner, "/etc/containerd/conf.d"), [
    "99-nvidia.toml",
  ]);
  assertEquals(await listHostDir(runner, "/nope"), undefined);
});

Deno.test("recording runner: a recorded host replays to the same host-check report", async () => {
  const { inspectNvidiaHost } = await import(
    "../../lib/steps/nvidia_toolkit.ts"
  );
  for (
    const name of ["containerd-v3-dropin", "k3s-template", "driver-not-loaded"]
  ) {
    const original = await fixtureRunner(FIXTURES + name);
    const recorder = recordingRunner(original);
    const first = await inspectNvidiaHost("n", recorder, {
      cudaVersion: "12.4",
    });
    const dir = await Deno.makeTempDir();
    try {
      await recorder.save(dir);
      const replayed = await inspectNvidiaHost("n", await fixtureRunner(dir), {
        cudaVersion: "12.4",
      });
      assertEquals(replayed.findings, first.findings, name);
      assertMatch(
        await Deno.readTextFile(`${dir}/commands.yaml`),
        /Recorded from fixture:/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("fixture runner: a missing directory or one without commands.yaml is refused, not a bare host", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = await assertRejects(
      () => fixtureRunner(`${dir}/no-such-host`),
      FixtureNotFoundError,
    );
    assertMatch(missing.message, /^no recorded host at .*\/no-such-host \(/);
    assertEquals(missing.dir, `${dir}/no-such-host`);
    await Deno.mkdir(`${dir}/files-only/files`, { recursive: true });
    const bare = await assertRejects(
      () => fixtureRunner(`${dir}/files-only`),
      FixtureNotFoundError,
    );
    assertMatch(bare.message, /files-only has no commands\.yaml/);
    // An empty recording is still a recording.
    await Deno.writeTextFile(`${dir}/files-only/commands.yaml`, "[]\n");
    const runner = await fixtureRunner(`${dir}/files-only`);
    assertEquals((await runner.run(["nvidia-smi"])).code, 127);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
