/**
 * Renders a kubeflow/manifests checkout with kfplan's settings, in two passes of the
 * real `kustomize build`:
 * 1. the user's entry kustomization (`example/` by default) as it is: kfplan
 *    recognizes from the rendered objects what the tree deploys (`recognize.ts`),
 *    checks that the tree can carry every setting, and reads the Dex and proxy
 *    configs to start from;
 * 2. a generated overlay on top of the entry whose patches target the recognized
 *    objects by kind, namespace and name (`overlay.ts`), in a private temp directory
 *    removed afterwards (it holds secret env files).
 * Then `components` and `exclude` leave objects out and the auth settings are
 * cross-checked. A tree whose kustomizations fetch remote resources renders from the
 * vendor directory when `vendor` is set (`remote.ts`). The result is deterministic
 * for the same inputs (see `dex.ts` on hashes).
 *
 * @module
 */

import { resolve } from "node:path";
import { OptionsError } from "../../engine/options.ts";
import type { KubeClient, KubeObject } from "../../kube/types.ts";
import { refOf } from "../../kube/object_ref.ts";
import {
  findKustomize,
  type Kustomize,
  kustomizeBuild,
  type KustomizeBuildOptions,
  KustomizeError,
} from "../../tools/kustomize.ts";
import { readRecognition, recognitionKey, writeRecognition } from "./cache.ts";
import { crossCheckAuth } from "./checks.ts";
import { selectComponents } from "./components.ts";
import {
  type DexRenderResult,
  liveHashesFromConfig,
  renderDexConfig,
  type ResolvedUser,
} from "./dex.ts";
import {
  type ExternalIdentity,
  externalIdentity,
  externalOauth2ProxyConfig,
  identityIssuer,
  oauthClientOf,
  orphanedProfileWarning,
  withoutDex,
} from "./identity.ts";
import type { DiscoveryResult } from "./oidc_discovery.ts";
import { authCallback, domainUrls, oauth2ProxyDomainConfig } from "./domain.ts";
import type { KubeflowOptions, SecretRef } from "./options.ts";
import { domainWarnings, readTlsFiles, tlsProblems } from "./tls.ts";
import {
  buildOverlay,
  type Overlay,
  renderOauth2ProxyConfig,
  writeOverlay,
} from "./overlay.ts";
import { type Recognition, recognize, releaseLine } from "./recognize.ts";
import {
  findRemoteResources,
  hasKustomization,
  remoteHelp,
  type RemoteResource,
  vendored,
  vendoredCopy,
} from "./remote.ts";
import {
  describeSecretRef,
  readSecret,
  saltedSecretDigest,
} from "./secrets.ts";
import {
  type DetectedVersion,
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
  /** Parent for the temporary directories; default the system temp dir. */
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
  /** Always run the first `kustomize build` instead of reusing a cached recognition (`cache.ts`). */
  noCache?: boolean;
  /**
   * Seals a cache of the second build (the one holding secrets, see
   * `lib/tools/render_cache.ts`): with it, an unchanged checkout and unchanged
   * settings do not run kustomize again. The engine passes `ctx.renderCacheKey`.
   */
  renderCacheKey?: Uint8Array;
  /**
   * What plan-time discovery found of an external identity provider (`identity.ts`):
   * its JWKS URL and login endpoint go into the proxy and RequestAuthentication.
   */
  identityDiscovery?: DiscoveryResult;
}

/** An overlay ready to write or build, and what went into it. */
export interface PreparedOverlay {
  /** The release recognized from the render, with the evidence. */
  detected: DetectedVersion;
  /** What kfplan knows about that release: auth stack, supported Kubernetes. */
  release: ReleaseInfo;
  /** What the first render deployed, and from which objects. */
  recognition: Recognition;
  /** Absolute path of the checkout. */
  root: string;
  /** Absolute path of the entry kustomization in the checkout. */
  entry: string;
  /** The generated kustomize overlay; its `secretFiles` never reach Git or plans. */
  overlay: Overlay;
  /** The rendered Dex config, connector secret env and which hashes were reused. */
  dex: DexRenderResult;
  /** Remote resources the entry's kustomizations name. */
  remotes: RemoteResource[];
  /** The URLs rendered from the vendor directory. */
  fromVendor: string[];
  /** Things the plan reader should know (never secret). */
  warnings: string[];
  /** The external identity provider, when `identity.provider` is `oidc`. */
  identity?: ExternalIdentity;
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
  /** Objects left out by `components`, counted by component. */
  leftOut: Record<string, number>;
  /** CRDs of external components the kept objects need (`group/version`s by CRD name). */
  externalCrds: Map<string, Set<string>>;
  /** Dex's objects, left out because an external identity provider replaces Dex. */
  droppedDex: ExcludedObject[];
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

/** The checkout and its entry kustomization, as given (symlinks kept). */
async function locate(
  options: KubeflowOptions,
  base: string,
): Promise<{ root: string; entry: string }> {
  const root = resolve(base, options.manifests);
  try {
    await Deno.stat(root);
  } catch {
    throw new OptionsError([{
      path: "manifests",
      message:
        `${root} does not exist (path of your kubeflow/manifests checkout)`,
    }]);
  }
  const entry = resolve(root, options.entry ?? "example");
  if (!(await hasKustomization(entry))) {
    throw new OptionsError([{
      path: options.entry ? "entry" : "manifests",
      message:
        `${entry} has no kustomization.yaml: point manifests at the checkout ` +
        "(the directory holding example/) or set entry to the kustomization to install",
    }]);
  }
  return { root, entry };
}

async function liveDexConfig(
  kube: KubeClient | undefined,
  recognition: Recognition,
): Promise<string | undefined> {
  const dex = recognition.dex;
  if (!kube || !dex) return undefined;
  const cm = await kube.get({ ...dex.config });
  return (cm?.data as Record<string, string> | undefined)?.[dex.configKey];
}

/** A scratch directory (mode 0700) removed by `dispose`. */
interface Scratch {
  dir: string;
  dispose(): Promise<void>;
}

async function scratch(tempDir: string | undefined): Promise<Scratch> {
  const dir = await Deno.makeTempDir({ dir: tempDir, prefix: "kfplan-kf-" });
  await Deno.chmod(dir, 0o700);
  return {
    dir,
    dispose: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** The first pass: the entry as it is (or its vendored copy), and what it deploys. */
interface FirstPass {
  root: string;
  entry: string;
  buildEntry: string;
  recognition: Recognition;
  remotes: RemoteResource[];
  fromVendor: string[];
}

async function firstPass(
  options: KubeflowOptions,
  ro: KubeflowRenderOptions,
  work: Scratch,
): Promise<FirstPass> {
  const base = ro.baseDir ?? Deno.cwd();
  const { root, entry } = await locate(options, base);
  const remotes = await findRemoteResources(root, entry);
  let buildEntry = entry;
  let fromVendor: string[] = [];
  const vendorDir = options.vendor ? resolve(base, options.vendor) : undefined;
  if (vendorDir && remotes.length > 0) {
    const copy = await vendoredCopy(root, entry, {
      vendorDir,
      remotes,
      into: work.dir,
    });
    buildEntry = copy.entry;
    fromVendor = copy.fromVendor;
  }
  const kustomize = ro.kustomize ?? await findKustomize();
  const key = ro.noCache ? undefined : await recognitionKey({
    root,
    entry,
    vendor: vendorDir,
    kustomize: `${kustomize.path} ${kustomize.version}`,
  });
  const cached = key ? await readRecognition(key) : undefined;
  if (cached) {
    return {
      root,
      entry,
      buildEntry,
      recognition: cached,
      remotes,
      fromVendor,
    };
  }
  try {
    const objects = await kustomizeBuild(buildEntry, {
      kustomize,
      loadRestrictorNone: true,
      signal: ro.signal,
    });
    const recognition = recognize(objects);
    if (key) await writeRecognition(key, recognition);
    return { root, entry, buildEntry, recognition, remotes, fromVendor };
  } catch (error) {
    if (!(error instanceof KustomizeError)) throw error;
    if (remotes.length === 0) {
      throw new OptionsError([{
        path: options.entry ? "entry" : "manifests",
        message: `kustomize could not render ${entry}: ${
          error.message.replace(/^kustomize build \S+ failed /, "")
        }`,
      }]);
    }
    const present = new Set<string>();
    for (const r of remotes) {
      if (vendorDir && await vendored(vendorDir, r)) present.add(r.url);
    }
    if (present.size === remotes.length) throw error;
    throw new OptionsError([{
      path: vendorDir ? "vendor" : "manifests",
      message: `kustomize could not render ${entry}: ${
        remoteHelp(remotes, vendorDir, present)
      }\n(kustomize said: ${kustomizeError(error.message)})`,
    }]);
  }
}

/** The line of a kustomize failure that says what failed (not its deprecation warnings). */
function kustomizeError(message: string): string {
  const lines = message.split("\n");
  return (lines.find((l) => /error/i.test(l) && !/^# Warning/.test(l)) ??
    lines[0]).trim().slice(0, 400);
}

/** Refuses settings the rendered tree cannot carry, naming the field and what the tree has. */
function checkCarried(options: KubeflowOptions, r: Recognition): void {
  const issues: { path: string; message: string }[] = [];
  const auth = r.auth;
  const what = auth?.kind === "oauth2-proxy"
    ? `oauth2-proxy (Deployment ${auth.deployment.namespace}/${auth.deployment.name})`
    : auth?.kind === "oidc-authservice"
    ? `oidc-authservice (StatefulSet ${auth.statefulSet.namespace}/${auth.statefulSet.name})`
    : "no auth proxy (neither an oauth2-proxy Deployment nor an authservice StatefulSet)";
  const external = options.identity.provider === "oidc";
  if (!r.dex && !external) {
    issues.push({
      path: "dex",
      message:
        "the rendered tree deploys no Dex (no Deployment runs a dex image mounting a Dex config)",
    });
  }
  if (options.oauth2Proxy && auth?.kind !== "oauth2-proxy") {
    issues.push({
      path: "oauth2Proxy",
      message: `the rendered tree deploys ${what}, not oauth2-proxy${
        auth?.kind === "oidc-authservice" ? ": use authservice instead" : ""
      }`,
    });
  }
  if (options.authservice && auth?.kind !== "oidc-authservice") {
    issues.push({
      path: "authservice",
      message: `the rendered tree deploys ${what}, not oidc-authservice${
        auth?.kind === "oauth2-proxy" ? ": use oauth2Proxy instead" : ""
      }`,
    });
  }
  if (auth?.kind === "oauth2-proxy" && !options.oauth2Proxy) {
    issues.push({
      path: "oauth2Proxy",
      message:
        `required: the rendered tree deploys ${what}; give at least cookieSecret ({ env } or { file }, 16, 24 or 32 bytes)`,
    });
  }
  if (auth?.kind === "oauth2-proxy" && !auth.secret) {
    issues.push({
      path: "oauth2Proxy",
      message:
        `${what} reads no Secret with cookie-secret: kfplan cannot set its client and cookie secrets`,
    });
  }
  if (
    auth?.kind === "oidc-authservice" && options.authservice?.redirectUrl &&
    !auth.parameterKeys.includes("REDIRECT_URL")
  ) {
    issues.push({
      path: "authservice.redirectUrl",
      message:
        `the tree's authservice parameters have no REDIRECT_URL (they have ${
          auth.parameterKeys.join(", ")
        }); its callback is ${r.dex?.redirectURIs[0] ?? "set by the tree"}`,
    });
  }
  if (r.dex && !r.dex.clientSecret && !external) {
    issues.push({
      path: "oidcClient",
      message:
        "the tree's Dex Deployment reads no Secret with OIDC_CLIENT_SECRET, where kfplan sets the client secret",
    });
  }
  if (!r.dashboard?.parameters && options.dashboard.registrationFlow) {
    issues.push({
      path: "dashboard.registrationFlow",
      message: r.dashboard
        ? "the dashboard has no parameters ConfigMap with CD_REGISTRATION_FLOW"
        : "the rendered tree deploys no central dashboard",
    });
  }
  if (!r.ingress && options.ingress.type !== "ClusterIP") {
    issues.push({
      path: "ingress.type",
      message:
        "the rendered tree has no ingress gateway Service (selector istio: ingressgateway)",
    });
  }
  if (issues.length > 0) throw new OptionsError(issues);
}

/** The release as recognized, checked against a stated `version`. */
function checkVersion(
  options: KubeflowOptions,
  r: Recognition,
  entry: string,
  warnings: string[],
): { detected: DetectedVersion; release: ReleaseInfo } {
  const kf = r.kubeflow;
  if (!kf) {
    if (!r.dex && !r.auth) {
      throw new OptionsError([{
        path: "manifests",
        message: `${entry} renders nothing kfplan recognizes as Kubeflow ` +
          "(no Kubeflow component images, no Dex, no auth proxy)",
      }]);
    }
    warnings.push(
      "no Kubeflow component image (central dashboard, notebook controller, profiles, ...) " +
        "carries a version tag: the release is unknown",
    );
  }
  const line = kf?.line ?? releaseLine(options.version ?? "unknown");
  if (options.version && kf && releaseLine(options.version) !== kf.line) {
    const stated = minorOf(options.version);
    const images = kf.images.slice(0, 3).join(", ");
    if (stated !== minorOf(kf.version) + 1) {
      throw new OptionsError([{
        path: "version",
        message:
          `says ${options.version} but ${entry} renders Kubeflow ${kf.line} ` +
          `(component images tagged ${kf.version}: ${images}); fix the version or the manifests path`,
      }]);
    }
    // A release may package the previous release's notebook components (v1.11.0
    // ships v1.10.0 images): say what differs and go on with the stated version.
    warnings.push(
      `version says ${options.version}; Kubeflow's component images are tagged ${kf.version} ` +
        `(${images}): the previous release's components, planned as ${options.version}`,
    );
  }
  const version = options.version ?? line;
  const release = {
    ...releaseInfo(version),
    auth: r.auth?.kind,
  };
  if (!release.kubernetes) {
    warnings.push(
      `Kubeflow ${line} is not in kfplan's release table (supported Kubernetes unknown): ` +
        "planned anyway; the preflight checks every object's API against the cluster",
    );
  }
  return {
    detected: {
      version: line,
      componentsVersion: kf?.version ?? "",
      evidence: r.facts,
    },
    release,
  };
}

function minorOf(version: string): number {
  return Number(version.match(/^v?\d+\.(\d+)/)?.[1] ?? -1);
}

/**
 * Renders the entry, recognizes the release, validates version-specific options,
 * reads secrets and builds the overlay. Throws {@linkcode OptionsError} naming the
 * field for every problem found here. The overlay references the checkout's entry.
 */
export async function prepareOverlay(
  options: KubeflowOptions,
  renderOptions: KubeflowRenderOptions = {},
): Promise<PreparedOverlay> {
  const work = await scratch(renderOptions.tempDir);
  try {
    const first = await firstPass(options, renderOptions, work);
    const prepared = await prepare(options, renderOptions, first);
    return {
      ...prepared,
      overlay: { ...prepared.overlay, entry: first.entry },
    };
  } catch (e) {
    throw prefixed(e, renderOptions);
  } finally {
    await work.dispose();
  }
}

/**
 * Detects the release of a kubeflow/manifests checkout from what `example/` (or
 * `entry`) renders: the tags of Kubeflow's own component images.
 *
 * @example
 * ```ts
 * const { version, componentsVersion } = await detectVersion("./kubeflow-manifests");
 * // "v1.9", "v1.9.2"
 * ```
 */
export async function detectVersion(
  root: string,
  options: { entry?: string; vendor?: string; kustomize?: Kustomize } = {},
): Promise<DetectedVersion> {
  const work = await scratch(undefined);
  try {
    const first = await firstPass(
      {
        manifests: root,
        entry: options.entry,
        vendor: options.vendor,
      } as KubeflowOptions,
      { kustomize: options.kustomize },
      work,
    );
    const r = first.recognition;
    if (!r.kubeflow) {
      throw new ManifestsTreeError(
        `${root}: the render has no Kubeflow component images to read a release from`,
      );
    }
    return {
      version: r.kubeflow.line,
      componentsVersion: r.kubeflow.version,
      evidence: r.facts,
    };
  } finally {
    await work.dispose();
  }
}

async function prepare(
  options: KubeflowOptions,
  ro: KubeflowRenderOptions,
  first: FirstPass,
): Promise<PreparedOverlay & { buildEntry: string }> {
  const base = ro.baseDir ?? Deno.cwd();
  const recognition = first.recognition;
  const warnings: string[] = [];
  const { detected, release } = checkVersion(
    options,
    recognition,
    first.entry,
    warnings,
  );
  checkCarried(options, recognition);
  const tlsIssues = tlsProblems(options, recognition);
  if (tlsIssues.length > 0) throw new OptionsError(tlsIssues);
  const identity = externalIdentity(options, ro.identityDiscovery);
  const reader = secretReader(base, ro);
  const auth = await readAuthSecrets(options, reader);
  const tls = await readTlsFiles(
    options,
    reader.read,
    (v) => v.startsWith("kfplan-placeholder-"),
  );
  warnings.push(...tls.warnings, ...domainWarnings(options, recognition));
  const dex = identity
    ? NO_DEX_RENDER
    : await renderDex(options, recognition, reader, ro.kube);
  if (dex.keptDefaultUser) {
    warnings.push(
      "dex.keepDefaultUser: the manifests' default user user@example.com with the published password " +
        "12341234 stays enabled; anyone who reaches the gateway can log in",
    );
  }
  const stack = recognition.auth;
  const oauth2ProxyConfig = stack?.kind === "oauth2-proxy" &&
      stack.configText !== undefined
    ? (identity
      ? externalOauth2ProxyConfig(stack.configText, identity)
      : renderOauth2ProxyConfig(stack.configText, options.dex.issuer))
    : undefined;
  const domain = options.ingress.domain;
  const oauth2ProxyDomain = oauth2ProxyConfig !== undefined && domain
    ? oauth2ProxyDomainConfig(
      oauth2ProxyConfig,
      domainUrls(domain, { tls: options.ingress.tls !== undefined }),
    )
    : oauth2ProxyConfig;
  const overlay = buildOverlay({
    recognition,
    entry: first.buildEntry,
    options,
    dexConfig: dex.config,
    dexDigest: await dexConfigDigest(options, dex, auth.clientSecret),
    oauth2ProxyConfig: oauth2ProxyDomain,
    identity,
    secrets: {
      clientId: oauthClientOf(options).id,
      ...auth,
      connectorEnv: dex.connectorEnv,
      ...(tls.files ? { tls: tls.files } : {}),
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
  return {
    detected,
    release,
    recognition,
    root: first.root,
    entry: first.entry,
    buildEntry: first.buildEntry,
    overlay,
    dex,
    remotes: first.remotes,
    fromVendor: first.fromVendor,
    warnings,
    ...(identity ? { identity } : {}),
  };
}

/** Dex's render when Dex is not deployed (an external identity provider). */
const NO_DEX_RENDER: DexRenderResult = {
  config: "",
  connectorEnv: {},
  users: [],
  reusedHashes: [],
  keptDefaultUser: false,
};

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
  const client = oauthClientOf(options);
  const clientSecret = await reader.read(client.secret, client.field);
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

/** Dex's config from the rendered one, with the users, connectors and redirect URI asked for. */
async function renderDex(
  options: KubeflowOptions,
  recognition: Recognition,
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
  const treeRedirect = recognition.dex?.redirectURIs[0] ??
    (recognition.auth?.kind === "oauth2-proxy"
      ? "/oauth2/callback"
      : "/login/oidc");
  return await renderDexConfig({
    baseConfig: recognition.dex?.configText ?? "",
    dex: options.dex,
    users,
    connectorSecrets,
    // Absolute on ingress.domain when set: the proxy's callback (overlay.ts) is too.
    redirectURIs: [
      authCallback({
        domain: options.ingress.domain,
        tls: options.ingress.tls !== undefined,
        auth: recognition.auth?.kind,
        configured: options.authservice?.redirectUrl,
        treeCallback: treeRedirect,
      }),
      // authservice may send the tree's relative callback: Dex keeps accepting it.
      ...(options.ingress.domain &&
          recognition.auth?.kind === "oidc-authservice"
        ? [treeRedirect]
        : []),
    ],
    liveHashes: liveHashesFromConfig(await liveDexConfig(kube, recognition)),
    field: "dex",
  });
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
      oauthClientOf(options).id,
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
 * Renders the platform: the first pass and recognition ({@linkcode prepareOverlay}),
 * then `kustomize build` of the overlay in a private temp directory (removed
 * afterwards, it holds secret env files), then `components`, `exclude` and the auth
 * cross-checks.
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
  const work = await scratch(renderOptions.tempDir);
  try {
    return await render(options, renderOptions, work);
  } catch (e) {
    throw prefixed(e, renderOptions);
  } finally {
    await work.dispose();
  }
}

/**
 * The sealed cache of the second build: keyed by the overlay's files and every tree
 * it reads (the checkout, and the vendor directory when set).
 */
function secondBuildCache(
  options: KubeflowOptions,
  ro: KubeflowRenderOptions,
  first: FirstPass,
): KustomizeBuildOptions["cache"] {
  if (!ro.renderCacheKey || ro.noCache) return undefined;
  const vendorDir = options.vendor
    ? resolve(ro.baseDir ?? Deno.cwd(), options.vendor)
    : undefined;
  return {
    inputs: vendorDir ? [first.root, vendorDir] : [first.root],
    encryptWith: ro.renderCacheKey,
  };
}

async function render(
  options: KubeflowOptions,
  renderOptions: KubeflowRenderOptions,
  work: Scratch,
): Promise<RenderedKubeflow> {
  const first = await firstPass(options, renderOptions, work);
  const { buildEntry: _, ...prepared } = await prepare(
    options,
    renderOptions,
    first,
  );
  const dir = `${work.dir}/overlay`;
  await writeOverlay(dir, prepared.overlay, { includeSecrets: true });
  const built = await kustomizeBuild(dir, {
    kustomize: renderOptions.kustomize,
    loadRestrictorNone: true,
    signal: renderOptions.signal,
    cache: secondBuildCache(options, renderOptions, first),
  });
  const selected = selectComponents(
    built.map((raw) => dropAggregatedRules(normaliseSecret(raw))),
    options.components,
  );
  const { objects: kept, excluded } = applyExclude(selected.objects, options);
  const noDex = withoutDex(kept, options);
  const objects = noDex.objects;
  if (noDex.summary) prepared.warnings.push(noDex.summary);
  if (!options.dex.keepDefaultUser) {
    prepared.warnings.push(...orphanedProfileWarnings(objects, options));
  }
  const problems = prepared.release.auth
    ? crossCheckAuth(built.map(normaliseSecret), prepared.release.auth, {
      issuer: identityIssuer(options),
      external: prepared.identity
        ? { clientId: prepared.identity.clientId }
        : undefined,
    })
    : [];
  if (problems.length > 0) {
    throw new OptionsError(
      problems.map((message) => ({ path: "(rendered)", message })),
    );
  }
  return {
    ...prepared,
    objects,
    excluded,
    leftOut: selected.leftOut,
    externalCrds: selected.externalCrds,
    droppedDex: noDex.dropped.map((o) => ({
      ...refOf(o),
      reason: "identity.provider oidc: Dex is not deployed",
    })),
  };
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
function orphanedProfileWarnings(
  objects: KubeObject[],
  options: KubeflowOptions,
): string[] {
  return objects.filter((o) =>
    o.kind === "Profile" && profileOwner(o) === "user@example.com"
  ).map((o) => orphanedProfileWarning(options, o.metadata.name));
}
