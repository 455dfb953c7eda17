/**
 * The image mirror (`images:` in `kfplan.yaml`) as steps apply it.
 *
 * One place covers every step: {@linkcode withImageMirror} hands the mirror to a
 * step through {@linkcode StepContext.images}, and the paths that produce planned
 * objects pass them through {@linkcode mirrorObjects}: the Helm releases'
 * `renderRelease` (so every chart step), the Kubeflow step's render, and the steps
 * that build objects in code (AMD device plugin, the storage probe). A custom step
 * opts in by calling {@linkcode mirrorObjects} on the objects it plans.
 *
 * Helm charts get the mirror twice: in their values (every `image`,
 * `repository`/`tag`, `registry` key of the chart's defaults rewritten, see
 * {@linkcode mirrorChartValues}), because helm renders hooks from the values and
 * kfplan's post-renderer does not see them; then after rendering, for whatever the
 * values could not reach.
 *
 * The pull secret is attached to pod specs rather than ServiceAccounts: the
 * `default` ServiceAccount of a namespace is created by the API server, not by the
 * release, so kfplan would have to take over an object it does not own; a pod spec
 * holds the secret whatever account the pod runs as. Profile namespaces are the
 * exception: kfplan plans no pods there, users start them as the profile
 * controller's ServiceAccounts, so the users step creates the Secret there
 * ({@linkcode readPullSecret}) and adds it to those accounts' `imagePullSecrets`
 * (that one field, server-side applied).
 *
 * @module
 */

import { join } from "node:path";
import { parseYaml, z } from "../deps.ts";
import type { Step, StepContext, StepImages } from "../engine/types.ts";
import {
  attachPullSecret,
  base64,
  type ImageScan,
  mirrorRegistryProblem,
  pullSecretObject,
  rewriteDocument,
  rewriteImages,
} from "../kube/images.ts";
import type { KubeObject } from "../kube/types.ts";
import type { SecretRef } from "./kubeflow/options.ts";
import { readSecret } from "./kubeflow/secrets.ts";
import type { ChartRef, Helm } from "../tools/helm.ts";

/** Name of the pull Secret kfplan creates when `images.pullSecret.name` is not given. */
export const DEFAULT_PULL_SECRET = "kfplan-registry";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `images.pullSecret`: a login kfplan turns into a Secret, or an existing Secret's name. */
export const pullSecretSchema = z.union([
  z.strictObject({
    name: z.string().regex(DNS_LABEL, "a Secret name (lowercase DNS label)"),
  }),
  z.strictObject({
    env: z.string().regex(
      /^[A-Za-z_][A-Za-z0-9_]*$/,
      "an environment variable name",
    ),
    name: z.string().regex(DNS_LABEL, "a Secret name").optional(),
  }),
  z.strictObject({
    file: z.string().min(1, "a file path"),
    name: z.string().regex(DNS_LABEL, "a Secret name").optional(),
  }),
], {
  error:
    "pullSecret is { env: NAME } or { file: PATH } holding a .dockerconfigjson (kfplan creates the Secret), " +
    "or { name: SECRET } naming a Secret that exists in every namespace",
});

/** The `images:` section of `kfplan.yaml`. */
export const imagesSchema = z.strictObject({
  /** The mirror, e.g. `registry.example.com:5000/kubeflow`. */
  registry: z.string().superRefine((value, ctx) => {
    const problem = mirrorRegistryProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  /** `host` (default): `<mirror>/<source host>/<path>`; `path`: `<mirror>/<path>`. */
  layout: z.enum(["host", "path"]).optional(),
  /** Registry login for pods. */
  pullSecret: pullSecretSchema.optional(),
});

/** The `images:` section as written. */
export type ImagesSettings = z.infer<typeof imagesSchema>;

/** Options for {@linkcode stepImages}. */
export interface StepImagesOptions {
  /** Directory a relative `pullSecret.file` resolves against (the config file's). */
  baseDir?: string;
  /** Environment for `pullSecret.env`; default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /** Config file named in errors. */
  source?: string;
}

/**
 * The mirror as steps see it, from the `images:` section: the pull secret's login is
 * read only when a step plans (and checked to be a `.dockerconfigjson`).
 */
export function stepImages(
  settings: ImagesSettings,
  options: StepImagesOptions = {},
): StepImages {
  const { pullSecret } = settings;
  const images: StepImages = {
    registry: settings.registry,
    ...(settings.layout ? { layout: settings.layout } : {}),
  };
  if (!pullSecret) return images;
  if (!("env" in pullSecret) && !("file" in pullSecret)) {
    images.pullSecret = { name: pullSecret.name };
    return images;
  }
  const ref: SecretRef = "env" in pullSecret ? { env: pullSecret.env } : {
    file: options.baseDir
      ? join(options.baseDir, pullSecret.file)
      : pullSecret.file,
  };
  images.pullSecret = {
    name: pullSecret.name ?? DEFAULT_PULL_SECRET,
    read: () => readDockerConfig(ref, options),
  };
  return images;
}

async function readDockerConfig(
  ref: SecretRef,
  options: StepImagesOptions,
): Promise<string> {
  const field = "images.pullSecret";
  const value = await readSecret(ref, { field, ...options });
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const auths = (parsed as { auths?: unknown } | undefined)?.auths;
  if (!auths || typeof auths !== "object") {
    throw new Error(
      `${
        options.source ? `${options.source}: ` : ""
      }${field}: not a .dockerconfigjson (a JSON object with "auths", as docker login writes ~/.docker/config.json)`,
    );
  }
  return value;
}

/**
 * Wraps a step so that its phases see the mirror in {@linkcode StepContext.images}.
 *
 * @example
 * ```ts
 * const mirrored = withImageMirror(myStep, stepImages({ registry: "mirror.local:5000" }));
 * ```
 */
export function withImageMirror<O>(step: Step<O>, images: StepImages): Step<O> {
  const wrapped: Step<O> = {
    ...step,
    plan: (ctx) => step.plan({ ...ctx, images }),
    apply: (ctx, plan) => step.apply({ ...ctx, images }, plan),
    verify: (ctx, plan) => step.verify({ ...ctx, images }, plan),
  };
  if (step.uninstall) {
    const uninstall = step.uninstall.bind(step);
    wrapped.uninstall = (ctx) => uninstall({ ...ctx, images });
  }
  return wrapped;
}

/** {@linkcode mirrorObjects}'s result. */
export interface MirroredObjects extends ImageScan {
  /** The objects on the mirror, with the pull Secrets they need appended. */
  objects: KubeObject[];
}

/** Options for {@linkcode mirrorObjects}. */
export interface MirrorObjectsOptions {
  /** Namespaces that need no pull Secret from these objects (another step makes it). */
  skipSecretNamespaces?: string[];
}

/**
 * Rewrites the images of a step's planned objects to the context's mirror, attaches
 * the pull secret to their pod specs and appends a `kubernetes.io/dockerconfigjson`
 * Secret in every namespace running them (when kfplan creates it). Without a mirror
 * the objects are returned as they are.
 *
 * @example
 * ```ts
 * const { objects } = await mirrorObjects(ctx, [myDaemonSet]);
 * ```
 */
export async function mirrorObjects(
  ctx: StepContext,
  objects: KubeObject[],
  options: MirrorObjectsOptions = {},
): Promise<MirroredObjects> {
  const images = ctx.images;
  if (!images) return { objects, images: [], notRewritable: [] };
  const rewritten = rewriteImages(compiledDefaults(objects), images);
  let out = rewritten.objects;
  const secret = images.pullSecret;
  if (secret) {
    const attached = attachPullSecret(out, secret.name);
    out = attached.objects;
    if (secret.read) {
      const value = await secret.read();
      registerSecret(ctx, value);
      const present = new Set(
        out.filter((o) =>
          o.kind === "Secret" && o.metadata.name === secret.name
        )
          .map((o) => o.metadata.namespace),
      );
      const skip = new Set(options.skipSecretNamespaces ?? []);
      for (const ns of attached.namespaces) {
        if (present.has(ns) || skip.has(ns)) continue;
        out.push(pullSecretObject(secret.name, ns, value));
      }
    }
  }
  return {
    objects: out,
    images: rewritten.images,
    notRewritable: rewritten.notRewritable,
  };
}

/**
 * The registry login of the context's pull secret, for a step that makes the pull
 * Secret in namespaces no planned pod names (the users step's profile namespaces),
 * registered as secret like {@linkcode mirrorObjects} does: scrubbed from logs,
 * plans and checkpoints. `undefined` when kfplan creates no Secret: no mirror, no
 * pull secret, or `{ name }` of one the user made.
 *
 * @example
 * ```ts
 * const login = await readPullSecret(ctx);
 * if (login) objects.push(pullSecretObject(ctx.images!.pullSecret!.name, "alice", login));
 * ```
 */
export async function readPullSecret(
  ctx: StepContext,
): Promise<string | undefined> {
  const secret = ctx.images?.pullSecret;
  if (!secret?.read) return undefined;
  const value = await secret.read();
  registerSecret(ctx, value);
  return value;
}

/**
 * Images a program pulls from a default compiled into it, written out so the
 * rewriter sees them: cert-manager's controller starts ACME HTTP-01 solver pods
 * from `quay.io/jetstack/cert-manager-acmesolver:<its own version>` unless
 * `--acme-http01-solver-image` says otherwise (the flag is absent before v1.9 of
 * Kubeflow's manifests). Recognized by the controller's image name.
 */
function compiledDefaults(objects: KubeObject[]): KubeObject[] {
  return objects.map((object) => {
    if (object.kind !== "Deployment") return object;
    const pod = (object.spec as {
      template?: { spec?: { containers?: Record<string, unknown>[] } };
    })?.template?.spec;
    const index = (pod?.containers ?? []).findIndex((c) =>
      typeof c.image === "string" &&
      /\/cert-manager-controller:[\w.-]+$/.test(c.image) &&
      !((c.args ?? []) as string[]).some((a) =>
        String(a).startsWith("--acme-http01-solver-image")
      )
    );
    if (index < 0) return object;
    const copy = structuredClone(object);
    const container = (copy.spec as {
      template: { spec: { containers: Record<string, unknown>[] } };
    }).template.spec.containers[index];
    const solver = (container.image as string).replace(
      /\/cert-manager-controller:/,
      "/cert-manager-acmesolver:",
    );
    container.args = [
      ...((container.args ?? []) as string[]),
      `--acme-http01-solver-image=${solver}`,
    ];
    return copy;
  });
}

/** The login, its base64 and every credential inside it are scrubbed everywhere. */
function registerSecret(ctx: StepContext, value: string): void {
  if (!ctx.addSecret) return;
  ctx.addSecret(value);
  ctx.addSecret(base64(value));
  const auths = (JSON.parse(value) as {
    auths: Record<string, Record<string, unknown>>;
  }).auths;
  for (const entry of Object.values(auths)) {
    for (const key of ["auth", "password", "identitytoken", "registrytoken"]) {
      const v = entry?.[key];
      if (typeof v === "string" && v.length >= 4) ctx.addSecret(v);
    }
    // `auth` is base64 of user:password: the password alone is secret too.
    const password = decodedPassword(entry?.auth);
    if (password) ctx.addSecret(password);
  }
}

function decodedPassword(auth: unknown): string | undefined {
  if (typeof auth !== "string") return undefined;
  try {
    const text = atob(auth);
    const colon = text.indexOf(":");
    const password = colon >= 0 ? text.slice(colon + 1) : "";
    return password.length >= 4 ? password : undefined;
  } catch {
    return undefined;
  }
}

/** Plan lines for what the mirror did: a summary fact and one warning per value left as is. */
export function mirrorReport(
  ctx: StepContext,
  scan: ImageScan,
): { fact?: string; warnings: string[] } {
  if (!ctx.images) return { warnings: [] };
  const distinct = new Set(scan.images.map((i) => i.source));
  return {
    fact: `${distinct.size} image(s) on the mirror ${ctx.images.registry}${
      ctx.images.pullSecret
        ? ` (pull secret ${ctx.images.pullSecret.name})`
        : ""
    }`,
    warnings: scan.notRewritable.map((n) =>
      `image mirror: ${n.value} in ${n.where} not rewritten: ${n.reason}`
    ),
  };
}

/** Options for {@linkcode mirrorChartValues}. */
export interface MirrorChartValuesOptions {
  /** Cancels helm. */
  signal?: AbortSignal;
}

/**
 * A chart's values with every image key of the chart's defaults (and of `values`)
 * pointed at the context's mirror, the user's values otherwise kept. Without a
 * mirror `values` is returned as it is.
 *
 * @example
 * ```ts
 * const values = await mirrorChartValues(ctx, helm, { chart: { path: "./charts/x" }, values: {} });
 * ```
 */
export async function mirrorChartValues(
  ctx: StepContext,
  helm: Helm,
  release: { chart: ChartRef; values: Record<string, unknown> },
  options: MirrorChartValuesOptions = {},
): Promise<Record<string, unknown>> {
  if (!ctx.images) return release.values;
  const defaults = await chartDefaults(helm, release.chart, options.signal);
  const merged = deepMerge(defaults, release.values);
  const { value } = rewriteDocument(merged, ctx.images);
  const overlay = changedLeaves(merged, value);
  return overlay === undefined
    ? release.values
    : deepMerge(release.values, overlay as Record<string, unknown>);
}

/** A chart directory's values with its subcharts' under their names (or aliases). */
async function directoryDefaults(
  dir: string,
): Promise<Record<string, unknown>> {
  const values = asMapping(await readYaml(join(dir, "values.yaml")));
  const chart = asMapping(await readYaml(join(dir, "Chart.yaml")));
  const aliases = new Map<string, string>();
  for (const dep of (chart.dependencies ?? []) as Record<string, unknown>[]) {
    if (typeof dep?.name === "string" && typeof dep.alias === "string") {
      aliases.set(dep.name, dep.alias);
    }
  }
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(join(dir, "charts")));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const entry of entries.filter((e) => e.isDirectory)) {
    const sub = join(dir, "charts", entry.name);
    const name = asMapping(await readYaml(join(sub, "Chart.yaml"))).name;
    if (typeof name !== "string") continue;
    const key = aliases.get(name) ?? name;
    values[key] = deepMerge(
      await directoryDefaults(sub),
      asMapping(values[key]),
    );
  }
  return values;
}

async function readYaml(path: string): Promise<unknown> {
  try {
    return parseYaml(await Deno.readTextFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function asMapping(value: unknown): Record<string, unknown> {
  return isMapping(value) ? value : {};
}

/**
 * The chart's default values: a directory's own files (with its subcharts'), else
 * `helm show values` (the parent chart's only).
 */
async function chartDefaults(
  helm: Helm,
  chart: ChartRef,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  let text: string;
  if ("path" in chart && !/\.tgz$/.test(chart.path)) {
    return await directoryDefaults(chart.path);
  } else {
    const args = ["show", "values"];
    if ("path" in chart) args.push(chart.path);
    else if (chart.repo.startsWith("oci://")) {
      args.push(`${chart.repo.replace(/\/+$/, "")}/${chart.chart}`);
    } else args.push(chart.chart, "--repo", chart.repo);
    if (!("path" in chart) && chart.version) {
      args.push("--version", chart.version);
    }
    const out = await new Deno.Command(helm.path, {
      args,
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
    if (!out.success) {
      throw new Error(
        `helm ${args.join(" ")}: ${
          new TextDecoder().decode(out.stderr).trim()
        }`,
      );
    }
    text = new TextDecoder().decode(out.stdout);
  }
  const parsed = parseYaml(text);
  return parsed && typeof parsed === "object"
    ? parsed as Record<string, unknown>
    : {};
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isMapping(v) && isMapping(base[k])
      ? deepMerge(base[k] as Record<string, unknown>, v)
      : v;
  }
  return out;
}

/** The parts of `after` that differ from `before`: whole lists, single scalars. */
function changedLeaves(before: unknown, after: unknown): unknown {
  if (before === after) return undefined;
  if (isMapping(before) && isMapping(after)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(after)) {
      const c = changedLeaves(before[k], after[k]);
      if (c !== undefined) out[k] = c;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  return after;
}
