/**
 * Day two side by side (issue 9): an in-place upgrade and a destroy, each done the way
 * a user of the kubeflow/manifests README would do it and the kfplan way, in one
 * invocation, each side on a fresh test control plane (three kwok nodes, storage and
 * LoadBalancer addresses played as in the Kubeflow integration tests), with the same
 * settings on both sides: the `kubeflow:` section of
 * `examples/kubeflow-<version>.yaml` plus `exclude` of the webhook configurations, as
 * `bench/peer.ts` does (kwok pods serve no admission webhooks).
 *
 *     deno run -A bench/day_two.ts [--from v1.9.1] [--to v1.10.2]
 *       [--version v1.10.2] [--part all|upgrade|destroy] [--manifests DIR] [--logs DIR]
 *
 * Upgrade (`--from` then `--to`):
 * - The peer: kfplan's exported overlay of `--from` installed with the README's loop
 *   (`while ! kustomize build DIR | kubectl apply --server-side --force-conflicts -f
 *   -; do sleep 20; done`) until every Deployment is Available; then, timed, the same
 *   loop over the overlay of `--to` and the wait until every Deployment has rolled
 *   out (Available, its generation observed, every replica updated). A pass that fails
 *   because an immutable field changed (a RoleBinding's `roleRef`, a selector) never
 *   gets through by looping: the bench does what the user must, `kubectl delete` of
 *   the named object, and counts it. Afterwards: the objects the `--from` overlay
 *   renders and the `--to` overlay does not that are still in the cluster (what a
 *   fresh `--to` install would not have).
 * - kfplan: `deno task plan --out` + `deno task apply plan.json --yes` of `--from`,
 *   then, timed, the same with the config's release changed to `--to`, and the same
 *   rollout wait. Reported: the upgrade plan's counts and the same leftover count.
 *
 * Destroy (`--version`, after an install of it both ways):
 * - The peer: `kustomize build DIR | kubectl delete --ignore-not-found --wait -f -`
 *   (what the manifests README's install inverts to; kubectl has no inventory, so
 *   `kubectl apply --prune` cannot remove a whole install).
 * - kfplan: `deno task destroy --yes --json`.
 * Reported: wall times, the ratio, and what each left behind of the rendered objects
 * (PVCs and namespaces counted apart: kfplan keeps data holders, the peer deletes
 * them), and where kfplan's destroy time goes (per delete class, from its events).
 *
 * It prints a Markdown table. Child output goes to `--logs DIR` (kept) or a temp dir
 * (removed), each line prefixed with its second. Control planes and temp dirs are
 * removed even on failure. Only one such run at a time: it is heavy (~15 min).
 *
 * @module
 */

import { minimist, parseAllDocuments } from "../lib/deps.ts";
import { objectName, type ObjectRef, refOf } from "../lib/kube/object_ref.ts";
import { deleteClassOf, liveObject } from "../lib/kube/prune.ts";
import type { KubeClient, KubeObject } from "../lib/kube/types.ts";
import {
  type Bench,
  type ChildRun,
  expectExit,
  exportOverlay,
  kubectlLoop,
  loadAverage,
  type LoopResult,
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

/** The objects one overlay renders, by identity (group, kind, namespace, name). */
interface Rendered {
  overlay: string;
  refs: ObjectRef[];
}

function identity(ref: ObjectRef): string {
  const group = ref.apiVersion.includes("/")
    ? ref.apiVersion.split("/")[0]
    : "";
  return `${group}|${ref.kind}|${ref.namespace ?? ""}|${ref.name}`;
}

/** The bench's settings for one release: its own config file. */
function forVersion(bench: Bench, version: string, config: string): Bench {
  return { ...bench, version, config };
}

/** Exports the overlay of `version` and builds it once, for the peer and for the counts. */
async function render(bench: Bench, version: string): Promise<Rendered> {
  const config = `${bench.work}/peer-${version}.yaml`;
  await writeConfig(config, { version, manifests: bench.manifests });
  const overlay = `${bench.work}/overlay-${version}`;
  await exportOverlay(forVersion(bench, version, config), overlay);
  const built = `${bench.work}/built-${version}.yaml`;
  const log = `${bench.logs}/build-${version}.log`;
  await expectExit(
    runChild("sh", [
      "-c",
      'kustomize build --load-restrictor LoadRestrictionsNone "$1" > "$2"',
      "sh",
      overlay,
      built,
    ], { env: bench.env, log }),
    { name: `kustomize build ${version}`, codes: [0], log },
  );
  const refs = parseAllDocuments(await Deno.readTextFile(built))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => !!o?.kind)
    .map(refOf);
  return { overlay, refs };
}

/** The rendered objects still in the cluster (a kind no longer served counts as gone). */
async function stillThere(
  kube: KubeClient,
  refs: readonly ObjectRef[],
): Promise<ObjectRef[]> {
  const out: ObjectRef[] = [];
  for (const ref of refs) {
    if (await liveObject(kube, ref).catch(() => undefined)) out.push(ref);
  }
  return out;
}

/** `12 (5 ConfigMap, 4 Deployment, ...)`. */
function byKind(refs: readonly ObjectRef[]): string {
  const counts = new Map<string, number>();
  for (const r of refs) counts.set(r.kind, (counts.get(r.kind) ?? 0) + 1);
  const kinds = [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) =>
    `${n} ${k}`
  );
  return `${refs.length}${refs.length ? ` (${kinds.join(", ")})` : ""}`;
}

/**
 * What a user does when the loop keeps failing on a changed immutable field: deletes
 * the object kubectl names, so the next pass creates it again.
 */
function byHand(
  bench: Bench,
  env: Record<string, string>,
  rendered: Rendered,
): (log: string) => Promise<string[]> {
  return async (log) => {
    const text = await Deno.readTextFile(log);
    const done: string[] = [];
    const seen = new Set<string>();
    const re =
      /(\w+)(?:\.([\w.-]+))? "([^"]+)" is invalid: ([^:\s]+): .*?(field is immutable|cannot change \w+)/g;
    for (const m of text.matchAll(re)) {
      const [, kind, group = "", name, field, why] = m;
      // kubectl names the group (`Deployment.apps "x"`) or not (`The Deployment "x"`).
      const ref = rendered.refs.find((r) =>
        r.kind === kind && r.name === name &&
        (!group || identity(r).startsWith(`${group}|`))
      );
      const key = ref ? identity(ref) : "";
      if (!ref || seen.has(key)) continue;
      seen.add(key);
      const g = identity(ref).split("|")[0];
      const resource = g ? `${kind}.${g}` : kind;
      const args = ["delete", resource, name, "--ignore-not-found"];
      if (ref.namespace) args.push("-n", ref.namespace);
      const deleteLog = `${bench.logs}/by-hand.log`;
      await expectExit(
        runChild(`${bench.bin}/kubectl`, args, { env, log: deleteLog }),
        {
          name: `kubectl ${args.join(" ")}`,
          codes: [0],
          log: deleteLog,
        },
      );
      done.push(`kubectl delete ${objectName(ref)} (${field}: ${why})`);
    }
    return done;
  };
}

interface PeerUpgrade {
  installS: number;
  loop: LoopResult;
  upgradeS: number;
  deployments: number;
  leftovers: ObjectRef[];
}

async function peerUpgrade(
  bench: Bench,
  from: Rendered,
  to: Rendered,
): Promise<PeerUpgrade> {
  return await withCluster(async (cluster) => {
    const env = { ...bench.env, KUBECONFIG: cluster.kubeconfig };
    let t = performance.now();
    await kubectlLoop(bench, from.overlay, {
      env,
      label: "upgrade-peer-install",
    });
    await waitDeploymentsAvailable(cluster.kube, AVAILABLE_TIMEOUT_MS);
    const installS = (performance.now() - t) / 1000;
    console.error(`[day-two] peer upgrade ...`);
    t = performance.now();
    const loop = await kubectlLoop(bench, to.overlay, {
      env,
      label: "upgrade-peer",
      maxPasses: 8,
      afterFailure: byHand(bench, env, to),
    });
    const deployments = await waitDeploymentsAvailable(
      cluster.kube,
      AVAILABLE_TIMEOUT_MS,
      { rolledOut: true },
    );
    const upgradeS = (performance.now() - t) / 1000;
    return {
      installS,
      loop,
      upgradeS,
      deployments,
      leftovers: await stillThere(cluster.kube, onlyIn(from, to)),
    };
  });
}

/** What `from` renders and `to` does not. */
function onlyIn(from: Rendered, to: Rendered): ObjectRef[] {
  const next = new Set(to.refs.map(identity));
  return from.refs.filter((r) => !next.has(identity(r)));
}

/** A `deno run -A tasks/<task>.ts` child of the kfplan side. */
async function kfplanTask(
  bench: Bench,
  env: Record<string, string>,
  what: { name: string; args: string[]; codes: number[] },
): Promise<ChildRun> {
  const log = `${bench.logs}/kfplan-${what.name}.log`;
  return await expectExit(
    runChild(Deno.execPath(), ["run", "-A", ...what.args], {
      cwd: REPO,
      env,
      log,
    }),
    { name: `kfplan ${what.name}`, codes: what.codes, log },
  );
}

/** `plan --out` (exit 2: changes) and `apply PLAN --yes` of the config as it is now. */
async function planAndApply(
  bench: Bench,
  env: Record<string, string>,
  label: string,
): Promise<{ planS: number; applyS: number; summary: PlanSummary }> {
  const planFile = `${bench.work}/kfplan-${label}.json`;
  const plan = await kfplanTask(bench, env, {
    name: `${label}-plan`,
    args: ["tasks/plan.ts", "--config", bench.config, "--out", planFile],
    codes: [2],
  });
  const apply = await kfplanTask(bench, env, {
    name: `${label}-apply`,
    args: ["tasks/apply.ts", planFile, "--yes"],
    codes: [0],
  });
  const summary = JSON.parse(await Deno.readTextFile(planFile)).summary;
  return { planS: plan.seconds, applyS: apply.seconds, summary };
}

/** The counts of a plan document's summary read here. */
interface PlanSummary {
  create: number;
  update: number;
  replace: number;
  delete: number;
  no_op: number;
  kept?: number;
}

interface KfplanUpgrade {
  installS: number;
  planS: number;
  applyS: number;
  upgradeS: number;
  summary: PlanSummary;
  deployments: number;
  leftovers: ObjectRef[];
}

async function kfplanUpgrade(
  bench: Bench,
  versions: { from: string; to: string },
  rendered: { from: Rendered; to: Rendered },
): Promise<KfplanUpgrade> {
  await Deno.mkdir(`${bench.work}/kfplan-upgrade`);
  const config = `${bench.work}/kfplan-upgrade/kfplan.yaml`;
  const side = forVersion(bench, versions.from, config);
  return await withCluster(async (cluster) => {
    const env = { ...bench.env, KUBECONFIG: cluster.kubeconfig };
    await writeConfig(config, {
      version: versions.from,
      manifests: bench.manifests,
    });
    const install = await planAndApply(side, env, "upgrade-install");
    console.error(`[day-two] kfplan upgrade ...`);
    await writeConfig(config, {
      version: versions.to,
      manifests: bench.manifests,
    });
    const t = performance.now();
    const upgrade = await planAndApply(side, env, "upgrade");
    const deployments = await waitDeploymentsAvailable(
      cluster.kube,
      AVAILABLE_TIMEOUT_MS,
      { rolledOut: true },
    );
    return {
      installS: install.planS + install.applyS,
      planS: upgrade.planS,
      applyS: upgrade.applyS,
      upgradeS: (performance.now() - t) / 1000,
      summary: upgrade.summary,
      deployments,
      leftovers: await stillThere(
        cluster.kube,
        onlyIn(rendered.from, rendered.to),
      ),
    };
  });
}

/** What is left of the rendered objects after a destroy. */
interface LeftBehind {
  /** Rendered objects still there. */
  objects: ObjectRef[];
  /** PVCs rendered, before the destroy. */
  pvcsBefore: number;
  /** Namespaces rendered, before the destroy. */
  namespacesBefore: number;
}

function count(refs: readonly ObjectRef[], kind: string): number {
  return refs.filter((r) => r.kind === kind).length;
}

interface PeerDestroy {
  installS: number;
  destroy: ChildRun;
  errors: string[];
  left: LeftBehind;
}

async function peerDestroy(
  bench: Bench,
  rendered: Rendered,
): Promise<PeerDestroy> {
  return await withCluster(async (cluster) => {
    const env = { ...bench.env, KUBECONFIG: cluster.kubeconfig };
    const t = performance.now();
    await kubectlLoop(bench, rendered.overlay, {
      env,
      label: "destroy-peer-install",
    });
    await waitDeploymentsAvailable(cluster.kube, AVAILABLE_TIMEOUT_MS);
    const installS = (performance.now() - t) / 1000;
    const before = await stillThere(cluster.kube, rendered.refs);
    console.error(`[day-two] peer destroy ...`);
    const log = `${bench.logs}/destroy-peer.log`;
    const destroy = await runChild("sh", [
      "-c",
      'kustomize build --load-restrictor LoadRestrictionsNone "$1" | kubectl delete --ignore-not-found --wait -f -',
      "sh",
      rendered.overlay,
    ], { env, log });
    const errors = (await Deno.readTextFile(log)).split("\n").filter((l) =>
      /\] (error:|Error from server|resource mapping not found)/.test(l)
    );
    return {
      installS,
      destroy,
      errors,
      left: {
        objects: await stillThere(cluster.kube, rendered.refs),
        pvcsBefore: count(before, "PersistentVolumeClaim"),
        namespacesBefore: count(before, "Namespace"),
      },
    };
  });
}

/** Where a destroy's time went, from its `object-delete` events. */
interface DestroyTrace {
  /** Per delete class: seconds from its first delete to its last object gone, and objects. */
  classes: { name: string; seconds: number; objects: number }[];
  /** The slowest objects: seconds from delete to gone. */
  slowest: { ref: string; seconds: number }[];
  /** Steps and their wall times. */
  steps: { id: string; seconds: number }[];
}

interface KfplanDestroy {
  installS: number;
  destroy: ChildRun;
  plannedDeletes: number;
  kept: { ref: string; reason: string }[];
  trace: DestroyTrace;
  left: LeftBehind;
}

// deno-lint-ignore no-explicit-any
function traceOf(events: any[]): DestroyTrace {
  const started = new Map<string, number>();
  const spans: { ref: ObjectRef; from: number; to: number }[] = [];
  for (const e of events) {
    if (e.type !== "object-delete") continue;
    const key = `${e.id} ${identity(e.ref)}`;
    const at = Date.parse(e.at);
    if (e.phase === "deleting") started.set(key, at);
    if (e.phase === "deleted" && started.has(key)) {
      spans.push({ ref: e.ref, from: started.get(key)!, to: at });
    }
  }
  const classes = new Map<string, { from: number; to: number; n: number }>();
  for (const span of spans) {
    const name = deleteClassOf(span.ref);
    const c = classes.get(name) ?? { from: span.from, to: span.to, n: 0 };
    classes.set(name, {
      from: Math.min(c.from, span.from),
      to: Math.max(c.to, span.to),
      n: c.n + 1,
    });
  }
  return {
    classes: [...classes].map(([name, c]) => ({
      name,
      seconds: (c.to - c.from) / 1000,
      objects: c.n,
    })).sort((a, b) => a.name.localeCompare(b.name)),
    slowest: spans.map((x) => ({
      ref: objectName(x.ref),
      seconds: (x.to - x.from) / 1000,
    })).sort((a, b) => b.seconds - a.seconds).slice(0, 5),
    steps: events.filter((e) => e.type === "step-done").map((e) => ({
      id: e.id,
      seconds: e.elapsed_ms / 1000,
    })),
  };
}

async function kfplanDestroy(
  bench: Bench,
  rendered: Rendered,
): Promise<KfplanDestroy> {
  await Deno.mkdir(`${bench.work}/kfplan-destroy`);
  const config = `${bench.work}/kfplan-destroy/kfplan.yaml`;
  const side = forVersion(bench, bench.version, config);
  await writeConfig(config, {
    version: bench.version,
    manifests: bench.manifests,
  });
  return await withCluster(async (cluster) => {
    const env = { ...bench.env, KUBECONFIG: cluster.kubeconfig };
    const install = await planAndApply(side, env, "destroy-install");
    const before = await stillThere(cluster.kube, rendered.refs);
    console.error(`[day-two] kfplan destroy ...`);
    const out = `${bench.logs}/kfplan-destroy.jsonl`;
    const log = `${bench.logs}/kfplan-destroy.log`;
    const destroy = await expectExit(
      runChild("sh", [
        "-c",
        `"$1" run -A tasks/destroy.ts --config "$2" --yes --json > "$3"`,
        "sh",
        Deno.execPath(),
        config,
        out,
      ], { cwd: REPO, env, log }),
      { name: "kfplan destroy", codes: [0], log },
    );
    const events = (await Deno.readTextFile(out)).split("\n").filter((l) =>
      l.startsWith("{")
    ).map((l) => JSON.parse(l));
    const plan = events.find((e) => e.type === "plan")?.plan;
    const result = events.find((e) => e.type === "destroy-result");
    return {
      installS: install.planS + install.applyS,
      destroy,
      plannedDeletes: plan?.summary.delete ?? 0,
      // deno-lint-ignore no-explicit-any
      kept: (result?.kept ?? []).map((k: any) => ({
        ref: objectName(k),
        reason: String(k.reason).split(";")[0],
      })),
      trace: traceOf(events),
      left: {
        objects: await stillThere(cluster.kube, rendered.refs),
        pvcsBefore: count(before, "PersistentVolumeClaim"),
        namespacesBefore: count(before, "Namespace"),
      },
    };
  });
}

function upgradeRows(
  versions: { from: string; to: string },
  peer: PeerUpgrade,
  kf: KfplanUpgrade,
  gone: number,
): Row[] {
  const sum = kf.summary;
  return [
    {
      side: "kubectl loop",
      metric: `install ${versions.from} (for reference)`,
      value: s(peer.installS),
    },
    {
      side: "kubectl loop",
      metric:
        `upgrade to ${versions.to}: loop + every Deployment rolled out (${peer.deployments})`,
      value: `${s(peer.upgradeS)}, ${peer.loop.passes} passes`,
      ratio: [
        ...peer.loop.failed,
        ...peer.loop.byHand.map((b) => `by hand: ${b}`),
      ]
        .join("; "),
    },
    {
      side: "kubectl loop",
      metric:
        `${versions.from} objects ${versions.to} does not render (${gone}) still there`,
      value: byKind(peer.leftovers),
    },
    {
      side: "kfplan",
      metric: `install ${versions.from} (for reference)`,
      value: s(kf.installS),
    },
    {
      side: "kfplan",
      metric:
        `upgrade to ${versions.to}: plan --out + apply --yes + rolled out (${kf.deployments})`,
      value: s(kf.upgradeS),
      ratio: `plan ${s(kf.planS)}, apply ${s(kf.applyS)}; ${
        (kf.upgradeS / peer.upgradeS).toFixed(2)
      }x the loop`,
    },
    {
      side: "kfplan",
      metric: "upgrade plan",
      value:
        `${sum.create} create, ${sum.update} update, ${sum.replace} replace, ${sum.delete} delete, ${
          sum.kept ?? 0
        } kept`,
      ratio: `${sum.no_op} unchanged`,
    },
    {
      side: "kfplan",
      metric:
        `${versions.from} objects ${versions.to} does not render (${gone}) still there`,
      value: byKind(kf.leftovers),
    },
  ];
}

/** Up to eight object names, then a count. */
function names(refs: readonly ObjectRef[]): string {
  if (refs.length === 0) return "none";
  const shown = refs.slice(0, 8).map(objectName).join(", ");
  return refs.length > 8 ? `${shown} and ${refs.length - 8} more` : shown;
}

function leftRow(left: LeftBehind): string {
  return `PVCs ${
    count(left.objects, "PersistentVolumeClaim")
  } of ${left.pvcsBefore}, namespaces ${
    count(left.objects, "Namespace")
  } of ${left.namespacesBefore}; all: ${byKind(left.objects)}`;
}

function destroyRows(
  version: string,
  peer: PeerDestroy,
  kf: KfplanDestroy,
): Row[] {
  const trace = kf.trace;
  const kept = new Set(kf.kept.map((k) => k.ref));
  const notKept = kf.left.objects.filter((r) => !kept.has(objectName(r)));
  return [
    {
      side: "kubectl loop",
      metric:
        `destroy ${version}: kustomize build | kubectl delete --ignore-not-found --wait -f -`,
      value: `${s(peer.destroy.seconds)}, exit ${peer.destroy.code}`,
      ratio: peer.errors.length
        ? `${peer.errors.length} errors, e.g. ${
          peer.errors[0].replace(/^\[[\d.]+s\] /, "").slice(0, 100)
        }`
        : "",
    },
    {
      side: "kubectl loop",
      metric: "rendered objects left behind",
      value: leftRow(peer.left),
      ratio: names(peer.left.objects),
    },
    {
      side: "kfplan",
      metric: `destroy ${version}: destroy --yes`,
      value: s(kf.destroy.seconds),
      ratio: `${
        (kf.destroy.seconds / peer.destroy.seconds).toFixed(2)
      }x kubectl delete; ${kf.plannedDeletes} deletes, ${kf.kept.length} kept`,
    },
    {
      side: "kfplan",
      metric: "rendered objects left behind",
      value: leftRow(kf.left),
      ratio: `not kept: ${names(notKept)}; kept: ${
        [...new Set(kf.kept.map((k) => k.reason))].join("; ")
      }`,
    },
    {
      side: "kfplan",
      metric: "destroy by delete class (first delete to last gone)",
      value: trace.classes.map((c) =>
        `${c.name} ${s(c.seconds)} (${c.objects})`
      )
        .join(", "),
      ratio: `slowest: ${
        trace.slowest.map((x) => `${x.ref} ${s(x.seconds)}`).join(", ")
      }`,
    },
  ];
}

async function run(
  bench: Bench,
  options: { part: string; from: string; to: string },
): Promise<Row[]> {
  const rows: Row[] = [];
  const cache = new Map<string, Rendered>();
  const rendered = async (version: string) => {
    if (!cache.has(version)) cache.set(version, await render(bench, version));
    return cache.get(version)!;
  };
  if (options.part === "all" || options.part === "upgrade") {
    const versions = { from: options.from, to: options.to };
    const from = await rendered(versions.from);
    const to = await rendered(versions.to);
    console.error(`[day-two] peer install ${versions.from} ...`);
    const peer = await peerUpgrade(bench, from, to);
    console.error(`[day-two] kfplan install ${versions.from} ...`);
    const kf = await kfplanUpgrade(bench, versions, { from, to });
    rows.push(...upgradeRows(versions, peer, kf, onlyIn(from, to).length));
  }
  if (options.part === "all" || options.part === "destroy") {
    const objects = await rendered(bench.version);
    console.error(`[day-two] peer install ${bench.version} ...`);
    const peer = await peerDestroy(bench, objects);
    console.error(`[day-two] kfplan install ${bench.version} ...`);
    const kf = await kfplanDestroy(bench, objects);
    rows.push(...destroyRows(bench.version, peer, kf));
  }
  return rows;
}

async function main(args: string[]): Promise<number> {
  const flags = minimist(args, {
    string: ["from", "to", "version", "part", "manifests", "logs"],
  });
  const part = String(flags.part ?? "all");
  if (!["all", "upgrade", "destroy"].includes(part)) {
    console.error(`--part: "${part}" is not one of all, upgrade, destroy`);
    return 1;
  }
  const bench = await newBench({
    version: String(flags.version ?? "v1.10.2"),
    manifests: flags.manifests,
    logs: flags.logs,
    prefix: "kfplan-bench-day-two-",
  });
  const before = loadAverage();
  const started = performance.now();
  try {
    const rows = await run(bench, {
      part,
      from: String(flags.from ?? "v1.9.1"),
      to: String(flags.to ?? "v1.10.2"),
    });
    console.log(
      `kfplan vs the kubectl loop, day two, webhook configurations left out on both sides; ` +
        `${navigator.hardwareConcurrency} cores, load average ${before} before, ${loadAverage()} after; ` +
        `${s((performance.now() - started) / 1000)} in all\n`,
    );
    console.log(table(rows));
    return 0;
  } catch (e) {
    console.error(`bench/day_two.ts: ${(e as Error).stack}`);
    return 1;
  } finally {
    await Deno.remove(bench.work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) main(Deno.args).then(Deno.exit);
