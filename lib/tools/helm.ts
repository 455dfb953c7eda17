/**
 * The real `helm` CLI (v3), found and version-checked, run as a process.
 *
 * kfplan never re-implements Helm: charts rely on its template functions, hooks and
 * release bookkeeping, and a release installed with `helm upgrade --install` stays
 * visible to `helm list` and to people who upgrade by hand later. The binary is looked
 * up, in order, at `$KFPLAN_HELM`, on `$PATH`, in the test cache
 * `~/.cache/kfplan/bin/<key>/helm` written by `tests/cluster/build.sh`, and else
 * provided (see `provision.ts`: the pinned release, downloaded or built once into
 * `~/.cache/kfplan/tools/`).
 *
 * @example
 * ```ts
 * import { findHelm, helmTemplate } from "./helm.ts";
 *
 * const helm = await findHelm();
 * const objects = await helmTemplate(helm, {
 *   release: "metallb",
 *   namespace: "metallb-system",
 *   chart: { path: "/charts/metallb" },
 *   kubeVersion: "v1.33.0",
 * });
 * ```
 *
 * @module
 */

import type { KubeObject } from "../kube/types.ts";
import { BinaryNotFoundError, findBinary } from "./find_binary.ts";
import { parseManifests } from "./manifests.ts";
import {
  cachedRender,
  type RenderCacheOptions,
  treeDigest,
} from "./render_cache.ts";
import { type ProvisionOptions, provisionTool } from "./provision.ts";

/** The Helm major version kfplan drives. */
export const HELM_MAJOR = 3;
/** The lowest Helm 3 minor accepted (`--kube-version` on `template`, `status -o json`). */
export const MIN_HELM_MINOR = 8;

/** How to install a suitable helm; part of every "not found / too old" error. */
export const HELM_INSTALL_HINT =
  "install Helm v3 (e.g. `go install helm.sh/helm/v3/cmd/helm@v3.19.5`, or a release from " +
  "https://helm.sh/docs/intro/install/) and put it on PATH, or set KFPLAN_HELM to its path";

/** A located helm binary and its version. */
export interface Helm {
  /** Absolute path of the binary. */
  path: string;
  /** The version it reports, e.g. `v3.19.5`. */
  version: string;
}

/** Raised when helm is missing or too old, or a helm command fails. */
export class HelmError extends Error {
  /** The helm command line (without values), when a command failed. */
  readonly command?: string;
  /** Creates the error; `command` is the failed helm command line, without values. */
  constructor(message: string, command?: string) {
    super(message);
    this.name = "HelmError";
    this.command = command;
  }
}

/** Options for {@linkcode findHelm}. */
export interface FindHelmOptions {
  /** Environment to read `KFPLAN_HELM`, `PATH` and `HOME` from; default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /**
   * Provide the pinned helm when none is found ({@linkcode provisionTool}, with these
   * options). Default: on for the process environment, off when `env` is given (an
   * explicit `env` describes a machine to look at, not one to change).
   */
  provision?: boolean | ProvisionOptions;
}

/**
 * Locates helm 3.8+ and returns its path and version. Throws {@linkcode HelmError}
 * with install instructions otherwise.
 *
 * @example
 * ```ts
 * const helm = await findHelm();
 * console.log(helm.path, helm.version);
 * ```
 */
export async function findHelm(options: FindHelmOptions = {}): Promise<Helm> {
  try {
    return await findBinary({
      name: "helm",
      envVar: "KFPLAN_HELM",
      versionArgs: ["version", "--short"],
      parseVersion: parseHelmVersion,
      isSupported,
      requirement: `helm v${HELM_MAJOR}.${MIN_HELM_MINOR} or newer (v3.x)`,
      installHint: HELM_INSTALL_HINT,
      env: options.env,
      provision: provisionerFor(options),
    });
  } catch (error) {
    if (error instanceof BinaryNotFoundError) {
      throw new HelmError(error.message);
    }
    throw error;
  }
}

function provisionerFor(
  options: FindHelmOptions,
): (() => Promise<Helm>) | undefined {
  const provision = options.provision ?? options.env === undefined;
  if (provision === false) return undefined;
  const settings = provision === true ? {} : provision;
  return async () => {
    const { path, version } = await provisionTool("helm", {
      env: options.env,
      ...settings,
    });
    return { path, version };
  };
}

/**
 * Parses `helm version --short` output (`v3.19.5+g1234567`, or `v3.19.5` for a
 * `go install` build that stamps only the version).
 *
 * @example
 * ```ts
 * parseHelmVersion("v3.19.5+gabc1234\n"); // "v3.19.5"
 * ```
 */
export function parseHelmVersion(output: string): string | undefined {
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(output);
  return m ? `v${m[1]}.${m[2]}.${m[3]}` : undefined;
}

function isSupported(version: string): boolean {
  const [major, minor] = version.slice(1).split(".").map(Number);
  return major === HELM_MAJOR && minor >= MIN_HELM_MINOR;
}

/** Where a chart comes from: a repository (URL or `oci://`) or a local directory/archive. */
export type ChartRef =
  | { repo: string; chart: string; version?: string }
  | { path: string };

/** How helm reaches the cluster. */
export interface HelmCluster {
  /** Kubeconfig path(s), `:`-separated as in `$KUBECONFIG`; default helm's own lookup. */
  kubeconfig?: string;
  /** Kubeconfig context. */
  context?: string;
}

/** Options shared by the release commands. */
export interface HelmReleaseArgs {
  /** Release name, as shown by `helm list`, e.g. `metallb`. */
  release: string;
  /** Namespace of the release (`--namespace`). */
  namespace: string;
  /** The chart: repository + name (+ version), or a local directory/archive. */
  chart: ChartRef;
  /** Values, written to a temporary file passed with `--values` (never on the command line). */
  values?: Record<string, unknown>;
  /** Directory for the temporary values file; default the system temp dir. */
  workDir?: string;
  /** Aborts the helm process. */
  signal?: AbortSignal;
}

/** Options for {@linkcode helmTemplate}. */
export interface HelmTemplateArgs extends HelmReleaseArgs {
  /** The cluster's version, e.g. `v1.33.13` (Helm assumes v1.20.0 otherwise). */
  kubeVersion: string;
  /** API versions the cluster serves, for charts that check `.Capabilities.APIVersions`. */
  apiVersions?: string[];
  /** Include the chart's `crds/` directory (default true). */
  includeCrds?: boolean;
  /**
   * Reuse an earlier render of the same chart (its files, or repository, name and
   * version), values, Kubernetes version and helm version (see `render_cache.ts`).
   * Renders that contain a Secret are never stored.
   */
  cache?: RenderCacheOptions;
}

function chartArgs(chart: ChartRef): string[] {
  if ("path" in chart) return [chart.path];
  if (chart.repo.startsWith("oci://")) {
    const ref = `${chart.repo.replace(/\/+$/, "")}/${chart.chart}`;
    return chart.version ? [ref, "--version", chart.version] : [ref];
  }
  const args = [chart.chart, "--repo", chart.repo];
  if (chart.version) args.push("--version", chart.version);
  return args;
}

function clusterArgs(cluster: HelmCluster): string[] {
  const args: string[] = [];
  if (cluster.kubeconfig && !cluster.kubeconfig.includes(":")) {
    args.push("--kubeconfig", cluster.kubeconfig);
  }
  if (cluster.context) args.push("--kube-context", cluster.context);
  return args;
}

function clusterEnv(cluster: HelmCluster): Record<string, string> {
  // A `:`-separated list only works through the environment.
  return cluster.kubeconfig?.includes(":")
    ? { KUBECONFIG: cluster.kubeconfig }
    : {};
}

async function run(
  helm: Helm,
  args: string[],
  options: {
    values?: Record<string, unknown>;
    workDir?: string;
    env?: Record<string, string>;
    signal?: AbortSignal;
  },
): Promise<string> {
  let valuesFile: string | undefined;
  const full = [...args];
  if (options.values && Object.keys(options.values).length > 0) {
    valuesFile = await Deno.makeTempFile({
      dir: options.workDir,
      prefix: "kfplan-values-",
      suffix: ".json",
    });
    await Deno.chmod(valuesFile, 0o600);
    // JSON is valid YAML, and avoids any ambiguity of YAML scalars.
    await Deno.writeTextFile(valuesFile, JSON.stringify(options.values));
    full.push("--values", valuesFile);
  }
  const command = `helm ${args.join(" ")}`;
  try {
    const out = await new Deno.Command(helm.path, {
      args: full,
      stdout: "piped",
      stderr: "piped",
      env: options.env,
      signal: options.signal,
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    if (out.code !== 0) {
      const stderr = new TextDecoder().decode(out.stderr).trim();
      const offline =
        /cannot be reached|dial tcp|no such host|i\/o timeout/.test(stderr)
          ? "; the chart repository is unreachable: check the network/proxy, or download the chart " +
            "(`helm pull <chart> --repo <url> --version <v> --untar`) and use `chart: { path: ... }`"
          : "";
      throw new HelmError(
        `${command} failed (exit ${out.code}): ${
          stderr || stdout.trim()
        }${offline}`,
        command,
      );
    }
    return stdout;
  } finally {
    if (valuesFile) await Deno.remove(valuesFile).catch(() => {});
  }
}

/**
 * `helm template`: renders a chart offline for the given Kubernetes version and
 * returns the objects in output order. Hook objects (`helm.sh/hook`) are kept; callers
 * decide (see {@linkcode isHook}).
 *
 * @example
 * ```ts
 * const objs = await helmTemplate(await findHelm(), {
 *   release: "nfs", namespace: "nfs-provisioner", chart: { path: "./nfs-chart" },
 *   values: { nfs: { server: "10.0.0.2", path: "/export" } }, kubeVersion: "v1.33.0",
 * });
 * ```
 */
export async function helmTemplate(
  helm: Helm,
  args: HelmTemplateArgs,
): Promise<KubeObject[]> {
  return (await helmTemplateSources(helm, args)).map((m) => m.object);
}

/** One object `helm template` printed, with the chart file it came from. */
export interface TemplatedObject {
  /** The object. */
  object: KubeObject;
  /**
   * The chart file, as helm's `# Source:` comment names it, e.g.
   * `gpu-operator/crds/nvidia.com_clusterpolicies.yaml` or `metallb/templates/x.yaml`.
   */
  source: string;
}

/**
 * `helm template`, keeping each object's source file: what tells a chart's `crds/`
 * directory (installed by helm once and never upgraded) from its templates.
 */
export async function helmTemplateSources(
  helm: Helm,
  args: HelmTemplateArgs,
): Promise<TemplatedObject[]> {
  const cli = [
    "template",
    args.release,
    ...chartArgs(args.chart),
    "--namespace",
    args.namespace,
    "--kube-version",
    args.kubeVersion,
  ];
  if (args.includeCrds ?? true) cli.push("--include-crds");
  for (const v of args.apiVersions ?? []) cli.push("--api-versions", v);
  const label = `helm template ${args.release}`;
  if (!args.cache) return parseSources(await run(helm, cli, args), label);
  const key = JSON.stringify({
    tool: "helm",
    version: helm.version,
    cli,
    values: args.values ?? {},
    // A repository chart is immutable per version; a local one is read whole.
    chart: "path" in args.chart ? await treeDigest([args.chart.path]) : null,
  });
  const { text } = await cachedRender(key, () => run(helm, cli, args), {
    ...args.cache,
    storable: (out) => !/^kind:\s*Secret\s*$/m.test(out),
  });
  return parseSources(text, label);
}

/**
 * Splits helm's output at `# Source:` comments. A `crds/` file is printed whole under
 * one comment, so the documents after it without their own comment share its source.
 */
function parseSources(text: string, label: string): TemplatedObject[] {
  const out: TemplatedObject[] = [];
  let source = "";
  for (const chunk of text.split(/^---[ \t]*$/m)) {
    const named = /^# Source: (.+)$/m.exec(chunk);
    if (named) source = named[1].trim();
    for (const object of parseManifests(chunk, `${label} (${source})`)) {
      out.push({ object, source });
    }
  }
  return out;
}

/**
 * True for a file of a chart's (or subchart's) `crds/` directory, e.g.
 * `gpu-operator/charts/node-feature-discovery/crds/nfd-api-crds.yaml`; templates that
 * happen to define CRDs (`metallb/charts/crds/templates/crds.yaml`) are not.
 */
export function isCrdsDirSource(source: string): boolean {
  return /^[^/]+(\/charts\/[^/]+)*\/crds\/[^/]+$/.test(source);
}

/** True for Helm hook objects (`helm.sh/hook`), which are not part of the release manifest. */
export function isHook(object: KubeObject): boolean {
  return Boolean(object.metadata?.annotations?.["helm.sh/hook"]);
}

/** Options for {@linkcode helmUpgradeInstall}. */
export interface HelmUpgradeArgs extends HelmReleaseArgs, HelmCluster {
  /** `--create-namespace`. */
  createNamespace?: boolean;
  /** `--wait` for workloads (kfplan's verify waits instead, so default false). */
  wait?: boolean;
  /** `--timeout`, e.g. `5m0s`; bounds hooks. */
  timeout?: string;
  /**
   * Install exactly these objects as the release's manifest instead of what the chart
   * renders now (helm's `--post-renderer`): the objects a plan showed. Hooks and the
   * chart's `crds/` directory stay helm's. The file holding them (it may hold Secret
   * values) is written with mode 0600 under `workDir` and removed afterwards.
   */
  manifest?: KubeObject[];
}

/**
 * `helm upgrade --install`: installs or upgrades the release so it shows in `helm list`.
 *
 * @example
 * ```ts
 * await helmUpgradeInstall(helm, {
 *   release: "metallb", namespace: "metallb-system", chart: { repo: "https://metallb.github.io/metallb", chart: "metallb", version: "0.15.3" },
 *   createNamespace: true, kubeconfig: "/tmp/kubeconfig",
 * });
 * ```
 */
export async function helmUpgradeInstall(
  helm: Helm,
  args: HelmUpgradeArgs,
): Promise<string> {
  const cli = [
    "upgrade",
    "--install",
    args.release,
    ...chartArgs(args.chart),
    "--namespace",
    args.namespace,
    ...clusterArgs(args),
    "--timeout",
    args.timeout ?? "5m0s",
  ];
  if (args.createNamespace) cli.push("--create-namespace");
  if (args.wait) cli.push("--wait");
  if (!args.manifest) {
    return await run(helm, cli, { ...args, env: clusterEnv(args) });
  }
  const dir = await Deno.makeTempDir({
    dir: args.workDir,
    prefix: "kfplan-post-render-",
  });
  try {
    await Deno.chmod(dir, 0o700);
    const renderer = await writePostRenderer(dir, args.manifest);
    cli.push("--post-renderer", renderer.script);
    cli.push("--post-renderer-args", renderer.manifest);
    return await run(helm, cli, { ...args, env: clusterEnv(args) });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Writes a post-renderer that discards helm's fresh render (read, so helm's write
 * never blocks) and prints the given objects instead.
 */
async function writePostRenderer(
  dir: string,
  objects: KubeObject[],
): Promise<{ script: string; manifest: string }> {
  const manifest = `${dir}/manifest.yaml`;
  const script = `${dir}/post-render.sh`;
  // JSON documents are valid YAML and leave no doubt about scalar types.
  const text = objects.map((o) => `---\n${JSON.stringify(o)}\n`).join("");
  await Deno.writeTextFile(manifest, text, { mode: 0o600 });
  await Deno.writeTextFile(
    script,
    '#!/bin/sh\ncat >/dev/null\nexec cat "$1"\n',
    { mode: 0o700 },
  );
  return { script, manifest };
}

/** The parts of `helm status -o json` kfplan reads. */
export interface HelmReleaseStatus {
  /** Release name, as shown by `helm list`. */
  name: string;
  /** Namespace the release is recorded in. */
  namespace: string;
  /** Release revision: 1 after install, bumped by every upgrade (not the chart version). */
  version: number;
  /** `deployed`, `failed`, `pending-install`, `pending-upgrade`, ... */
  status: string;
  /** Helm's note on the last action, e.g. `Install complete` or why it failed. */
  description?: string;
  /** Chart name and version, e.g. `metallb-0.15.3`. */
  chart?: string;
}

/** Options for {@linkcode helmStatus}. */
export interface HelmStatusArgs extends HelmCluster {
  /** Release name, as shown by `helm list`. */
  release: string;
  /** Namespace of the release (`--namespace`). */
  namespace: string;
  /** Aborts the helm process. */
  signal?: AbortSignal;
}

/**
 * `helm status -o json`; `undefined` when the release does not exist.
 */
export async function helmStatus(
  helm: Helm,
  args: HelmStatusArgs,
): Promise<HelmReleaseStatus | undefined> {
  const cli = [
    "status",
    args.release,
    "--namespace",
    args.namespace,
    "-o",
    "json",
    ...clusterArgs(args),
  ];
  let out: string;
  try {
    out = await run(helm, cli, { env: clusterEnv(args), signal: args.signal });
  } catch (error) {
    if (
      error instanceof HelmError && /release: not found/.test(error.message)
    ) return undefined;
    throw error;
  }
  const json = JSON.parse(out) as {
    name: string;
    namespace: string;
    version: number;
    info?: { status?: string; description?: string };
    chart?: { metadata?: { name?: string; version?: string } };
  };
  return {
    name: json.name,
    namespace: json.namespace,
    version: json.version,
    status: json.info?.status ?? "unknown",
    description: json.info?.description,
    chart: json.chart?.metadata
      ? `${json.chart.metadata.name}-${json.chart.metadata.version}`
      : undefined,
  };
}

/** `helm get manifest`: the objects the release owns (hooks excluded). */
export async function helmGetManifest(
  helm: Helm,
  args: HelmStatusArgs,
): Promise<KubeObject[]> {
  const cli = [
    "get",
    "manifest",
    args.release,
    "--namespace",
    args.namespace,
    ...clusterArgs(args),
  ];
  return parseManifests(
    await run(helm, cli, { env: clusterEnv(args), signal: args.signal }),
  );
}

/** `helm uninstall`; resolves false when the release did not exist. */
export async function helmUninstall(
  helm: Helm,
  args: HelmStatusArgs,
): Promise<boolean> {
  const cli = [
    "uninstall",
    args.release,
    "--namespace",
    args.namespace,
    ...clusterArgs(args),
  ];
  try {
    await run(helm, cli, { env: clusterEnv(args), signal: args.signal });
    return true;
  } catch (error) {
    if (error instanceof HelmError && /not found/.test(error.message)) {
      return false;
    }
    throw error;
  }
}
