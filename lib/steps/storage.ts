/**
 * The default StorageClass, backed by the NFS subdir external provisioner chart.
 *
 * - NFS `server` and `path` are required and validated; class name, reclaim policy,
 *   archive/onDelete behaviour, path pattern, binding mode and mount options are typed.
 * - Exactly one default class when done: other classes carrying
 *   `storageclass.kubernetes.io/is-default-class: "true"` are switched to `"false"`,
 *   and the plan shows each of them as an update.
 * - A StorageClass's `provisioner`, `parameters`, `reclaimPolicy` and
 *   `volumeBindingMode` are immutable: a change is planned as `replace` with a warning
 *   (existing volumes keep the old settings), and apply deletes the class before Helm
 *   recreates it.
 * - Verify, as upstream's test does: a PVC binds, a pod (a Job, so it finishes) writes
 *   `/mnt/SUCCESS` to it, then both are removed. Waits are bounded; a PVC that does
 *   not bind fails with the PVC's events.
 *
 * @module
 */

import { PROBE_LABEL } from "./probe.ts";
import { z } from "../deps.ts";
import { defineStep, type DefineStepOptions } from "../engine/step.ts";
import type {
  FieldDiff,
  ObjectRef,
  ResourceChange,
  Step,
  StepContext,
  StepPlan,
  VerifyCheck,
  VerifyResult,
} from "../engine/types.ts";
import type { KubeClient, KubeObject } from "../kube/types.ts";
import { pvcBound } from "../kube/wait.ts";
import { mirrorObjects } from "./image_mirror.ts";
import {
  applyRelease,
  chartSourceSchema,
  type DesiredRelease,
  type HelmReleaseEnv,
  type HelmReleaseSpec,
  planRelease,
  renderRelease,
  requireKube,
  splitDesired,
  uninstallRelease,
  verifyRelease,
} from "./helm_release.ts";

/** Step id of the default StorageClass. */
export const STORAGE_STEP_ID = "storage";

/** The annotation that marks the default StorageClass. */
export const DEFAULT_CLASS_ANNOTATION =
  "storageclass.kubernetes.io/is-default-class";
const BETA_DEFAULT_ANNOTATION =
  "storageclass.beta.kubernetes.io/is-default-class";

const HOST =
  /^(([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*|\[?[0-9a-fA-F:]+\]?)$/;
const DNS = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Options of {@linkcode storageStep}. */
export const storageOptionsSchema = z.strictObject({
  namespace: z.string().regex(DNS, { message: "use a lowercase DNS label" })
    .default("nfs-provisioner"),
  release: z.string().regex(DNS, { message: "use a lowercase DNS label" })
    .default("nfs-subdir-external-provisioner"),
  chart: chartSourceSchema.default({
    repo: "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner/",
    chart: "nfs-subdir-external-provisioner",
    version: "4.0.18",
  }),
  nfs: z.strictObject({
    /** NFS server hostname or IP; the chart has no default and does not check it. */
    server: z.string().regex(HOST, {
      message: 'use the NFS server\'s hostname or IP, e.g. "10.0.0.2"',
    }),
    /** Exported directory on the server. */
    path: z.string().regex(/^\/\S*$/, {
      message: 'use the absolute exported path, e.g. "/srv/nfs/kubeflow"',
    }),
    /** e.g. `["nfsvers=4.1", "hard"]`. */
    mountOptions: z.array(
      z.string().regex(/^[\w.=,-]+$/, {
        message: 'use options such as "nfsvers=4.1"',
      }),
    )
      .optional(),
  }),
  storageClass: z.strictObject({
    name: z.string().regex(DNS, { message: "use a lowercase DNS name" })
      .default("nfs-client"),
    /** Make this the (only) default class. */
    default: z.boolean().default(true),
    reclaimPolicy: z.enum(["Delete", "Retain"], {
      message: 'use "Delete" or "Retain"',
    }).default("Delete"),
    /** Keep a deleted volume's data as `archived-<dir>` (when onDelete is not set). */
    archiveOnDelete: z.boolean().default(true),
    /** `delete` or `retain` the directory when the PVC is deleted; overrides archiveOnDelete. */
    onDelete: z.enum(["delete", "retain"], {
      message: 'use "delete" or "retain"',
    }).optional(),
    /** Directory naming, e.g. `${.PVC.namespace}/${.PVC.name}`. */
    pathPattern: z.string().min(1).optional(),
    volumeBindingMode: z.enum(["Immediate", "WaitForFirstConsumer"], {
      message: 'use "Immediate" or "WaitForFirstConsumer"',
    }).default("Immediate"),
    allowVolumeExpansion: z.boolean().default(true),
  }).default({
    name: "nfs-client",
    default: true,
    reclaimPolicy: "Delete",
    archiveOnDelete: true,
    volumeBindingMode: "Immediate",
    allowVolumeExpansion: true,
  }),
  /** Provisioner Deployment settings. */
  provisioner: z.strictObject({
    replicaCount: z.int().min(1).optional(),
    image: z.strictObject({
      repository: z.string().min(1).optional(),
      tag: z.string().min(1).optional(),
    }).optional(),
    nodeSelector: z.record(z.string(), z.string()).optional(),
  }).optional(),
  verify: z.strictObject({
    /** Create a test PVC and pod during verify. */
    probe: z.boolean().default(true),
    namespace: z.string().regex(DNS).default("default"),
    image: z.string().min(1).default("busybox:1.36"),
    accessMode: z.enum(["ReadWriteOnce", "ReadWriteMany"]).default(
      "ReadWriteMany",
    ),
    timeoutSeconds: z.int().min(1).default(120),
  }).default({
    probe: true,
    namespace: "default",
    image: "busybox:1.36",
    accessMode: "ReadWriteMany",
    timeoutSeconds: 120,
  }),
});

/** Raw options as written in the config file. */
export type StorageOptionsInput = z.input<typeof storageOptionsSchema>;
/** Validated options. */
export type StorageOptions = z.output<typeof storageOptionsSchema>;

/** Chart values for the options (nfs-subdir-external-provisioner 4.x). */
export function storageValues(o: StorageOptions): Record<string, unknown> {
  const sc = o.storageClass;
  return {
    nfs: {
      server: o.nfs.server,
      path: o.nfs.path,
      ...(o.nfs.mountOptions ? { mountOptions: o.nfs.mountOptions } : {}),
    },
    storageClass: {
      create: true,
      name: sc.name,
      defaultClass: sc.default,
      reclaimPolicy: sc.reclaimPolicy,
      archiveOnDelete: sc.archiveOnDelete,
      ...(sc.onDelete ? { onDelete: sc.onDelete } : {}),
      ...(sc.pathPattern ? { pathPattern: sc.pathPattern } : {}),
      volumeBindingMode: sc.volumeBindingMode,
      allowVolumeExpansion: sc.allowVolumeExpansion,
    },
    ...(o.provisioner?.replicaCount
      ? { replicaCount: o.provisioner.replicaCount }
      : {}),
    ...(o.provisioner?.image ? { image: o.provisioner.image } : {}),
    ...(o.provisioner?.nodeSelector
      ? { nodeSelector: o.provisioner.nodeSelector }
      : {}),
  };
}

function releaseSpec(o: StorageOptions): HelmReleaseSpec {
  return {
    release: o.release,
    namespace: o.namespace,
    chart: o.chart,
    values: storageValues(o),
  };
}

const IMMUTABLE = [
  "provisioner",
  "parameters",
  "reclaimPolicy",
  "volumeBindingMode",
] as const;

/** Immutable StorageClass fields that differ between live and desired. */
export function immutableChanges(
  live: KubeObject,
  desired: KubeObject,
): FieldDiff[] {
  const diffs: FieldDiff[] = [];
  const defaults: Record<string, unknown> = {
    reclaimPolicy: "Delete",
    volumeBindingMode: "Immediate",
    parameters: {},
  };
  for (const field of IMMUTABLE) {
    const before = live[field] ?? defaults[field];
    const after = desired[field] ?? defaults[field];
    if (JSON.stringify(sortKeys(before)) !== JSON.stringify(sortKeys(after))) {
      diffs.push({ path: field, before, after });
    }
  }
  return diffs;
}

function sortKeys(value: unknown): unknown {
  if (!value || typeof value !== "object" || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value).sort(([a], [b]) => a.localeCompare(b)),
  );
}

function isDefault(sc: KubeObject): boolean {
  const a = sc.metadata.annotations ?? {};
  return a[DEFAULT_CLASS_ANNOTATION] === "true" ||
    a[BETA_DEFAULT_ANNOTATION] === "true";
}

/** Other StorageClasses marked default, which must be switched off. */
export function otherDefaults(
  classes: KubeObject[],
  name: string,
): KubeObject[] {
  return classes.filter((sc) => sc.metadata.name !== name && isDefault(sc));
}

function switchOffPatch(sc: KubeObject): KubeObject {
  const annotations: Record<string, string> = {
    [DEFAULT_CLASS_ANNOTATION]: "false",
  };
  if (sc.metadata.annotations?.[BETA_DEFAULT_ANNOTATION] !== undefined) {
    annotations[BETA_DEFAULT_ANNOTATION] = "false";
  }
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: sc.metadata.name, annotations },
  };
}

/** What happens to StorageClasses besides the release's own diff. */
interface ClassPlan {
  replace?: { live: KubeObject; diff: FieldDiff[] };
  switchOff: KubeObject[];
}

async function planClasses(
  kube: KubeClient,
  o: StorageOptions,
  desired: KubeObject | undefined,
): Promise<ClassPlan> {
  const classes = await kube.list("storage.k8s.io/v1", "StorageClass");
  const live = classes.find((sc) => sc.metadata.name === o.storageClass.name);
  const plan: ClassPlan = {
    switchOff: o.storageClass.default
      ? otherDefaults(classes, o.storageClass.name)
      : [],
  };
  if (live && desired) {
    const diff = immutableChanges(live, desired);
    if (diff.length > 0) plan.replace = { live, diff };
  }
  return plan;
}

function desiredClass(
  objects: KubeObject[],
  name: string,
): KubeObject | undefined {
  return objects.find((x) =>
    x.kind === "StorageClass" && x.metadata.name === name
  );
}

/** Extra wiring for {@linkcode storageStep}. */
export interface StorageStepOptions extends DefineStepOptions, HelmReleaseEnv {}

const STORAGE_CLASS = "storage.k8s.io/v1";

function classRef(name: string): ObjectRef {
  return { apiVersion: STORAGE_CLASS, kind: "StorageClass", name };
}

/** The `replace` change of the step's own class, planned here (the server refuses a dry-run of it). */
function replaceChange(
  o: StorageOptions,
  replace: NonNullable<ClassPlan["replace"]>,
): ResourceChange {
  const fields = replace.diff.map((d) => d.path).join(", ");
  return {
    ...classRef(o.storageClass.name),
    action: "replace",
    diff: replace.diff,
    reason: `immutable field${
      replace.diff.length > 1 ? "s" : ""
    } ${fields} change: the class is deleted and recreated`,
  };
}

/** The `update` change that switches another default class off. */
function switchOffChange(o: StorageOptions, sc: KubeObject): ResourceChange {
  return {
    ...classRef(sc.metadata.name),
    action: "update",
    diff: [{
      path: `metadata.annotations["${DEFAULT_CLASS_ANNOTATION}"]`,
      before: sc.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] ??
        sc.metadata.annotations?.[BETA_DEFAULT_ANNOTATION],
      after: "false",
    }],
    reason:
      `exactly one default StorageClass: ${o.storageClass.name} becomes the default`,
  };
}

/**
 * Plans the release, the replacement of the class when an immutable field changes,
 * and the other default classes switched off. Desired objects: the release's, then
 * the switch-off patches.
 */
async function planStorage(
  ctx: StepContext,
  o: StorageOptions,
  env: HelmReleaseEnv,
): Promise<StepPlan> {
  const rendered = await renderRelease(ctx, releaseSpec(o), env);
  const desired = desiredClass(rendered.objects, o.storageClass.name);
  const classes = ctx.kube
    ? await planClasses(ctx.kube, o, desired)
    : { switchOff: [] };
  const { rendered: _r, ...plan } = await planRelease(ctx, releaseSpec(o), {
    ...env,
    rendered,
    // A dry-run of an immutable change is refused by the server: planned here instead.
    skip: (x) => Boolean(classes.replace) && x === desired,
  });
  if (classes.replace) {
    const change = replaceChange(o, classes.replace);
    const i = plan.changes.findIndex((c) =>
      c.kind === "StorageClass" && c.name === o.storageClass.name
    );
    if (i >= 0) plan.changes[i] = change;
    else plan.changes.push(change);
    plan.warnings.push(
      `StorageClass ${o.storageClass.name} will be deleted and recreated (${
        classes.replace.diff.map((d) => d.path).join(", ")
      } cannot be updated). Existing PersistentVolumes keep their old settings (reclaim policy, NFS ` +
        "directory); only volumes provisioned afterwards use the new ones. PVCs stay bound.",
    );
  }
  for (const sc of classes.switchOff) {
    plan.changes.push(switchOffChange(o, sc));
    plan.observed.push({
      ...classRef(sc.metadata.name),
      resourceVersion: sc.metadata.resourceVersion,
      uid: sc.metadata.uid,
    });
  }
  plan.desired = [
    ...plan.desired ?? [],
    ...classes.switchOff.map(switchOffPatch),
  ];
  // Other classes are only patched: never members of this step's inventory.
  plan.patched = classes.switchOff.map((sc) => classRef(sc.metadata.name));
  return plan;
}

/** Switch-off patches among desired objects: StorageClasses other than the step's own. */
function isSwitchOff(o: StorageOptions): (x: KubeObject) => boolean {
  return (x) =>
    x.kind === "StorageClass" && x.metadata.name !== o.storageClass.name;
}

/**
 * What apply does, from the plan: whether the class is replaced, the release's
 * objects, and the patches switching other defaults off. A plan without desired
 * objects (made by hand) is planned again here.
 */
async function storageWork(
  ctx: StepContext,
  plan: StepPlan,
  o: StorageOptions,
  env: HelmReleaseEnv,
): Promise<
  {
    replace?: FieldDiff[];
    release?: DesiredRelease;
    switchOff: KubeObject[];
  }
> {
  if (!plan.desired) {
    const kube = requireKube(ctx);
    const { objects } = await renderRelease(ctx, releaseSpec(o), env);
    const classes = await planClasses(
      kube,
      o,
      desiredClass(objects, o.storageClass.name),
    );
    return {
      replace: classes.replace?.diff,
      switchOff: classes.switchOff.map(switchOffPatch),
    };
  }
  const replace = plan.changes.find((c) =>
    c.kind === "StorageClass" && c.name === o.storageClass.name &&
    c.action === "replace"
  );
  return {
    replace: replace?.diff,
    release: splitDesired(releaseSpec(o), plan.desired, isSwitchOff(o)),
    switchOff: plan.desired.filter(isSwitchOff(o)),
  };
}

async function applyStorage(
  ctx: StepContext,
  plan: StepPlan,
  o: StorageOptions,
  env: HelmReleaseEnv,
): Promise<Record<string, unknown>> {
  const kube = requireKube(ctx);
  const work = await storageWork(ctx, plan, o, env);
  if (work.replace) {
    ctx.log.warn(
      `deleting StorageClass ${o.storageClass.name} to change ${
        work.replace.map((d) => d.path).join(", ")
      }`,
    );
    const ref = classRef(o.storageClass.name);
    await kube.delete(ref);
    await kube.waitFor(
      ref,
      (x) => x === undefined ? true : "still exists",
      { timeoutMs: 30_000, signal: ctx.signal },
    );
  }
  const release = await applyRelease(ctx, releaseSpec(o), {
    ...env,
    desired: work.release,
    changes: plan.changes,
  });
  for (const patch of work.switchOff) {
    ctx.log.info(`StorageClass ${patch.metadata.name}: no longer the default`);
    // The plan names this change: `default: true` asks for exactly this field, so
    // it is taken from whoever set it (an installer, a cloud's addon manager).
    await kube.apply(patch, { force: true });
  }
  return {
    storageClass: o.storageClass.name,
    default: o.storageClass.default,
    ...release,
  };
}

async function verifyStorage(
  ctx: StepContext,
  o: StorageOptions,
  env: HelmReleaseEnv,
  plan: StepPlan | undefined,
): Promise<VerifyResult> {
  const kube = requireKube(ctx);
  const checks = await verifyRelease(ctx, releaseSpec(o), {
    ...env,
    timeoutMs: o.verify.timeoutSeconds * 1000,
    manifest: plan?.desired
      ? splitDesired(releaseSpec(o), plan.desired, isSwitchOff(o)).manifest
      : undefined,
  });
  const classes = await kube.list(STORAGE_CLASS, "StorageClass");
  const ours = classes.find((sc) => sc.metadata.name === o.storageClass.name);
  checks.push({
    name: `StorageClass ${o.storageClass.name} exists`,
    ok: Boolean(ours),
  });
  if (o.storageClass.default) {
    const defaults = classes.filter(isDefault).map((sc) => sc.metadata.name);
    checks.push({
      name: `${o.storageClass.name} is the only default StorageClass`,
      ok: defaults.length === 1 && defaults[0] === o.storageClass.name,
      detail: `default classes: ${defaults.join(", ") || "none"}`,
    });
  }
  if (o.verify.probe && ours) {
    checks.push(...await probeVolume(ctx, kube, o));
  }
  return { checks, outputs: { storageClass: o.storageClass.name } };
}

/**
 * The default StorageClass step.
 *
 * @example
 * ```ts
 * const step = storageStep({ nfs: { server: "10.0.0.2", path: "/srv/nfs/kubeflow" } }, {
 *   source: "kfplan.yaml",
 *   prefix: ["storage"],
 * });
 * ```
 */
export function storageStep(
  options: StorageOptionsInput,
  stepOptions: StorageStepOptions = {},
): Step<StorageOptions> {
  const env: HelmReleaseEnv = stepOptions;
  return defineStep({
    id: STORAGE_STEP_ID,
    title: "Default StorageClass (NFS subdir external provisioner)",
    schema: storageOptionsSchema,
    options,
    plan: (ctx, o) => planStorage(ctx, o, env),
    apply: (ctx, plan, o) => applyStorage(ctx, plan, o, env),
    verify: (ctx, o, plan) => verifyStorage(ctx, o, env, plan),
    uninstall: async (ctx, o) => {
      await uninstallRelease(ctx, releaseSpec(o), env);
    },
  }, stepOptions);
}

async function eventsOf(
  kube: KubeClient,
  namespace: string,
  kind: string,
  name: string,
): Promise<string> {
  const events = await kube.list("v1", "Event", {
    namespace,
    fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}`,
  }).catch(() => []);
  if (events.length === 0) return "no events";
  return events.slice(-5).map((e) => {
    const ev = e as KubeObject & {
      type?: string;
      reason?: string;
      message?: string;
    };
    return `${ev.type ?? ""} ${ev.reason ?? ""}: ${ev.message ?? ""}`.trim();
  }).join(" | ");
}

/** A check that failed, with the probe PVC's events to say why. */
async function failedWithEvents(
  kube: KubeClient,
  name: string,
  error: unknown,
  pvc: { namespace: string; name: string },
): Promise<VerifyCheck> {
  return {
    name,
    ok: false,
    detail: `${
      (error as Error).message
    }; events of PersistentVolumeClaim ${pvc.namespace}/${pvc.name}: ${await eventsOf(
      kube,
      pvc.namespace,
      "PersistentVolumeClaim",
      pvc.name,
    )}`,
  };
}

/** The probe Job: one pod that writes `/mnt/SUCCESS` to the probe PVC. */
function writerJob(
  o: StorageOptions,
  name: string,
  labels: Record<string, string>,
): KubeObject {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: o.verify.namespace, labels },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: 300,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          containers: [{
            name: "write",
            image: o.verify.image,
            command: ["sh", "-c", "touch /mnt/SUCCESS && exit 0 || exit 1"],
            volumeMounts: [{ name: "data", mountPath: "/mnt" }],
          }],
          volumes: [{
            name: "data",
            persistentVolumeClaim: { claimName: name },
          }],
        },
      },
    },
  };
}

/** `true` once a Job completed; why not otherwise. */
function jobComplete(job: KubeObject | undefined): true | string {
  const conditions = ((job?.status as {
    conditions?: { type: string; status: string; message?: string }[];
  })
    ?.conditions) ?? [];
  if (
    conditions.some((c) => c.type === "Complete" && c.status === "True")
  ) return true;
  const failed = conditions.find((c) =>
    c.type === "Failed" && c.status === "True"
  );
  return failed ? `failed: ${failed.message ?? ""}` : "not complete";
}

/** Creates a PVC and a writer Job, waits for both, removes them. */
async function probeVolume(
  ctx: StepContext,
  kube: KubeClient,
  o: StorageOptions,
): Promise<VerifyCheck[]> {
  const name = `kfplan-storage-probe-${crypto.randomUUID().slice(0, 8)}`;
  const ns = o.verify.namespace;
  const waits = {
    timeoutMs: o.verify.timeoutSeconds * 1000,
    signal: ctx.signal,
  };
  const labels = { [PROBE_LABEL]: "storage" };
  const pvc = { namespace: ns, name };
  const pvcRef = { apiVersion: "v1", kind: "PersistentVolumeClaim", ...pvc };
  const jobRef = { apiVersion: "batch/v1", kind: "Job", ...pvc };
  const checks: VerifyCheck[] = [];
  await kube.apply({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: ns, labels },
    spec: {
      storageClassName: o.storageClass.name,
      accessModes: [o.verify.accessMode],
      resources: { requests: { storage: "1Mi" } },
    },
  });
  try {
    const waitBinding = o.storageClass.volumeBindingMode === "Immediate";
    if (waitBinding) {
      try {
        await kube.waitFor(pvcRef, pvcBound, waits);
        checks.push({ name: "a test PVC binds", ok: true });
      } catch (error) {
        checks.push(
          await failedWithEvents(kube, "a test PVC binds", error, pvc),
        );
        return checks;
      }
    }
    // On a mirror, the probe pulls from it too (its pull Secret applied first).
    const { objects: writer } = await mirrorObjects(ctx, [
      writerJob(o, name, labels),
    ]);
    for (const object of writer.reverse()) await kube.apply(object);
    const written = "a pod writes /mnt/SUCCESS to the volume";
    try {
      await kube.waitFor(jobRef, jobComplete, waits);
      if (!waitBinding) {
        checks.push({
          name: "a test PVC binds",
          ok: true,
          detail: "bound for its first consumer",
        });
      }
      checks.push({ name: written, ok: true });
    } catch (error) {
      checks.push(await failedWithEvents(kube, written, error, pvc));
    }
    return checks;
  } finally {
    await kube.delete(jobRef, { propagationPolicy: "Foreground" }).catch(() =>
      false
    );
    await kube.delete(pvcRef).catch(() => false);
  }
}
