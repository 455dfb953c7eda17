import { assert, assertEquals } from "../_assert.ts";
import {
  type Checkpoint,
  checkpointPath,
  NO_CLUSTER,
} from "../../lib/engine/checkpoint.ts";
import { tempDir } from "../_shared.ts";

const script =
  new URL("../fixtures/engine/marker_apply.ts", import.meta.url).pathname;
const config = new URL("../../deno.json", import.meta.url).pathname;

/**
 * Runs the marker apply; its scratch directories go under `tmp` (TMPDIR), inside the
 * test's temporary directory: a SIGKILLed apply cannot remove its own.
 */
function start(
  dir: string,
  log: string,
  sleepMs: number,
  tmp: string,
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", config, script, dir, log, String(sleepMs)],
    env: { TMPDIR: tmp },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function readCp(path: string): Promise<Checkpoint | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return undefined;
  }
}

function verifiedIds(cp: Checkpoint | undefined): string[] {
  return Object.entries(cp?.steps ?? {}).filter(([, s]) =>
    s.status === "verified"
  ).map(([id]) => id).sort();
}

Deno.test("an apply killed with SIGKILL resumes without re-running verified steps", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const scratch = `${dir}/tmp`;
  await Deno.mkdir(scratch);
  const cpPath = checkpointPath(`${dir}/cp`, NO_CLUSTER);
  const firstLog = `${dir}/first.log`;
  const child = start(`${dir}/cp`, firstLog, 400, scratch);
  // Wait until some, but not all, steps are verified; bounded by a generous deadline so a
  // broken executor fails the test instead of hanging it.
  const deadline = Date.now() + 60_000;
  let before: string[] = [];
  while (Date.now() < deadline) {
    before = verifiedIds(await readCp(cpPath));
    if (before.length >= 2) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  const status = await child.status;
  assertEquals(status.signal, "SIGKILL");
  const killed = await readCp(cpPath);
  before = verifiedIds(killed);
  assert(
    before.length >= 2 && before.length < 6,
    `verified at kill: ${before}`,
  );
  const interrupted = Object.entries(killed!.steps)
    .filter(([, s]) => s.status === "applying" || s.status === "applied")
    .map(([id]) => id);

  const secondLog = `${dir}/second.log`;
  const resumed = await start(`${dir}/cp`, secondLog, 10, scratch).output();
  assertEquals(resumed.code, 0, new TextDecoder().decode(resumed.stderr));
  const summary = JSON.parse(
    new TextDecoder().decode(resumed.stdout).trim().split("\n").pop()!,
  );
  assertEquals([...summary.skipped].sort(), before);
  const reapplied = (await Deno.readTextFile(secondLog)).split("\n")
    .filter((l) => l.startsWith("apply:")).map((l) => l.slice(6)).sort();
  // Nothing verified before the kill ran again; everything else (including the steps
  // interrupted mid-apply) did.
  for (const id of before) {
    assert(!reapplied.includes(id), `${id} was re-applied`);
  }
  assertEquals([...before, ...reapplied].sort(), [
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
  ]);
  for (const id of interrupted) {
    assert(reapplied.includes(id), `${id} was interrupted but not re-applied`);
  }
  assertEquals(verifiedIds(await readCp(cpPath)), [
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
  ]);
});
