/**
 * GPU time-slicing for the NVIDIA device plugin.
 *
 * The typed configuration is rendered to the device plugin's sharing config
 * (`version: v1`, `sharing.timeSlicing`), one ConfigMap key per named config, in the
 * GPU operator's namespace ({@linkcode timeSlicingConfigMap}). The GPU operator step
 * owns that ConfigMap (`plans/gpu.ts` passes it these options): it plans it and applies
 * it before the operator's Helm release, whose values `devicePlugin.config.name/default`
 * ({@linkcode timeSlicingChartValues}) point at it. It must exist first: the operator
 * mounts it into the device plugin pod as a non-optional volume, so the device plugin
 * would not start without it (NVIDIA/gpu-operator#412, #2641). This step sets the node
 * label `nvidia.com/device-plugin.config=<key>` on the nodes each named config selects
 * (the device plugin picks a named config by it) and verifies the shared capacity.
 *
 * Upstream's validation is enforced at plan time: at least one resource, integer
 * `replicas >= 2`, resource names with the `nvidia.com/` prefix and at most 63
 * characters, unique resource names.
 *
 * Verify, per GPU node and the config that applies to it: the node advertises physical
 * GPUs (`nvidia.com/gpu.count`) x replicas of `nvidia.com/gpu` (or of its new name when
 * renamed, e.g. `nvidia.com/gpu.shared`, and then no longer the plain name), carries
 * the labels `nvidia.com/gpu.replicas` and `nvidia.com/gpu.sharing-strategy=time-slicing`,
 * and its `nvidia.com/gpu.product` ends with `-SHARED` exactly when the GPUs are shared
 * and not renamed (as GPU feature discovery labels them).
 *
 * @module
 */

import { z } from "../deps.ts";
import { parseYaml, stringifyYaml as stringify } from "../deps.ts";
import { defineStep, type DefineStepOptions } from "../engine/step.ts";
import {
  emptyPlan,
  type Step,
  type StepContext,
  type StepOutputs,
  type StepPlan,
  type VerifyCheck,
  type VerifyResult,
} from "../engine/types.ts";
import type { KubeClient, KubeObject } from "../kube/types.ts";
import { planObjects, planOptionsOf } from "../kube/apply_set.ts";
import { sleep } from "../kube/retry.ts";
import { requireKube } from "./helm_release.ts";

/** Step id of time-slicing. */
export const TIME_SLICING_STEP_ID = "time-slicing";

/** The node label the device plugin reads to pick a named config. */
export const CONFIG_LABEL = "nvidia.com/device-plugin.config";

const resourceSchema = z.strictObject({
  /** `nvidia.com/gpu` (the prefix is added when missing), or a MIG resource. */
  name: z.string().min(1, {
    message: 'a resource name is required, e.g. "nvidia.com/gpu"',
  })
    .transform((n) => n.includes("/") ? n : `nvidia.com/${n}`)
    .refine(
      (n) =>
        n.startsWith("nvidia.com/") && n.length <= 63 &&
        /^nvidia\.com\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n),
      {
        message:
          'use "nvidia.com/gpu" or "nvidia.com/mig-<profile>" (at most 63 characters)',
      },
    ),
  /** How many pods share each GPU. */
  replicas: z.number({ message: "replicas is required: an integer >= 2" })
    .int({
      message:
        "replicas must be a whole number (2, 4, 8, ...): a GPU is shared by whole pods",
    })
    .min(2, {
      message: "number of replicas must be >= 2 (1 would not share the GPU)",
    }),
  /** Advertise under another name instead of the original. */
  rename: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, {
    message: 'use a resource suffix such as "gpu.shared"',
  }).optional(),
  /** Only these GPUs (indexes or UUIDs); default all. */
  devices: z.union([
    z.literal("all"),
    z.array(z.union([z.int().min(0), z.string().min(1)])).min(1),
  ]).optional(),
});

const sharingSchema = z.strictObject({
  /** Advertise shared GPUs as `<name>.shared` (default false). */
  renameByDefault: z.boolean().default(false),
  /** Reject requests of more than one shared GPU (they would not get more compute). */
  failRequestsGreaterThanOne: z.boolean().default(false),
  resources: z.array(resourceSchema).min(1, {
    message:
      'at least one resource is required, e.g. [{ name: "nvidia.com/gpu", replicas: 4 }]',
  }),
}).superRefine((s, ctx) => {
  const seen = new Set<string>();
  s.resources.forEach((r, i) => {
    if (seen.has(r.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["resources", i, "name"],
        message: `${r.name} is listed twice`,
      });
    }
    seen.add(r.name);
  });
});

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

/** Options of {@linkcode timeSlicingStep}. */
export const timeSlicingOptionsSchema = z.strictObject({
  /** The GPU operator's namespace (the ConfigMap must live there). */
  namespace: z.string().min(1).default("gpu-operator"),
  configMapName: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, {
    message: "use a lowercase DNS name",
  }).default("time-slicing-config"),
  /** ConfigMap key of the default config. */
  defaultConfig: z.string().regex(CONFIG_KEY, {
    message: "use letters, digits, '-', '_' or '.'",
  }).default("any"),
  migStrategy: z.enum(["none", "single", "mixed"], {
    message: 'use "none", "single" or "mixed"',
  }).default("none"),
  /** The default sharing config, applied to every GPU node without a named config. */
  timeSlicing: sharingSchema,
  /** Named configs for some nodes, selected by node labels. */
  nodeConfigs: z.array(z.strictObject({
    name: z.string().regex(CONFIG_KEY, {
      message: "use letters, digits, '-', '_' or '.'",
    }),
    /** Nodes (by label) that get `nvidia.com/device-plugin.config=<name>`. */
    nodeSelector: z.record(z.string(), z.string()).refine(
      (s) => Object.keys(s).length > 0,
      {
        message:
          'select nodes with at least one label, e.g. { "nvidia.com/gpu.product": "Tesla-T4" }',
      },
    ),
    timeSlicing: sharingSchema,
  })).default([]),
  /** Which GPU nodes verify checks (labels); default every node with `nvidia.com/gpu.present=true`. */
  nodeSelector: z.record(z.string(), z.string()).optional(),
  verify: z.strictObject({ timeoutSeconds: z.int().min(1).default(300) })
    .default({ timeoutSeconds: 300 }),
}).superRefine((o, ctx) => {
  const names = new Set([o.defaultConfig]);
  o.nodeConfigs.forEach((c, i) => {
    if (names.has(c.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["nodeConfigs", i, "name"],
        message: `config name "${c.name}" is used twice`,
      });
    }
    names.add(c.name);
  });
});

/** Raw options as written in the config file. */
export type TimeSlicingOptionsInput = z.input<typeof timeSlicingOptionsSchema>;
/** Validated options. */
export type TimeSlicingOptions = z.output<typeof timeSlicingOptionsSchema>;
/** One validated sharing config. */
export type SharingConfig = z.output<typeof sharingSchema>;

/** The device plugin config file for one sharing config (upstream `config/v1` format). */
export function renderSharingConfig(
  sharing: SharingConfig,
  migStrategy: string,
): string {
  return stringify({
    version: "v1",
    flags: { migStrategy },
    sharing: {
      timeSlicing: {
        renameByDefault: sharing.renameByDefault,
        failRequestsGreaterThanOne: sharing.failRequestsGreaterThanOne,
        resources: sharing.resources.map((r) => ({
          name: r.name,
          ...(r.rename ? { rename: r.rename } : {}),
          ...(r.devices ? { devices: r.devices } : {}),
          replicas: r.replicas,
        })),
      },
    },
  });
}

/** The ConfigMap holding every config, one key each. */
export function timeSlicingConfigMap(o: TimeSlicingOptions): KubeObject {
  const data: Record<string, string> = {
    [o.defaultConfig]: renderSharingConfig(o.timeSlicing, o.migStrategy),
  };
  for (const c of o.nodeConfigs) {
    data[c.name] = renderSharingConfig(c.timeSlicing, o.migStrategy);
  }
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: o.configMapName,
      namespace: o.namespace,
      labels: { "app.kubernetes.io/managed-by": "kfplan" },
    },
    data,
  };
}

/**
 * The GPU operator chart values that point the device plugin at the ConfigMap
 * (`devicePlugin.config.name/default`).
 *
 * @example
 * ```ts
 * timeSlicingChartValues(options); // { devicePlugin: { config: { name: "time-slicing-config", default: "any" } } }
 * ```
 */
export function timeSlicingChartValues(
  o: TimeSlicingOptions,
): { name: string; default: string } {
  return { name: o.configMapName, default: o.defaultConfig };
}

/** What a GPU node should advertise under a sharing config. */
export interface ExpectedSharing {
  /** The advertised name: `nvidia.com/gpu`, or e.g. `nvidia.com/gpu.shared` when renamed. */
  resource: string;
  /** The resource as the config names it (`nvidia.com/gpu`). */
  original: string;
  /** Advertised under another name: the original is no longer advertised. */
  renamed: boolean;
  /** How many pods share each physical GPU: a node advertises GPUs x replicas. */
  replicas: number;
}

/** The name a shared resource is advertised under: its `rename`, `<name>.shared` with `renameByDefault`, else its name. */
export function advertisedName(
  resource: { name: string; rename?: string },
  renameByDefault: boolean | undefined,
): string {
  const name = resource.name.includes("/")
    ? resource.name
    : `nvidia.com/${resource.name}`;
  if (resource.rename) {
    return resource.rename.includes("/")
      ? resource.rename
      : `nvidia.com/${resource.rename}`;
  }
  return renameByDefault ? `${name}.shared` : name;
}

/** The advertised resource and replicas of `nvidia.com/gpu` under a config. */
export function expectedSharing(sharing: SharingConfig): ExpectedSharing {
  const gpu = sharing.resources.find((r) => r.name === "nvidia.com/gpu") ??
    sharing.resources[0];
  const resource = advertisedName(gpu, sharing.renameByDefault);
  return {
    resource,
    original: gpu.name,
    renamed: resource !== gpu.name,
    replicas: gpu.replicas,
  };
}

/**
 * Every resource name the device plugin advertises under the sharing configs of a
 * ConfigMap's data (one config file per key, `sharing.timeSlicing` or `sharing.mps`),
 * renames applied; keys that do not parse are skipped.
 *
 * @example
 * ```ts
 * sharedResourceNames({ any: "version: v1\nsharing:\n  timeSlicing:\n    renameByDefault: true\n    resources: [{name: nvidia.com/gpu, replicas: 4}]\n" });
 * // ["nvidia.com/gpu.shared"]
 * ```
 */
export function sharedResourceNames(
  data: Record<string, string> | undefined,
): string[] {
  const names = new Set<string>();
  for (const text of Object.values(data ?? {})) {
    let file: unknown;
    try {
      file = parseYaml(text);
    } catch {
      continue;
    }
    const sharing = (file as { sharing?: Record<string, unknown> } | null)
      ?.sharing;
    for (const kind of ["timeSlicing", "mps"]) {
      const s = sharing?.[kind] as {
        renameByDefault?: boolean;
        resources?: { name?: unknown; rename?: unknown }[];
      } | undefined;
      for (const r of Array.isArray(s?.resources) ? s.resources : []) {
        if (typeof r?.name !== "string" || r.name === "") continue;
        names.add(advertisedName({
          name: r.name,
          rename: typeof r.rename === "string" && r.rename !== ""
            ? r.rename
            : undefined,
        }, s?.renameByDefault === true));
      }
    }
  }
  return [...names];
}

/** GPU feature discovery's product label, suffixed `-SHARED` once the GPUs are shared (not renamed). */
const PRODUCT_LABEL = "nvidia.com/gpu.product";
const SHARED_SUFFIX = "-SHARED";

/**
 * A node matches a selector; a product in the selector also matches the product
 * label with GPU feature discovery's `-SHARED` suffix (added once the node's GPUs are
 * shared), so a node keeps its named config after sharing took effect.
 */
function matches(
  labels: Record<string, string> | undefined,
  selector: Record<string, string>,
): boolean {
  return Object.entries(selector).every(([k, v]) =>
    labels?.[k] === v ||
    (k === PRODUCT_LABEL && !v.endsWith(SHARED_SUFFIX) &&
      labels?.[k] === `${v}${SHARED_SUFFIX}`)
  );
}

/** The config key a node should use: the first named config selecting it, else the default. */
export function configFor(
  node: KubeObject,
  o: TimeSlicingOptions,
): { key: string; sharing: SharingConfig } {
  const named = o.nodeConfigs.find((c) =>
    matches(node.metadata.labels, c.nodeSelector)
  );
  return named
    ? { key: named.name, sharing: named.timeSlicing }
    : { key: o.defaultConfig, sharing: o.timeSlicing };
}

/** GPU nodes the step checks. */
export async function gpuNodes(
  kube: KubeClient,
  o: TimeSlicingOptions,
): Promise<KubeObject[]> {
  const selector = o.nodeSelector ?? { "nvidia.com/gpu.present": "true" };
  return await kube.list("v1", "Node", {
    labelSelector: Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(
      ",",
    ),
  });
}

/** Checks one node against its expected sharing; `true` or what is wrong. */
export function nodeSharingState(
  node: KubeObject,
  o: TimeSlicingOptions,
): true | string {
  const { key, sharing } = configFor(node, o);
  const expected = expectedSharing(sharing);
  const labels = node.metadata.labels ?? {};
  const physical = Number(labels["nvidia.com/gpu.count"]);
  const allocatable =
    (node.status as { allocatable?: Record<string, string> })?.allocatable ??
      {};
  const problems: string[] = [];
  if (!Number.isInteger(physical) || physical <= 0) {
    problems.push(
      "no nvidia.com/gpu.count label (GPU feature discovery has not labelled the node)",
    );
  } else {
    const want = physical * expected.replicas;
    const have = allocatable[expected.resource];
    if (Number(have) !== want) {
      problems.push(
        `allocatable ${expected.resource}=${
          have ?? "none"
        }, want ${want} (${physical} GPUs x ${expected.replicas})`,
      );
    }
  }
  const stale = allocatable[expected.original];
  if (expected.renamed && stale !== undefined && Number(stale) !== 0) {
    problems.push(
      `allocatable ${expected.original}=${stale}, want none (renamed to ${expected.resource}: ` +
        `the device plugin still advertises the plain name)`,
    );
  }
  const product = labels[PRODUCT_LABEL];
  const shared = expected.replicas > 1 && !expected.renamed;
  if (product === undefined) {
    problems.push(
      `no ${PRODUCT_LABEL} label (GPU feature discovery has not labelled the node)`,
    );
  } else if (product.endsWith(SHARED_SUFFIX) !== shared) {
    problems.push(
      `label ${PRODUCT_LABEL}=${product}, want ${
        shared
          ? `the ${SHARED_SUFFIX} suffix (shared, not renamed)`
          : `no ${SHARED_SUFFIX} suffix (renamed to ${expected.resource})`
      }`,
    );
  }
  if (labels["nvidia.com/gpu.replicas"] !== String(expected.replicas)) {
    problems.push(
      `label nvidia.com/gpu.replicas=${
        labels["nvidia.com/gpu.replicas"] ?? "none"
      }, want ${expected.replicas}`,
    );
  }
  if (labels["nvidia.com/gpu.sharing-strategy"] !== "time-slicing") {
    problems.push(
      `label nvidia.com/gpu.sharing-strategy=${
        labels["nvidia.com/gpu.sharing-strategy"] ?? "none"
      }, want time-slicing`,
    );
  }
  return problems.length === 0
    ? true
    : `config "${key}": ${problems.join("; ")}`;
}

function nodeLabelPatch(node: KubeObject, key: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: node.metadata.name, labels: { [CONFIG_LABEL]: key } },
  };
}

/**
 * A config label patch for each GPU node that uses a named config (offline: none, no
 * nodes to read). The ConfigMap is the GPU operator step's.
 */
async function desiredObjects(
  kube: KubeClient | undefined,
  o: TimeSlicingOptions,
): Promise<KubeObject[]> {
  const objects: KubeObject[] = [];
  if (kube && o.nodeConfigs.length > 0) {
    for (const node of await gpuNodes(kube, o)) {
      const { key } = configFor(node, o);
      if (key !== o.defaultConfig) objects.push(nodeLabelPatch(node, key));
    }
  }
  return objects;
}

/** Extra wiring for {@linkcode timeSlicingStep}. */
export interface TimeSlicingStepOptions extends DefineStepOptions {
  /** Step ids this step needs (default: the GPU operator step). */
  needs?: string[];
}

/** The node labels, and a warning when the ClusterPolicy points elsewhere. */
async function planTimeSlicing(
  ctx: StepContext,
  o: TimeSlicingOptions,
): Promise<StepPlan> {
  const plan = emptyPlan();
  const objects = await desiredObjects(ctx.kube, o);
  const planned = await planObjects(ctx.kube, objects, planOptionsOf(ctx));
  plan.changes = planned.changes;
  plan.observed = planned.observed;
  plan.desired = objects;
  const def = expectedSharing(o.timeSlicing);
  plan.facts = {
    devicePluginConfig: timeSlicingChartValues(o),
    configMap:
      `${o.namespace}/${o.configMapName} (planned and applied by the ` +
      `gpu-operator step, before its release)`,
    default: `${def.resource} x${def.replicas} per GPU`,
  };
  if (!ctx.kube && o.nodeConfigs.length > 0) {
    plan.unknowns.push(
      `which GPU nodes get the ${CONFIG_LABEL} label (nodes are read from the cluster)`,
    );
  }
  if (ctx.kube) {
    const policy = await ctx.kube.get({
      apiVersion: "nvidia.com/v1",
      kind: "ClusterPolicy",
      name: "cluster-policy",
    })
      .catch(() => undefined);
    const config =
      (policy?.spec as { devicePlugin?: { config?: { name?: string } } })
        ?.devicePlugin?.config;
    if (policy && config?.name !== o.configMapName) {
      plan.warnings.push(
        `ClusterPolicy cluster-policy points the device plugin at ConfigMap "${
          config?.name ?? ""
        }", not ` +
          `"${o.configMapName}": the GPU operator step must set devicePlugin.config (plans/gpu.ts wires it)`,
      );
    }
  }
  return plan;
}

async function applyTimeSlicing(
  ctx: StepContext,
  plan: StepPlan,
  o: TimeSlicingOptions,
): Promise<StepOutputs> {
  const kube = requireKube(ctx);
  for (const object of plan.desired ?? await desiredObjects(kube, o)) {
    await kube.apply(object);
  }
  return {
    configMap: `${o.namespace}/${o.configMapName}`,
    ...timeSlicingChartValues(o),
  };
}

/** Every GPU node advertises its time-sliced GPUs (bounded wait for the device plugin). */
async function verifyTimeSlicing(
  ctx: StepContext,
  o: TimeSlicingOptions,
): Promise<VerifyResult> {
  const kube = requireKube(ctx);
  const deadline = Date.now() + o.verify.timeoutSeconds * 1000;
  let checks: VerifyCheck[] = [];
  while (true) {
    const nodes = await gpuNodes(kube, o);
    checks = nodes.map((node) => {
      const state = nodeSharingState(node, o);
      return {
        name: `node ${node.metadata.name} advertises time-sliced GPUs`,
        ok: state === true,
        ...(state === true ? {} : { detail: state }),
      };
    });
    if (nodes.length === 0) {
      checks = [{
        name: "GPU nodes exist",
        ok: false,
        detail: "no node matches the GPU node selector",
      }];
    }
    if (checks.every((c) => c.ok) || Date.now() >= deadline) break;
    await sleep(
      Math.min(2000, Math.max(0, deadline - Date.now())),
      ctx.signal,
    );
  }
  return { checks };
}

/**
 * The time-slicing step: node config labels; verify checks the advertised replicas on
 * every GPU node. The sharing ConfigMap is applied by the GPU operator step (pass it
 * these options as `timeSlicing`), before the operator that mounts it.
 *
 * @example
 * ```ts
 * const step = timeSlicingStep({ timeSlicing: { resources: [{ name: "nvidia.com/gpu", replicas: 4 }] } });
 * ```
 */
export function timeSlicingStep(
  options: TimeSlicingOptionsInput,
  stepOptions: TimeSlicingStepOptions = {},
): Step<TimeSlicingOptions> {
  return defineStep({
    id: TIME_SLICING_STEP_ID,
    title: "GPU time-slicing (node configs, shared capacity)",
    needs: stepOptions.needs ?? ["gpu-operator"],
    schema: timeSlicingOptionsSchema,
    options,
    plan: (ctx, o) => planTimeSlicing(ctx, o),
    apply: (ctx, plan, o) => applyTimeSlicing(ctx, plan, o),
    verify: (ctx, o) => verifyTimeSlicing(ctx, o),
  }, stepOptions);
}
