// A script in another project imports kfplan, as a user's automation would: its own
// directory and `deno.json` (with mappings of its own that must not leak into
// kfplan's modules), kfplan's `mod.ts` by absolute path or `file://` URL, the shipped
// example composed with a step of its own whose schema uses kfplan's `z`, planned
// offline by a child `deno run` exactly as `deno task plan --json` would.
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parsePlanDocument } from "../../lib/engine/plan_document.ts";
import { binDir } from "../cluster/harness.ts";

const MOD = fileURLToPath(new URL("../../mod.ts", import.meta.url));
const EXAMPLE = fileURLToPath(
  new URL("../../examples/kfplan.yaml", import.meta.url),
);
const STEP_ID = "external-banner";

/** The user's script, importing kfplan from `specifier`. */
function userScript(specifier: string): string {
  return `import {
  composeFromConfig,
  defineStep,
  emptyPlan,
  planCommand,
  z,
} from ${JSON.stringify(specifier)};

const bannerSchema = z.object({ text: z.string().min(1) }).strict();

const banner = defineStep({
  id: ${JSON.stringify(STEP_ID)},
  title: "A banner from another project",
  needs: ["kubeflow"],
  schema: bannerSchema,
  options: { text: "hello from outside" },
  plan: async (_ctx, o) => ({
    ...emptyPlan(),
    changes: [{
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: "kubeflow",
      name: "banner",
      action: "create",
      diff: [],
    }],
    facts: { text: o.text },
  }),
  apply: async (_ctx, _plan, o) => ({ text: o.text }),
  verify: async () => ({ checks: [{ name: "banner shown", ok: true }] }),
});

Deno.exit(
  await planCommand(Deno.args, {
    compose: async (path) => {
      const base = await composeFromConfig(path);
      return { ...base, steps: [...base.steps, banner] };
    },
  }),
);
`;
}

/** Where kustomize and helm are: the test run's bin dir, else the cached build. */
async function toolDir(): Promise<string> {
  return Deno.env.get("KFPLAN_TEST_BIN_DIR") ?? await binDir();
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  args: string[],
  options: { cwd: string; home: string },
): Promise<Run> {
  const env: Record<string, string> = {
    // No kubeconfig anywhere: the plan is offline.
    HOME: options.home,
    KUBECONFIG: "",
    PATH: `${await toolDir()}:${Deno.env.get("PATH") ?? ""}`,
    NO_COLOR: "1",
    // The Deno cache lives under the real HOME unless DENO_DIR says otherwise.
    DENO_DIR: Deno.env.get("DENO_DIR") ??
      join(Deno.env.get("HOME") ?? "", ".cache", "deno"),
  };
  for (const name of ["KFPLAN_KUSTOMIZE", "KFPLAN_HELM", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value) env[name] = value;
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/**
 * A project directory of the user's own: a `deno.json` whose import map points
 * `zod` and `yaml` at a module that throws, so kfplan resolving either bare name
 * through the script's map (instead of its own pinned dependencies) fails loudly.
 */
async function userProject(specifier: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "kfplan-external-" });
  await Deno.mkdir(join(dir, "home"));
  await Deno.writeTextFile(
    join(dir, "deno.json"),
    JSON.stringify(
      { imports: { zod: "./trap.ts", yaml: "./trap.ts" } },
      null,
      2,
    ),
  );
  await Deno.writeTextFile(
    join(dir, "trap.ts"),
    'throw new Error("kfplan resolved a bare specifier through the importing project\'s deno.json");\n',
  );
  await Deno.writeTextFile(join(dir, "plan.ts"), userScript(specifier));
  return dir;
}

async function planFromOutside(specifier: string): Promise<void> {
  const dir = await userProject(specifier);
  try {
    const home = join(dir, "home");
    const result = await run(
      ["run", "-A", "plan.ts", "--json", "--config", EXAMPLE],
      { cwd: dir, home },
    );
    // Exactly 2: changes planned. 1 would be an error (an import that did not
    // resolve, a step that could not be planned), 0 a plan without the new step.
    assertEquals(result.code, 2, result.stderr);
    const doc = parsePlanDocument(result.stdout, { source: "plan.ts --json" });
    assertEquals(doc.cluster.offline, true);
    assertEquals(doc.summary.errors, 0);
    const ids = doc.steps.map((s) => s.id);
    assert(ids.includes("kubeflow"), `shipped steps planned: ${ids}`);
    const step = doc.steps.find((s) => s.id === STEP_ID);
    assert(step, `${STEP_ID} in the plan: ${ids}`);
    assertEquals(step.needs, ["kubeflow"]);
    assertEquals(
      step.changes.map((c) => `${c.action} ${c.kind} ${c.namespace}/${c.name}`),
      ["create ConfigMap kubeflow/banner"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a script in another project imports mod.ts by absolute path, composes the example with its own step and plans it", async () => {
  await planFromOutside(MOD);
});

Deno.test("a script in another project imports mod.ts by file:// URL and plans the same way", async () => {
  const specifier = pathToFileURL(MOD).href;
  assertMatch(specifier, /^file:\/\/\//);
  await planFromOutside(specifier);
});

Deno.test("the public API type-checks from another project: a step schema from kfplan's z fits defineStep", async () => {
  const dir = await userProject(MOD);
  try {
    const result = await run(["check", "plan.ts"], {
      cwd: dir,
      home: join(dir, "home"),
    });
    assertEquals(result.code, 0, result.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
