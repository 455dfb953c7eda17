/**
 * Test helpers around the controllers that do not run on a kwok cluster. The
 * controllers themselves live in `sim/controllers/` (shared with `deno task cluster
 * up`) and are re-exported here under the names the tests use: the NFS provisioner
 * (binds PVCs), MetalLB's controller (assigns LoadBalancer addresses, plays its
 * webhook), the GPU operator (ClusterPolicy status, validator pod with its four
 * validations) and the NVIDIA device plugin with GPU feature discovery. Each `play*`
 * starts a polling loop and returns a way to stop it.
 *
 * @module
 */

import { type Helm, helmUninstall } from "../../lib/tools/helm.ts";
import type { StepContext } from "../../lib/engine/types.ts";
import type { KubeClient } from "../../lib/kube/types.ts";
import {
  type ClosableKubeClient,
  createKubeClient,
} from "../../lib/kube/client.ts";
import { type ClusterHandle, startCluster } from "../cluster/harness.ts";

export {
  type BackendGate,
  devicePluginRound,
  gpuOperatorRound,
  METALLB_NAMESPACE,
  playDevicePlugin,
  type PlayDevicePluginOptions,
  type Played,
  playGpuOperator,
  type PlayGpuOperatorOptions,
  playLoadBalancer,
  playMetallbWebhook,
  playNfsProvisioner,
  type Validation,
  VALIDATIONS,
} from "../../sim/controllers/mod.ts";

/**
 * A control plane of its own (one kwok node) for a test that changes cluster-wide
 * behaviour other tests rely on: which StorageClass is the default, who answers
 * LoadBalancer Services. The shared cluster of `deno task test` runs the Kubeflow
 * scenario in parallel, with its own default class and LoadBalancer stand-in.
 */
export function privateCluster(): Promise<ClusterHandle> {
  return startCluster({ nodes: [{ name: "kwok-node-0" }] });
}

/**
 * A client for the played controllers and test fixtures, under its own field manager:
 * server-side apply under kfplan's manager would otherwise drop fields kfplan applied
 * earlier (and the other way round).
 */
export function playedClient(kubeconfig: string): ClosableKubeClient {
  return createKubeClient({
    kubeconfig,
    fieldManager: "kfplan-test-controller",
  });
}

/**
 * A step context for tests, logging to the test output. `workDir` is a directory the
 * test owns and removes (see `tempDir` in `tests/_shared.ts`).
 */
export function testContext(
  workDir: string,
  kube: KubeClient | undefined,
  outputs: StepContext["outputs"] = {},
  signal: AbortSignal = new AbortController().signal,
): StepContext {
  return {
    kube,
    offline: !kube,
    outputs,
    log: {
      info: (m) => console.log(`  [step] ${m}`),
      warn: (m) => console.log(`  [step] WARN ${m}`),
      debug() {},
    },
    workDir,
    signal,
  };
}

/** A short random suffix for cluster-scoped names. */
export function tag(): string {
  return crypto.randomUUID().slice(0, 6);
}

/**
 * A client that creates simulated nodes as kubelet and node feature discovery would
 * own them: a field manager of its own, so the played device plugin's and kfplan's
 * server-side applies of a few node fields leave the rest alone.
 */
export function nodeFixtureClient(kubeconfig: string): ClosableKubeClient {
  return createKubeClient({ kubeconfig, fieldManager: "kfplan-test-kubelet" });
}

/** What {@linkcode removeRelease} cleans up. */
export interface ReleaseToRemove {
  kubeconfig: string;
  release: string;
  namespace: string;
}

/**
 * Test cleanup: uninstalls a Helm release and deletes its namespace, ignoring what is
 * already gone, so a failed test still leaves the shared cluster tidy.
 */
export async function removeRelease(
  helm: Helm,
  kube: KubeClient,
  target: ReleaseToRemove,
): Promise<void> {
  await helmUninstall(helm, target).catch(() => false);
  await kube.delete({
    apiVersion: "v1",
    kind: "Namespace",
    name: target.namespace,
  }).catch(() => false);
}
