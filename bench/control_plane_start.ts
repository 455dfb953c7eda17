/**
 * Start-to-ready time and idle memory of the test control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok + 3 simulated nodes).
 *
 *     deno run -A bench/control_plane_start.ts [--runs 5] [--idle-seconds 30] [--json]
 *
 * "Ready" means `/readyz` answers ok and every simulated node is Ready (what
 * `startCluster()` waits for). Idle memory is the summed RSS (VmRSS) of the five
 * processes after the first cluster has been idle for `--idle-seconds`.
 * Binaries must be built already (`bash tests/cluster/build.sh`).
 *
 * @module
 */

import { minimist } from "../lib/deps.ts";
import { binDir, COMPONENTS, startCluster } from "../tests/cluster/harness.ts";

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main(args: string[]): Promise<number> {
  const flags = minimist(args, {
    string: ["runs", "idle-seconds"],
    boolean: ["json"],
  });
  const runs = Number(flags.runs ?? 5);
  const idleSeconds = Number(flags["idle-seconds"] ?? 30);
  const bin = await binDir();
  const times: number[] = [];
  let rss: Record<string, number> = {};
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const cluster = await startCluster({ binDir: bin });
    times.push(performance.now() - start);
    try {
      if (i === 0) {
        await new Promise((r) => setTimeout(r, idleSeconds * 1000));
        rss = Object.fromEntries(
          COMPONENTS.map((c) => [c, rssKiB(cluster.pids[c]!)]),
        );
      }
    } finally {
      await cluster.stop();
    }
    if (!flags.json) console.error(`run ${i + 1}: ${Math.round(times[i])} ms`);
  }
  const totalMiB = Object.values(rss).reduce((a, b) => a + b, 0) / 1024;
  const result = {
    runs,
    startToReadyMs: times.map(Math.round),
    medianMs: Math.round(median(times)),
    idleSeconds,
    idleRssMiB: Object.fromEntries(
      Object.entries(rss).map(([k, v]) => [k, Math.round(v / 1024)]),
    ),
    idleRssTotalMiB: Math.round(totalMiB),
    cpus: navigator.hardwareConcurrency,
  };
  if (flags.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(
      `control plane start-to-ready: median ${result.medianMs} ms over ${runs} runs ` +
        `(${result.startToReadyMs.join(", ")} ms)`,
    );
    console.log(
      `idle RSS after ${idleSeconds}s: ${result.idleRssTotalMiB} MiB (${
        Object.entries(result.idleRssMiB).map(([k, v]) => `${k} ${v}`).join(
          ", ",
        )
      })`,
    );
  }
  return 0;
}

if (import.meta.main) main(Deno.args).then((code) => Deno.exit(code));
