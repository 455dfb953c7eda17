/**
 * A real Kubernetes control plane for tests and for trying kfplan locally: etcd,
 * kube-apiserver, kube-controller-manager, kube-scheduler and kwok on loopback, with
 * certificates and service-account keys generated into the cluster's directory, free
 * ports, and simulated nodes (three by default, two of them GPU nodes).
 *
 * Tests call {@linkcode useCluster}: under `deno task test` it connects to the one
 * control plane the runner started (env `KFPLAN_TEST_KUBECONFIG`); a test file run on
 * its own starts a private one that is torn down when the process ends (unload,
 * Ctrl-C, or a watchdog if the process is killed).
 *
 * @example
 * ```ts
 * import { useCluster } from "./harness.ts";
 *
 * Deno.test("a namespace per test", async () => {
 *   const cluster = await useCluster();
 *   const ns = await cluster.namespace("demo");
 *   await cluster.kube.apply({
 *     apiVersion: "v1",
 *     kind: "ConfigMap",
 *     metadata: { name: "x", namespace: ns },
 *   });
 * });
 * ```
 *
 * @module
 */

import { createKubeClient } from "../lib/kube/client.ts";
import type { ClosableKubeClient } from "../lib/kube/client.ts";
import type { KubeClient, KubeObject } from "../lib/kube/types.ts";
import { generatePki } from "./_certs.ts";
import { createNetns } from "./_netns.ts";
import { defaultNodes, nodeObject, type NodeSpec } from "./_nodes.ts";

export { defaultNodes, nodeObject, type NodeSpec } from "./_nodes.ts";
export {
  type ClusterPki,
  generateCa,
  generatePki,
  issueCert,
  type IssueCertOptions,
} from "./_certs.ts";

/** The build script of the control-plane binaries (kept beside its pinned versions). */
const BUILD_SCRIPT =
  new URL("../tests/cluster/build.sh", import.meta.url).pathname;

/** Control-plane processes, in start order. */
export const COMPONENTS = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
] as const;

/** One control-plane process. */
export type Component = typeof COMPONENTS[number];

/** What a running cluster left on disk (`<dir>/cluster.json`), enough to stop it later. */
export interface ClusterState {
  /** Format version of `cluster.json`. */
  version: 1;
  /** Certificates, etcd data, logs (`logs/`), kubeconfig. */
  dir: string;
  /** Admin kubeconfig (`system:masters`). */
  kubeconfig: string;
  /** API server URL, `https://127.0.0.1:<port>`. */
  server: string;
  /** Where the binaries came from. */
  binDir: string;
  /** Process ids of the components. */
  pids: Partial<Record<Component, number>>;
  /** ISO timestamp. */
  startedAt: string;
  /** Whether stopping the cluster removes `dir` (true for temp dirs and `cluster up`). */
  ownsDir: boolean;
  /** The network namespace the components run in, when isolated (see `_netns.ts`). */
  netns?: string;
  /**
   * An address of this machine the API server can reach and Endpoints may name: tests
   * serve webhooks here. The host end of the namespace's veth when isolated.
   */
  hostIp?: string;
  /** Shell commands that remove the network namespace. */
  netnsRemove?: string;
  /** The API server's audit log (JSON lines), when started with `auditLog: true`. */
  auditLog?: string;
  /**
   * The simulated controllers' process (`sim/cli.ts controllers`), when `deno task
   * cluster up` started it: stopped first by {@linkcode stopClusterState}.
   */
  simulation?: { pid: number; log: string };
}

/** A running control plane. */
export interface ClusterHandle extends ClusterState {
  /** A client of the admin kubeconfig. */
  kube: ClosableKubeClient;
  /** Creates a namespace with a unique name starting with `prefix`. */
  namespace(prefix: string): Promise<string>;
  /** Stops every process (TERM, then KILL after 10 s) and removes the cluster's files. */
  stop(): Promise<void>;
  /**
   * Kills kube-apiserver (SIGKILL), waits `downMs` (default 0), starts it again with
   * the same flags and resolves once `/readyz` answers: a crash and restart in the
   * middle of whatever the test is doing. etcd and the other components keep running.
   */
  restartApiServer(options?: { downMs?: number }): Promise<void>;
}

/** Options for {@linkcode startCluster}. */
export interface StartClusterOptions {
  /** Directory for certificates, etcd data, logs and the kubeconfig; default a temp dir. */
  dir?: string;
  /**
   * Keep running after this process exits (for `deno task cluster up`): processes are
   * detached and no exit handlers are installed.
   */
  detached?: boolean;
  /** Simulated nodes; default {@linkcode defaultNodes}. */
  nodes?: NodeSpec[];
  /** Directory with the binaries; default {@linkcode binDir}. */
  binDir?: string;
  /** Bound for `/readyz` and for nodes to become Ready; default 120 000 ms. */
  readyTimeoutMs?: number;
  /** Progress messages. */
  onLog?: (message: string) => void;
  /**
   * Run the components in a network namespace of their own (default: when root and
   * `ip` is available, unless `KFPLAN_TEST_NETNS=0`), so that the API server's dials
   * to webhooks, ClusterIPs and kwok's fake pod IPs cannot leave the machine.
   */
  netns?: boolean;
  /**
   * Write an audit log of every write request (create, update, patch, delete,
   * deletecollection; Metadata level, all stages) to `<dir>/logs/audit.log`, named by
   * the handle's `auditLog`, so a test can prove that a command wrote nothing. The
   * log backend blocks: a request's RequestReceived event is on disk before the
   * request is handled.
   */
  auditLog?: boolean;
}

/**
 * The audit policy of `auditLog: true`: writes at Metadata level (who, what, when; no
 * bodies, so no Secret values), nothing else (reads and watches would drown them).
 */
export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
`;

let binDirPromise: Promise<string> | undefined;

/**
 * The directory holding etcd, the Kubernetes binaries, kwok, kustomize and helm, built
 * by `tests/cluster/build.sh` on first use (cached per version; `KFPLAN_TEST_ASSETS`
 * points at prebuilt ones). Fails with the script's message when Go is missing or the
 * build fails. The result is memoised for the process.
 */
export function binDir(): Promise<string> {
  binDirPromise ??= (async () => {
    const out = await new Deno.Command("bash", {
      args: [BUILD_SCRIPT],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) {
      throw new Error(
        `tests/cluster/build.sh failed (exit ${out.code}); see its messages above`,
      );
    }
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    return lines[lines.length - 1];
  })();
  binDirPromise.catch(() => binDirPromise = undefined);
  return binDirPromise;
}

/** Path of one of the built tools, e.g. `await toolPath("kustomize")`. */
export async function toolPath(name: string): Promise<string> {
  return `${await binDir()}/${name}`;
}

/** `n` distinct free loopback ports (all held open until each is known, so they differ). */
function freePorts(n: number): number[] {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

function kubeconfigYaml(
  server: string,
  pki: { caCert: string; adminCert: string; adminKey: string },
): string {
  const b64 = (path: string) => btoa(Deno.readTextFileSync(path));
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "kfplan-test",
        cluster: { server, "certificate-authority-data": b64(pki.caCert) },
      }],
      users: [{
        name: "kfplan-admin",
        user: {
          "client-certificate-data": b64(pki.adminCert),
          "client-key-data": b64(pki.adminKey),
        },
      }],
      contexts: [{
        name: "kfplan-test",
        context: { cluster: "kfplan-test", user: "kfplan-admin" },
      }],
      "current-context": "kfplan-test",
    },
    null,
    2,
  ) + "\n";
}

interface Running {
  name: Component;
  child: Deno.ChildProcess;
  exited: boolean;
  log: string;
}

function spawnComponent(
  name: Component,
  bin: string,
  args: string[],
  options: {
    logDir: string;
    detached: boolean;
    wrap?: (c: string[]) => string[];
  },
): Running {
  const log = `${options.logDir}/${name}.log`;
  // The shell redirects output to a file and then becomes the component (exec), so the
  // pid is the component's and nothing depends on this process's pipes.
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'exec "$0" "$@" >>"$KFPLAN_LOG" 2>&1',
      // `ip netns exec` execs the command too, so the pid stays the component's.
      ...(options.wrap ?? ((c: string[]) => c))([`${bin}/${name}`, ...args]),
    ],
    env: { KFPLAN_LOG: log },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: options.detached,
  }).spawn();
  child.unref();
  const running: Running = { name, child, exited: false, log };
  child.status.then(() => running.exited = true);
  return running;
}

function logTail(path: string, lines = 15): string {
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-lines).join(
      "\n",
    );
  } catch {
    return "(no log)";
  }
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` still runs a binary from `binDir` (guards against recycled pids). */
function isOurProcess(pid: number, bin: string): boolean {
  try {
    const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return cmdline.startsWith(bin + "/");
  } catch {
    return alive(pid);
  }
}

/**
 * Stops the processes of a cluster described by its state, newest first, and removes
 * its directory when it owns it. Controllers and kwok get SIGTERM (then SIGKILL after
 * `graceMs`); kube-apiserver and etcd get SIGKILL right away, because a graceful
 * apiserver shutdown takes about 10 s and their data is thrown away anyway.
 */
export async function stopClusterState(
  state: ClusterState,
  options: { graceMs?: number } = {},
): Promise<void> {
  const order = [...COMPONENTS].reverse();
  if (state.simulation) await stopSimulationProcess(state.simulation.pid);
  const ours = (name: Component) => {
    const pid = state.pids[name];
    return pid !== undefined && isOurProcess(pid, state.binDir);
  };
  const signal = (name: Component, sig: Deno.Signal) => {
    try {
      if (ours(name)) Deno.kill(state.pids[name]!, sig);
    } catch { /* already gone */ }
  };
  const waitGone = async (names: Component[], ms: number) => {
    const deadline = Date.now() + ms;
    while (names.some(ours) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const clients = order.filter((n) => n !== "kube-apiserver" && n !== "etcd");
  for (const name of clients) signal(name, "SIGTERM");
  await waitGone(clients, options.graceMs ?? 10_000);
  for (const name of order) signal(name, "SIGKILL");
  // SIGKILL is asynchronous too: wait (bounded) until every process is gone before
  // removing the files they may still hold.
  await waitGone(order, 5000);
  if (state.netnsRemove) {
    await new Deno.Command("sh", { args: ["-c", state.netnsRemove] }).output()
      .catch(() => {});
  }
  if (state.ownsDir) {
    await Deno.remove(state.dir, { recursive: true }).catch(() => {});
  }
}

/** Whether `pid` runs the simulated controllers (`sim/cli.ts controllers`). */
export function isSimulationProcess(pid: number): boolean {
  try {
    const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    return cmdline.includes("sim/cli.ts") && cmdline.includes("controllers");
  } catch {
    return false;
  }
}

/** SIGTERM to the simulated controllers, SIGKILL after 5 s; waits (bounded) until gone. */
async function stopSimulationProcess(pid: number): Promise<void> {
  const deadline = Date.now() + 5000;
  try {
    if (isSimulationProcess(pid)) Deno.kill(pid, "SIGTERM");
  } catch { /* gone */ }
  while (isSimulationProcess(pid) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    if (isSimulationProcess(pid)) Deno.kill(pid, "SIGKILL");
  } catch { /* gone */ }
  const killDeadline = Date.now() + 2000;
  while (isSimulationProcess(pid) && Date.now() < killDeadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Creates a namespace named `<prefix>-<random>` and waits for its default ServiceAccount. */
export async function createNamespace(
  kube: KubeClient,
  prefix: string,
): Promise<string> {
  const clean =
    prefix.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "")
      .slice(0, 40) || "test";
  const suffix = Array.from(
    crypto.getRandomValues(new Uint8Array(3)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const name = `${clean}-${suffix}`;
  await kube.apply({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "kfplan.test/ephemeral": "true" } },
  });
  // Pods are rejected until the controller-manager created the default ServiceAccount.
  await kube.waitFor(
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      namespace: name,
      name: "default",
    },
    (o) => o ? true : "not created yet",
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  return name;
}

async function waitReadyz(
  server: string,
  pki: { caCert: string; adminCert: string; adminKey: string },
  options: { timeoutMs: number; watch: Running[] },
): Promise<void> {
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(pki.caCert)],
    cert: await Deno.readTextFile(pki.adminCert),
    key: await Deno.readTextFile(pki.adminKey),
  });
  const deadline = Date.now() + options.timeoutMs;
  let last = "no answer yet";
  try {
    while (Date.now() < deadline) {
      const dead = options.watch.find((r) => r.exited);
      if (dead) {
        throw new Error(
          `${dead.name} exited during startup:\n${logTail(dead.log)}`,
        );
      }
      try {
        const res = await fetch(`${server}/readyz`, {
          client,
          signal: AbortSignal.timeout(2000),
        });
        last = `HTTP ${res.status}: ${
          (await res.text()).split("\n").filter((l) => l.includes("failed"))
            .join("; ") || "ok"
        }`;
        if (res.ok) return;
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `kube-apiserver not ready after ${options.timeoutMs}ms (last: ${last}):\n${
        logTail(options.watch.find((r) => r.name === "kube-apiserver")!.log)
      }`,
    );
  } finally {
    client.close();
  }
}

/**
 * Starts a control plane and resolves once `/readyz` answers ok and every simulated
 * node is Ready. Unless `detached`, the processes are stopped when this process exits
 * (normally, on Ctrl-C/SIGTERM, or — through a watchdog — when it is killed).
 */
export async function startCluster(
  options: StartClusterOptions = {},
): Promise<ClusterHandle> {
  for (let attempt = 1;; attempt++) {
    try {
      return await startOnce(options);
    } catch (e) {
      // Free ports are picked before the processes bind them; another process can win
      // that race. Start again with new ports.
      if (
        attempt < 3 &&
        /address already in use/i.test(String((e as Error).message))
      ) {
        options.onLog?.(`port taken, starting again (${attempt})`);
        continue;
      }
      throw e;
    }
  }
}

async function startOnce(options: StartClusterOptions): Promise<ClusterHandle> {
  const log = options.onLog ?? (() => {});
  const bin = options.binDir ?? await binDir();
  const ownsDir = options.dir === undefined || options.detached === true;
  const dir = options.dir ??
    await Deno.makeTempDir({ prefix: "kfplan-cluster-" });
  await Deno.mkdir(`${dir}/logs`, { recursive: true });
  const detached = options.detached ?? false;
  const timeoutMs = options.readyTimeoutMs ?? 120_000;
  const running: Running[] = [];
  let cleanup: (() => void) | undefined;

  const state: ClusterState = {
    version: 1,
    dir,
    kubeconfig: `${dir}/kubeconfig`,
    server: "",
    binDir: bin,
    pids: {},
    startedAt: new Date().toISOString(),
    ownsDir,
  };
  const saveState = () =>
    Deno.writeTextFileSync(
      `${dir}/cluster.json`,
      JSON.stringify(state, null, 2) + "\n",
    );

  const argsOf: Partial<Record<Component, string[]>> = {};
  function start(name: Component, args: string[]) {
    argsOf[name] = args;
    const r = spawnComponent(name, bin, args, {
      logDir: `${dir}/logs`,
      detached,
      wrap: state.netns
        ? (c) => ["ip", "netns", "exec", state.netns!, ...c]
        : undefined,
    });
    running.push(r);
    state.pids[name] = r.child.pid;
    saveState();
    return r;
  }

  try {
    const netns = await createNetns({ enabled: options.netns });
    const apiHost = netns?.nsIp ?? "127.0.0.1";
    if (netns) {
      state.netns = netns.name;
      state.hostIp = netns.hostIp;
      state.netnsRemove = netns.removeScript;
      log(`network namespace ${netns.name} (API server ${netns.nsIp})`);
    }
    const pki = await generatePki(`${dir}/pki`, { ipAddresses: [apiHost] });
    const [etcdPort, peerPort, apiPort, kwokPort] = freePorts(4);
    state.server = `https://${apiHost}:${apiPort}`;
    const auditArgs: string[] = [];
    if (options.auditLog) {
      state.auditLog = `${dir}/logs/audit.log`;
      await Deno.writeTextFile(`${dir}/audit-policy.yaml`, AUDIT_POLICY);
      auditArgs.push(
        `--audit-policy-file=${dir}/audit-policy.yaml`,
        `--audit-log-path=${state.auditLog}`,
        "--audit-log-format=json",
        "--audit-log-mode=blocking",
      );
    }
    saveState();
    if (!detached) cleanup = installExitHandlers(state);

    start("etcd", [
      `--data-dir=${dir}/etcd`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync",
      "--quota-backend-bytes=2147483648",
    ]);
    start("kube-apiserver", [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--cert-dir=${dir}/pki/serving`,
      `--secure-port=${apiPort}`,
      `--bind-address=${apiHost}`,
      `--advertise-address=${apiHost}`,
      "--service-cluster-ip-range=10.96.0.0/16",
      "--allow-privileged=true",
      "--authorization-mode=Node,RBAC",
      `--client-ca-file=${pki.caCert}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      // Reach aggregated APIs and webhooks through endpoint addresses: there is no
      // kube-proxy, so ClusterIPs lead nowhere.
      "--enable-aggregator-routing=true",
      `--requestheader-client-ca-file=${pki.caCert}`,
      "--requestheader-allowed-names=front-proxy-client",
      "--requestheader-username-headers=X-Remote-User",
      "--requestheader-group-headers=X-Remote-Group",
      "--requestheader-extra-headers-prefix=X-Remote-Extra-",
      `--proxy-client-cert-file=${pki.frontProxyCert}`,
      `--proxy-client-key-file=${pki.frontProxyKey}`,
      "--profiling=false",
      // The `kubernetes` Service cannot get a loopback endpoint (validation rejects
      // 127.0.0.0/8); without this the reconciler logs an error every 10 s.
      "--endpoint-reconciler-type=none",
      ...auditArgs,
    ]);
    await Deno.writeTextFile(
      state.kubeconfig,
      kubeconfigYaml(state.server, pki),
    );
    log(`waiting for ${state.server}/readyz`);
    await waitReadyz(state.server, pki, { timeoutMs, watch: running });

    const kcArgs = [`--kubeconfig=${state.kubeconfig}`, "--leader-elect=false"];
    start("kube-controller-manager", [
      ...kcArgs,
      `--service-account-private-key-file=${pki.saKey}`,
      `--root-ca-file=${pki.caCert}`,
      `--cluster-signing-cert-file=${pki.caCert}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      "--use-service-account-credentials=false",
      // No serving port: several clusters may run side by side.
      "--secure-port=0",
      "--profiling=false",
    ]);
    start("kube-scheduler", [
      ...kcArgs,
      "--secure-port=0",
      "--profiling=false",
    ]);
    start("kwok", [
      `--kubeconfig=${state.kubeconfig}`,
      "--manage-all-nodes=false",
      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
      "--cidr=10.244.0.1/16",
      "--node-ip=10.240.0.1",
      "--node-lease-duration-seconds=40",
      `--server-address=127.0.0.1:${kwokPort}`,
    ]);

    const kube = createKubeClient({ kubeconfig: state.kubeconfig });
    const nodes = options.nodes ?? defaultNodes();
    for (const node of nodes) await kube.apply(nodeObject(node));
    log(`waiting for ${nodes.length} nodes to be Ready`);
    await Promise.all(nodes.map((n) =>
      kube.waitFor(
        { apiVersion: "v1", kind: "Node", name: n.name },
        (o: KubeObject | undefined) => {
          const dead = running.find((r) => r.exited);
          if (dead) {
            throw new Error(`${dead.name} exited:\n${logTail(dead.log)}`);
          }
          // deno-lint-ignore no-explicit-any
          const ready = ((o?.status as any)?.conditions ?? []).find((c: any) =>
            c.type === "Ready"
          );
          return ready?.status === "True"
            ? true
            : `Ready=${ready?.status ?? "unknown"}`;
        },
        { timeoutMs, intervalMs: 100 },
      )
    ));
    saveState();
    let stopped = false;
    return {
      ...state,
      kube,
      namespace: (prefix: string) => createNamespace(kube, prefix),
      async restartApiServer(restart: { downMs?: number } = {}) {
        for (const r of running) {
          if (r.name !== "kube-apiserver" || r.exited) continue;
          r.child.kill("SIGKILL");
          await r.child.status;
        }
        await new Promise((r) => setTimeout(r, restart.downMs ?? 0));
        const again = start("kube-apiserver", argsOf["kube-apiserver"] ?? []);
        await waitReadyz(state.server, pki, { timeoutMs, watch: [again] });
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        kube.close();
        cleanup?.();
        await stopClusterState(state);
      },
    };
  } catch (e) {
    cleanup?.();
    const tails = running.filter((r) =>
      /already in use/.test(logTail(r.log, 50))
    );
    await stopClusterState(state, { graceMs: 2000 });
    if (
      tails.length > 0 && !/already in use/.test(String((e as Error).message))
    ) {
      throw new Error(
        `address already in use (${tails.map((t) => t.name).join(", ")})`,
        {
          cause: e,
        },
      );
    }
    throw e;
  }
}

/**
 * Makes sure the processes of `state` die with this process: on unload and on
 * SIGINT/SIGTERM here, and through a tiny watchdog shell when this process is killed
 * with SIGKILL. Returns a function that removes all of that again.
 */
function installExitHandlers(state: ClusterState): () => void {
  function killNow() {
    for (const pid of Object.values(state.pids)) {
      try {
        Deno.kill(pid!, "SIGKILL");
      } catch { /* gone */ }
    }
    if (state.netnsRemove) {
      try {
        new Deno.Command("sh", { args: ["-c", state.netnsRemove] })
          .outputSync();
      } catch { /* best effort: the watchdog tries again */ }
    }
    if (state.ownsDir) {
      try {
        Deno.removeSync(state.dir, { recursive: true });
      } catch { /* gone */ }
    }
  }
  function onSignal() {
    killNow();
    Deno.exit(130);
  }
  globalThis.addEventListener("unload", killNow);
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  // The watchdog reads the pid list from cluster.json so later-started components are
  // covered too.
  const watchdog = new Deno.Command("sh", {
    args: [
      "-c",
      `while kill -0 ${Deno.pid} 2>/dev/null; do sleep 1; done
       for p in $(sed -n 's/.*"\\(etcd\\|kube-[a-z-]*\\|kwok\\)": \\([0-9]*\\).*/\\2/p' "$1/cluster.json"); do
         kill -9 "$p" 2>/dev/null
       done
       ${state.netnsRemove ?? ""}
       ${state.ownsDir ? 'rm -rf "$1"' : ""}`,
      "kfplan-watchdog",
      state.dir,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  watchdog.unref();
  return () => {
    globalThis.removeEventListener("unload", killNow);
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    try {
      Deno.kill(watchdog.pid, "SIGKILL");
    } catch { /* gone */ }
  };
}

/** What integration tests get from {@linkcode useCluster}. */
export interface TestCluster {
  /** Admin kubeconfig path, for CLIs (kubectl, helm) and `connect()`. */
  kubeconfig: string;
  /** A client of that kubeconfig. */
  kube: KubeClient;
  /** Creates a namespace with a unique name starting with `prefix`. */
  namespace(prefix: string): Promise<string>;
}

let shared: Promise<TestCluster> | undefined;

/**
 * The control plane for this test process: the one named by `KFPLAN_TEST_KUBECONFIG`
 * (set by `deno task test`), otherwise one started on first use and stopped when the
 * process exits. Memoised per process so test files share it.
 */
export function useCluster(): Promise<TestCluster> {
  shared ??= (async () => {
    const kubeconfig = Deno.env.get("KFPLAN_TEST_KUBECONFIG");
    if (kubeconfig) {
      const kube = createKubeClient({ kubeconfig });
      return {
        kubeconfig,
        kube,
        namespace: (prefix: string) => createNamespace(kube, prefix),
      };
    }
    const handle = await startCluster({});
    return {
      kubeconfig: handle.kubeconfig,
      kube: handle.kube,
      namespace: handle.namespace,
    };
  })();
  shared.catch(() => shared = undefined);
  return shared;
}
