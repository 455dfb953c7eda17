// `deno task plan` as a user runs it on a fresh clone: no kubeconfig, the example
// configuration, offline. Runs the real task entry point in a subprocess.
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { parsePlanDocument } from "../../lib/engine/plan_document.ts";
import { tempDir } from "../_shared.ts";

const root = new URL("../../", import.meta.url).pathname;

async function runPlan(args: string[], home: string) {
  const env: Record<string, string> = {
    HOME: home,
    PATH: Deno.env.get("PATH") ?? "",
    NO_COLOR: "1",
  };
  for (
    const k of ["DENO_DIR", "KFPLAN_KUSTOMIZE", "KFPLAN_HELM", "XDG_CACHE_HOME"]
  ) {
    const v = Deno.env.get(k);
    if (v) env[k] = v;
  }
  // The Deno cache lives under the real HOME unless DENO_DIR says otherwise.
  env.DENO_DIR ??= `${Deno.env.get("HOME")}/.cache/deno`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/plan.ts", ...args],
    cwd: root,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("deno task plan works offline on a fresh clone and --json writes a valid document", async () => {
  await using home = await tempDir("kfplan-plan-home-");
  await planOffline(home.path);
});

async function planOffline(home: string): Promise<void> {
  const human = await runPlan([], home);
  assertMatch(human.stdout, /Planned OFFLINE \(no kubeconfig/);
  assertMatch(
    human.stdout,
    /Plan: \d+ to create, 0 to update, 0 to replace, 0 to delete\./,
  );
  const json = await runPlan(["--json"], home);
  const doc = parsePlanDocument(json.stdout, {
    source: "deno task plan --json",
  });
  assertEquals(doc.cluster.offline, true);
  assert(doc.steps.length > 0);
  assert(doc.summary.create > 0, "offline, every object is created");
  assertEquals(
    doc.summary.update + doc.summary.delete + doc.summary.replace,
    0,
  );
  // The shipped example plans without errors on a fresh clone: exit 2 (changes),
  // never 1, for both outputs.
  assertEquals(doc.summary.errors, 0, json.stderr);
  assertEquals(json.code, 2, json.stderr);
  assertEquals(human.code, 2, human.stderr);
}
