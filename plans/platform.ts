/**
 * The Kubeflow part of the full-platform composition: the manifests step and the
 * users step. Compose after the prerequisites (`plans/prerequisites.ts`): pass their
 * step ids as `needs`, and `defaultStorageClassFromPlan: true` when the storage step
 * of the same plan creates the default StorageClass.
 *
 * @example
 * ```ts
 * import { kubeflowPlatformSteps } from "./platform.ts";
 *
 * const steps = kubeflowPlatformSteps({
 *   kubeflow: {
 *     manifests: "./kubeflow-manifests",
 *     oidcClient: { secret: { env: "KF_OIDC_CLIENT_SECRET" } },
 *     oauth2Proxy: { cookieSecret: { env: "KF_COOKIE_SECRET" } },
 *     dex: { staticUsers: [{ email: "alice@example.com", password: { env: "ALICE_PASSWORD" } }] },
 *   },
 *   users: { profiles: [{ name: "alice", owner: "alice@example.com" }] },
 * }, { source: "kfplan.yaml", needs: ["storage", "metallb"], defaultStorageClassFromPlan: true });
 * ```
 *
 * @module
 */

import type { Step } from "../lib/engine/types.ts";
import { OptionsIssues } from "../lib/engine/options.ts";
import { KUBEFLOW_STEP_ID, kubeflowStep } from "../lib/steps/kubeflow/step.ts";
import type { KubeflowOptionsInput } from "../lib/steps/kubeflow/options.ts";
import {
  USERS_STEP_ID,
  type UsersOptionsInput,
  usersStep,
} from "../lib/steps/users.ts";

export { KUBEFLOW_STEP_ID, USERS_STEP_ID };

/** The config sections of the Kubeflow part (keys as in `kfplan.yaml`). */
export interface KubeflowPlatformOptions {
  /** The `kubeflow` section: the manifests checkout and its settings. */
  kubeflow?: KubeflowOptionsInput;
  /** The `users` section: Profiles and per-namespace PodDefaults. */
  users?: UsersOptionsInput;
}

/** Where the options came from and how the steps fit into the rest of the plan. */
export interface KubeflowPlatformContext {
  /** Config file named in errors. */
  source?: string;
  /** Path of the sections inside the config (default: top level). */
  prefix?: PropertyKey[];
  /** Directory relative paths are resolved against (the config file's). */
  baseDir?: string;
  /** Step ids the Kubeflow step needs (storage, MetalLB). */
  needs?: string[];
  /** A step of the same plan creates the default StorageClass. */
  defaultStorageClassFromPlan?: boolean;
  /** Environment for `{ env }` secrets; default `Deno.env`. */
  env?: Record<string, string | undefined>;
}

/** The Kubeflow and users steps present in `options`, validated. */
export function kubeflowPlatformSteps(
  options: KubeflowPlatformOptions,
  context: KubeflowPlatformContext = {},
): Step[] {
  const prefix = context.prefix ?? [];
  const steps: Step[] = [];
  const issues = new OptionsIssues();
  if (options.kubeflow) {
    const kubeflow = context.defaultStorageClassFromPlan
      ? { ...options.kubeflow, defaultStorageClassFromPlan: true }
      : options.kubeflow;
    const step = issues.attempt(() =>
      kubeflowStep(kubeflow, {
        source: context.source,
        prefix: [...prefix, "kubeflow"],
        baseDir: context.baseDir,
        needs: context.needs,
        env: context.env,
      })
    );
    if (step) steps.push(step);
  }
  if (options.users) {
    const step = issues.attempt(() =>
      usersStep(options.users!, {
        source: context.source,
        prefix: [...prefix, "users"],
        needs: options.kubeflow ? [KUBEFLOW_STEP_ID] : [],
      })
    );
    if (step) steps.push(step);
  }
  issues.throwIfAny(context.source);
  return steps;
}
