/**
 * Runs the bad-input corpus (`cases.ts`, `_library_cases.ts`) against a private
 * control plane with the API server's audit log on. For every case: the command exits
 * 1, its output names the config file, the field path and the case's words, no secret
 * value appears in it, and the corpus user made no write request at all: not even a
 * server-side dry run (a refused command has nothing to diff). The baselines may dry
 * run; they must not write either.
 *
 * Before the cases: the audit log is shown to catch a write, and every baseline the
 * cases break is shown to plan without error, so each case fails for the one thing it
 * breaks.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "../_assert.ts";
import { applyCommand } from "../../lib/cli/apply.ts";
import { planCommand } from "../../lib/cli/plan.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { SessionOptions } from "../../lib/cli/session.ts";
import { createKubeClient } from "../../lib/kube/client.ts";
import { describeWrites, writesSince } from "./_audit.ts";
import { auditMark } from "./_audit.ts";
import {
  CORPUS_USER,
  type CorpusCluster,
  startCorpusCluster,
} from "./_cluster.ts";
import { CASES, type CorpusCase } from "./cases.ts";
import { LIBRARY_CASES, type LibraryCase } from "./_library_cases.ts";

const here = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(here, "../..");
const SHARED = resolve(REPO, "../shared");

/**
 * The secrets the cases read, under names nothing else uses (the environment is the
 * process's, shared with other test files running in parallel). None may appear in
 * any output.
 */
const SECRETS: Record<string, string> = {
  KFPLAN_CORPUS_OIDC_SECRET: "corpus-oidc-client-secret-0451",
  KFPLAN_CORPUS_ALICE_PASSWORD: "corpus-alice-password-0451",
  KFPLAN_CORPUS_GITHUB_SECRET: "corpus-github-client-secret-0451",
  KFPLAN_CORPUS_COOKIE_SECRET: "corpus-cookie-secret-32-bytes-01",
  KFPLAN_CORPUS_COOKIE_20: "corpus-cookie-20-byt",
  KFPLAN_CORPUS_OTHER_SECRET: "corpus-other-client-secret-0451",
  KFPLAN_CORPUS_LONG_PASSWORD: "corpus-long-password-" + "z".repeat(60),
};

/** Baselines planned against the cluster; each must plan without error. */
const BASELINES = ["cluster", "storage", "metallb", "kubeflow", "users", "gpu"];

/** Fills in the placeholders of a case file. */
function instantiate(text: string): string {
  return text.replaceAll("@SHARED@", SHARED).replaceAll("@REPO@", REPO);
}

/** Copies a case (config and extra files) into a fresh directory. */
async function prepareCase(
  file: string,
  files: Record<string, string | null> = {},
): Promise<{ dir: string; config: string }> {
  const dir = await Deno.makeTempDir({ prefix: "kfplan-corpus-" });
  const config = join(dir, "kfplan.yaml");
  await Deno.writeTextFile(
    config,
    instantiate(await Deno.readTextFile(join(here, file))),
  );
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    await Deno.mkdir(dirname(path), { recursive: true });
    if (name.endsWith("/")) await Deno.mkdir(path, { recursive: true });
    else await Deno.writeTextFile(path, content ?? "");
  }
  return { dir, config };
}

interface Run {
  code: number;
  output: string;
  writes: Awaited<ReturnType<typeof writesSince>>;
}

/** Runs one command as a user would (flags, captured output) and collects its writes. */
async function run(
  cluster: CorpusCluster,
  command: "plan" | "apply",
  argv: string[],
  session: SessionOptions = {},
): Promise<Run> {
  const io = capturedIO();
  const mark = await auditMark(cluster.auditLog);
  const code = command === "plan"
    ? await planCommand(argv, { ...session, io })
    : await applyCommand([...argv, "--yes"], { ...session, io });
  const writes = await writesSince(cluster.auditLog, mark, CORPUS_USER);
  return { code, output: io.stdout() + io.stderr(), writes };
}

/** The assertions every refused case shares. */
function assertRefused(
  r: Run,
  expected: { exit: number; words: string[]; absent?: string[] },
): void {
  const show = `\n--- output ---\n${r.output}`;
  assertEquals(r.code, expected.exit, `exit code${show}`);
  for (const word of expected.words) {
    assert(
      r.output.includes(word),
      `output lacks ${JSON.stringify(word)}${show}`,
    );
  }
  for (const secret of [...Object.values(SECRETS), ...expected.absent ?? []]) {
    assert(
      !r.output.includes(secret),
      `output shows the secret ${
        JSON.stringify(secret.slice(0, 12))
      }...${show}`,
    );
  }
  assertEquals(
    r.writes.length,
    0,
    `a refused run wrote to the cluster:\n${describeWrites(r.writes)}${show}`,
  );
}

async function runCase(cluster: CorpusCluster, c: CorpusCase): Promise<void> {
  const { dir, config } = await prepareCase(`cases/${c.file}`, c.files);
  try {
    // The file the error must name: the saved plan, the --config given, or the config.
    const named = c.planFile
      ? join(dir, c.planFile)
      : c.configArg
      ? join(dir, c.configArg)
      : config;
    const argv = [
      ...(c.planFile ? [join(dir, c.planFile)] : []),
      "--config",
      c.configArg ? join(dir, c.configArg) : config,
      "--kubeconfig",
      cluster.kubeconfig,
      "--checkpoint",
      join(dir, ".kfplan"),
    ];
    const r = await run(cluster, c.command, argv);
    assertRefused(r, {
      exit: c.exit,
      // The file the problem is in, then the field in it, then what is wrong.
      words: [named, c.path, ...c.words],
      absent: c.absent,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function runLibraryCase(
  cluster: CorpusCluster,
  c: LibraryCase,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kfplan-corpus-lib-" });
  try {
    const r = await run(
      cluster,
      c.command,
      ["--kubeconfig", cluster.kubeconfig, "--checkpoint", dir],
      { compose: () => Promise.resolve({ steps: c.steps() }) },
    );
    assertRefused(r, c);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bad-input corpus: every case is refused naming its field, and writes nothing", async (t) => {
  for (const [name, value] of Object.entries(SECRETS)) {
    Deno.env.set(name, value);
  }
  const cluster = await startCorpusCluster();
  try {
    // kubeflow's preflight wants a default StorageClass (the baseline has no storage
    // section); made by the admin user, so it is not the corpus user's write.
    await cluster.handle.kube.apply({
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: {
        name: "corpus-default",
        annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
      },
      provisioner: "example.com/none",
    });

    await t.step(
      "the audit log records the corpus user's writes, dry runs apart, and no one else's",
      async () => {
        const kube = createKubeClient({ kubeconfig: cluster.kubeconfig });
        try {
          const mark = await auditMark(cluster.auditLog);
          const cm = {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "corpus-audit-probe", namespace: "default" },
            data: { a: "1" },
          };
          await kube.apply(cm);
          await cluster.handle.kube.apply({
            ...cm,
            metadata: { ...cm.metadata, name: "corpus-audit-admin" },
          });
          const writes = await writesSince(cluster.auditLog, mark, CORPUS_USER);
          const real = writes.filter((w) => !w.dryRun);
          assertEquals(real.length, 1, describeWrites(writes));
          assertEquals(real[0].verb, "patch");
          assert(real[0].requestURI.includes("/configmaps/corpus-audit-probe"));
          // The admin's write is in the log too, under its own user.
          assert(
            (await writesSince(cluster.auditLog, mark, "kfplan-admin")).some(
              (w) => w.requestURI.includes("corpus-audit-admin"),
            ),
          );
        } finally {
          kube.close();
        }
      },
    );

    await t.step(
      "the same detector sees a library step's apply (the positive control)",
      async () => {
        const dir = await Deno.makeTempDir({ prefix: "kfplan-corpus-lib-" });
        try {
          const r = await run(
            cluster,
            "apply",
            ["--kubeconfig", cluster.kubeconfig, "--checkpoint", dir],
            {
              compose: async () => ({
                steps: [(await import("./_library_cases.ts")).writerStep("ok")],
              }),
              lock: { name: "kfplan-corpus-control" },
            },
          );
          assertEquals(r.code, 0, r.output);
          const real = r.writes.filter((w) => !w.dryRun);
          assert(
            real.some((w) => w.requestURI.includes("/configmaps/corpus-ok")),
            describeWrites(r.writes),
          );
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );

    for (const base of BASELINES) {
      await t.step(
        `baseline ${base}.yaml plans without error and writes nothing`,
        async () => {
          const { dir, config } = await prepareCase(`baselines/${base}.yaml`);
          try {
            const r = await run(cluster, "plan", [
              "--config",
              config,
              "--kubeconfig",
              cluster.kubeconfig,
              "--checkpoint",
              join(dir, ".kfplan"),
            ]);
            assert(r.code === 0 || r.code === 2, `exit ${r.code}\n${r.output}`);
            const real = r.writes.filter((w) => !w.dryRun);
            assertEquals(real.length, 0, describeWrites(real));
          } finally {
            await Deno.remove(dir, { recursive: true });
          }
        },
      );
    }

    await t.step(
      "baseline kubeflow161.yaml plans offline (it is refused only by Kubernetes 1.33)",
      async () => {
        const { dir, config } = await prepareCase("baselines/kubeflow161.yaml");
        try {
          const r = await run(
            cluster,
            "plan",
            ["--config", config, "--checkpoint", join(dir, ".kfplan")],
            { connect: () => Promise.resolve({ offline: "corpus baseline" }) },
          );
          assertEquals(r.code, 2, r.output);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );

    for (const c of CASES) {
      await t.step(
        `${c.file} (${c.command}): ${c.path}`,
        () => runCase(cluster, c),
      );
    }
    for (const c of LIBRARY_CASES) {
      await t.step(
        `library: ${c.name} (${c.command})`,
        () => runLibraryCase(cluster, c),
      );
    }
  } finally {
    await cluster.handle.stop();
    for (const name of Object.keys(SECRETS)) Deno.env.delete(name);
  }
});
