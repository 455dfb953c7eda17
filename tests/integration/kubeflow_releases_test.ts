/**
 * Every shared kubeflow/manifests release plans (offline) with its example settings
 * (`examples/kubeflow-v*.yaml`), recognized from what it renders; a synthetic fork of
 * v1.10.2 whose `example/` and component directories moved and were renamed (same
 * objects, other files) gives the same plan as the original; and whole components
 * are left out as the render shows them.
 *
 * Prints, per release, what was recognized, the object counts and the plan time
 * (never asserted).
 */
import { dirname, join } from "node:path";
import { parseYaml as parse, stringifyYaml } from "../../lib/deps.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { SecretDigester } from "../../lib/engine/secret_digest.ts";
import { serializePlanDocument } from "../../lib/engine/plan_document.ts";
import { kubeflowStep } from "../../lib/steps/kubeflow/step.ts";
import { kubeflowPlatformSteps } from "../../plans/platform.ts";
import {
  nonDefaultOptions,
  plantedEnv,
  tree,
} from "../steps/kubeflow/_fixtures.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url).pathname;

const RELEASES = [
  ["v1.5.0", "oidc-authservice", "1.11.4"],
  ["v1.6.1", "oidc-authservice", "1.14.1"],
  ["v1.7.0", "oidc-authservice", "1.16.0"],
  ["v1.9.1", "oauth2-proxy", "1.22.1"],
  ["v1.10.2", "oauth2-proxy", "1.26.1"],
  ["v1.11.0", "oauth2-proxy", "1.28.0"],
] as const;

for (const [version, auth, istio] of RELEASES) {
  Deno.test(`kubeflow ${version}: examples/kubeflow-${version}.yaml plans offline, recognized from the render`, async () => {
    const file = `${EXAMPLES}kubeflow-${version}.yaml`;
    const doc = parse(await Deno.readTextFile(file));
    const steps = kubeflowPlatformSteps(doc, {
      source: file,
      baseDir: EXAMPLES,
      env: {},
    });
    const start = performance.now();
    const { document } = await planSteps(steps, {});
    const seconds = (performance.now() - start) / 1000;
    const kf = document.steps.find((s) => s.id === "kubeflow")!;
    assertEquals(kf.error, undefined, kf.error);
    const facts = kf.facts ?? {};
    assertEquals(facts.version, version);
    assertEquals(facts.auth, auth);
    const recognized = facts.recognized as string[];
    assertMatch(recognized[0], new RegExp(`^auth proxy: ${auth} \\(`));
    assert(
      recognized.some((f) => f.startsWith(`istio: ${istio} (`)),
      recognized.join("\n"),
    );
    assertEquals(facts.objects, kf.changes.length);
    console.log(
      `[release] ${version}: ${kf.changes.length} objects planned, ${facts.excluded} excluded, plan ${
        seconds.toFixed(1)
      } s; kubernetes ${facts.kubernetes}; components ${
        JSON.stringify(facts.components)
      }\n  ${recognized.join("\n  ")}`,
    );
  });
}

/** Renames path segments in a relative path, and moves `example/` two levels down. */
const RENAMES: Record<string, string> = {
  common: "platform",
  applications: "apps-fork",
  dex: "identity-dex",
  centraldashboard: "dashboard-ui",
};

function renamePath(path: string): string {
  return path.split("/").map((s) => RENAMES[s] ?? s).join("/");
}

function rewriteRefs(value: unknown): unknown {
  if (typeof value === "string") {
    return value.startsWith("../") ? renamePath(value) : value;
  }
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, rewriteRefs(v)]),
    );
  }
  return value;
}

/**
 * A fork of `from` in `to`: `example/` moved to `deploy/full/`, `common/` and
 * `applications/` renamed, Dex's and the dashboard's directories renamed, every
 * kustomization's relative references rewritten to match. Same objects, other files.
 */
async function makeFork(from: string, to: string): Promise<void> {
  await new Deno.Command("cp", { args: ["-R", `${from}/.`, to] }).output();
  // Directory renames, deepest first.
  for (const dir of ["common/dex", "applications/centraldashboard"]) {
    const [parent, name] = [dirname(dir), dir.split("/").pop()!];
    await Deno.rename(join(to, dir), join(to, parent, RENAMES[name]));
  }
  await Deno.rename(join(to, "common"), join(to, "platform"));
  await Deno.rename(join(to, "applications"), join(to, "apps-fork"));
  await Deno.mkdir(join(to, "deploy"));
  await Deno.rename(join(to, "example"), join(to, "deploy/full"));
  async function walk(dir: string): Promise<void> {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) await walk(path);
      else if (e.name === "kustomization.yaml") {
        let doc = rewriteRefs(parse(await Deno.readTextFile(path)));
        if (path === join(to, "deploy/full/kustomization.yaml")) {
          const k = doc as Record<string, unknown>;
          for (const field of ["resources", "components"]) {
            k[field] = (k[field] as string[] | undefined)?.map((r) =>
              r.startsWith("../") ? `../${r}` : r
            );
            if (k[field] === undefined) delete k[field];
          }
          doc = k;
        }
        await Deno.writeTextFile(path, stringifyYaml(doc));
      }
    }
  }
  await walk(to);
}

/** The plan document without what names files or times. */
function comparable(json: string, roots: string[]): unknown {
  let text = json;
  for (const r of roots) text = text.replaceAll(r, "<tree>");
  const doc = JSON.parse(text);
  delete doc.created_at;
  for (const s of doc.steps) {
    delete s.options;
    delete s.options_digest;
  }
  return doc;
}

Deno.test("a fork whose example/ and component directories moved and were renamed gets the same plan as the release", async () => {
  const fork = await Deno.makeTempDir({ prefix: "kfplan-fork-" });
  try {
    await makeFork(tree("v1.10.2"), fork);
    const plan = async (input: ReturnType<typeof nonDefaultOptions>) => {
      const step = kubeflowStep(input, { env: plantedEnv() });
      const start = performance.now();
      // One key for both plans, so that their keyed digests compare.
      const { document } = await planSteps([step], {
        digester: new SecretDigester(new Uint8Array(32).fill(7)),
      });
      console.log(
        `[timing] plan of ${input.manifests}: ${
          ((performance.now() - start) / 1000).toFixed(1)
        } s`,
      );
      assertEquals(document.steps[0].error, undefined, document.steps[0].error);
      return serializePlanDocument(document);
    };
    const original = await plan(nonDefaultOptions("v1.10.2"));
    const forked = await plan({
      ...nonDefaultOptions("v1.10.2"),
      manifests: fork,
      entry: "deploy/full",
    });
    const a = comparable(original, [tree("v1.10.2")]);
    const b = comparable(forked, [fork]);
    assertEquals(b, a);
    console.log(
      `[fork] plan diff between v1.10.2 and its fork (paths, times and options removed): ${
        JSON.stringify(a) === JSON.stringify(b) ? "empty" : "DIFFERENT"
      }`,
    );
  } finally {
    await Deno.remove(fork, { recursive: true });
  }
});

Deno.test("components: whole components leave the plan as recognized, a needed one cannot leave alone, external ones are named for the cluster check", async () => {
  const planFor = async (components: Record<string, string[]>) => {
    const step = kubeflowStep({
      ...nonDefaultOptions("v1.10.2"),
      components,
    }, { env: plantedEnv(), source: "kfplan.yaml", prefix: ["kubeflow"] });
    return (await planSteps([step], {})).document.steps[0];
  };
  const alone = await planFor({ exclude: ["knative"] });
  assertMatch(
    alone.error ?? "",
    /kubeflow\.components\.exclude: knative cannot be left out alone: kserve needs it/,
  );
  const all = await planFor({ exclude: [] });
  const less = await planFor({
    exclude: ["knative", "kserve", "katib", "spark"],
    external: ["cert-manager"],
  });
  assertEquals(less.error, undefined, less.error);
  const leftOut = less.facts?.componentsLeftOut as Record<string, number>;
  const found = all.facts?.components as Record<string, number>;
  for (const id of ["knative", "kserve", "katib", "spark", "cert-manager"]) {
    assertEquals(leftOut[id], found[id], id);
  }
  const total = Object.values(leftOut).reduce((a, b) => a + b, 0);
  assertEquals(less.changes.length, all.changes.length - total);
  for (const c of less.changes) {
    assert(
      !/^(knative|kserve|katib|spark-operator|cert-manager)/.test(c.name) ||
        c.kind === "ClusterIssuer",
      `${c.kind} ${c.name} should have been left out`,
    );
  }
  assert(
    less.warnings.some((w) =>
      w.startsWith(
        "external components' CRDs are checked against the cluster",
      ) &&
      w.includes("certificates.cert-manager.io")
    ),
    less.warnings.join("\n"),
  );
  console.log(
    `[components] v1.10.2: ${all.changes.length} objects; without knative, kserve, katib, spark and cert-manager (external): ${less.changes.length}; left out ${
      JSON.stringify(leftOut)
    }`,
  );
});
