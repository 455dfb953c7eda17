/**
 * The controllers a real cluster would run and a kwok cluster does not, simulated
 * through the real API so that kfplan's steps can verify on a throwaway cluster:
 *
 * | controller            | what it does                                                      |
 * | --------------------- | ----------------------------------------------------------------- |
 * | PV provisioner        | binds claims of the default StorageClass's provisioner            |
 * | MetalLB               | LoadBalancer addresses from IPAddressPools                        |
 * | GPU operator          | ClusterPolicy status and validator pods                           |
 * | device plugin         | node capacity from `devicePlugin.config` and time-slicing         |
 * | profile controller    | namespace, ServiceAccounts, RoleBindings, quota per Profile      |
 * | admission backends    | serves every webhook configuration's backend on this machine      |
 * | cert-manager          | issuers Ready, Certificates signed into `kubernetes.io/tls` Secrets |
 *
 * Everything they create carries the label `kfplan.dev/simulated: "true"`, and each
 * action is logged with "(simulated)".
 *
 * @example
 * ```ts
 * import { startSimulation } from "./mod.ts";
 *
 * const sim = await startSimulation("/tmp/cluster/kubeconfig", {
 *   hostIp: "10.0.0.1",
 *   onLog: console.log,
 * });
 * // ... deno task apply ...
 * await sim.stop();
 * ```
 *
 * @module
 */

import type { ClosableKubeClient } from "../../lib/kube/client.ts";
import { loop, simClient } from "./_loop.ts";
import { gpuRound } from "./gpu.ts";
import { metallbRound } from "./metallb.ts";
import { profileRound } from "./profiles.ts";
import { provisionerRound } from "./storage.ts";
import { startAdmissionBackends } from "./webhooks.ts";
import { certManagerRound, type CertManagerState } from "./cert_manager.ts";

export {
  type Played,
  SIM_FIELD_MANAGER,
  simClient,
  SIMULATED_LABEL,
  simulatedLabels,
} from "./_loop.ts";
export * from "./gpu.ts";
export * from "./metallb.ts";
export * from "./profiles.ts";
export * from "./storage.ts";
export * from "./webhooks.ts";
export {
  certManagerRound,
  type CertManagerRoundOptions,
  type CertManagerState,
  mintCertificate,
  type Minted,
  type MintOptions,
  playCertManager,
  type PlayCertManagerOptions,
  PLAYED_ACME_CA,
} from "./cert_manager.ts";

/** The simulated controllers, by name, as `cluster status` lists them. */
export const SIMULATED_CONTROLLERS = [
  "pv-provisioner",
  "metallb",
  "gpu-operator",
  "device-plugin",
  "profile-controller",
  "admission-backends",
  "cert-manager",
] as const;

/** Options of {@linkcode startSimulation}. */
export interface SimulationOptions {
  /** The address the API server reaches this machine at (webhook backends listen there). */
  hostIp: string;
  /** One line per action. */
  onLog?: (message: string) => void;
  /** Pause between rounds of each controller; default 300 ms. */
  intervalMs?: number;
}

/** Running simulated controllers. */
export interface Simulation {
  /** Stops every controller and the webhook servers. */
  stop(): Promise<void>;
}

/** Starts every controller of {@linkcode SIMULATED_CONTROLLERS} against `kubeconfig`. */
export async function startSimulation(
  kubeconfig: string,
  options: SimulationOptions,
): Promise<Simulation> {
  const log = options.onLog ?? (() => {});
  const intervalMs = options.intervalMs ?? 300;
  // Each controller has a client of its own so that one's slow round does not hold
  // up the others' requests.
  const clients: ClosableKubeClient[] = Array.from(
    { length: 6 },
    () => simClient(kubeconfig),
  );
  const [storage, metallb, gpu, profiles, webhooks, certs] = clients;
  const certState: CertManagerState = { history: [] };
  const history: string[] = [];
  const stops = [
    loop(async () => {
      await provisionerRound(storage, { onLog: log });
    }, { intervalMs, onLog: log, name: "pv-provisioner" }),
    loop(async () => {
      for (const line of await metallbRound(metallb)) {
        log(`assigned LoadBalancer address ${line} (simulated MetalLB)`);
      }
    }, { intervalMs, onLog: log, name: "metallb" }),
    loop(async () => {
      const before = history.length;
      await gpuRound(gpu, history);
      for (const line of history.slice(before)) {
        log(`GPU operator: ${line} (simulated)`);
      }
    }, { intervalMs, onLog: log, name: "gpu-operator" }),
    loop(async () => {
      for (const ns of await profileRound(profiles)) {
        log(`profile controller: namespace ${ns} created (simulated)`);
      }
    }, { intervalMs, onLog: log, name: "profile-controller" }),
    loop(async () => {
      await certManagerRound(certs, certState, { onLog: log });
    }, { intervalMs, onLog: log, name: "cert-manager" }),
  ];
  const backends = await startAdmissionBackends(webhooks, {
    hostIp: options.hostIp,
    onLog: log,
    intervalMs,
  });
  return {
    async stop() {
      await Promise.all(stops.map((s) => s()));
      await backends.close();
      for (const c of clients) c.close();
    },
  };
}
