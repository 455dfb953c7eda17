/**
 * Renders a kubeflow/manifests checkout with kfplan's settings: detects the release,
 * reads secrets, renders the Dex config, generates the overlay into a private temp
 * directory, runs the real `kustomize build`, removes the temp directory, and applies
 * `exclude`. The result is deterministic for the same inputs (see `dex.ts` on hashes).
 *
 * @module
 */

import { resolve } from "node:path";
import { parseYaml as parse } from "../../deps.ts";
import { OptionsError } from "../../engine/options.ts";
import type { KubeClient, KubeObject } from "../../kube/types.ts";
import { refOf } from "../../kube/object_ref.ts";
import { type Kustomize, kustomizeBuild } from "../../tools/kustomize.ts";
import { crossCheckAuth } from "./checks.ts";
import {
  type DexRenderResult,
  liveHashesFromConfig,
  renderDexConfig,
  type ResolvedUser,
} from "./dex.ts";
import type { KubeflowOptions, SecretRef } from "./options.ts";
import {
  buildOverlay,
  type Overlay,
  renderOauth2ProxyConfig,
  writeOverlay,
} from "./overlay.ts";
import {
  describeSecretRef,
  readSecret,
  saltedSecretDigest,
} from "./secrets.ts";
import {
  type DetectedVersion,
  detectVersion,
  ManifestsTreeError,
  type ReleaseInfo,
  releaseInfo,
} from "./version.ts";

/** Options for {@linkcode prepareOverlay} and {@linkcode renderKubeflow}. */
export interface KubeflowRenderOptions {
  /** Live cluster, to reuse Dex hashes that still match (stable plans). */
  kube?: KubeClient;
  /** Environment for `{ env }` secrets; default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /** Directory relative `manifests` and `{ file }` paths are resolved against (the config file's). */
  baseDir?: string;
  /** Config file named in errors. */
  source?: string;
  /** Path of the options in the config file, e.g. `["kubeflow"]`. */
  prefix?: string[];
  /** kustomize binary; found when absent. */
  kustomize?: Kustomize;
  /** Parent for the temporary overlay directory; default the system temp dir. */
  tempDir?: string;
  /** Add `$patch: delete` patches for `exclude` to the overlay (for export). */
  excludePatches?: boolean;
  /**
   * Render with a placeholder for each secret that is not set, and say so in the
   * warnings, instead of failing. The offline plan uses it: reviewers (and a fresh
   * clone's first `deno task plan`) see the whole platform without holding secrets;
   * planning against a cluster and applying still require every secret.
   */
  placeholderSecrets?: boolean;
  /** Receives every secret value read, so the engine scrubs it from all output. */
  onSecret?: (value: string) => void;
  /** Aborts the render, including a running `kustomize build`. */
  signal?: AbortSignal;
}

/** An overlay ready to write or build, and what went into it. */
export interface PreparedOverlay {
  /** The release detected from the checkout's layout, with the evidence. */
  detected: DetectedVersion;
  /** What kfplan knows about that release: auth stack, supported Kubernetes, file paths. */
  release: ReleaseInfo;
  /** Absolute path of the checkout. */
  root: string;
  /** The generated kustomize overlay; its `secretFiles` never reach Git or plans. */
  overlay: Overlay;
  /** The rendered Dex config, connector secret env and which hashes were reused. */
  dex: DexRenderResult;
  /** Things the plan reader should know (never secret). */
  warnings: string[];
}

/** An object left out by `exclude`, with the reason given. */
export interface ExcludedObject {
  /** API version of the excluded object, e.g. `kubeflow.org/v1`. */
  apiVersion: string;
  /** Kind the `exclude` rule matched, e.g. `Profile`. */
  kind: string;
  /** Namespace of the excluded object; absent for cluster-scoped objects. */
  namespace?: string;
  /** `metadata.name` of the excluded object. */
  name: string;
  /** The rule's `reason`, shown in the plan next to the object. */
  reason: string;
}

/** The rendered platform. */
export interface RenderedKubeflow extends PreparedOverlay {
  /** Objects to apply, in kustomize's order, Secrets normalised to `data`. */
  objects: KubeObject[];
  /** Objects `exclude` left out (not applied), listed in the plan with their reasons. */
  excluded: ExcludedObject[];
}

function prefixed(e: unknown, options: KubeflowRenderOptions): unknown {
  if (!(e instanceof OptionsError)) return e;
  const prefix = (options.prefix ?? []).join(".");
  return new OptionsError(
    e.issues.map((i) => ({
      path: prefix ? `${prefix}.${i.path}` : i.path,
      message: i.message,
    })),
    options.source ?? e.source,
  );
}

/**
 * The checkout's absolute path as given, symlinks kept: the overlay references it
 * from a resolved directory (see `renderKustomization`), which works either way.
 */
async function resolveRoot(path: string): Promise<string> {
  try {
    await Deno.stat(path);
    return path;
  } catch {
    throw new OptionsError([{
      path: "manifests",
      message:
        `${path} does not exist (path of your kubeflow/manifests checkout)`,
    }]);
  }
}

async function readTreeFile(
  root: string,
  rel: string,
  field: string,
): Promise<string> {
  try {
    return await Deno.readTextFile(`${root}/${rel}`);
  } catch {
    throw new OptionsError([{
      path: field,
      message:
        `${root}/${rel} is missing: the checkout does not look like an unmodified release tree`,
    }]);
  }
}

async function liveDexConfig(
  kube: KubeClient | undefined,
): Promise<string | undefined> {
  if (!kube) return undefined;
  const cm = await kube.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: "auth",
    name: "dex",
  });
  return (cm?.data as Record<string, string> | undefined)?.["config.yaml"];
}

/**
 * Detects the release, validates version-specific options, reads secrets and builds
 * the overlay (without running kustomize). Throws {@linkcode OptionsError} naming the
 * field for every problem found here.
 */
export async function prepareOverlay(
  options: KubeflowOptions,
  renderOptions: KubeflowRenderOptions = {},
): Promise<PreparedOverlay> {
  try {
    return await prepare(options, renderOptions);
  } catch (e) {
    throw prefixed(e, renderOptions);
  }
}

async function prepare(
  options: KubeflowOptions,
  ro: KubeflowRenderOptions,
): Promise<PreparedOverlay> {
  const base = ro.baseDir ?? Deno.cwd();
  const { root, detected, release } = await locateRelease(options, base);
  const reader = secretReader(base, ro);
  const auth = await readAuthSecrets(options, reader);
  const dex = await renderDex(options, release, root, reader, ro.kube);
  const warnings: string[] = [];
  if (dex.keptDefaultUser) {
    warnings.push(
      "dex.keepDefaultUser: the manifests' default user user@example.com with the published password " +
        "12341234 stays enabled; anyone who reaches the gateway can log in",
    );
  }
  const oauth2ProxyConfig = release.oauth2ProxyConfigFile
    ? renderOauth2ProxyConfig(
      await readTreeFile(root, release.oauth2ProxyConfigFile, "manifests"),
      options.dex.issuer,
    )
    : undefined;
  const overlay = buildOverlay({
    release,
    manifestsRoot: root,
    options,
    dexConfig: dex.config,
    dexDigest: await dexConfigDigest(options, dex, auth.clientSecret),
    oauth2ProxyConfig,
    secrets: {
      clientId: options.oidcClient.id,
      ...auth,
      connectorEnv: dex.connectorEnv,
    },
    excludePatches: ro.excludePatches,
  });
  if (reader.missing.length > 0) {
    warnings.push(
      `secrets not set, planned with placeholders (set them before planning against the cluster or applying): ${
        reader.missing.join(", ")
      }`,
    );
  }
  return { detected, release, root, overlay, dex, warnings };
}

/**
 * The checkout, the release it holds, and what kfplan knows about it; refuses a
 * `version` that disagrees and auth options of the other stack.
 */
async function locateRelease(
  options: KubeflowOptions,
  base: string,
): Promise<{ root: string; detected: DetectedVersion; release: ReleaseInfo }> {
  const root = await resolveRoot(resolve(base, options.manifests));
  const detected = await detectVersion(root).catch((error) => {
    // Not a release kfplan knows: the fault is the `manifests` option's.
    if (!(error instanceof ManifestsTreeError)) throw error;
    throw new OptionsError([{ path: "manifests", message: error.message }]);
  });
  if (options.version && options.version !== detected.version) {
    throw new OptionsError([{
      path: "version",
      message:
        `says ${options.version} but ${root} is ${detected.version} (${
          detected.evidence.join("; ")
        }); ` +
        "fix the version or the manifests path",
    }]);
  }
  const release = releaseInfo(detected.version);
  checkAuthStack(options, release);
  return { root, detected, release };
}

function checkAuthStack(options: KubeflowOptions, release: ReleaseInfo): void {
  if (release.auth === "oauth2-proxy" && options.authservice) {
    throw new OptionsError([{
      path: "authservice",
      message:
        `${release.version} uses oauth2-proxy, not oidc-authservice: use oauth2Proxy instead`,
    }]);
  }
  if (release.auth === "oidc-authservice" && options.oauth2Proxy) {
    throw new OptionsError([{
      path: "oauth2Proxy",
      message:
        `${release.version} uses oidc-authservice: use authservice instead (oauth2-proxy is v1.9+)`,
    }]);
  }
  if (release.auth === "oauth2-proxy" && !options.oauth2Proxy) {
    throw new OptionsError([{
      path: "oauth2Proxy",
      message:
        `required for ${release.version}: give at least cookieSecret ({ env } or { file }, 16, 24 or 32 bytes)`,
    }]);
  }
}

/** Reads secrets for one render, and lists those replaced by placeholders. */
interface SecretReader {
  /** The secret's value (or, with `placeholderSecrets`, a placeholder when unset). */
  read(ref: SecretRef, field: string): Promise<string>;
  /** `field (where)` of every secret replaced by a placeholder so far. */
  missing: string[];
}

function secretReader(base: string, ro: KubeflowRenderOptions): SecretReader {
  const missing: string[] = [];
  async function read(ref: SecretRef, field: string): Promise<string> {
    try {
      const value = await readSecret(
        "file" in ref ? { file: resolve(base, ref.file) } : ref,
        { field, env: ro.env },
      );
      ro.onSecret?.(value);
      return value;
    } catch (error) {
      if (!ro.placeholderSecrets || !(error instanceof OptionsError)) {
        throw error;
      }
      missing.push(`${field} (${describeSecretRef(ref)})`);
      // 32 bytes, so the cookie-secret length rule holds for the placeholder too.
      return `kfplan-placeholder-${field}`.padEnd(32, "-").slice(0, 32);
    }
  }
  return { read, missing };
}

/** The OAuth2 client secret and the auth proxy's own secrets. */
interface AuthSecrets {
  clientSecret: string;
  proxyClientSecret?: string;
  cookieSecret?: string;
}

async function readAuthSecrets(
  options: KubeflowOptions,
  reader: SecretReader,
): Promise<AuthSecrets> {
  const clientSecret = await reader.read(
    options.oidcClient.secret,
    "oidcClient.secret",
  );
  let proxyClientSecret: string | undefined;
  let cookieSecret: string | undefined;
  if (options.oauth2Proxy) {
    cookieSecret = await reader.read(
      options.oauth2Proxy.cookieSecret,
      "oauth2Proxy.cookieSecret",
    );
    checkCookieSecret(options.oauth2Proxy.cookieSecret, cookieSecret);
    if (options.oauth2Proxy.clientSecret) {
      proxyClientSecret = await reader.read(
        options.oauth2Proxy.clientSecret,
        "oauth2Proxy.clientSecret",
      );
    }
  }
  if (options.authservice?.clientSecret) {
    proxyClientSecret = await reader.read(
      options.authservice.clientSecret,
      "authservice.clientSecret",
    );
  }
  if (
    proxyClientSecret !== undefined && proxyClientSecret !== clientSecret &&
    reader.missing.length === 0
  ) {
    throw new OptionsError([{
      path: options.oauth2Proxy
        ? "oauth2Proxy.clientSecret"
        : "authservice.clientSecret",
      message:
        "client secret mismatch: differs from oidcClient.secret, which Dex uses for the same client; " +
        "logins would fail with invalid_client",
    }]);
  }
  return { clientSecret, proxyClientSecret, cookieSecret };
}

function checkCookieSecret(ref: SecretRef, value: string): void {
  const bytes = new TextEncoder().encode(value).length;
  if (![16, 24, 32].includes(bytes)) {
    throw new OptionsError([{
      path: "oauth2Proxy.cookieSecret",
      message: `is ${bytes} bytes (from ${describeSecretRef(ref)}); ` +
        "oauth2-proxy needs exactly 16, 24 or 32 bytes (e.g. `openssl rand -hex 16`)",
    }]);
  }
}

/** Dex's config from the checkout's, with the users, connectors and redirect URI asked for. */
async function renderDex(
  options: KubeflowOptions,
  release: ReleaseInfo,
  root: string,
  reader: SecretReader,
  kube: KubeClient | undefined,
): Promise<DexRenderResult> {
  const users: ResolvedUser[] = [];
  for (const [i, u] of options.dex.staticUsers.entries()) {
    users.push({
      email: u.email,
      username: u.username,
      userID: u.userID,
      hash: u.hash,
      password: u.password
        ? await reader.read(u.password, `dex.staticUsers[${i}].password`)
        : undefined,
    });
  }
  const connectorSecrets: Record<string, string> = {};
  for (const [i, c] of options.dex.connectors.entries()) {
    connectorSecrets[c.id] = await reader.read(
      c.config.clientSecret,
      `dex.connectors[${i}].config.clientSecret`,
    );
  }
  const baseDexCm: unknown = parse(
    await readTreeFile(root, release.dexConfigFile, "manifests"),
  );
  return await renderDexConfig({
    baseConfig: configMapData(baseDexCm)["config.yaml"] ?? "",
    dex: options.dex,
    users,
    connectorSecrets,
    redirectURIs: [options.authservice?.redirectUrl ?? release.redirectUri],
    liveHashes: liveHashesFromConfig(await liveDexConfig(kube)),
    field: "dex",
  });
}

/** The `data` of a parsed ConfigMap document (empty when it has none). */
function configMapData(doc: unknown): Record<string, string> {
  const data = (doc as { data?: unknown } | null)?.data;
  return data && typeof data === "object" ? data as Record<string, string> : {};
}

/** Restart Dex when (and only when) its config or the secrets it reads change. */
async function dexConfigDigest(
  options: KubeflowOptions,
  dex: DexRenderResult,
  clientSecret: string,
): Promise<string> {
  return await saltedSecretDigest(
    JSON.stringify([
      dex.config,
      options.oidcClient.id,
      clientSecret,
      dex.connectorEnv,
    ]),
    "dex-config",
  );
}

function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * Moves a Secret's `stringData` into `data` (base64), as the API server would, so
 * server-side dry-run diffs compare like with like.
 */
export function normaliseSecret(object: KubeObject): KubeObject {
  if (object.kind !== "Secret" || object.stringData === undefined) {
    return object;
  }
  const { stringData, ...rest } = object;
  const data: Record<string, string> = {
    ...(rest.data as Record<string, string> | undefined ?? {}),
  };
  for (const [k, v] of Object.entries(stringData as Record<string, string>)) {
    data[k] = toBase64(String(v));
  }
  return { ...rest, data } as KubeObject;
}

/**
 * Removes `rules` from ClusterRoles that have an `aggregationRule`: Kubernetes'
 * aggregation controller owns those rules, and applying the manifests' `rules: []`
 * would wipe them on every apply and show the role as changed on every plan.
 */
export function dropAggregatedRules(object: KubeObject): KubeObject {
  if (
    object.kind !== "ClusterRole" || object.aggregationRule === undefined ||
    !("rules" in object)
  ) return object;
  const { rules: _rules, ...rest } = object;
  return rest as KubeObject;
}

/** `spec.owner.name` of a Profile. */
function profileOwner(profile: KubeObject): string | undefined {
  return (profile.spec as { owner?: { name?: string } } | undefined)?.owner
    ?.name;
}

/**
 * Renders the platform: {@linkcode prepareOverlay}, then `kustomize build` in a
 * private temp directory (removed afterwards, it holds secret env files), then
 * `exclude` and the auth cross-checks.
 *
 * @example
 * ```ts
 * const rendered = await renderKubeflow(options, { kube });
 * console.log(rendered.release.version, rendered.objects.length);
 * ```
 */
export async function renderKubeflow(
  options: KubeflowOptions,
  renderOptions: KubeflowRenderOptions = {},
): Promise<RenderedKubeflow> {
  const prepared = await prepareOverlay(options, renderOptions);
  const built = await buildInTempDir(prepared.overlay, renderOptions);
  const { objects, excluded } = applyExclude(
    built.map((raw) => dropAggregatedRules(normaliseSecret(raw))),
    options,
  );
  if (!options.dex.keepDefaultUser) {
    prepared.warnings.push(...orphanedProfileWarnings(objects));
  }
  const problems = crossCheckAuth(objects, prepared.release.auth);
  if (problems.length > 0) {
    throw new OptionsError(
      problems.map((message) => ({
        path: [...(renderOptions.prefix ?? []), "(rendered)"].join("."),
        message,
      })),
      renderOptions.source,
    );
  }
  return { ...prepared, objects, excluded };
}

/**
 * `kustomize build` of the overlay in a private temp directory, removed afterwards
 * (it holds secret env files).
 */
async function buildInTempDir(
  overlay: Overlay,
  renderOptions: KubeflowRenderOptions,
): Promise<KubeObject[]> {
  const dir = await Deno.makeTempDir({
    dir: renderOptions.tempDir,
    prefix: "kfplan-overlay-",
  });
  try {
    await Deno.chmod(dir, 0o700);
    await writeOverlay(dir, overlay, { includeSecrets: true });
    return await kustomizeBuild(dir, {
      kustomize: renderOptions.kustomize,
      loadRestrictorNone: true,
      signal: renderOptions.signal,
    });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Splits objects into those to apply and those an `exclude` rule leaves out. */
function applyExclude(
  objects: KubeObject[],
  options: KubeflowOptions,
): { objects: KubeObject[]; excluded: ExcludedObject[] } {
  const kept: KubeObject[] = [];
  const excluded: ExcludedObject[] = [];
  for (const o of objects) {
    const rule = options.exclude.find((e) =>
      e.kind === o.kind && (!e.name || e.name === o.metadata.name) &&
      (!e.namespace || e.namespace === o.metadata.namespace)
    );
    if (rule) excluded.push({ ...refOf(o), reason: rule.reason });
    else kept.push(o);
  }
  return { objects: kept, excluded };
}

/** Profiles owned by the default user, whose login kfplan removed. */
function orphanedProfileWarnings(objects: KubeObject[]): string[] {
  return objects.filter((o) =>
    o.kind === "Profile" && profileOwner(o) === "user@example.com"
  ).map((o) =>
    `Profile ${o.metadata.name} is owned by user@example.com, whose login was removed; ` +
    `exclude it ({ kind: Profile, name: ${o.metadata.name} }) or give that user a password`
  );
}
