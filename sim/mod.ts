/**
 * The throwaway Kubernetes cluster of `deno task cluster` and of the integration
 * tests: a real control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler) with kwok's simulated nodes ({@linkcode startCluster},
 * {@linkcode useCluster}), a real HTTPS admission webhook server
 * ({@linkcode startWebhookServer}), and the simulated controllers a real cluster
 * would run ({@linkcode startSimulation} and the single controllers of
 * `sim/controllers/`). `sim/cli.ts` is the `cluster` command.
 *
 * @example
 * ```ts
 * import { startCluster, startSimulation } from "./mod.ts";
 *
 * const cluster = await startCluster({});
 * const sim = await startSimulation(cluster.kubeconfig, { hostIp: cluster.hostIp! });
 * // ... plan and apply against cluster.kubeconfig ...
 * await sim.stop();
 * await cluster.stop();
 * ```
 *
 * @module
 */

export * from "./harness.ts";
export * from "./webhook.ts";
export * from "./controllers/mod.ts";
export {
  clusterCommand,
  clusterRunning,
  defaultClusterDir,
  readClusterState,
  simulationStatus,
} from "./cli.ts";
