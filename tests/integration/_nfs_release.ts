/**
 * The NFS provisioner chart as a Helm-based step under a fresh release and
 * namespace (a non-default StorageClass) on the shared control plane, removed again
 * afterwards. Shared by the Helm release tests.
 *
 * @module
 */

import { sharedChart } from "../_shared.ts";
import { type TestCluster, useCluster } from "../cluster/harness.ts";
import type { Step, StepContext } from "../../lib/engine/types.ts";
import type { KubeClient } from "../../lib/kube/types.ts";
import { type StorageOptions, storageStep } from "../../lib/steps/storage.ts";
import { findHelm, type Helm, helmUninstall } from "../../lib/tools/helm.ts";

/** What {@linkcode withNfsRelease} hands its body. */
export interface NfsRelease {
  /** The shared control plane. */
  cluster: TestCluster;
  /** Its client. */
  kube: KubeClient;
  /** The helm binary. */
  helm: Helm;
  /** The release's namespace. */
  namespace: string;
  /** The release's name (also the StorageClass's). */
  release: string;
  /** The step's work directory, removed afterwards. */
  workDir: string;
  /** The storage step installing the release. */
  step: Step<StorageOptions>;
  /** A fresh step context (quiet log) in `workDir`. */
  context(): StepContext;
}

/**
 * Runs `body` with an NFS provisioner release named `<prefix>-<random>`, then
 * uninstalls it, deletes its namespace and removes the work directory.
 */
export async function withNfsRelease(
  prefix: string,
  body: (release: NfsRelease) => Promise<void>,
): Promise<void> {
  const cluster = await useCluster();
  const { kube } = cluster;
  const helm = await findHelm();
  const name = `${prefix}-${crypto.randomUUID().slice(0, 6)}`;
  const workDir = await Deno.makeTempDir({ prefix: `kfplan-${prefix}-` });
  const step = storageStep({
    chart: { path: sharedChart("nfs-subdir-external-provisioner-4.0.18") },
    namespace: name,
    release: name,
    nfs: { server: "192.0.2.10", path: "/export/kfplan" },
    storageClass: { name, default: false },
  }, { kubeconfig: cluster.kubeconfig, helm });
  function context(): StepContext {
    return {
      kube,
      offline: false,
      outputs: {},
      log: { info() {}, warn() {}, debug() {} },
      workDir,
      signal: new AbortController().signal,
    };
  }
  try {
    await body({
      cluster,
      kube,
      helm,
      namespace: name,
      release: name,
      workDir,
      step,
      context,
    });
  } finally {
    await helmUninstall(helm, {
      kubeconfig: cluster.kubeconfig,
      release: name,
      namespace: name,
    }).catch(() => false);
    await kube.delete({ apiVersion: "v1", kind: "Namespace", name })
      .catch(() => false);
    await Deno.remove(workDir, { recursive: true });
  }
}
