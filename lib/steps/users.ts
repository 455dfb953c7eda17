/**
 * The users step: Kubeflow Profiles (owner, resource quota) and, in each profile
 * namespace, the `access-ml-pipeline` PodDefault that lets notebooks call Kubeflow
 * Pipelines with a projected service-account token.
 *
 * Kubeflow's profile controller creates a profile's namespace; the step applies the
 * Profiles, waits (bounded) until each namespace exists, then applies the PodDefaults.
 * At plan time a PodDefault whose namespace does not exist yet is `create` and known
 * only after apply.
 *
 * @module
 */

import { z } from "../deps.ts";
import { canonicalJson } from "../engine/digest.ts";
import { defineStep, type DefineStepOptions } from "../engine/step.ts";
import {
  emptyPlan,
  type ResourceChange,
  type Step,
  type StepContext,
  type StepOutputs,
  type StepPlan,
  type VerifyCheck,
  type VerifyResult,
} from "../engine/types.ts";
import { applyObjects, planObjects, planOptionsOf } from "../kube/apply_set.ts";
import { refOf } from "../kube/object_ref.ts";
import type { KubeClient, KubeObject } from "../kube/types.ts";

/** Default id of the step. */
export const USERS_STEP_ID = "users";

const QUANTITY =
  /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/;

const quantity = z.union([z.string(), z.number()]).transform(String).refine(
  (v) => QUANTITY.test(v),
  {
    message: 'a Kubernetes quantity such as "4", "500m", "16Gi"',
  },
);

/** A profile's resource quota, as Kubeflow's `resourceQuotaSpec.hard`. */
export const resourceQuotaSchema = z.object({
  /** `cpu` (requests). */
  cpu: quantity.optional(),
  /** `memory` (requests). */
  memory: quantity.optional(),
  /** `persistentvolumeclaims`: how many PVCs. */
  pvcs: z.int().min(0).optional(),
  /** `requests.storage`: total PVC storage. */
  storage: quantity.optional(),
  /** `requests.nvidia.com/gpu`. */
  gpus: z.int().min(0).optional(),
}).strict();

/** One profile. */
export const profileSchema = z.object({
  /** Profile and namespace name (DNS label). */
  name: z.string().regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    "a DNS label: lower-case letters, digits and dashes",
  ).max(63),
  /** The owner's email, as the identity provider reports it. */
  owner: z.email({
    error: "the owner's email address (the kubeflow-userid the gateway sets)",
  }),
  resourceQuota: resourceQuotaSchema.optional(),
  /** Create the `access-ml-pipeline` PodDefault in the namespace; default true. */
  accessMlPipeline: z.boolean().default(true),
}).strict();

/** Options of the users step. */
export const usersOptionsSchema = z.object({
  profiles: z.array(profileSchema).min(1, "at least one profile"),
  /** Bound of the wait for each profile namespace. */
  timeoutSeconds: z.int().min(1).max(3600).default(300),
}).strict().superRefine((o, ctx) => {
  const seen = new Set<string>();
  o.profiles.forEach((p, i) => {
    if (seen.has(p.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["profiles", i, "name"],
        message: `duplicate profile ${p.name}`,
      });
    }
    seen.add(p.name);
  });
});

/** Validated users options. */
export type UsersOptions = z.output<typeof usersOptionsSchema>;
/** Users options as written. */
export type UsersOptionsInput = z.input<typeof usersOptionsSchema>;
/** One validated profile. */
export type ProfileOptions = z.output<typeof profileSchema>;

/** Builds a Profile object. */
export function profileObject(p: ProfileOptions): KubeObject {
  const spec: Record<string, unknown> = {
    owner: { kind: "User", name: p.owner },
  };
  const q = p.resourceQuota;
  if (q) {
    const hard: Record<string, string> = {};
    if (q.cpu !== undefined) hard.cpu = q.cpu;
    if (q.memory !== undefined) hard.memory = q.memory;
    if (q.pvcs !== undefined) hard.persistentvolumeclaims = String(q.pvcs);
    if (q.storage !== undefined) hard["requests.storage"] = q.storage;
    if (q.gpus !== undefined) hard["requests.nvidia.com/gpu"] = String(q.gpus);
    spec.resourceQuotaSpec = { hard };
  }
  return {
    apiVersion: "kubeflow.org/v1",
    kind: "Profile",
    metadata: { name: p.name },
    spec,
  };
}

/** The `access-ml-pipeline` PodDefault for a namespace (shape from the manifests docs). */
export function accessMlPipelinePodDefault(namespace: string): KubeObject {
  return {
    apiVersion: "kubeflow.org/v1alpha1",
    kind: "PodDefault",
    metadata: { name: "access-ml-pipeline", namespace },
    spec: {
      desc: "Allow access to Kubeflow Pipelines",
      selector: { matchLabels: { "access-ml-pipeline": "true" } },
      env: [{
        name: "KF_PIPELINES_SA_TOKEN_PATH",
        value: "/var/run/secrets/kubeflow/pipelines/token",
      }],
      volumes: [{
        name: "volume-kf-pipeline-token",
        projected: {
          sources: [{
            serviceAccountToken: {
              path: "token",
              expirationSeconds: 7200,
              audience: "pipelines.kubeflow.org",
            },
          }],
        },
      }],
      volumeMounts: [{
        mountPath: "/var/run/secrets/kubeflow/pipelines",
        name: "volume-kf-pipeline-token",
        readOnly: true,
      }],
    },
  };
}

/** Every object the step manages, Profiles first. */
export function usersObjects(
  o: UsersOptions,
): { profiles: KubeObject[]; podDefaults: KubeObject[] } {
  return {
    profiles: o.profiles.map(profileObject),
    podDefaults: o.profiles.filter((p) => p.accessMlPipeline).map((p) =>
      accessMlPipelinePodDefault(p.name)
    ),
  };
}

/** The plan's desired objects split as apply uses them; from the options without a plan. */
function plannedObjects(
  plan: StepPlan | undefined,
  o: UsersOptions,
): { profiles: KubeObject[]; podDefaults: KubeObject[] } {
  if (!plan?.desired) return usersObjects(o);
  return {
    profiles: plan.desired.filter((x) => x.kind === "Profile"),
    podDefaults: plan.desired.filter((x) => x.kind !== "Profile"),
  };
}

/** Options for {@linkcode usersStep}. */
export interface UsersStepOptions extends DefineStepOptions {
  /** Step id; default {@linkcode USERS_STEP_ID}. */
  id?: string;
  /** Default `["kubeflow"]`: Profiles need the Kubeflow CRDs and profile controller. */
  needs?: string[];
}

/**
 * PodDefaults go into profile namespaces the profile controller creates: one whose
 * namespace does not exist yet is a `create` known only after apply.
 */
function laterPodDefault(pd: KubeObject): ResourceChange {
  return {
    ...refOf(pd),
    action: "create",
    diff: [],
    knownAfterApply: true,
    reason:
      `namespace ${pd.metadata.namespace} is created by the profile controller from Profile ${pd.metadata.namespace}`,
  };
}

async function planUsers(ctx: StepContext, o: UsersOptions): Promise<StepPlan> {
  const plan = emptyPlan();
  const { profiles, podDefaults } = usersObjects(o);
  const profilePlan = await planObjects(ctx.kube, profiles, planOptionsOf(ctx));
  plan.changes.push(...profilePlan.changes);
  plan.observed.push(...profilePlan.observed);
  const ready: KubeObject[] = [];
  const later: ResourceChange[] = [];
  for (const pd of podDefaults) {
    const ns = ctx.kube
      ? await ctx.kube.get({
        apiVersion: "v1",
        kind: "Namespace",
        name: pd.metadata.namespace!,
      })
      : undefined;
    if (ns) ready.push(pd);
    else later.push(laterPodDefault(pd));
  }
  const pdPlan = await planObjects(ctx.kube, ready, planOptionsOf(ctx));
  plan.changes.push(...pdPlan.changes, ...later);
  plan.observed.push(...pdPlan.observed);
  plan.desired = [...profiles, ...podDefaults];
  if (later.length > 0) {
    plan.unknowns.push(
      `profile namespaces: ${later.map((c) => c.namespace).join(", ")}`,
    );
  }
  plan.facts = { profiles: o.profiles.map((p) => p.name) };
  return plan;
}

/** Profiles, then (once the profile controller made their namespaces) PodDefaults. */
async function applyUsers(
  ctx: StepContext,
  plan: StepPlan,
  o: UsersOptions,
): Promise<StepOutputs> {
  if (!ctx.kube) throw new Error("users: apply needs a cluster");
  const kube = ctx.kube;
  const { profiles, podDefaults } = plannedObjects(plan, o);
  await applyObjects(kube, profiles, {
    signal: ctx.signal,
    timeoutMs: o.timeoutSeconds * 1000,
  });
  await Promise.all(profiles.map((p) =>
    kube.waitFor(
      { apiVersion: "v1", kind: "Namespace", name: p.metadata.name },
      (ns) =>
        ns
          ? true
          : `namespace not created yet: is the Kubeflow profile controller (kubeflow/profiles-deployment) running?`,
      { timeoutMs: o.timeoutSeconds * 1000, signal: ctx.signal },
    )
  ));
  await applyObjects(kube, podDefaults, {
    signal: ctx.signal,
    timeoutMs: o.timeoutSeconds * 1000,
  });
  return {
    profiles: o.profiles.map((p) => p.name),
    namespaces: o.profiles.map((p) => p.name),
  };
}

/** The fields of a Profile's spec verify compares. */
interface ProfileSpec {
  owner?: { name?: string };
  resourceQuotaSpec?: unknown;
}

/** The live Profile has the planned owner and quota. */
async function profileCheck(
  kube: KubeClient,
  p: UsersOptions["profiles"][number],
  want: KubeObject,
): Promise<VerifyCheck> {
  const live = await kube.get({
    apiVersion: "kubeflow.org/v1",
    kind: "Profile",
    name: p.name,
  });
  const spec = live?.spec as ProfileSpec | undefined;
  const wantSpec = want.spec as ProfileSpec;
  return {
    name: `Profile ${p.name} owned by ${p.owner}`,
    ok: !!live &&
      canonicalJson(spec?.owner) === canonicalJson(wantSpec.owner) &&
      canonicalJson(spec?.resourceQuotaSpec ?? null) ===
        canonicalJson(wantSpec.resourceQuotaSpec ?? null),
    detail: live
      ? `owner ${spec?.owner?.name}; quota ${
        canonicalJson(spec?.resourceQuotaSpec ?? null)
      }`
      : "missing",
  };
}

/** The profile's namespace exists (bounded wait: the profile controller makes it). */
async function namespaceCheck(
  ctx: StepContext,
  kube: KubeClient,
  name: string,
  timeoutMs: number,
): Promise<VerifyCheck> {
  try {
    await kube.waitFor(
      { apiVersion: "v1", kind: "Namespace", name },
      (ns) => ns ? true : "namespace not created yet",
      { timeoutMs, signal: ctx.signal },
    );
    return { name: `namespace ${name} exists`, ok: true };
  } catch (e) {
    return {
      name: `namespace ${name} exists`,
      ok: false,
      detail: (e as Error).message,
    };
  }
}

async function verifyUsers(
  ctx: StepContext,
  o: UsersOptions,
  plan: StepPlan | undefined,
): Promise<VerifyResult> {
  if (!ctx.kube) {
    return {
      checks: [{ name: "cluster reachable", ok: false, detail: "offline" }],
    };
  }
  const kube = ctx.kube;
  const checks: VerifyCheck[] = [];
  const planned = plannedObjects(plan, o).profiles;
  for (const p of o.profiles) {
    const want = planned.find((x) => x.metadata.name === p.name) ??
      profileObject(p);
    checks.push(await profileCheck(kube, p, want));
    checks.push(
      await namespaceCheck(ctx, kube, p.name, o.timeoutSeconds * 1000),
    );
    if (p.accessMlPipeline) {
      const pd = await kube.get({
        apiVersion: "kubeflow.org/v1alpha1",
        kind: "PodDefault",
        namespace: p.name,
        name: "access-ml-pipeline",
      });
      checks.push({
        name: `PodDefault ${p.name}/access-ml-pipeline exists`,
        ok: !!pd,
      });
    }
  }
  return { checks };
}

/**
 * Creates the users step.
 *
 * @example
 * ```ts
 * const step = usersStep({
 *   profiles: [{ name: "alice", owner: "alice@example.com", resourceQuota: { cpu: "8", gpus: 1 } }],
 * }, { source: "kfplan.yaml", prefix: ["users"] });
 * ```
 */
export function usersStep(
  options: UsersOptionsInput,
  stepOptions: UsersStepOptions = {},
): Step<UsersOptions> {
  return defineStep({
    id: stepOptions.id ?? USERS_STEP_ID,
    title: "Kubeflow profiles and their PodDefaults",
    needs: stepOptions.needs ?? ["kubeflow"],
    schema: usersOptionsSchema,
    options,
    plan: (ctx, o) => planUsers(ctx, o),
    apply: (ctx, plan, o) => applyUsers(ctx, plan, o),
    verify: (ctx, o, plan) => verifyUsers(ctx, o, plan),
  }, { source: stepOptions.source, prefix: stepOptions.prefix ?? ["users"] });
}
