/**
 * Helm releases as a building block for steps.
 *
 * - **plan** renders the chart with the real `helm template`, for the cluster's
 *   Kubernetes version (offline: {@linkcode OFFLINE_KUBE_VERSION}), diffs the
 *   objects against what is live by server-side dry-run (`planObjects`), and keeps
 *   them as the plan's `desired` objects: the namespace first, then the release's
 *   manifest.
 * - **apply** applies the namespace (with its labels) and runs `helm upgrade --install`
 *   so the release stays visible to `helm list` and to people who upgrade by hand;
 *   given the planned objects, helm installs exactly those (through a post-renderer)
 *   rather than what the chart renders at that moment. Hooks and the chart's `crds/`
 *   directory (installed once, never upgraded) stay helm's, so they are planned but
 *   not among the desired objects. With the release unchanged, the upgrade repairs
 *   drift: helm's three-way merge restores fields changed out of band and creates
 *   deleted objects again (`tests/integration/drift_helm_test.ts`).
 * - **verify** checks `helm status` (`deployed`) and waits, bounded, for the workloads
 *   the release owns (`helm get manifest`): Deployments Available, DaemonSets rolled
 *   out, StatefulSets ready.
 *
 * Charts come from a repository (`repo` + `chart` + `version`, `https://` or `oci://`)
 * or a local directory/archive (`path`). Values are typed by each step's schema and
 * passed to helm as a file, never as `--set` strings.
 *
 * @module
 */

import { z } from "../deps.ts";
import { isAbsolute, join, resolve } from "node:path";
import { formatPath, OptionsError } from "../engine/options.ts";
import {
  emptyPlan,
  type StepContext,
  type StepPlan,
  type VerifyCheck,
} from "../engine/types.ts";
import { digestOf } from "../engine/digest.ts";
import type { KubeClient, KubeObject } from "../kube/types.ts";
import {
  DATA_HOLDING_KINDS,
  DataLossError,
  type ObservedObject,
  planObjects,
  planOptionsOf,
  type ResourceChange,
} from "../kube/apply_set.ts";
import { objectName, refOf } from "../kube/object_ref.ts";
import { loadKubeConfig } from "../kube/client.ts";
import { waitForReady } from "../kube/wait.ts";
import { findImages, type ImageScan } from "../kube/images.ts";
import {
  mirrorChartValues,
  mirrorObjects,
  mirrorReport,
} from "./image_mirror.ts";
import {
  type ChartRef,
  findHelm,
  type Helm,
  helmGetManifest,
  helmStatus,
  helmTemplateSources,
  helmUninstall,
  helmUpgradeInstall,
  isCrdsDirSource,
  isHook,
} from "../tools/helm.ts";

/**
 * Kubernetes version charts are rendered for when planning offline (no cluster to
 * ask). Helm itself would assume v1.20.0, which many charts reject.
 */
export const OFFLINE_KUBE_VERSION = "v1.33.0";

/** Where a chart comes from, as written in the config file. */
export const chartSourceSchema = z.strictObject({
  /** Chart repository URL (`https://...`) or OCI registry (`oci://...`). */
  repo: z.string().regex(/^(https?|oci):\/\/\S+$/, {
    message:
      'use a chart repository URL such as "https://metallb.github.io/metallb" or "oci://..."',
  }).optional(),
  /** Chart name in the repository. */
  chart: z.string().min(1).optional(),
  /** Chart version; pin it for reproducible plans. */
  version: z.string().min(1).optional(),
  /** A local chart directory or `.tgz`, relative to the config file. */
  path: z.string().min(1).optional(),
}).superRefine((c, ctx) => {
  if (c.path && (c.repo || c.chart)) {
    ctx.addIssue({
      code: "custom",
      path: ["path"],
      message:
        "set either path (a local chart) or repo + chart (+ version), not both",
    });
  } else if (!c.path && !(c.repo && c.chart)) {
    ctx.addIssue({
      code: "custom",
      path: c.repo ? ["chart"] : ["repo"],
      message: "a chart needs repo + chart (+ version) or a local path",
    });
  }
});

/** A validated chart source. */
export type ChartSource = z.output<typeof chartSourceSchema>;

/** What a step installs with Helm. */
export interface HelmReleaseSpec {
  /** Helm release name, as shown by `helm list`, e.g. `metallb`. */
  release: string;
  /** Namespace the release lives in; kfplan applies it (with `namespaceLabels`) before helm runs, and namespaced objects without one get it. */
  namespace: string;
  /** Where the chart comes from: `repo` + `chart` + `version`, or a local `path`. */
  chart: ChartSource;
  /** Typed values, already validated by the step's schema. */
  values: Record<string, unknown>;
  /** Labels of the release namespace (e.g. Pod Security), applied by kfplan before helm runs. */
  namespaceLabels?: Record<string, string>;
}

/** How a release reaches helm and the cluster. */
export interface HelmReleaseEnv {
  /** A located helm; found with `findHelm()` when absent. */
  helm?: Helm;
  /**
   * Kubeconfig path(s) for helm. Default: the client's `kubeconfigPath` when it has
   * one, then `$KUBECONFIG`. Checked against the client's server before any write.
   */
  kubeconfig?: string;
  /** Directory a relative chart `path` resolves against (the config file's directory). */
  baseDir?: string;
  /** The config file the chart source came from, named in errors (a step's `source`). */
  source?: string;
  /** Path of the step's options in that file, e.g. `["storage"]` (a step's `prefix`); the chart is at `[...prefix, "chart"]`. */
  prefix?: PropertyKey[];
  /** Bound for verify's workload waits; default 300000 ms. */
  timeoutMs?: number;
}

/** The chart reference helm gets for a source. */
export function chartRef(source: ChartSource, baseDir?: string): ChartRef {
  if (source.path) {
    return {
      path: isAbsolute(source.path) || !baseDir
        ? source.path
        : join(baseDir, source.path),
    };
  }
  return { repo: source.repo!, chart: source.chart!, version: source.version };
}

/**
 * Checks that a local chart `path` names a chart directory (with `Chart.yaml`) or a
 * file (a `.tgz`), before helm runs: throws {@linkcode OptionsError} naming the
 * config file and `<prefix>.chart.path`, e.g. `kfplan.yaml: storage.chart.path: no
 * chart at /abs/no-such-chart (a chart directory or .tgz, relative to the config
 * file)`. Repository charts are not checked (helm fetches them).
 */
export function checkChartSource(
  source: ChartSource,
  env: Pick<HelmReleaseEnv, "baseDir" | "source" | "prefix"> = {},
): void {
  if (!source.path) return;
  const path = env.baseDir
    ? resolve(env.baseDir, source.path)
    : resolve(source.path);
  const hint = "(a chart directory or .tgz, relative to the config file)";
  let problem: string | undefined;
  try {
    const info = Deno.statSync(path);
    if (info.isDirectory) {
      try {
        Deno.statSync(join(path, "Chart.yaml"));
      } catch {
        problem = `${path} is a directory without Chart.yaml ${hint}`;
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    problem = `no chart at ${path} ${hint}`;
  }
  if (problem) {
    throw new OptionsError([{
      path: formatPath([...env.prefix ?? [], "chart", "path"]),
      message: problem,
    }], env.source);
  }
}

/** Human description of a chart source, e.g. `metallb 0.15.3 from https://...`. */
export function describeChart(source: ChartSource): string {
  return source.path
    ? `chart at ${source.path}`
    : `${source.chart}${
      source.version ? ` ${source.version}` : ""
    } from ${source.repo}`;
}

const CLUSTER_SCOPED = new Set([
  "Namespace",
  "Node",
  "PersistentVolume",
  "StorageClass",
  "CustomResourceDefinition",
  "ClusterRole",
  "ClusterRoleBinding",
  "PriorityClass",
  "RuntimeClass",
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "APIService",
  "IngressClass",
  "CSIDriver",
  "PodSecurityPolicy",
  "ClusterPolicy",
  "NodeFeatureRule",
  "NodeFeatureGroup",
]);

async function isNamespaced(
  kube: KubeClient | undefined,
  object: KubeObject,
  crdScopes: Map<string, string>,
): Promise<boolean> {
  const fromSet = crdScopes.get(
    `${object.apiVersion.split("/")[0]}/${object.kind}`,
  );
  if (fromSet) return fromSet === "Namespaced";
  const served = kube
    ? await kube.resourceFor(object.apiVersion, object.kind)
    : undefined;
  if (served) return served.namespaced;
  return !CLUSTER_SCOPED.has(object.kind);
}

/** The release namespace as kfplan applies it. */
export function namespaceObject(spec: HelmReleaseSpec): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: spec.namespace,
      ...(spec.namespaceLabels ? { labels: { ...spec.namespaceLabels } } : {}),
    },
  };
}

/** A rendered release. */
export interface RenderedRelease {
  /** The release's objects (hooks excluded), namespaced ones with the release namespace set. */
  objects: KubeObject[];
  /** Hook objects helm runs around install/upgrade (not diffed). */
  hooks: KubeObject[];
  /**
   * The CRDs of the chart's `crds/` directories, also in `objects`: helm installs
   * them when missing and never upgrades them, so they are diffed but not installed
   * from the plan.
   */
  crdsDir: KubeObject[];
  /** The Kubernetes version the chart was rendered for. */
  kubeVersion: string;
  /** With an image mirror: the images rewritten and those left as they are. */
  images?: ImageScan;
}

/**
 * Renders the release with `helm template` for the cluster's version.
 *
 * @example
 * ```ts
 * const { objects } = await renderRelease(ctx, {
 *   release: "metallb", namespace: "metallb-system",
 *   chart: { repo: "https://metallb.github.io/metallb", chart: "metallb", version: "0.15.3" },
 *   values: {},
 * });
 * ```
 */
export async function renderRelease(
  ctx: StepContext,
  spec: HelmReleaseSpec,
  env: HelmReleaseEnv = {},
): Promise<RenderedRelease> {
  checkChartSource(spec.chart, env);
  const helm = env.helm ?? await findHelm();
  const kubeVersion = ctx.kube
    ? (await ctx.kube.serverVersion()).gitVersion
    : OFFLINE_KUBE_VERSION;
  const apiVersions = ctx.kube ? [...await ctx.kube.servedApiVersions()] : [];
  const chart = chartRef(spec.chart, env.baseDir);
  const templated = await helmTemplateSources(helm, {
    release: spec.release,
    namespace: spec.namespace,
    chart,
    // With an image mirror, the chart's image values point at it: helm renders
    // hooks from the values, beyond kfplan's post-renderer.
    values: await mirrorChartValues(ctx, helm, { chart, values: spec.values }, {
      signal: ctx.signal,
    }),
    kubeVersion,
    apiVersions,
    workDir: ctx.workDir,
    signal: ctx.signal,
    // An unchanged chart, values and cluster render once (renders holding Secrets
    // are never stored).
    cache: {},
  });
  const crdScopes = crdScopesOf(templated.map((t) => t.object));
  const objects: KubeObject[] = [];
  const hooks: KubeObject[] = [];
  const crdsDir: KubeObject[] = [];
  for (const { object: o, source } of templated) {
    if (!o.metadata.namespace && await isNamespaced(ctx.kube, o, crdScopes)) {
      o.metadata.namespace = spec.namespace;
    }
    (isHook(o) ? hooks : objects).push(o);
    if (!isHook(o) && isCrdsDirSource(source)) crdsDir.push(o);
  }
  if (!ctx.images) return { objects, hooks, crdsDir, kubeVersion };
  // Whatever the values did not reach is rewritten after rendering.
  const mirrored = await mirrorObjects(ctx, objects);
  const prefix = `${ctx.images.registry}/`;
  const hookImages = findImages(hooks).images.filter((i) =>
    !i.source.startsWith(prefix)
  );
  return {
    objects: mirrored.objects,
    hooks,
    crdsDir,
    kubeVersion,
    images: {
      images: mirrored.images,
      notRewritable: [
        ...mirrored.notRewritable,
        ...hookImages.map((i) => ({
          value: i.source,
          where: i.where,
          reason:
            "a helm hook, which helm renders from the chart's values: set the chart's image value for it",
        })),
      ],
    },
  };
}

/** Scope (`Namespaced`, `Cluster`) by `group/Kind` of the CRDs among `objects`. */
function crdScopesOf(objects: KubeObject[]): Map<string, string> {
  const scopes = new Map<string, string>();
  for (const o of objects) {
    if (o.kind !== "CustomResourceDefinition") continue;
    const s = o.spec as {
      group: string;
      names: { kind: string };
      scope: string;
    };
    scopes.set(`${s.group}/${s.names.kind}`, s.scope);
  }
  return scopes;
}

/**
 * The objects a release's apply makes so, as a plan's `desired` holds them: the
 * namespace (with its labels), then the release's manifest (no hooks, no `crds/`).
 */
export function releaseDesired(
  spec: HelmReleaseSpec,
  rendered: RenderedRelease,
): KubeObject[] {
  const crdsDir = new Set(rendered.crdsDir);
  return [
    namespaceObject(spec),
    ...rendered.objects.filter((o) => !crdsDir.has(o)),
  ];
}

/** A plan's desired objects of a release, split as apply uses them. */
export interface DesiredRelease {
  /** The release namespace as kfplan applies it. */
  namespace: KubeObject;
  /** The release's manifest, installed by helm. */
  manifest: KubeObject[];
}

/**
 * Splits desired objects made by {@linkcode releaseDesired} (optionally followed by
 * objects the step applies itself, which `own` picks out) into the namespace and the
 * release's manifest. Throws when the first object is not the release namespace: the
 * plan was not made by this release.
 */
export function splitDesired(
  spec: HelmReleaseSpec,
  desired: KubeObject[],
  own: (object: KubeObject) => boolean = () => false,
): DesiredRelease {
  const [namespace, ...rest] = desired;
  if (
    namespace?.kind !== "Namespace" || namespace.apiVersion !== "v1" ||
    namespace.metadata.name !== spec.namespace
  ) {
    throw new Error(
      `the plan's desired objects do not start with Namespace ${spec.namespace} of release ${spec.release}: plan again`,
    );
  }
  return { namespace, manifest: rest.filter((o) => !own(o)) };
}

/** A release plan: the step plan plus the rendered objects. */
export interface ReleasePlan extends StepPlan {
  /** The release as rendered for this plan (objects, hooks, Kubernetes version), for steps that build on it; they drop it from the step plan they return. */
  rendered: RenderedRelease;
}

/** Options for {@linkcode planRelease}. */
export interface PlanReleaseOptions extends HelmReleaseEnv {
  /** An already rendered release (saves a second `helm template`). */
  rendered?: RenderedRelease;
  /** Objects the caller plans itself (e.g. a StorageClass that must be replaced). */
  skip?: (object: KubeObject) => boolean;
}

/**
 * Plans a release: renders it, then diffs the namespace and every object against the
 * cluster (offline: all `create`).
 */
export async function planRelease(
  ctx: StepContext,
  spec: HelmReleaseSpec,
  options: PlanReleaseOptions = {},
): Promise<ReleasePlan> {
  const env: HelmReleaseEnv = options;
  const helm = env.helm ?? await findHelm();
  const rendered = options.rendered ??
    await renderRelease(ctx, spec, { ...env, helm });
  const objects = [namespaceObject(spec), ...rendered.objects];
  // helm creates the CRDs of crds/ directories once and never changes them, and they
  // are not the step's members: they are planned by existence, not diffed (a diff
  // would show the step's part-of label, which they never get, on every plan).
  const crdsDir = new Set(rendered.crdsDir);
  const [namespace, ...chartObjects] = objects;
  const diffed = chartObjects.filter((o) =>
    !crdsDir.has(o) && !(options.skip?.(o) ?? false)
  );
  // The namespace is kfplan's own server-side apply: a field another manager owns
  // on it is a conflict, planned as in every step. helm applies the rest (its own
  // manager owns them), so their conflicts are helm's to judge.
  const namespacePlan = await planObjects(
    ctx.kube,
    [namespace],
    planOptionsOf(ctx),
  );
  const planned = await planObjects(ctx.kube, diffed, {
    signal: ctx.signal,
    allowDataLoss: ctx.policy?.allowDataLoss,
  });
  const crds = await planCrdsDir(ctx, rendered.crdsDir);
  const changes = [
    ...namespacePlan.changes,
    ...crds.changes,
    ...planned.changes,
  ];
  const observed = [
    ...namespacePlan.observed,
    ...planned.observed,
    ...crds.observed,
  ];
  const plan: ReleasePlan = {
    ...emptyPlan(),
    changes,
    observed,
    rendered,
    desired: releaseDesired(spec, rendered),
  };
  plan.desiredDigest = digestOf({
    chart: spec.chart,
    values: spec.values,
    objects,
  });
  plan.facts = {
    release: `${spec.namespace}/${spec.release}`,
    chart: describeChart(spec.chart),
    kubeVersion: rendered.kubeVersion,
    helm: helm.version,
  };
  if (rendered.images) {
    const report = mirrorReport(ctx, rendered.images);
    if (report.fact) plan.facts.images = report.fact;
    plan.warnings.push(...report.warnings);
  }
  if (!ctx.kube) {
    plan.warnings.push(
      `offline: chart rendered for Kubernetes ${OFFLINE_KUBE_VERSION}; re-plan against the cluster for exact diffs`,
    );
  } else {
    const status = await helmStatus(helm, {
      ...clusterFor(ctx.kube, env),
      release: spec.release,
      namespace: spec.namespace,
    }).catch(() => undefined);
    if (status) {
      plan.facts.installed = `revision ${status.version} (${status.status}, ${
        status.chart ?? "?"
      })`;
    }
    for (const name of crds.outdated) {
      plan.warnings.push(
        `CustomResourceDefinition ${name} lacks versions the chart's crds/ directory has, but helm never upgrades CRDs from a chart's crds/ directory`,
      );
    }
  }
  // Only worth saying when helm will run: unknowns make an otherwise unchanged step "unknown".
  if (rendered.hooks.length > 0 && planHasChanges(plan)) {
    plan.unknowns.push(
      `helm hooks run during apply: ${
        rendered.hooks.map((h) => objectName(refOf(h))).join(", ")
      }`,
    );
  }
  return plan;
}

function clusterFor(
  kube: KubeClient,
  env: HelmReleaseEnv,
): { kubeconfig?: string; context: string } {
  const kubeconfig = env.kubeconfig ??
    kube.kubeconfigPath ??
    Deno.env.get("KUBECONFIG");
  return { kubeconfig, context: kube.context };
}

/**
 * Checks that helm would talk to the same API server as kfplan's client, so a
 * release never lands in another cluster than the one planned against.
 */
export function assertSameCluster(
  kube: KubeClient,
  env: HelmReleaseEnv,
): { kubeconfig?: string; context: string } {
  const cluster = clusterFor(kube, env);
  const list = cluster.kubeconfig?.includes(":");
  // Read the kubeconfig exactly as helm will (a `:`-list only through KUBECONFIG).
  const config = loadKubeConfig({
    kubeconfig: list ? undefined : cluster.kubeconfig,
    context: kube.context,
    ...(list
      ? { env: { ...Deno.env.toObject(), KUBECONFIG: cluster.kubeconfig } }
      : {}),
  });
  const server = config?.getCurrentCluster()?.server;
  if (
    server && server.replace(/\/+$/, "") !== kube.server.replace(/\/+$/, "")
  ) {
    throw new Error(
      `helm would reach ${server} (kubeconfig ${
        cluster.kubeconfig ?? "default"
      }, context ${kube.context}) ` +
        `but kfplan is connected to ${kube.server}; pass the same kubeconfig to both`,
    );
  }
  return cluster;
}

/**
 * Plans the CRDs of a chart's `crds/` directories by existence: `create` when missing
 * (helm creates them), else `no-op`; `outdated` names those whose live versions lack
 * one the chart has.
 */
async function planCrdsDir(
  ctx: StepContext,
  crds: readonly KubeObject[],
): Promise<
  { changes: ResourceChange[]; observed: ObservedObject[]; outdated: string[] }
> {
  const changes: ResourceChange[] = [];
  const observed: ObservedObject[] = [];
  const outdated: string[] = [];
  for (const crd of crds) {
    const ref = refOf(crd);
    const live = ctx.kube ? await ctx.kube.get(ref) : undefined;
    changes.push({ ...ref, action: live ? "no-op" : "create", diff: [] });
    if (!live) continue;
    observed.push({
      ...ref,
      resourceVersion: live.metadata.resourceVersion,
      uid: live.metadata.uid,
    });
    const versions = (o: KubeObject) =>
      new Set(
        ((o.spec as { versions?: { name: string }[] })?.versions ?? []).map((
          v,
        ) => v.name),
      );
    const have = versions(live);
    if ([...versions(crd)].some((v) => !have.has(v))) {
      outdated.push(crd.metadata.name);
    }
  }
  return { changes, observed, outdated };
}

/** Options for {@linkcode applyRelease}. */
export interface ApplyReleaseOptions extends HelmReleaseEnv {
  /**
   * The planned objects (see {@linkcode splitDesired}): the namespace is applied as
   * planned and helm installs exactly the planned manifest. Without them (a plan made
   * by hand) the namespace comes from the spec and helm installs the chart's render.
   */
  desired?: DesiredRelease;
  /**
   * The planned changes: objects planned as `replace` (an immutable field changes)
   * are deleted, and waited for (bounded), before helm installs them again.
   */
  changes?: readonly ResourceChange[];
}

/**
 * Deletes the objects planned as `-/+` and waits (bounded) until they are gone, so
 * that `helm upgrade` creates them with the new immutable fields: helm itself would
 * patch them and fail.
 */
async function deleteReplaced(
  ctx: StepContext,
  kube: KubeClient,
  changes: readonly ResourceChange[],
): Promise<void> {
  for (const c of changes.filter((c) => c.action === "replace")) {
    const ref = {
      apiVersion: c.apiVersion,
      kind: c.kind,
      namespace: c.namespace,
      name: c.name,
    };
    if (DATA_HOLDING_KINDS.has(c.kind) && !ctx.policy?.allowDataLoss) {
      throw new DataLossError(ref, c.immutableFields ?? ["(immutable field)"]);
    }
    ctx.log.info(`replacing ${objectName(ref)}: ${c.reason ?? "immutable"}`);
    await kube.delete(ref, { propagationPolicy: "Foreground" });
    await kube.waitFor(ref, (o) => o ? "still being deleted" : true, {
      timeoutMs: 120_000,
      intervalMs: 200,
      signal: ctx.signal,
    });
  }
}

/**
 * Applies the release: the namespace with its labels (server-side apply), objects
 * planned as replacements deleted, then `helm upgrade --install`.
 */
export async function applyRelease(
  ctx: StepContext,
  spec: HelmReleaseSpec,
  options: ApplyReleaseOptions = {},
): Promise<{ revision?: number; status?: string }> {
  const env: HelmReleaseEnv = options;
  const kube = requireKube(ctx);
  checkChartSource(spec.chart, env);
  const helm = env.helm ?? await findHelm();
  const cluster = assertSameCluster(kube, env);
  await kube.apply(options.desired?.namespace ?? namespaceObject(spec));
  await deleteReplaced(ctx, kube, options.changes ?? []);
  ctx.log.info(
    `helm upgrade --install ${spec.release} (${
      describeChart(spec.chart)
    }) in ${spec.namespace}`,
  );
  const chart = chartRef(spec.chart, env.baseDir);
  await helmUpgradeInstall(helm, {
    ...cluster,
    release: spec.release,
    namespace: spec.namespace,
    chart,
    // The values the plan rendered with (hooks come from them).
    values: await mirrorChartValues(ctx, helm, { chart, values: spec.values }, {
      signal: ctx.signal,
    }),
    workDir: ctx.workDir,
    signal: ctx.signal,
    manifest: options.desired?.manifest,
  });
  const status = await helmStatus(helm, {
    ...cluster,
    release: spec.release,
    namespace: spec.namespace,
  });
  return { revision: status?.version, status: status?.status };
}

/**
 * Uninstalls the release (`helm uninstall`), for destroy. Idempotent: a release that
 * is not installed is nothing to do. Resolves whether helm removed one. The
 * namespace is left to destroy's inventory deletes; CRDs from the chart's `crds/`
 * directory stay, as helm leaves them (they are not the step's members, so their
 * custom resources' data is never deleted by kfplan).
 *
 * @example
 * ```ts
 * await uninstallRelease(ctx, { release: "metallb", namespace: "metallb-system" });
 * ```
 */
export async function uninstallRelease(
  ctx: StepContext,
  spec: Pick<HelmReleaseSpec, "release" | "namespace">,
  env: HelmReleaseEnv = {},
): Promise<boolean> {
  const kube = requireKube(ctx);
  const helm = env.helm ?? await findHelm();
  const cluster = assertSameCluster(kube, env);
  ctx.log.info(`helm uninstall ${spec.release} in ${spec.namespace}`);
  const removed = await helmUninstall(helm, {
    ...cluster,
    release: spec.release,
    namespace: spec.namespace,
    signal: ctx.signal,
  });
  if (!removed) {
    ctx.log.info(`release ${spec.namespace}/${spec.release} is not installed`);
  }
  return removed;
}

/** True when a plan would change something (any action but `no-op`). */
export function planHasChanges(plan: StepPlan): boolean {
  return plan.changes.some((c) => c.action !== "no-op");
}

/** The cluster, or a clear error for phases that need one. */
export function requireKube(ctx: StepContext): KubeClient {
  if (!ctx.kube) {
    throw new Error("this phase needs a cluster; kfplan is running offline");
  }
  return ctx.kube;
}

const WORKLOAD_KINDS = new Set(["Deployment", "DaemonSet", "StatefulSet"]);

/** Options for {@linkcode verifyRelease}. */
export interface VerifyReleaseOptions extends HelmReleaseEnv {
  /** Only wait for these workloads (`Kind/name`); default all the release owns. */
  workloads?: string[];
  /**
   * The release's manifest as applied (from the plan): its workloads are waited for.
   * Without it, what the release owns is read with `helm get manifest`.
   */
  manifest?: KubeObject[];
}

/**
 * Verifies a release: `helm status` is `deployed`, and each workload the release owns
 * is ready within the bound (`options.timeoutMs`).
 */
export async function verifyRelease(
  ctx: StepContext,
  spec: HelmReleaseSpec,
  options: VerifyReleaseOptions = {},
): Promise<VerifyCheck[]> {
  const env: HelmReleaseEnv = options;
  const kube = requireKube(ctx);
  const helm = env.helm ?? await findHelm();
  const cluster = clusterFor(kube, env);
  const args = {
    ...cluster,
    release: spec.release,
    namespace: spec.namespace,
    signal: ctx.signal,
  };
  const status = await helmStatus(helm, args);
  const checks: VerifyCheck[] = [{
    name: `helm release ${spec.namespace}/${spec.release} deployed`,
    ok: status?.status === "deployed",
    detail: status
      ? `revision ${status.version}: ${status.status}${
        status.description ? ` (${status.description})` : ""
      }`
      : "release not found (helm list shows nothing)",
  }];
  if (!status) return checks;
  const manifest = options.manifest ?? await helmGetManifest(helm, args);
  const owned = manifest.filter((o) => WORKLOAD_KINDS.has(o.kind))
    .filter((o) =>
      !options.workloads ||
      options.workloads.includes(`${o.kind}/${o.metadata.name}`)
    );
  const timeoutMs = env.timeoutMs ?? 300_000;
  await Promise.all(owned.map(async (o) => {
    const object = {
      ...o,
      metadata: {
        ...o.metadata,
        namespace: o.metadata.namespace ?? spec.namespace,
      },
    };
    const name = `${objectName(refOf(object))} ready`;
    try {
      await waitForReady(kube, object, { timeoutMs, signal: ctx.signal });
      checks.push({ name, ok: true });
    } catch (error) {
      checks.push({ name, ok: false, detail: (error as Error).message });
    }
  }));
  return checks;
}
