/**
 * MetalLB: the Helm chart, then IPAddressPools and L2Advertisements.
 *
 * Pools are validated before anything is applied: every address must be a CIDR or a
 * `first-last` range (IPv4 or IPv6) with first <= last, and no two pools may overlap
 * (MetalLB's webhook would reject it). At plan time, with a cluster, a pool that
 * overlaps a node address or the service CIDR is a warning.
 *
 * Pools are applied only once the CRDs are Established and MetalLB's webhook Service
 * has a ready endpoint (the webhook has `failurePolicy: Fail`, metallb/metallb#1597):
 * an explicit wait, not an error-string retry loop.
 *
 * Verify creates a `LoadBalancer` Service, waits (bounded) for an address, checks it
 * lies in a pool, and deletes the Service. Outputs the pools and the tested address.
 *
 * @module
 */

import { PROBE_LABEL } from "./probe.ts";
import { z } from "../deps.ts";
import { defineStep, type DefineStepOptions } from "../engine/step.ts";
import type {
  ObjectRef,
  Step,
  StepContext,
  StepOutputs,
  StepPlan,
  VerifyCheck,
  VerifyResult,
} from "../engine/types.ts";
import type { KubeClient, KubeObject } from "../kube/types.ts";
import { planObjects, planOptionsOf } from "../kube/apply_set.ts";
import { objectKey, objectName, refOf } from "../kube/object_ref.ts";
import {
  crdEstablished,
  loadBalancerAddress,
  loadBalancerAssigned,
  waitForServiceEndpoints,
} from "../kube/wait.ts";
import {
  applyRelease,
  chartSourceSchema,
  type DesiredRelease,
  type HelmReleaseEnv,
  type HelmReleaseSpec,
  planHasChanges,
  planRelease,
  requireKube,
  splitDesired,
  uninstallRelease,
  verifyRelease,
} from "./helm_release.ts";
import { contains, type IpRange, overlaps, parseRange } from "./_ip_ranges.ts";

/** Step id of MetalLB. */
export const METALLB_STEP_ID = "metallb";

const DNS_LABEL =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const nameSchema = z.string().max(253).regex(DNS_LABEL, {
  message:
    "use a lowercase DNS name (a-z, 0-9, '-', '.'), e.g. \"default-pool\"",
});

const addressSchema = z.string().superRefine((value, ctx) => {
  const parsed = parseRange(value);
  if (typeof parsed === "string") {
    ctx.addIssue({ code: "custom", message: parsed });
  }
});

const poolSchema = z.strictObject({
  name: nameSchema,
  /** CIDRs (`192.168.1.240/28`, `fd00::/120`) or ranges (`192.168.1.240-192.168.1.250`). */
  addresses: z.array(addressSchema).min(1, {
    message: "a pool needs at least one address range",
  }),
  /** Allocate from this pool automatically (false: only on request via annotation). */
  autoAssign: z.boolean().default(true),
  /** Skip `.0` and `.255` addresses that some consumer routers drop. */
  avoidBuggyIPs: z.boolean().default(false),
});

const l2Schema = z.strictObject({
  name: nameSchema,
  /** Pools announced; default all. */
  ipAddressPools: z.array(nameSchema).optional(),
  /** Nodes that may announce, as label selectors (`matchLabels`). */
  nodeSelectors: z.array(
    z.strictObject({ matchLabels: z.record(z.string(), z.string()) }),
  ).optional(),
  /** Interfaces to announce from. */
  interfaces: z.array(z.string().min(1)).optional(),
});

const valuesSchema = z.strictObject({
  /** Deploy the MetalLB CRDs with the chart (`crds.enabled`). */
  crds: z.strictObject({ enabled: z.boolean().default(true) }).default({
    enabled: true,
  }),
  speaker: z.strictObject({
    enabled: z.boolean().default(true),
    frr: z.strictObject({ enabled: z.boolean().default(false) }).default({
      enabled: false,
    }),
    tolerations: z.array(z.record(z.string(), z.unknown())).optional(),
    nodeSelector: z.record(z.string(), z.string()).optional(),
  }).default({ enabled: true, frr: { enabled: false } }),
  controller: z.strictObject({
    /**
     * Deploy MetalLB's controller (false only when something else plays it, e.g. the
     * integration test on a kwok cluster).
     */
    enabled: z.boolean().default(true),
    nodeSelector: z.record(z.string(), z.string()).optional(),
    tolerations: z.array(z.record(z.string(), z.unknown())).optional(),
  }).optional(),
  /** Use FRR-K8s for BGP (`frrk8s.enabled`). */
  frrk8s: z.strictObject({ enabled: z.boolean().default(false) }).default({
    enabled: false,
  }),
  /** Only handle Services of this `loadBalancerClass`. */
  loadBalancerClass: z.string().min(1).optional(),
});

/** Options of {@linkcode metallbStep}. */
export const metallbOptionsSchema = z.strictObject({
  namespace: nameSchema.default("metallb-system"),
  release: nameSchema.default("metallb"),
  chart: chartSourceSchema.default({
    repo: "https://metallb.github.io/metallb",
    chart: "metallb",
    version: "0.15.3",
  }),
  values: valuesSchema.default({
    crds: { enabled: true },
    speaker: { enabled: true, frr: { enabled: false } },
    frrk8s: { enabled: false },
  }),
  pools: z.array(poolSchema).min(1, {
    message: "at least one address pool is required",
  }),
  /** L2 announcements; default one `l2` advertisement for all pools. */
  l2Advertisements: z.array(l2Schema).optional(),
  /** Service CIDRs to warn about when the cluster does not expose them (ServiceCIDR API). */
  serviceCidrs: z.array(addressSchema).optional(),
  /** Bound of the waits for CRDs and the webhook endpoint, seconds. */
  readyTimeoutSeconds: z.int().min(1).default(300),
  verify: z.strictObject({
    /** Create a test LoadBalancer Service during verify. */
    loadBalancer: z.boolean().default(true),
    /** Namespace of the test Service. */
    namespace: nameSchema.default("default"),
    timeoutSeconds: z.int().min(1).default(120),
  }).default({ loadBalancer: true, namespace: "default", timeoutSeconds: 120 }),
}).superRefine((o, ctx) => {
  const seen: { range: IpRange; where: string; pool: number }[] = [];
  const names = new Set<string>();
  o.pools.forEach((pool, i) => {
    if (names.has(pool.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["pools", i, "name"],
        message: `duplicate pool name "${pool.name}"`,
      });
    }
    names.add(pool.name);
    pool.addresses.forEach((text, j) => {
      const range = parseRange(text);
      if (typeof range === "string") return;
      for (const other of seen) {
        if (overlaps(range, other.range)) {
          ctx.addIssue({
            code: "custom",
            path: ["pools", i, "addresses", j],
            message: `${JSON.stringify(text)} overlaps ${other.where} (${
              JSON.stringify(other.range.text)
            }); MetalLB rejects overlapping pools: make the ranges disjoint`,
          });
        }
      }
      seen.push({ range, where: `pools[${i}].addresses[${j}]`, pool: i });
    });
  });
  o.l2Advertisements?.forEach((l2, i) =>
    l2.ipAddressPools?.forEach((name, j) => {
      if (!names.has(name)) {
        ctx.addIssue({
          code: "custom",
          path: ["l2Advertisements", i, "ipAddressPools", j],
          message: `no pool named "${name}" (pools: ${[...names].join(", ")})`,
        });
      }
    })
  );
});

/** Raw options as written in the config file. */
export type MetallbOptionsInput = z.input<typeof metallbOptionsSchema>;
/** Validated options. */
export type MetallbOptions = z.output<typeof metallbOptionsSchema>;

/**
 * Label on the pools and advertisements kfplan manages: one removed from the config
 * is deleted (and shown as `delete` in the plan); others are left alone.
 */
export const OWNED = { "app.kubernetes.io/managed-by": "kfplan-metallb" };

/** The IPAddressPool and L2Advertisement objects for the options. */
export function metallbObjects(o: MetallbOptions): KubeObject[] {
  const pools: KubeObject[] = o.pools.map((p) => ({
    apiVersion: "metallb.io/v1beta1",
    kind: "IPAddressPool",
    metadata: { name: p.name, namespace: o.namespace, labels: { ...OWNED } },
    spec: {
      addresses: p.addresses,
      autoAssign: p.autoAssign,
      avoidBuggyIPs: p.avoidBuggyIPs,
    },
  }));
  const l2 = o.l2Advertisements ??
    [{ name: "l2", ipAddressPools: o.pools.map((p) => p.name) }];
  const ads: KubeObject[] = l2.map((a) => ({
    apiVersion: "metallb.io/v1beta1",
    kind: "L2Advertisement",
    metadata: { name: a.name, namespace: o.namespace, labels: { ...OWNED } },
    spec: {
      ...(a.ipAddressPools ? { ipAddressPools: a.ipAddressPools } : {}),
      ...(a.nodeSelectors ? { nodeSelectors: a.nodeSelectors } : {}),
      ...(a.interfaces ? { interfaces: a.interfaces } : {}),
    },
  }));
  return [...pools, ...ads];
}

function releaseSpec(o: MetallbOptions): HelmReleaseSpec {
  return {
    release: o.release,
    namespace: o.namespace,
    chart: o.chart,
    values: o.values as Record<string, unknown>,
  };
}

/** Pools and advertisements kfplan applied earlier that the options no longer list. */
export async function staleObjects(
  kube: KubeClient,
  o: MetallbOptions,
): Promise<KubeObject[]> {
  const wanted = new Set(
    metallbObjects(o).map((x) => `${x.kind}/${x.metadata.name}`),
  );
  const stale: KubeObject[] = [];
  for (const kind of ["IPAddressPool", "L2Advertisement"]) {
    if (!await kube.resourceFor("metallb.io/v1beta1", kind)) continue;
    const selector = Object.entries(OWNED).map(([k, v]) => `${k}=${v}`).join(
      ",",
    );
    for (
      const live of await kube.list("metallb.io/v1beta1", kind, {
        namespace: o.namespace,
        labelSelector: selector,
      })
    ) {
      if (!wanted.has(`${kind}/${live.metadata.name}`)) stale.push(live);
    }
  }
  return stale;
}

/** Name of MetalLB's webhook Service in the chart. */
export const WEBHOOK_SERVICE = "metallb-webhook-service";

/** Addresses the pools must not hand out: node addresses and service CIDRs. */
export async function clusterAddressWarnings(
  kube: KubeClient | undefined,
  o: MetallbOptions,
): Promise<string[]> {
  const warnings: string[] = [];
  const ranges = o.pools.flatMap((p, i) =>
    p.addresses.map((text, j) => ({
      range: parseRange(text) as IpRange,
      where: `pools[${i}].addresses[${j}]`,
    }))
  );
  const cidrs: string[] = [...o.serviceCidrs ?? []];
  if (kube) {
    for (const node of await kube.list("v1", "Node")) {
      const addresses =
        (node.status as { addresses?: { type: string; address: string }[] })
          ?.addresses ?? [];
      for (const a of addresses) {
        for (const r of ranges) {
          if (contains(r.range, a.address)) {
            warnings.push(
              `metallb.${r.where} ${
                JSON.stringify(r.range.text)
              } contains ${a.type} ${a.address} of node ${node.metadata.name}: ` +
                "MetalLB would announce a node's own address; exclude it from the pool",
            );
          }
        }
      }
    }
    for (
      const apiVersion of ["networking.k8s.io/v1", "networking.k8s.io/v1beta1"]
    ) {
      if (!await kube.resourceFor(apiVersion, "ServiceCIDR")) continue;
      for (const sc of await kube.list(apiVersion, "ServiceCIDR")) {
        cidrs.push(...((sc.spec as { cidrs?: string[] })?.cidrs ?? []));
      }
      break;
    }
  }
  for (const cidr of new Set(cidrs)) {
    const service = parseRange(cidr);
    if (typeof service === "string") continue;
    for (const r of ranges) {
      if (overlaps(r.range, service)) {
        warnings.push(
          `metallb.${r.where} ${
            JSON.stringify(r.range.text)
          } overlaps the service CIDR ${cidr}: ` +
            "ClusterIPs and LoadBalancer addresses would collide; pick addresses outside it",
        );
      }
    }
  }
  return warnings;
}

/** Extra wiring for {@linkcode metallbStep}. */
export interface MetallbStepOptions extends DefineStepOptions, HelmReleaseEnv {}

/** The release, the pools, deletions of pools no longer configured, address warnings. */
async function planMetallb(
  ctx: StepContext,
  o: MetallbOptions,
  env: HelmReleaseEnv,
): Promise<StepPlan> {
  const plan = await planRelease(ctx, releaseSpec(o), env);
  const { rendered: _rendered, ...rest } = plan;
  const objects = metallbObjects(o);
  const pools = await planObjects(ctx.kube, objects, planOptionsOf(ctx));
  rest.changes.push(...pools.changes);
  rest.observed.push(...pools.observed);
  rest.desired = [...rest.desired ?? [], ...objects];
  for (const live of ctx.kube ? await staleObjects(ctx.kube, o) : []) {
    rest.changes.push({
      ...refOf(live),
      action: "delete",
      diff: [],
      reason: "no longer in the configuration",
    });
    rest.observed.push({
      ...refOf(live),
      resourceVersion: live.metadata.resourceVersion,
      uid: live.metadata.uid,
    });
  }
  rest.warnings.push(...await clusterAddressWarnings(ctx.kube, o));
  if (o.verify.loadBalancer && planHasChanges(rest)) {
    rest.unknowns.push(
      "LoadBalancer address of the verify probe (allocated by MetalLB)",
    );
  }
  rest.facts = {
    ...rest.facts,
    pools: Object.fromEntries(
      o.pools.map((p) => [p.name, p.addresses.join(", ")]),
    ),
  };
  return rest;
}

/** The release, then (once the webhook answers) pools, then deletions, advertisements first. */
async function applyMetallb(
  ctx: StepContext,
  plan: StepPlan,
  o: MetallbOptions,
  env: HelmReleaseEnv,
): Promise<StepOutputs> {
  const kube = requireKube(ctx);
  const parts = plannedParts(plan, o);
  const release = await applyRelease(ctx, releaseSpec(o), {
    ...env,
    desired: parts.release,
    changes: plan.changes,
  });
  await waitForPoolPrerequisites(ctx, o);
  for (const object of parts.pools) await kube.apply(object);
  const stale = parts.stale ?? (await staleObjects(kube, o)).map(refOf);
  // Advertisements first: they may still name a pool being removed.
  stale.sort((a, b) =>
    a.kind === b.kind ? 0 : a.kind === "L2Advertisement" ? -1 : 1
  );
  for (const ref of stale) {
    ctx.log.info(`deleting ${objectName(ref)} (no longer configured)`);
    await kube.delete(ref);
  }
  return {
    release: o.release,
    namespace: o.namespace,
    ...release,
    pools: poolOutputs(o),
  };
}

async function verifyMetallb(
  ctx: StepContext,
  o: MetallbOptions,
  plan: StepPlan | undefined,
  env: HelmReleaseEnv,
): Promise<VerifyResult> {
  const kube = requireKube(ctx);
  const parts = plannedParts(plan, o);
  const checks = await verifyRelease(ctx, releaseSpec(o), {
    ...env,
    timeoutMs: o.readyTimeoutSeconds * 1000,
    manifest: parts.release?.manifest,
  });
  for (const object of parts.pools) {
    const ref = refOf(object);
    checks.push({
      name: `${objectName(ref)} exists`,
      ok: Boolean(await kube.get(ref)),
    });
  }
  const outputs: Record<string, unknown> = { pools: poolOutputs(o) };
  if (o.verify.loadBalancer) {
    const probe = await probeLoadBalancer(ctx, kube, o);
    checks.push(probe.check);
    if (probe.address) outputs.testedAddress = probe.address;
  }
  return { checks, outputs };
}

/**
 * The MetalLB step.
 *
 * @example
 * ```ts
 * const step = metallbStep({
 *   pools: [{ name: "default", addresses: ["192.168.1.240-192.168.1.250"] }],
 * }, { source: "kfplan.yaml", prefix: ["metallb"] });
 * ```
 */
export function metallbStep(
  options: MetallbOptionsInput,
  stepOptions: MetallbStepOptions = {},
): Step<MetallbOptions> {
  const env: HelmReleaseEnv = stepOptions;
  return defineStep({
    id: METALLB_STEP_ID,
    title: "MetalLB load balancer and address pools",
    schema: metallbOptionsSchema,
    options,
    plan: (ctx, o) => planMetallb(ctx, o, env),
    apply: (ctx, plan, o) => applyMetallb(ctx, plan, o, env),
    verify: (ctx, o, plan) => verifyMetallb(ctx, o, plan, env),
    uninstall: async (ctx, o) => {
      await uninstallRelease(ctx, releaseSpec(o), env);
    },
  }, stepOptions);
}

/** What apply and verify take from a plan: the release, the pools, the deletions. */
interface PlannedParts {
  /** The release's planned objects; absent for a plan without desired objects. */
  release?: DesiredRelease;
  /** Pools and advertisements to apply, as planned (from the options without a plan). */
  pools: KubeObject[];
  /** Pools and advertisements the plan deletes; absent without desired objects. */
  stale?: ObjectRef[];
}

function plannedParts(
  plan: StepPlan | undefined,
  o: MetallbOptions,
): PlannedParts {
  const own = new Set(metallbObjects(o).map((x) => objectKey(refOf(x))));
  const isOwn = (x: KubeObject) => own.has(objectKey(refOf(x)));
  if (!plan?.desired) return { pools: metallbObjects(o) };
  return {
    release: splitDesired(releaseSpec(o), plan.desired, isOwn),
    pools: plan.desired.filter(isOwn),
    stale: plan.changes.filter((c) =>
      c.action === "delete" &&
      (c.kind === "IPAddressPool" || c.kind === "L2Advertisement")
    ).map(({ apiVersion, kind, namespace, name }) => ({
      apiVersion,
      kind,
      namespace,
      name,
    })),
  };
}

function poolOutputs(
  o: MetallbOptions,
): { name: string; addresses: string[]; autoAssign: boolean }[] {
  return o.pools.map((p) => ({
    name: p.name,
    addresses: p.addresses,
    autoAssign: p.autoAssign,
  }));
}

/**
 * Waits until MetalLB can accept pools: its CRDs are Established and the webhook
 * Service has a ready endpoint.
 */
export async function waitForPoolPrerequisites(
  ctx: StepContext,
  o: MetallbOptions,
): Promise<void> {
  const kube = requireKube(ctx);
  const timeoutMs = o.readyTimeoutSeconds * 1000;
  for (
    const crd of ["ipaddresspools.metallb.io", "l2advertisements.metallb.io"]
  ) {
    await kube.waitFor(
      {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        name: crd,
      },
      crdEstablished,
      { timeoutMs, signal: ctx.signal },
    );
  }
  kube.invalidateDiscovery();
  ctx.log.info(
    `waiting for ${o.namespace}/${WEBHOOK_SERVICE} to have a ready endpoint before applying pools`,
  );
  await waitForServiceEndpoints(kube, {
    namespace: o.namespace,
    name: WEBHOOK_SERVICE,
  }, {
    timeoutMs,
    signal: ctx.signal,
  });
}

async function probeLoadBalancer(
  ctx: StepContext,
  kube: KubeClient,
  o: MetallbOptions,
): Promise<{ check: VerifyCheck; address?: string }> {
  const name = `kfplan-lb-probe-${crypto.randomUUID().slice(0, 8)}`;
  const ref = {
    apiVersion: "v1",
    kind: "Service",
    namespace: o.verify.namespace,
    name,
  };
  const autoPools = o.pools.filter((p) => p.autoAssign);
  const service: KubeObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: o.verify.namespace,
      labels: { [PROBE_LABEL]: "metallb" },
    },
    spec: {
      type: "LoadBalancer",
      ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
      ...(o.values.loadBalancerClass
        ? { loadBalancerClass: o.values.loadBalancerClass }
        : {}),
    },
  };
  if (autoPools.length === 0) {
    service.metadata.annotations = {
      "metallb.io/address-pool": o.pools[0].name,
    };
  }
  await kube.apply(service);
  try {
    const live = await kube.waitFor(ref, loadBalancerAssigned, {
      timeoutMs: o.verify.timeoutSeconds * 1000,
      signal: ctx.signal,
    });
    const address = loadBalancerAddress(live);
    const pools = autoPools.length > 0 ? autoPools : [o.pools[0]];
    const inPool = pools.find((p) =>
      p.addresses.some((text) => {
        const r = parseRange(text);
        return typeof r !== "string" && address !== undefined &&
          contains(r, address);
      })
    );
    return {
      check: {
        name: "a LoadBalancer Service gets an address from a pool",
        ok: Boolean(inPool),
        detail: inPool
          ? `${address} from pool ${inPool.name}`
          : `${address} is in none of the pools ${
            pools.map((p) => p.name).join(", ")
          }`,
      },
      address,
    };
  } catch (error) {
    return {
      check: {
        name: "a LoadBalancer Service gets an address from a pool",
        ok: false,
        detail: `${
          (error as Error).message
        }; check the controller logs: kubectl -n ${o.namespace} logs deploy/metallb-controller`,
      },
    };
  } finally {
    await kube.delete(ref);
  }
}
