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
 * With an image mirror's pull secret (`images.pullSecret`), each profile namespace
 * also gets the pull Secret (when kfplan creates it) and the profile controller's
 * ServiceAccounts `default-editor` and `default-viewer`, which the pods users start
 * there run as, get it in `imagePullSecrets`: that one field, server-side applied,
 * so kfplan's field manager owns nothing else of them. The accounts are the
 * controller's: the plan lists them in `patched`, so they are never members of the
 * step's inventory and never pruned (removing a profile removes its namespace, and
 * them with it). Apply patches them once the controller created them (bounded
 * wait). Without a pull secret any more, kfplan gives the field back
 * ({@linkcode serviceAccountPullRelease}) while the prune deletes the Secrets.
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
import {
  appliedBy,
  applyObjects,
  type FieldConflict,
  planObjects,
  planOptionsOf,
} from "../kube/apply_set.ts";
import { FIELD_MANAGER } from "../kube/client.ts";
import { mapLimit } from "../kube/_map_limit.ts";
import { pullSecretObject } from "../kube/images.ts";
import { type ObjectRef, refOf } from "../kube/object_ref.ts";
import type { KubeClient, KubeObject } from "../kube/types.ts";
import { readPullSecret } from "./image_mirror.ts";

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

/**
 * The ServiceAccounts Kubeflow's profile controller creates in every profile
 * namespace: notebooks, pipeline runs and KServe pods users start there run as them.
 */
export const PROFILE_SERVICE_ACCOUNTS: readonly string[] = [
  "default-editor",
  "default-viewer",
];

/** A ServiceAccount in a profile namespace, for {@linkcode serviceAccountPullPatch}. */
export interface ServiceAccountName {
  /** The profile namespace. */
  namespace: string;
  /** The account, e.g. `default-editor`. */
  name: string;
}

/**
 * What kfplan applies to a profile controller's ServiceAccount: `imagePullSecrets`
 * and nothing else, so that server-side apply gives kfplan's field manager that one
 * field and leaves the account's other fields (and their managers) as they are.
 */
export function serviceAccountPullPatch(
  account: ServiceAccountName,
  secret: string,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: account.name, namespace: account.namespace },
    imagePullSecrets: [{ name: secret }],
  };
}

/** The image mirror's pull secret as {@linkcode usersObjects} uses it. */
export interface ProfilePullSecret {
  /** The Secret's name, in `imagePullSecrets`. */
  name: string;
  /** The `.dockerconfigjson` when kfplan creates the Secret; absent for `{ name }`. */
  dockerConfigJson?: string;
}

/** Options for {@linkcode usersObjects}. */
export interface UsersObjectsOptions {
  /** The image mirror's pull secret, for every profile namespace. */
  pullSecret?: ProfilePullSecret;
}

/** {@linkcode usersObjects}'s result, in apply order. */
export interface UsersObjects {
  /** The Profiles. */
  profiles: KubeObject[];
  /** The `access-ml-pipeline` PodDefaults. */
  podDefaults: KubeObject[];
  /** The pull Secret in each profile namespace (when kfplan creates it). */
  pullSecrets: KubeObject[];
  /** The `imagePullSecrets` patches of the profile controller's ServiceAccounts. */
  serviceAccounts: KubeObject[];
}

/** Every object the step applies, Profiles first (pure: the login is passed in). */
export function usersObjects(
  o: UsersOptions,
  options: UsersObjectsOptions = {},
): UsersObjects {
  const pull = options.pullSecret;
  const login = pull?.dockerConfigJson;
  return {
    profiles: o.profiles.map(profileObject),
    podDefaults: o.profiles.filter((p) => p.accessMlPipeline).map((p) =>
      accessMlPipelinePodDefault(p.name)
    ),
    pullSecrets: pull && login !== undefined
      ? o.profiles.map((p) => pullSecretObject(pull.name, p.name, login))
      : [],
    serviceAccounts: pull
      ? o.profiles.flatMap((p) =>
        PROFILE_SERVICE_ACCOUNTS.map((name) =>
          serviceAccountPullPatch({ namespace: p.name, name }, pull.name)
        )
      )
      : [],
  };
}

/** The context's pull secret, its login read (and registered as secret) when kfplan makes the Secret. */
async function profilePullSecret(
  ctx: StepContext,
): Promise<ProfilePullSecret | undefined> {
  const pull = ctx.images?.pullSecret;
  if (!pull) return undefined;
  const login = await readPullSecret(ctx);
  return {
    name: pull.name,
    ...(login !== undefined ? { dockerConfigJson: login } : {}),
  };
}

/** The plan's desired objects split as apply uses them; from the options without a plan. */
async function plannedObjects(
  ctx: StepContext,
  plan: StepPlan | undefined,
  o: UsersOptions,
): Promise<
  {
    profiles: KubeObject[];
    inNamespace: KubeObject[];
    serviceAccounts: KubeObject[];
  }
> {
  if (!plan?.desired) {
    const made = usersObjects(o, { pullSecret: await profilePullSecret(ctx) });
    return {
      profiles: made.profiles,
      inNamespace: [...made.podDefaults, ...made.pullSecrets],
      serviceAccounts: made.serviceAccounts,
    };
  }
  return {
    profiles: plan.desired.filter((x) => x.kind === "Profile"),
    inNamespace: plan.desired.filter((x) =>
      x.kind !== "Profile" && x.kind !== "ServiceAccount"
    ),
    serviceAccounts: plan.desired.filter((x) => x.kind === "ServiceAccount"),
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
 * PodDefaults and pull Secrets go into profile namespaces the profile controller
 * creates: one whose namespace does not exist yet is a `create` known only after
 * apply.
 */
function laterInNamespace(object: KubeObject): ResourceChange {
  return {
    ...refOf(object),
    action: "create",
    diff: [],
    knownAfterApply: true,
    reason:
      `namespace ${object.metadata.namespace} is created by the profile controller from Profile ${object.metadata.namespace}`,
  };
}

/** The live ServiceAccount's `imagePullSecrets`, `[]` when it has none. */
function pullSecretsOf(live: KubeObject | undefined): unknown[] {
  const list = (live as { imagePullSecrets?: unknown } | undefined)
    ?.imagePullSecrets;
  return Array.isArray(list) ? list : [];
}

/** The parts of a `metadata.managedFields` entry read here. */
interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  fieldsV1?: Record<string, unknown>;
}

/**
 * Other field managers owning the live account's `imagePullSecrets` (an atomic
 * list: applying another value takes the whole list from them).
 */
function pullSecretConflicts(live: KubeObject): FieldConflict[] {
  const entries = (live.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  return entries.filter((e) =>
    e.manager !== FIELD_MANAGER && e.fieldsV1?.["f:imagePullSecrets"]
  ).map((e) => ({ manager: e.manager ?? "", fields: ["imagePullSecrets"] }));
}

/** Options for {@linkcode serviceAccountPullChange}. */
export interface ServiceAccountPullChangeOptions {
  /** `--force-conflicts`: take a list another manager owns instead of blocking. */
  forceConflicts?: boolean;
}

/**
 * The planned change of one profile ServiceAccount from its live state: its
 * `imagePullSecrets` only, so the plan shows no other field. One the profile
 * controller has not created yet is an update known after apply; a list another
 * field manager set (an atomic list: kfplan's value would replace it) blocks unless
 * `forceConflicts`.
 *
 * @example
 * ```ts
 * const patch = serviceAccountPullPatch({ namespace: "alice", name: "default-editor" }, "kfplan-registry");
 * serviceAccountPullChange(patch, undefined).knownAfterApply; // true
 * ```
 */
export function serviceAccountPullChange(
  patch: KubeObject,
  live: KubeObject | undefined,
  options: ServiceAccountPullChangeOptions = {},
): ResourceChange {
  const ref = refOf(patch);
  const want = (patch as { imagePullSecrets?: unknown }).imagePullSecrets;
  if (!live) {
    return {
      ...ref,
      action: "update",
      diff: [],
      knownAfterApply: true,
      reason:
        `created by the profile controller for Profile ${ref.namespace}; kfplan sets only its imagePullSecrets`,
    };
  }
  const before = pullSecretsOf(live);
  if (canonicalJson(before) === canonicalJson(want)) {
    return { ...ref, action: "no-op", diff: [] };
  }
  const change: ResourceChange = {
    ...ref,
    action: "update",
    diff: [{
      path: "imagePullSecrets",
      ...(before.length > 0 ? { before } : {}),
      after: want,
    }],
    reason:
      "the image mirror's pull secret for the pods users start as this account (kfplan sets only imagePullSecrets)",
  };
  const conflicts = before.length > 0 ? pullSecretConflicts(live) : [];
  if (conflicts.length === 0) return change;
  change.conflicts = conflicts;
  // As for any object: kfplan's own field taken by someone is drift it repairs;
  // a list kfplan never set is the user's unless they force it.
  if (appliedBy(live, FIELD_MANAGER)) {
    change.reason =
      "drift repair: kfplan set imagePullSecrets on this account; apply takes it back";
  } else if (options.forceConflicts) {
    change.reason =
      "conflict taken by --force-conflicts: imagePullSecrets (an atomic list: kfplan's value replaces it)";
  } else {
    change.blocked = true;
    change.reason =
      "conflict: another field manager set imagePullSecrets (an atomic list kfplan's value would replace); " +
      "plan and apply with --force-conflicts to replace it";
  }
  return change;
}

/** {@linkcode serviceAccountPullRelease}'s result. */
export interface ServiceAccountPullRelease {
  /** The account with no field: applied by kfplan, it gives up what it owned. */
  patch: KubeObject;
  /** The planned change: `imagePullSecrets` removed (kept when another manager set it too). */
  change: ResourceChange;
}

/**
 * Without a pull secret any more (`images.pullSecret` dropped): the field kfplan set
 * on a profile controller's ServiceAccount, given back. Server-side applying the
 * account with no field drops kfplan's ownership, and the list with it unless another
 * field manager set it too, so pods stop naming a Secret the prune deleted.
 * `undefined` when kfplan owns nothing of the account.
 *
 * @example
 * ```ts
 * const release = serviceAccountPullRelease(liveDefaultEditor);
 * if (release) desired.push(release.patch);
 * ```
 */
export function serviceAccountPullRelease(
  live: KubeObject,
): ServiceAccountPullRelease | undefined {
  const entries = (live.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  const owned = entries.some((e) =>
    e.manager === FIELD_MANAGER && e.operation === "Apply" &&
    !!e.fieldsV1?.["f:imagePullSecrets"]
  );
  if (!owned) return undefined;
  const ref = refOf(live);
  const shared = pullSecretConflicts(live).length > 0;
  const before = pullSecretsOf(live);
  return {
    patch: {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: ref.name, namespace: ref.namespace },
    },
    change: {
      ...ref,
      action: "update",
      diff: shared || before.length === 0
        ? []
        : [{ path: "imagePullSecrets", before }],
      reason:
        `no image mirror pull secret any more: kfplan gives up the imagePullSecrets it set${
          shared ? " (kept: another field manager set them too)" : ""
        }`,
    },
  };
}

/** Whether a namespace exists and is not going away. */
function liveNamespace(ns: KubeObject | undefined): boolean {
  return !!ns && !ns.metadata.deletionTimestamp;
}

async function planUsers(ctx: StepContext, o: UsersOptions): Promise<StepPlan> {
  const plan = emptyPlan();
  const pullSecret = await profilePullSecret(ctx);
  const { profiles, podDefaults, pullSecrets, serviceAccounts } = usersObjects(
    o,
    { pullSecret },
  );
  const profilePlan = await planObjects(ctx.kube, profiles, planOptionsOf(ctx));
  plan.changes.push(...profilePlan.changes);
  plan.observed.push(...profilePlan.observed);
  const namespaces = new Map<string, boolean>();
  for (const p of o.profiles) {
    namespaces.set(
      p.name,
      ctx.kube
        ? liveNamespace(
          await ctx.kube.get({
            apiVersion: "v1",
            kind: "Namespace",
            name: p.name,
          }),
        )
        : false,
    );
  }
  const inNamespace = [...podDefaults, ...pullSecrets];
  const ready = inNamespace.filter((x) =>
    namespaces.get(x.metadata.namespace!)
  );
  const later = inNamespace.filter((x) =>
    !namespaces.get(x.metadata.namespace!)
  )
    .map(laterInNamespace);
  const readyPlan = await planObjects(ctx.kube, ready, planOptionsOf(ctx));
  plan.changes.push(...readyPlan.changes, ...later);
  plan.observed.push(...readyPlan.observed);
  const accountChanges: ResourceChange[] = [];
  for (const patch of serviceAccounts) {
    const ref = refOf(patch);
    const live = ctx.kube && namespaces.get(ref.namespace!)
      ? await ctx.kube.get(ref)
      : undefined;
    if (live) {
      plan.observed.push({
        ...ref,
        resourceVersion: live.metadata.resourceVersion,
        uid: live.metadata.uid,
      });
    }
    accountChanges.push(
      serviceAccountPullChange(patch, live, {
        forceConflicts: ctx.policy?.forceConflicts,
      }),
    );
  }
  const releases: KubeObject[] = [];
  if (!pullSecret && ctx.kube) {
    for (const p of o.profiles.filter((p) => namespaces.get(p.name))) {
      for (const name of PROFILE_SERVICE_ACCOUNTS) {
        const ref = {
          apiVersion: "v1",
          kind: "ServiceAccount",
          namespace: p.name,
          name,
        };
        const live = await ctx.kube.get(ref);
        const release = live && serviceAccountPullRelease(live);
        if (!release) continue;
        releases.push(release.patch);
        accountChanges.push(release.change);
        plan.observed.push({
          ...ref,
          resourceVersion: live.metadata.resourceVersion,
          uid: live.metadata.uid,
        });
      }
    }
  }
  plan.changes.push(...accountChanges);
  const accounts = [...serviceAccounts, ...releases];
  plan.desired = [...profiles, ...podDefaults, ...pullSecrets, ...accounts];
  // The profile controller's accounts: patched, never members of the inventory.
  if (accounts.length > 0) plan.patched = accounts.map(refOf);
  const unknown = new Set(
    [...later, ...accountChanges.filter((c) => c.knownAfterApply)].map((c) =>
      c.namespace
    ),
  );
  if (unknown.size > 0) {
    plan.unknowns.push(
      `profile namespaces: ${
        o.profiles.filter((p) => unknown.has(p.name)).map((p) => p.name).join(
          ", ",
        )
      }`,
    );
  }
  plan.facts = {
    profiles: o.profiles.map((p) => p.name),
    ...(pullSecret ? { pullSecret: pullSecret.name } : {}),
  };
  return plan;
}

/** Why a wait for the profile controller is not over yet. */
const NOT_CREATED =
  "not created yet: is the Kubeflow profile controller (kubeflow/profiles-deployment) running?";

/** Waits (bounded) until the profile controller created the object. */
async function waitCreated(
  ctx: StepContext,
  kube: KubeClient,
  ref: ObjectRef,
  timeoutMs: number,
): Promise<KubeObject | undefined> {
  return await kube.waitFor(ref, (x) => {
    if (!x) return `${ref.kind} ${NOT_CREATED}`;
    // A namespace of a profile just removed is still going: pods and Secrets are refused there.
    return x.metadata.deletionTimestamp ? `${ref.kind} is being deleted` : true;
  }, { timeoutMs, signal: ctx.signal });
}

/**
 * Profiles, then (once the profile controller made their namespaces) PodDefaults and
 * pull Secrets, then (once it made the ServiceAccounts) their `imagePullSecrets`.
 */
async function applyUsers(
  ctx: StepContext,
  plan: StepPlan,
  o: UsersOptions,
): Promise<StepOutputs> {
  if (!ctx.kube) throw new Error("users: apply needs a cluster");
  const kube = ctx.kube;
  const timeoutMs = o.timeoutSeconds * 1000;
  const { profiles, inNamespace, serviceAccounts } = await plannedObjects(
    ctx,
    plan,
    o,
  );
  await applyObjects(kube, profiles, { signal: ctx.signal, timeoutMs });
  await Promise.all(profiles.map((p) =>
    waitCreated(ctx, kube, {
      apiVersion: "v1",
      kind: "Namespace",
      name: p.metadata.name,
    }, timeoutMs)
  ));
  await applyObjects(kube, inNamespace, { signal: ctx.signal, timeoutMs });
  // The accounts are the controller's: applied only once it created them (an apply
  // before would create them without its owner reference). The engine refuses
  // blocked lists before anything is written and forces only what the plan agreed.
  // One deadline for them all: the wait stays bounded however many profiles.
  const deadline = Date.now() + timeoutMs;
  await mapLimit(serviceAccounts, 8, async (patch) => {
    await waitCreated(
      ctx,
      kube,
      refOf(patch),
      Math.max(1000, deadline - Date.now()),
    );
    await kube.apply(patch);
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

/**
 * The profile controller's ServiceAccount carries the pull secret (bounded wait for
 * the account: the profile controller makes it).
 */
async function serviceAccountCheck(
  ctx: StepContext,
  kube: KubeClient,
  account: ServiceAccountName & { secret: string },
  timeoutMs: number,
): Promise<VerifyCheck> {
  const name =
    `ServiceAccount ${account.namespace}/${account.name} pulls with Secret ${account.secret}`;
  try {
    const live = await waitCreated(ctx, kube, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      namespace: account.namespace,
      name: account.name,
    }, timeoutMs);
    const list = pullSecretsOf(live) as { name?: string }[];
    return {
      name,
      ok: list.some((s) => s?.name === account.secret),
      detail: `imagePullSecrets ${canonicalJson(list)}`,
    };
  } catch (e) {
    return { name, ok: false, detail: (e as Error).message };
  }
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
  const planned = plan?.desired?.filter((x) => x.kind === "Profile") ??
    usersObjects(o).profiles;
  const pull = ctx.images?.pullSecret;
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
    if (!pull) continue;
    if (pull.read) {
      const secret = await kube.get({
        apiVersion: "v1",
        kind: "Secret",
        namespace: p.name,
        name: pull.name,
      });
      checks.push({
        name: `Secret ${p.name}/${pull.name} exists`,
        ok: secret?.type === "kubernetes.io/dockerconfigjson",
        detail: secret ? `type ${secret.type}` : "missing",
      });
    }
    for (const account of PROFILE_SERVICE_ACCOUNTS) {
      checks.push(
        await serviceAccountCheck(ctx, kube, {
          namespace: p.name,
          name: account,
          secret: pull.name,
        }, o.timeoutSeconds * 1000),
      );
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
