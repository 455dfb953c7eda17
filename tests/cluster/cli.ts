/**
 * `deno task cluster up|down|env|status`: a throwaway local control plane (the same
 * one the integration tests use) for trying `deno task plan` / `deno task apply`
 * without a cloud account. `up` starts detached processes that outlive the command and
 * records them in the state directory (default `~/.cache/kfplan/cluster`, or
 * `$KFPLAN_CACHE/cluster`, or `--dir`); `env` prints the `export KUBECONFIG=...` line;
 * `down` stops the processes and removes the directory.
 *
 * It lives next to the test harness because it is that harness, kept running.
 *
 * @module
 */

import { minimist } from "../../lib/deps.ts";
import {
  type ClusterState,
  COMPONENTS,
  startCluster,
  stopClusterState,
} from "./harness.ts";
import type { NodeSpec } from "./_nodes.ts";

const USAGE = `usage: deno task cluster <up|down|env|status> [options]

  up       start a local control plane (etcd, kube-apiserver, controller-manager,
           scheduler, kwok with simulated nodes) that keeps running
  env      print the export line for its kubeconfig: eval "$(deno task cluster env)"
  status   say whether it runs, and where
  down     stop it and remove its files

options:
  --dir DIR            state directory (default: \${KFPLAN_CACHE:-~/.cache/kfplan}/cluster)
  --cpu-nodes N        simulated CPU nodes for up (default 1)
  --gpu-nodes N        simulated GPU nodes for up (default 2)
  --gpus-per-node N    nvidia.com/gpu per GPU node (default 4)
`;

/** The default state directory of `deno task cluster`. */
export function defaultClusterDir(): string {
  const cache = Deno.env.get("KFPLAN_CACHE") ??
    `${
      Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`
    }/kfplan`;
  return `${cache}/cluster`;
}

/** Reads `<dir>/cluster.json`, or `undefined` when there is none. */
export function readClusterState(dir: string): ClusterState | undefined {
  try {
    return JSON.parse(
      Deno.readTextFileSync(`${dir}/cluster.json`),
    ) as ClusterState;
  } catch {
    return undefined;
  }
}

/** Whether every control-plane process of `state` still runs. */
export function clusterRunning(state: ClusterState): boolean {
  return COMPONENTS.every((name) => {
    const pid = state.pids[name];
    if (!pid) return false;
    try {
      return Deno.readTextFileSync(`/proc/${pid}/cmdline`).startsWith(
        `${state.binDir}/`,
      );
    } catch {
      return false;
    }
  });
}

function count(value: unknown, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 50) {
    throw new Error(
      `--${flag}: ${JSON.stringify(value)} is not a whole number from 0 to 50`,
    );
  }
  return n;
}

/** Runs the command; resolves with the exit code. */
export async function clusterCommand(args: string[]): Promise<number> {
  const flags = minimist(args, {
    string: ["dir", "cpu-nodes", "gpu-nodes", "gpus-per-node"],
    boolean: ["help"],
    alias: { h: "help" },
  });
  const command = flags._[0];
  if (flags.help || !command) {
    console.log(USAGE);
    return flags.help ? 0 : 1;
  }
  const known = new Set([
    "_",
    "dir",
    "cpu-nodes",
    "gpu-nodes",
    "gpus-per-node",
    "help",
    "h",
  ]);
  const unknown = Object.keys(flags).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    console.error(`cluster: unknown option --${unknown[0]}\n\n${USAGE}`);
    return 1;
  }
  const dir = flags.dir ?? defaultClusterDir();
  const state = readClusterState(dir);
  const running = state !== undefined && clusterRunning(state);

  switch (command) {
    case "up": {
      let nodes: NodeSpec[];
      try {
        const cpu = count(flags["cpu-nodes"], "cpu-nodes", 1);
        const gpu = count(flags["gpu-nodes"], "gpu-nodes", 2);
        const gpus = count(flags["gpus-per-node"], "gpus-per-node", 4);
        nodes = [
          ...Array.from({ length: cpu }, (_, i) => ({ name: `kwok-cpu-${i}` })),
          ...Array.from(
            { length: gpu },
            (_, i) => ({ name: `kwok-gpu-${i}`, gpus }),
          ),
        ];
      } catch (e) {
        console.error(`cluster: ${(e as Error).message}`);
        return 1;
      }
      if (running) {
        console.log(
          `cluster already running at ${state.server}\n  export KUBECONFIG=${state.kubeconfig}`,
        );
        return 0;
      }
      // Leftovers of a cluster that died (machine reboot, kill): clear them first.
      if (state) {
        await stopClusterState({ ...state, ownsDir: true }, { graceMs: 2000 });
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      const started = performance.now();
      const cluster = await startCluster({
        dir,
        detached: true,
        nodes,
        onLog: (m) => console.error(`cluster: ${m}`),
      });
      const version = await cluster.kube.serverVersion();
      cluster.kube.close();
      console.log(
        `cluster up in ${
          ((performance.now() - started) / 1000).toFixed(1)
        }s: ${cluster.server} ` +
          `(Kubernetes ${version.gitVersion}, nodes: ${
            nodes.map((n) => n.gpus ? `${n.name} (${n.gpus} GPUs)` : n.name)
              .join(", ")
          })`,
      );
      console.log(
        `point kubectl and kfplan at it:\n  export KUBECONFIG=${cluster.kubeconfig}`,
      );
      console.log(`logs: ${dir}/logs/   stop it: deno task cluster down`);
      return 0;
    }
    case "env":
      if (!running) {
        console.error(
          `cluster: no cluster running in ${dir}; start one with: deno task cluster up`,
        );
        return 1;
      }
      console.log(`export KUBECONFIG=${state.kubeconfig}`);
      return 0;
    case "status":
      if (!running) {
        console.log(`no cluster running in ${dir}`);
        return 1;
      }
      console.log(
        `running since ${state.startedAt} at ${state.server}; kubeconfig ${state.kubeconfig}; ` +
          `pids ${COMPONENTS.map((c) => `${c}=${state.pids[c]}`).join(" ")}`,
      );
      return 0;
    case "down":
      if (!state) {
        console.log(`no cluster in ${dir}`);
        return 0;
      }
      await stopClusterState({ ...state, ownsDir: true });
      console.log(`cluster stopped; removed ${dir}`);
      return 0;
    default:
      console.error(
        `cluster: unknown command ${JSON.stringify(command)}\n\n${USAGE}`,
      );
      return 1;
  }
}
