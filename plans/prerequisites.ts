/**
 * Cluster prerequisites of the platform: the default StorageClass (NFS subdir
 * provisioner) and MetalLB. Compose them before the Kubeflow steps: storage before
 * anything that creates PVCs (`needs: [STORAGE_STEP_ID]`), MetalLB before a
 * `LoadBalancer` ingress (`needs: [METALLB_STEP_ID]`).
 *
 * @example
 * ```ts
 * import { prerequisiteSteps } from "./prerequisites.ts";
 *
 * const steps = prerequisiteSteps({
 *   storage: { nfs: { server: "10.0.0.2", path: "/srv/nfs/kubeflow" } },
 *   metallb: { pools: [{ name: "default", addresses: ["192.168.1.240-192.168.1.250"] }] },
 * }, { source: "kfplan.yaml" });
 * ```
 *
 * @module
 */

import type { Step } from "../lib/engine/types.ts";
import { OptionsIssues } from "../lib/engine/options.ts";
import type { Helm } from "../lib/tools/helm.ts";
import {
  STORAGE_STEP_ID,
  type StorageOptionsInput,
  storageStep,
} from "../lib/steps/storage.ts";
import {
  METALLB_STEP_ID,
  type MetallbOptionsInput,
  metallbStep,
} from "../lib/steps/metallb.ts";

export { METALLB_STEP_ID, STORAGE_STEP_ID };

/** The config sections of the prerequisites (keys as in `kfplan.yaml`). */
export interface PrerequisiteOptions {
  /** The `storage` section: NFS subdir provisioner and the default StorageClass. */
  storage?: StorageOptionsInput;
  /** The `metallb` section: MetalLB chart and address pools. */
  metallb?: MetallbOptionsInput;
}

/** Where the options came from and how steps reach tools. */
export interface PrerequisiteContext {
  /** Config file named in validation errors. */
  source?: string;
  /** Path of the sections inside the config (default: top level). */
  prefix?: PropertyKey[];
  /** Directory relative paths (local charts) resolve against: the config file's. */
  baseDir?: string;
  /** Kubeconfig for helm (see `HelmReleaseEnv.kubeconfig`). */
  kubeconfig?: string;
  /** A located helm for both releases; found with `findHelm()` when absent. */
  helm?: Helm;
}

/** The prerequisite steps present in `options`, validated. */
export function prerequisiteSteps(
  options: PrerequisiteOptions,
  context: PrerequisiteContext = {},
): Step[] {
  const prefix = context.prefix ?? [];
  const env = {
    source: context.source,
    baseDir: context.baseDir,
    kubeconfig: context.kubeconfig,
    helm: context.helm,
  };
  const issues = new OptionsIssues();
  const steps: Step[] = [];
  if (options.storage) {
    const step = issues.attempt(() =>
      storageStep(options.storage!, { ...env, prefix: [...prefix, "storage"] })
    );
    if (step) steps.push(step);
  }
  if (options.metallb) {
    const step = issues.attempt(() =>
      metallbStep(options.metallb!, { ...env, prefix: [...prefix, "metallb"] })
    );
    if (step) steps.push(step);
  }
  issues.throwIfAny(context.source);
  return steps;
}
