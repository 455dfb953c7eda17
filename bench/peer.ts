/**
 * kfplan side by side with the kubeflow/manifests README's loop (issue 11), in one
 * invocation, on fresh test control planes (three kwok nodes as the harness starts
 * them, storage and LoadBalancer addresses played as the Kubeflow integration tests
 * do), for one release with the same settings on both sides: the `kubeflow:` section
 * of `examples/kubeflow-<version>.yaml` plus `exclude` of the webhook configurations
 * (`WEBHOOK_EXCLUDES`: kwok pods serve no admission webhooks).
 *
 *     deno run -A bench/peer.ts [--version v1.10.2|v1.9.1] [--manifests DIR]
 *       [--sizes 500,2000,5000] [--logs DIR]
 *
 * 1. The peer, on a fresh control plane: kfplan's exported overlay for those settings
 *    (`deno task export-overlay --include-secrets`; its `$patch: delete` patches drop
 *    exactly the objects kfplan's `exclude` leaves out) built and applied the way the
 *    manifests README says, `while ! kustomize build DIR | kubectl apply --server-side
 *    --force-conflicts -f -; do sleep 20; done` (the real binaries, a shell pipeline per
 *    pass), then polling until every Deployment is Available. Then one more no-op pass:
 *    `kubectl apply --server-side` of the built objects alone, and with kustomize in
 *    the pipe.
 * 2. `kustomize build <manifests>/<version>/example` alone (the faster of two runs).
 * 3. kfplan, on another fresh control plane, as a user runs it: `deno run -A
 *    tasks/plan.ts --config CFG --out plan.json`, `deno run -A tasks/apply.ts plan.json
 *    --yes` (apply and verify; verify waits for every Deployment Available), then a
 *    no-op `tasks/plan.ts --config CFG` (exit 0 expected). Peak RSS is each deno
 *    process's own VmHWM (kustomize and helm children not included). kfplan's cache
 *    (`KFPLAN_CACHE`) starts empty, so the first plan is a first plan.
 *    `KFPLAN_KUSTOMIZE` is the real kustomize behind a wrapper that logs each
 *    `build`'s span, to show how much of each command is rendering; the apply's
 *    phases (saved-plan check, apply, verify) are read from its progress lines.
 * 4. The engine on synthetic sets of ConfigMaps (over 10 namespaces) on that same
 *    control plane: `planSteps` of one step whose plan is `planObjects` over the set,
 *    with nothing installed, then `applySteps` once, then the no-op re-plan.
 *
 * It prints a Markdown table with the targets of issue 11 and whether each is met; no
 * target is asserted. Child output goes to `--logs DIR` (kept) or a temp dir (removed),
 * each line prefixed with its second. Control planes and temp dirs are removed even on
 * failure.
 *
 * @module
 */

import { minimist } from "../lib/deps.ts";
import { digestOf } from "../lib/engine/digest.ts";
import { applySteps } from "../lib/engine/executor.ts";
import { planSteps } from "../lib/engine/planner.ts";
import { emptyPlan, type Step } from "../lib/engine/types.ts";
import { applyObjects, planObjects } from "../lib/kube/apply_set.ts";
import type { KubeClient, KubeObject } from "../lib/kube/types.ts";
import type { ClusterHandle } from "../tests/cluster/harness.ts";
import {
  type Bench,
  type ChildRun,
  expectExit,
  exportOverlay,
  kubectlLoop,
  loadAverage,
  LOOP,
  newBench,
  type Row,
  runChild,
  s,
  table,
  waitDeploymentsAvailable,
  withCluster,
  writeConfig,
} from "./_peer_run.ts";

const REPO = new URL("..", import.meta.url).pathname;
const AVAILABLE_TIMEOUT_MS = 900_000;

interface PeerResult {
  passes: number;
  failedPasses: string[];
  firstCleanS: number;
  availableS: number;
  deployments: number;
  objects: number;
  kubectlPassS: number;
  pipelinePassS: number;
}

/** A kfplan child run and the seconds its `kustomize build`s took. */
interface KfplanRun extends ChildRun {
  kustomizeS: number;
  kustomizeRuns: number;
}

interface KfplanResult {
  plan: KfplanRun;
  apply: KfplanRun;
  replan: KfplanRun;
  totalS: number;
  /** Seconds from the apply's start to its lock (the saved-plan check), to verify, to the end. */
  applyPhases?: { checkS: number; applyS: number; verifyS: number };
}

interface SyntheticResult {
  size: number;
  firstPlanS: number;
  applyS: number;
  replanS: number;
  replanAction: string;
}

async function noOpPasses(
  bench: Bench,
  env: Record<string, string>,
  overlay: string,
): Promise<{ objects: number; kubectlS: number; pipelineS: number }> {
  const built = `${bench.work}/peer-objects.yaml`;
  const log = `${bench.logs}/peer-build.log`;
  await expectExit(
    runChild("sh", [
      "-c",
      'kustomize build --load-restrictor LoadRestrictionsNone "$1" > "$2"',
      "sh",
      overlay,
      built,
    ], { env, log }),
    { name: "kustomize build", codes: [0], log },
  );
  const objects =
    (await Deno.readTextFile(built)).split("\n").filter((l) =>
      l.startsWith("kind: ")
    ).length;
  const kubectlLog = `${bench.logs}/peer-noop-kubectl.log`;
  const kubectl = await expectExit(
    runChild(`${bench.bin}/kubectl`, [
      "apply",
      "--server-side",
      "--force-conflicts",
      "-f",
      built,
    ], { env, log: kubectlLog }),
    { name: "kubectl apply", codes: [0], log: kubectlLog },
  );
  const pipeLog = `${bench.logs}/peer-noop-pipeline.log`;
  const pipeline = await expectExit(
    runChild("sh", ["-c", LOOP, "sh", overlay], { env, log: pipeLog }),
    { name: "kustomize | kubectl", codes: [0], log: pipeLog },
  );
  return { objects, kubectlS: kubectl.seconds, pipelineS: pipeline.seconds };
}

async function peerSide(bench: Bench): Promise<PeerResult> {
  const overlay = `${bench.work}/peer-overlay`;
  await exportOverlay(bench, overlay);
  return await withCluster(async (cluster) => {
    const env = { ...bench.env, KUBECONFIG: cluster.kubeconfig };
    const start = performance.now();
    const { passes, failed } = await kubectlLoop(bench, overlay, { env });
    const firstCleanS = (performance.now() - start) / 1000;
    const deployments = await waitDeploymentsAvailable(
      cluster.kube,
      AVAILABLE_TIMEOUT_MS,
    );
    const availableS = (performance.now() - start) / 1000;
    const noOp = await noOpPasses(bench, env, overlay);
    return {
      passes,
      failedPasses: failed,
      firstCleanS,
      availableS,
      deployments,
      objects: noOp.objects,
      kubectlPassS: noOp.kubectlS,
      pipelinePassS: noOp.pipelineS,
    };
  });
}

/** `kustomize build example` alone, the faster of two runs. */
async function kustomizeExample(bench: Bench): Promise<number> {
  const times: number[] = [];
  for (let i = 1; i <= 2; i++) {
    const log = `${bench.logs}/kustomize-example-${i}.log`;
    const run = await expectExit(
      runChild("sh", [
        "-c",
        'kustomize build "$1" > /dev/null',
        "sh",
        `${bench.manifests}/${bench.version}/example`,
      ], { env: bench.env, log }),
      { name: "kustomize build example", codes: [0], log },
    );
    times.push(run.seconds);
  }
  return Math.min(...times);
}

/**
 * `$KFPLAN_KUSTOMIZE` for the kfplan side: the real kustomize, with the start and end
 * (ns) of every `build` appended to `log`.
 */
async function timedKustomize(bench: Bench, log: string): Promise<string> {
  const path = `${bench.work}/kustomize-timed`;
  const real = `${bench.bin}/kustomize`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh
[ "$1" = build ] || exec "${real}" "$@"
s=$(date +%s%N); "${real}" "$@"; rc=$?
echo "$s $(date +%s%N)" >> "${log}"; exit $rc
`,
    { mode: 0o755 },
  );
  return path;
}

async function kustomizeSpans(log: string): Promise<number[]> {
  const text = await Deno.readTextFile(log).catch(() => "");
  return text.split("\n").filter(Boolean).map((l) => {
    const [a, b] = l.split(" ").map(Number);
    return (b - a) / 1e9;
  });
}

async function kfplanChild(
  bench: Bench,
  env: Record<string, string>,
  name: string,
  args: string[],
  codes: number[],
): Promise<KfplanRun> {
  const log = `${bench.logs}/kfplan-${name}.log`;
  const builds = `${bench.work}/kustomize-${name}.times`;
  const run = await expectExit(
    runChild(Deno.execPath(), ["run", "-A", ...args], {
      cwd: REPO,
      env: { ...env, KFPLAN_KUSTOMIZE: await timedKustomize(bench, builds) },
      log,
    }),
    { name: `kfplan ${name}`, codes, log },
  );
  const spans = await kustomizeSpans(builds);
  return {
    ...run,
    kustomizeS: spans.reduce((a, b) => a + b, 0),
    kustomizeRuns: spans.length,
  };
}

/** The apply's phases from its progress lines (`[12.3s] ... lock acquired`, `...: verify`). */
async function applyPhases(
  log: string,
  total: number,
): Promise<KfplanResult["applyPhases"]> {
  const lines = (await Deno.readTextFile(log)).split("\n");
  const at = (re: RegExp) => {
    const line = lines.find((l) => re.test(l));
    return line ? Number(/^\[([\d.]+)s\]/.exec(line)?.[1]) : undefined;
  };
  const locked = at(/lock acquired/);
  const verify = at(/: verify$/);
  if (locked === undefined || verify === undefined) return undefined;
  return {
    checkS: locked,
    applyS: verify - locked,
    verifyS: total - verify,
  };
}

async function kfplanSide(
  bench: Bench,
  cluster: ClusterHandle,
): Promise<KfplanResult> {
  const env = { ...bench.env, KUBECONFIG: cluster.kubeconfig };
  const planFile = `${bench.work}/plan.json`;
  const plan = await kfplanChild(bench, env, "plan", [
    "tasks/plan.ts",
    "--config",
    bench.config,
    "--out",
    planFile,
  ], [2]);
  const apply = await kfplanChild(bench, env, "apply", [
    "tasks/apply.ts",
    planFile,
    "--yes",
  ], [0]);
  const replan = await kfplanChild(bench, env, "replan", [
    "tasks/plan.ts",
    "--config",
    bench.config,
  ], [0]);
  return {
    plan,
    apply,
    replan,
    totalS: plan.seconds + apply.seconds,
    applyPhases: await applyPhases(
      `${bench.logs}/kfplan-apply.log`,
      apply.seconds,
    ),
  };
}

function configMaps(size: number): KubeObject[] {
  return Array.from({ length: size }, (_, i) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: `synthetic-${i}`,
      namespace: `synthetic-${size}-${i % 10}`,
      labels: { "app.kubernetes.io/part-of": "kfplan-bench" },
    },
    data: { index: String(i), payload: "x".repeat(200) },
  }));
}

function syntheticStep(size: number, objects: KubeObject[]): Step {
  return {
    id: `synthetic-${size}`,
    title: `${size} ConfigMaps`,
    needs: [],
    options: { size },
    plan: async (ctx) => {
      const planned = await planObjects(ctx.kube, objects);
      return {
        ...emptyPlan(),
        changes: planned.changes,
        observed: planned.observed,
        desired: objects,
        desiredDigest: digestOf(objects),
      };
    },
    apply: async (ctx, plan) => {
      await applyObjects(ctx.kube!, plan.desired ?? objects);
      return {};
    },
    verify: () => Promise.resolve({ checks: [] }),
  };
}

async function synthetic(
  kube: KubeClient,
  size: number,
  work: string,
): Promise<SyntheticResult> {
  for (let i = 0; i < 10; i++) {
    await kube.apply({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: `synthetic-${size}-${i}` },
    });
  }
  const step = syntheticStep(size, configMaps(size));
  const checkpointDir = `${work}/synthetic-${size}`;
  let t = performance.now();
  await planSteps([step], { kube, checkpointDir });
  const firstPlanS = (performance.now() - t) / 1000;
  t = performance.now();
  const applied = await applySteps([step], { kube, checkpointDir });
  const applyS = (performance.now() - t) / 1000;
  if (!applied.ok) throw new Error(`synthetic-${size} apply failed`);
  t = performance.now();
  const { document } = await planSteps([step], { kube, checkpointDir });
  const replanS = (performance.now() - t) / 1000;
  return {
    size,
    firstPlanS,
    applyS,
    replanS,
    replanAction: document.steps[0].action,
  };
}

function peerRows(peer: PeerResult, kustomizeS: number): Row[] {
  return [
    {
      side: "kubectl loop",
      metric: `first clean pass (${peer.objects} objects)`,
      value: `${s(peer.firstCleanS)}, ${peer.passes} passes`,
      ratio: peer.failedPasses.join("; "),
    },
    {
      side: "kubectl loop",
      metric: `every Deployment Available (${peer.deployments})`,
      value: s(peer.availableS),
    },
    {
      side: "kubectl loop",
      metric: "no-op `kubectl apply --server-side` pass",
      value: s(peer.kubectlPassS),
      ratio: `with kustomize in the pipe ${s(peer.pipelinePassS)}`,
    },
    {
      side: "kustomize",
      metric: "`kustomize build example` alone",
      value: s(kustomizeS),
    },
  ];
}

function builds(run: KfplanRun): string {
  return `of which kustomize build ${
    s(run.kustomizeS)
  } (${run.kustomizeRuns}x)`;
}

function kfplanRows(
  kf: KfplanResult,
  peer: PeerResult,
  kustomizeS: number,
): Row[] {
  const firstLimit = 1.3 * kustomizeS + 1;
  const install = kf.totalS / peer.availableS;
  const faster = peer.kubectlPassS / kf.replan.seconds;
  const rss = (name: string, run: ChildRun): Row => ({
    side: "kfplan",
    metric: `peak RSS of ${name}`,
    value: `${Math.round(run.peakRssMb)} MB`,
    target: "≤ 400 MB",
    ratio: `${Math.round(run.peakRssMb)} MB`,
    met: run.peakRssMb <= 400,
  });
  return [
    {
      side: "kfplan",
      metric: "first plan",
      value: s(kf.plan.seconds),
      target: `≤ 1.3 × kustomize build + 1 s = ${s(firstLimit)}`,
      ratio: `${(kf.plan.seconds / kustomizeS).toFixed(2)}x kustomize build; ${
        builds(kf.plan)
      }`,
      met: kf.plan.seconds <= firstLimit,
    },
    {
      side: "kfplan",
      metric: "apply + verify",
      value: s(kf.apply.seconds),
      ratio: kf.applyPhases
        ? `saved-plan check ${s(kf.applyPhases.checkS)}, apply ${
          s(kf.applyPhases.applyS)
        }, verify ${s(kf.applyPhases.verifyS)}; ${builds(kf.apply)}`
        : builds(kf.apply),
    },
    {
      side: "kfplan",
      metric: "plan + apply + verify",
      value: s(kf.totalS),
      target: "≤ 0.5x the loop",
      ratio: `${install.toFixed(2)}x`,
      met: install <= 0.5,
    },
    {
      side: "kfplan",
      metric: "no-op re-plan",
      value: s(kf.replan.seconds),
      target: "≤ 2 s",
      ratio: `${s(kf.replan.seconds)}; ${builds(kf.replan)}`,
      met: kf.replan.seconds <= 2,
    },
    {
      side: "kfplan",
      metric: "no-op re-plan vs kubectl pass",
      value: `${s(kf.replan.seconds)} vs ${s(peer.kubectlPassS)}`,
      target: "≥ 5x faster",
      ratio: `${faster.toFixed(2)}x faster`,
      met: faster >= 5,
    },
    rss("plan", kf.plan),
    rss("apply", kf.apply),
    rss("no-op re-plan", kf.replan),
  ];
}

function syntheticRows(results: SyntheticResult[]): Row[] {
  const rows: Row[] = results.map((r) => ({
    side: "kfplan engine",
    metric: `${r.size} ConfigMaps: plan / apply / no-op re-plan`,
    value: `${s(r.firstPlanS)} / ${s(r.applyS)} / ${s(r.replanS)}`,
    ratio: r.replanAction === "no-op" ? "" : `re-plan is ${r.replanAction}`,
  }));
  const first = results[0];
  const last = results[results.length - 1];
  if (results.length < 2) return rows;
  for (
    const [what, of] of [["first plan", "firstPlanS"], [
      "no-op re-plan",
      "replanS",
    ]] as const
  ) {
    const growth = last[of] / first[of];
    rows.push({
      side: "kfplan engine",
      metric: `${what} growth ${first.size} → ${last.size}`,
      value: `${growth.toFixed(1)}x`,
      target: "≤ 10x",
      ratio: `${growth.toFixed(1)}x`,
      met: growth <= 10,
    });
  }
  return rows;
}

async function run(bench: Bench, sizes: number[]): Promise<Row[]> {
  await writeConfig(bench.config, bench);
  console.error(`[peer] ${bench.version}: the kubectl loop ...`);
  const peer = await peerSide(bench);
  console.error(`[peer] kustomize build example ...`);
  const kustomizeS = await kustomizeExample(bench);
  console.error(`[peer] kfplan ...`);
  const { kf, synth } = await withCluster(async (cluster) => {
    const kf = await kfplanSide(bench, cluster);
    const synth: SyntheticResult[] = [];
    for (const size of sizes) {
      console.error(`[peer] synthetic ${size} ...`);
      synth.push(await synthetic(cluster.kube, size, bench.work));
    }
    return { kf, synth };
  });
  return [
    ...peerRows(peer, kustomizeS),
    ...kfplanRows(kf, peer, kustomizeS),
    ...syntheticRows(synth),
  ];
}

async function main(args: string[]): Promise<number> {
  const flags = minimist(args, {
    string: ["version", "manifests", "sizes", "logs"],
  });
  const version = String(flags.version ?? "v1.10.2");
  const sizes = String(flags.sizes ?? "500,2000,5000").split(",").filter(
    Boolean,
  ).map(Number);
  const bench = await newBench({
    version,
    manifests: flags.manifests,
    logs: flags.logs,
    prefix: "kfplan-bench-peer-",
  });
  const before = loadAverage();
  const started = performance.now();
  try {
    const rows = await run(bench, sizes);
    console.log(
      `kfplan vs the kubectl loop, Kubeflow ${version}, webhook configurations left out on both sides; ` +
        `${navigator.hardwareConcurrency} cores, load average ${before} before, ${loadAverage()} after; ` +
        `${s((performance.now() - started) / 1000)} in all\n`,
    );
    console.log(table(rows));
    return 0;
  } catch (e) {
    console.error(`bench/peer.ts: ${(e as Error).message}`);
    return 1;
  } finally {
    await Deno.remove(bench.work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) main(Deno.args).then(Deno.exit);
