/**
 * Helpers of `bench/peer.ts` and `bench/day_two.ts`: the shared settings of one
 * invocation, fresh control planes with the simulated controllers, kfplan's exported
 * overlay, the manifests README's kubectl loop, child processes timed with their peak
 * RSS, a Deployment availability wait, and the table the benchmarks print.
 *
 * @module
 */

import { resolve } from "node:path";
import { parseYaml, stringifyYaml } from "../lib/deps.ts";
import type { KubeClient } from "../lib/kube/types.ts";
import {
  binDir,
  type ClusterHandle,
  startCluster,
} from "../tests/cluster/harness.ts";
import {
  provideStorage,
  startFakeControllers,
  WEBHOOK_EXCLUDES,
} from "../tests/integration/_kubeflow.ts";

const REPO = new URL("..", import.meta.url).pathname;

/**
 * One pass of the manifests README's loop over the overlay directory `$1`: the real
 * binaries, a shell pipeline per pass.
 */
export const LOOP =
  'kustomize build --load-restrictor LoadRestrictionsNone "$1" | kubectl apply --server-side --force-conflicts -f -';

/** What one invocation shares. */
export interface Bench {
  /** The Kubeflow release measured (`v1.10.2`, `v1.9.1`). */
  version: string;
  /** The kubeflow-manifests checkouts, one directory per release. */
  manifests: string;
  /** Scratch directory of the invocation. */
  work: string;
  /** Where child output goes. */
  logs: string;
  /** The test binaries (kustomize, kubectl, ...). */
  bin: string;
  /** Environment of every child: PATH with the test binaries, secrets, cache. */
  env: Record<string, string>;
  /** The config file both sides use (see {@linkcode writeConfig}). */
  config: string;
}

/** Options for {@linkcode newBench}. */
export interface NewBenchOptions {
  /** The Kubeflow release. */
  version: string;
  /** kubeflow-manifests checkouts; default `../shared/kubeflow-manifests`. */
  manifests?: string;
  /** Keep child logs here instead of in the scratch directory (removed). */
  logs?: string;
  /** Prefix of the scratch directory. */
  prefix: string;
}

function hex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * A scratch directory, the test binaries and a child environment with fresh secrets
 * and an empty kfplan cache, so every invocation starts from nothing.
 */
export async function newBench(options: NewBenchOptions): Promise<Bench> {
  const work = await Deno.makeTempDir({ prefix: options.prefix });
  const logs = options.logs ? resolve(options.logs) : `${work}/logs`;
  await Deno.mkdir(logs, { recursive: true });
  const bin = await binDir();
  return {
    version: options.version,
    bin,
    manifests: resolve(
      options.manifests ?? `${REPO}../shared/kubeflow-manifests`,
    ),
    work,
    logs,
    config: `${work}/kfplan.yaml`,
    env: {
      PATH: `${bin}:${Deno.env.get("PATH")}`,
      KFPLAN_CACHE: `${work}/cache`,
      KF_OIDC_CLIENT_SECRET: hex(16),
      KF_COOKIE_SECRET: hex(16),
      KF_ALICE_PASSWORD: hex(8),
      KF_GITHUB_CLIENT_SECRET: hex(20),
    },
  };
}

/** Options for {@linkcode writeConfig}. */
export interface WriteConfigOptions {
  /** The release whose example settings are written. */
  version: string;
  /** kubeflow-manifests checkouts (absolute), one directory per release. */
  manifests: string;
}

/**
 * Writes the example's `kubeflow:` settings for `version` with an absolute
 * `manifests` and the webhook excludes (kwok pods serve no admission webhooks), so
 * both sides do the same work.
 */
export async function writeConfig(
  path: string,
  options: WriteConfigOptions,
): Promise<void> {
  const { version, manifests } = options;
  const example = parseYaml(
    await Deno.readTextFile(`${REPO}examples/kubeflow-${version}.yaml`),
  );
  const kubeflow = {
    ...example.kubeflow,
    manifests: `${manifests}/${version}`,
    exclude: [...(example.kubeflow.exclude ?? []), ...WEBHOOK_EXCLUDES],
  };
  await Deno.writeTextFile(path, stringifyYaml({ kubeflow }));
}

/**
 * Runs `fn` on a fresh test control plane (three kwok nodes) with the simulated
 * controllers, storage and LoadBalancer addresses, as the Kubeflow integration tests
 * do; the control plane is removed afterwards, also on failure.
 */
export async function withCluster<T>(
  fn: (cluster: ClusterHandle) => Promise<T>,
): Promise<T> {
  const cluster = await startCluster({});
  const controllers = startFakeControllers(cluster.kube);
  try {
    await provideStorage(cluster.kube);
    return await fn(cluster);
  } finally {
    await controllers.stop();
    await cluster.stop();
  }
}

/** Options for {@linkcode expectExit}. */
export interface ExpectExitOptions {
  /** What ran, for the error. */
  name: string;
  /** Exit codes that count as success. */
  codes: number[];
  /** The child's log, whose tail the error shows. */
  log: string;
}

/** Awaits a child and throws with its log's tail unless it exits with one of `codes`. */
export async function expectExit(
  run: Promise<ChildRun>,
  options: ExpectExitOptions,
): Promise<ChildRun> {
  const result = await run;
  if (!options.codes.includes(result.code)) {
    throw new Error(
      `${options.name} exited ${result.code} (expected ${
        options.codes.join(" or ")
      }); ${options.log}:\n${await tail(options.log)}`,
    );
  }
  return result;
}

/**
 * `deno task export-overlay --include-secrets` of the bench's config into `dir`: the
 * overlay whose `$patch: delete` patches drop exactly what kfplan's `exclude` leaves
 * out, for the kubectl side.
 */
export async function exportOverlay(bench: Bench, dir: string): Promise<void> {
  const log = `${bench.logs}/export-overlay-${dir.split("/").pop()}.log`;
  await expectExit(
    runChild(Deno.execPath(), [
      "run",
      "-A",
      "tasks/export_overlay.ts",
      "--config",
      bench.config,
      "--out",
      dir,
      "--include-secrets",
    ], { cwd: REPO, env: bench.env, log }),
    { name: "export-overlay", codes: [0], log },
  );
}

/** Options for {@linkcode kubectlLoop}. */
export interface KubectlLoopOptions {
  /** Environment of each pass (the bench's, with the cluster's KUBECONFIG). */
  env: Record<string, string>;
  /** Log names: `<logs>/<label>-pass-<n>.log`; default `peer`. */
  label?: string;
  /** Give up after this many passes; default 15. */
  maxPasses?: number;
  /**
   * Called with a failed pass's log before the 20 s sleep: what a user does by hand
   * to get the loop through (e.g. delete an object whose immutable field changed).
   * Returns a line per thing done, for the report.
   */
  afterFailure?: (log: string) => Promise<string[]>;
}

/** How the loop went. */
export interface LoopResult {
  /** Passes run, the last one clean. */
  passes: number;
  /** One line per failed pass: its time and error count. */
  failed: string[];
  /** What `afterFailure` did by hand. */
  byHand: string[];
}

/**
 * The manifests README's loop, `while ! kustomize build DIR | kubectl apply
 * --server-side --force-conflicts -f -; do sleep 20; done`: passes until one exits
 * 0, sleeping 20 s after each failure.
 */
export async function kubectlLoop(
  bench: Bench,
  overlay: string,
  options: KubectlLoopOptions,
): Promise<LoopResult> {
  const failed: string[] = [];
  const byHand: string[] = [];
  const maxPasses = options.maxPasses ?? 15;
  for (let pass = 1; pass <= maxPasses; pass++) {
    const log = `${bench.logs}/${options.label ?? "peer"}-pass-${pass}.log`;
    const run = await runChild("sh", ["-c", LOOP, "sh", overlay], {
      env: options.env,
      log,
    });
    if (run.code === 0) return { passes: pass, failed, byHand };
    const errors = (await Deno.readTextFile(log)).split("\n").filter((l) =>
      /\] (error:|Error from server|resource mapping not found|The \w+ ".*" is invalid)/
        .test(l)
    ).length;
    failed.push(`pass ${pass}: ${s(run.seconds)}, ${errors} errors`);
    if (options.afterFailure) {
      byHand.push(...await options.afterFailure(log));
    }
    await new Promise((r) =>
      setTimeout(r, 20_000)
    );
  }
  throw new Error(`the loop did not pass in ${maxPasses} passes: ${failed}`);
}

/** The load averages, for the table's heading. */
export function loadAverage(): string {
  return Deno.loadavg().map((l) => l.toFixed(2)).join(", ");
}

/** How a child process ended. */
export interface ChildRun {
  /** Exit code. */
  code: number;
  /** Wall time, seconds. */
  seconds: number;
  /** Peak resident set size of the process itself (VmHWM), MB; 0 when unknown. */
  peakRssMb: number;
}

/** Options for {@linkcode runChild}. */
export interface RunChildOptions {
  /** Environment added to this process's. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** File receiving stdout and stderr, each line prefixed with its second. */
  log: string;
}

function vmHwmMb(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

async function copyLines(
  stream: ReadableStream<Uint8Array>,
  file: Deno.FsFile,
  start: number,
): Promise<void> {
  const encoder = new TextEncoder();
  let rest = "";
  const write = (line: string) =>
    file.write(encoder.encode(
      `[${((performance.now() - start) / 1000).toFixed(1)}s] ${line}\n`,
    ));
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) await write(line);
  }
  if (rest) await write(rest);
}

/**
 * Runs `cmd args` to completion, sampling `/proc/<pid>/status` VmHWM every 100 ms
 * (the high-water mark only grows, so the last sample is the peak up to 100 ms before
 * exit) and logging its output with timestamps.
 */
export async function runChild(
  cmd: string,
  args: string[],
  options: RunChildOptions,
): Promise<ChildRun> {
  const file = await Deno.open(options.log, { append: true, create: true });
  const start = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, vmHwmMb(child.pid));
  }, 100);
  try {
    const [status] = await Promise.all([
      child.status,
      copyLines(child.stdout, file, start),
      copyLines(child.stderr, file, start),
    ]);
    return {
      code: status.code,
      seconds: (performance.now() - start) / 1000,
      peakRssMb: peak,
    };
  } finally {
    clearInterval(sampler);
    file.close();
  }
}

/** The last `n` lines of a log, for error messages. */
export async function tail(log: string, n = 15): Promise<string> {
  const text = await Deno.readTextFile(log).catch(() => "");
  return text.trimEnd().split("\n").slice(-n).join("\n");
}

/** Options for {@linkcode waitDeploymentsAvailable}. */
export interface WaitDeploymentsOptions {
  /**
   * Also wait until each has rolled out, as `kubectl rollout status` does: its
   * generation observed and every replica updated and available (a Deployment stays
   * Available during a rolling update).
   */
  rolledOut?: boolean;
}

// deno-lint-ignore no-explicit-any
function rolledOut(d: any): boolean {
  const want = d.spec?.replicas ?? 1;
  const st = d.status ?? {};
  return (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (st.updatedReplicas ?? 0) >= want && (st.replicas ?? 0) <= want &&
    (st.availableReplicas ?? 0) >= want;
}

/**
 * Waits until every Deployment in the cluster has condition Available=True (at least
 * one Deployment must exist), polling every second; throws naming the ones that are
 * not after `timeoutMs`.
 */
export async function waitDeploymentsAvailable(
  kube: KubeClient,
  timeoutMs: number,
  options: WaitDeploymentsOptions = {},
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let pending: string[] = ["(none listed yet)"];
  while (Date.now() < deadline) {
    const deployments = await kube.list("apps/v1", "Deployment").catch(
      () => [],
    );
    pending = deployments.filter((d) =>
      // deno-lint-ignore no-explicit-any
      !((d.status as any)?.conditions ?? []).some((c: any) =>
        c.type === "Available" && c.status === "True"
      ) || (options.rolledOut && !rolledOut(d))
    ).map((d) => `${d.metadata.namespace}/${d.metadata.name}`);
    if (deployments.length > 0 && pending.length === 0) {
      return deployments.length;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(
    `Deployments not Available after ${timeoutMs / 1000} s: ${
      pending.slice(0, 10).join(", ")
    }${pending.length > 10 ? `, ... (${pending.length})` : ""}`,
  );
}

/** One row of the printed table. */
export interface Row {
  /** `kubectl loop`, `kfplan` or `kfplan engine`. */
  side: string;
  /** What was measured. */
  metric: string;
  /** The measurement, with its unit. */
  value: string;
  /** The target of issue 11, when the row has one. */
  target?: string;
  /** The measured ratio or quantity the target is about. */
  ratio?: string;
  /** Whether the target is met. */
  met?: boolean;
}

/**
 * A Markdown table of `rows`; the target and met columns only when a row has a
 * target.
 */
export function table(rows: Row[]): string {
  const targets = rows.some((r) => r.target !== undefined);
  const cells = [
    targets
      ? ["side", "metric", "value", "target (issue 11)", "measured", "met"]
      : ["side", "metric", "value", "measured"],
    ...rows.map((r) =>
      targets
        ? [
          r.side,
          r.metric,
          r.value,
          r.target ?? "",
          r.ratio ?? "",
          r.met === undefined ? "" : r.met ? "yes" : "**no**",
        ]
        : [r.side, r.metric, r.value, r.ratio ?? ""]
    ),
  ];
  const widths = cells[0].map((_, i) =>
    Math.max(3, ...cells.map((c) => c[i].length))
  );
  const line = (c: string[]) =>
    `| ${c.map((x, i) => x.padEnd(widths[i])).join(" | ")} |`;
  return [
    line(cells[0]),
    `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`,
    ...cells.slice(1).map(line),
  ].join("\n");
}

/** Seconds with one decimal and the unit. */
export function s(seconds: number): string {
  return `${seconds.toFixed(1)} s`;
}
