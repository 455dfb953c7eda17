/**
 * `deno task cluster up|down|env|status`: a throwaway local control plane (the same
 * one the integration tests use) for trying `deno task plan` / `deno task apply`
 * without a cloud account. `up` starts detached processes that outlive the command and
 * records them in the state directory (default `~/.cache/kfplan/cluster`, or
 * `$KFPLAN_CACHE/cluster`, or `--dir`): the control plane and, unless `--bare`, the
 * simulated controllers (`sim/controllers/`) in a process of their own (this module's
 * `controllers` command); `env` prints the `export KUBECONFIG=...` line; `down` stops
 * the processes and removes the directory.
 *
 * @module
 */

import { minimist } from "../lib/deps.ts";
import {
  type ClusterState,
  COMPONENTS,
  isSimulationProcess,
  startCluster,
  stopClusterState,
} from "./harness.ts";
import type { NodeSpec } from "./_nodes.ts";
import { hostAddress } from "./webhook.ts";
import { SIMULATED_CONTROLLERS, startSimulation } from "./controllers/mod.ts";

const USAGE = `usage: deno task cluster <up|down|env|status> [options]

  up       start a local control plane (etcd, kube-apiserver, controller-manager,
           scheduler, kwok with simulated nodes) that keeps running, and next to it
           the simulated controllers a real cluster would have (PV provisioner,
           MetalLB, GPU operator and device plugin, Kubeflow profile controller,
           admission webhook backends); everything they create is labelled
           kfplan.dev/simulated=true
  env      print the export line for its kubeconfig: eval "$(deno task cluster env)"
  status   say whether it runs, and where
  down     stop it and remove its files

options:
  --dir DIR            state directory (default: \${KFPLAN_CACHE:-~/.cache/kfplan}/cluster)
  --cpu-nodes N        simulated CPU nodes for up (default 1)
  --gpu-nodes N        simulated GPU nodes for up (default 2)
  --gpus-per-node N    nvidia.com/gpu per GPU node (default 4)
  --bare               up without the simulated controllers
`;

const CONTROLLERS_USAGE =
  `usage: deno run -A sim/cli.ts controllers --kubeconfig FILE [--host-ip IP] [--ready-file FILE]

Runs the simulated controllers against the cluster of FILE until SIGTERM or SIGINT
(\`deno task cluster up\` starts this detached). --host-ip is where the API server
reaches this machine (default: from the harness's cluster.json beside FILE);
--ready-file is written once they run.
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
    string: [
      "dir",
      "cpu-nodes",
      "gpu-nodes",
      "gpus-per-node",
      "kubeconfig",
      "host-ip",
      "ready-file",
    ],
    boolean: ["help", "bare"],
    alias: { h: "help" },
  });
  const command = flags._[0];
  if (command === "controllers") return await controllersCommand(flags);
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
    "bare",
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
      if (!flags.bare) {
        try {
          await startSimulationProcess(dir, cluster);
        } catch (e) {
          console.error(`cluster: ${(e as Error).message}`);
          await stopClusterState(readClusterState(dir) ?? cluster);
          return 1;
        }
      }
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
      console.log(
        flags.bare
          ? "bare: no simulated controllers (PVCs stay Pending, LoadBalancers get no address, webhooks have no backend)"
          : `simulated controllers running (${
            SIMULATED_CONTROLLERS.join(", ")
          }); what they create is labelled kfplan.dev/simulated=true; log ${dir}/logs/sim.log`,
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
      console.log(simulationStatus(state));
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

/** The `status` line about the simulated controllers of `state`. */
export function simulationStatus(state: ClusterState): string {
  if (!state.simulation) {
    return "simulated controllers: none (started with --bare)";
  }
  const { pid, log } = state.simulation;
  return isSimulationProcess(pid)
    ? `simulated controllers: running, pid ${pid} (${
      SIMULATED_CONTROLLERS.join(", ")
    }); log ${log}`
    : `simulated controllers: NOT running (pid ${pid} exited; see ${log})`;
}

/**
 * Starts \`sim/cli.ts controllers\` detached for the cluster in \`dir\`, records it in
 * \`cluster.json\` and waits (bounded, 60 s) until it runs.
 */
async function startSimulationProcess(
  dir: string,
  cluster: ClusterState,
): Promise<void> {
  const log = `${dir}/logs/sim.log`;
  const ready = `${dir}/sim.ready`;
  const cli = new URL("./cli.ts", import.meta.url).pathname;
  const hostIp = cluster.hostIp ?? hostAddress(cluster.kubeconfig);
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'exec "$0" "$@" >>"$KFPLAN_LOG" 2>&1',
      Deno.execPath(),
      "run",
      "-A",
      cli,
      "controllers",
      "--kubeconfig",
      cluster.kubeconfig,
      "--host-ip",
      hostIp,
      "--ready-file",
      ready,
    ],
    cwd: new URL("..", import.meta.url).pathname,
    env: { KFPLAN_LOG: log },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  const state = readClusterState(dir) ?? cluster;
  state.simulation = { pid: child.pid, log };
  Deno.writeTextFileSync(
    `${dir}/cluster.json`,
    JSON.stringify(state, null, 2) + "\n",
  );
  console.error(
    `cluster: starting the simulated controllers (pid ${child.pid}, log ${log})`,
  );
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      await Deno.stat(ready);
      return;
    } catch { /* not yet */ }
    if (exited) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  let tail = "";
  try {
    tail = Deno.readTextFileSync(log).trimEnd().split("\n").slice(-15).join(
      "\n",
    );
  } catch { /* no log */ }
  throw new Error(
    `the simulated controllers did not start ${
      exited ? "(the process exited)" : "within 60 s"
    }:\n${tail}`,
  );
}

/** \`controllers\`: runs the simulated controllers in the foreground until a signal. */
async function controllersCommand(
  flags: Record<string, unknown>,
): Promise<number> {
  const kubeconfig = flags.kubeconfig as string | undefined;
  if (flags.help || !kubeconfig) {
    console.log(CONTROLLERS_USAGE);
    return flags.help ? 0 : 1;
  }
  const hostIp = (flags["host-ip"] as string | undefined) ??
    hostAddress(kubeconfig);
  const stamp = () => new Date().toISOString().slice(11, 23);
  const log = (m: string) => console.log(`${stamp()} ${m}`);
  const sim = await startSimulation(kubeconfig, { hostIp, onLog: log });
  log(
    `simulated controllers running (${
      SIMULATED_CONTROLLERS.join(", ")
    }); webhook backends on ${hostIp}; what they create is labelled kfplan.dev/simulated=true`,
  );
  const readyFile = flags["ready-file"] as string | undefined;
  if (readyFile) await Deno.writeTextFile(readyFile, `${Deno.pid}\n`);
  const { promise, resolve } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  for (const s of signals) Deno.addSignalListener(s, () => resolve(s));
  const signal = await promise;
  log(`${signal}: stopping the simulated controllers`);
  await sim.stop();
  return 0;
}

if (import.meta.main) clusterCommand(Deno.args).then((code) => Deno.exit(code));
