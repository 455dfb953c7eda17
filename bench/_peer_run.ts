/**
 * Helpers of `bench/peer.ts`: child processes timed with their peak RSS, a Deployment
 * availability wait, and the table the benchmark prints.
 *
 * @module
 */

import type { KubeClient } from "../lib/kube/types.ts";

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

/**
 * Waits until every Deployment in the cluster has condition Available=True (at least
 * one Deployment must exist), polling every second; throws naming the ones that are
 * not after `timeoutMs`.
 */
export async function waitDeploymentsAvailable(
  kube: KubeClient,
  timeoutMs: number,
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
      )
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

/** A Markdown table of `rows`. */
export function table(rows: Row[]): string {
  const cells = [
    ["side", "metric", "value", "target (issue 11)", "measured", "met"],
    ...rows.map((r) => [
      r.side,
      r.metric,
      r.value,
      r.target ?? "",
      r.ratio ?? "",
      r.met === undefined ? "" : r.met ? "yes" : "**no**",
    ]),
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
