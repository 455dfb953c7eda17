/**
 * Which cluster the engine talks to. A checkpoint, a saved plan and the digest key
 * belong to one cluster, not to an address: a local cluster deleted and recreated with
 * the same name and port must not inherit the old one's "verified" steps. The
 * `kube-system` namespace's uid is the cluster's own identity (it exists from the
 * start and never changes while the cluster lives); server and context are kept for
 * people to read.
 *
 * @module
 */

import type { KubeClient } from "../kube/types.ts";

/** The cluster a checkpoint or plan belongs to. */
export interface ClusterIdentity {
  /** API server URL. */
  server: string;
  /** kubeconfig context name. */
  context: string;
  /** uid of the `kube-system` namespace; absent without a cluster. */
  uid?: string;
}

/** Identity used when steps run without a cluster (offline plans, custom steps, tests). */
export const NO_CLUSTER: ClusterIdentity = { server: "none", context: "none" };

/**
 * The identity of the cluster behind `kube` ({@linkcode NO_CLUSTER} without one).
 * Throws when `kube-system` cannot be read: without it, state could be attached to
 * the wrong cluster.
 */
export async function identifyCluster(
  kube: KubeClient | undefined,
): Promise<ClusterIdentity> {
  if (!kube) return NO_CLUSTER;
  const ns = await kube.get({
    apiVersion: "v1",
    kind: "Namespace",
    name: "kube-system",
  });
  const uid = ns?.metadata.uid;
  if (!uid) {
    throw new Error(
      `cannot identify the cluster at ${kube.server}: namespace kube-system was not found (kfplan keys its state by its uid)`,
    );
  }
  return { server: kube.server, context: kube.context, uid };
}

/** One line for people: `context (server)`. */
export function describeCluster(cluster: ClusterIdentity): string {
  return `${cluster.context} (${cluster.server})`;
}

/**
 * Why `recorded` is not `current`, or undefined when they are the same cluster: the
 * uid decides when both have one (a recreated cluster at the same address differs).
 */
export function clusterMismatch(
  recorded: ClusterIdentity,
  current: ClusterIdentity,
): string | undefined {
  if (recorded.uid !== undefined && current.uid !== undefined) {
    if (recorded.uid === current.uid) return undefined;
    const same = recorded.server === current.server;
    return `it belongs to cluster ${
      describeCluster(recorded)
    } (kube-system uid ${recorded.uid}), not ${
      describeCluster(current)
    } (kube-system uid ${current.uid})${
      same ? ": the cluster at this address was recreated" : ""
    }`;
  }
  if (
    recorded.server === current.server &&
    recorded.context === current.context &&
    recorded.uid === current.uid
  ) return undefined;
  return `it belongs to cluster ${describeCluster(recorded)}, not ${
    describeCluster(current)
  }`;
}
