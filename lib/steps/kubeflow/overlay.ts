/**
 * The kustomize overlay kfplan generates on top of the user's kubeflow/manifests
 * checkout: `resources: [<checkout>/example]` plus configMapGenerator/secretGenerator
 * merges for the `params.env` values, patches for the Dex config, the Dex Deployment
 * (restart annotation, connector secrets), the ingress Service type and the
 * RequestAuthentication issuer. The checkout itself is never edited.
 *
 * Secret values live only in {@linkcode Overlay.secretFiles} (`secrets/*.env`), which
 * the exporter leaves out of Git; everything else can be reviewed and committed.
 *
 * @module
 */

import { basename, dirname, join, relative, resolve } from "node:path";
import { stringifyYaml as stringify } from "../../deps.ts";
import { OptionsError } from "../../engine/options.ts";
import { CONNECTOR_SECRET_NAME } from "./dex.ts";
import type { KubeflowOptions } from "./options.ts";
import type { ReleaseInfo } from "./version.ts";

/** Annotation on Dex's pod template: changes exactly when Dex's config or secrets do. */
export const DEX_CONFIG_DIGEST_ANNOTATION = "kfplan.dev/dex-config-digest";

/** Secret values the overlay needs (plaintext, in memory only). */
export interface OverlaySecrets {
  /** OAuth2 client id shared by Dex and the auth proxy (`oidcClient.id`). */
  clientId: string;
  /** OAuth2 client secret Dex holds for that client (`oidcClient.secret`). */
  clientSecret: string;
  /** The client secret the proxy presents; default {@linkcode clientSecret}. */
  proxyClientSecret?: string;
  /** oauth2-proxy cookie secret (v1.9+). */
  cookieSecret?: string;
  /** Env var -> value for connector client secrets. */
  connectorEnv: Record<string, string>;
}

/** Input of {@linkcode buildOverlay}. */
export interface OverlayInput {
  /** The release the overlay targets; decides the auth stack and the file paths patched. */
  release: ReleaseInfo;
  /** Absolute path of the manifests checkout. */
  manifestsRoot: string;
  /** The validated `kubeflow` options. */
  options: KubeflowOptions;
  /** Rendered Dex `config.yaml`. */
  dexConfig: string;
  /** Digest for {@linkcode DEX_CONFIG_DIGEST_ANNOTATION}. */
  dexDigest: string;
  /** Rendered `oauth2_proxy.cfg` (v1.9+). */
  oauth2ProxyConfig?: string;
  /** Secret values; they go only into `secrets/*.env` files (see {@linkcode Overlay.secretFiles}). */
  secrets: OverlaySecrets;
  /** Add `$patch: delete` patches for `options.exclude` (exported overlays). */
  excludePatches?: boolean;
}

/** The overlay as files, relative to the overlay directory. */
export interface Overlay {
  /** Reviewable files besides kustomization.yaml: patches, non-secret config. */
  files: Record<string, string>;
  /** The kustomization without `resources` (see {@linkcode renderKustomization}). */
  kustomization: Record<string, unknown>;
  /** Absolute path of the checkout the overlay builds on. */
  manifestsRoot: string;
  /** `secrets/*.env` files holding secret values; never written to Git or plans. */
  secretFiles: Record<string, string>;
}

function envFile(values: Record<string, string>, field: string): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (/[\r\n]/.test(value)) {
      throw new OptionsError([{
        path: field,
        message:
          `the secret for ${key} contains a line break; give a single-line value`,
      }]);
    }
    lines.push(`${key}=${value}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * Replaces `oidc_issuer_url` in an `oauth2_proxy.cfg`, keeping everything else
 * (comments included) as the manifests have it.
 */
export function renderOauth2ProxyConfig(
  baseConfig: string,
  issuer: string,
): string {
  const line = `oidc_issuer_url = ${JSON.stringify(issuer)}`;
  if (/^oidc_issuer_url\s*=.*$/m.test(baseConfig)) {
    return baseConfig.replace(/^oidc_issuer_url\s*=.*$/m, line);
  }
  return `${line}\n${baseConfig}`;
}

/** The overlay's parts as they are collected, before they become files. */
interface OverlayParts {
  files: Record<string, string>;
  secretFiles: Record<string, string>;
  configMapGenerator: Record<string, unknown>[];
  secretGenerator: Record<string, unknown>[];
  patches: Record<string, unknown>[];
  replacements: Record<string, unknown>[];
}

const NO_HASH = { disableNameSuffixHash: true };

/**
 * Adds a patch file (an object to write as YAML, or the YAML text) and its `patches`
 * entry, with a target for JSON patches.
 */
function addPatch(
  parts: OverlayParts,
  path: string,
  content: unknown,
  target?: Record<string, string>,
): void {
  parts.files[path] = typeof content === "string"
    ? content
    : stringify(content);
  parts.patches.push(target ? { path, target } : { path });
}

/**
 * Builds the overlay for one release and set of options.
 *
 * @example
 * ```ts
 * const overlay = buildOverlay({ release, manifestsRoot: "/src/manifests", options, dexConfig, dexDigest, secrets });
 * console.log(overlay.files["kustomization.yaml"]);
 * ```
 */
export function buildOverlay(input: OverlayInput): Overlay {
  const parts: OverlayParts = {
    files: {},
    secretFiles: {},
    configMapGenerator: [],
    secretGenerator: [],
    patches: [],
    replacements: [],
  };
  addDashboard(parts, input.options);
  addDex(parts, input);
  if (input.release.auth === "oauth2-proxy") addOauth2Proxy(parts, input);
  else addAuthservice(parts, input);
  addIngress(parts, input.options);
  if (input.excludePatches) addExcludePatches(parts, input.options);
  const { files, secretFiles, ...generators } = parts;
  return {
    files,
    secretFiles,
    kustomization: {
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: [],
      configMapGenerator: generators.configMapGenerator,
      secretGenerator: generators.secretGenerator,
      patches: generators.patches,
      replacements: generators.replacements,
    },
    manifestsRoot: input.manifestsRoot.replace(/\/+$/, ""),
  };
}

/**
 * Central dashboard: merge the parameter and re-run the base's replacement, because
 * replacements (1.9+) and vars (1.5/1.6) were resolved where they were declared.
 */
function addDashboard(parts: OverlayParts, options: KubeflowOptions): void {
  parts.configMapGenerator.push({
    name: "centraldashboard-parameters",
    namespace: "kubeflow",
    behavior: "merge",
    literals: [`CD_REGISTRATION_FLOW=${options.dashboard.registrationFlow}`],
    options: NO_HASH,
  });
  parts.replacements.push({
    source: {
      kind: "ConfigMap",
      name: "centraldashboard-parameters",
      namespace: "kubeflow",
      fieldPath: "data.CD_REGISTRATION_FLOW",
    },
    targets: [{
      select: {
        group: "apps",
        kind: "Deployment",
        name: "centraldashboard",
        namespace: "kubeflow",
      },
      fieldPaths: [
        "spec.template.spec.containers.[name=centraldashboard].env.[name=REGISTRATION_FLOW].value",
      ],
    }],
  });
}

/** Dex: the whole config.yaml, the OAuth2 client, connector secrets, restart annotation. */
function addDex(parts: OverlayParts, input: OverlayInput): void {
  // Dex's config is long: no line folding, so the reviewed file reads like Dex's own.
  addPatch(
    parts,
    "patches/dex-config.yaml",
    stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "dex", namespace: "auth" },
      data: { "config.yaml": input.dexConfig },
    }, { lineWidth: 0 }),
  );
  parts.secretFiles["secrets/dex-oidc-client.env"] = envFile({
    OIDC_CLIENT_ID: input.secrets.clientId,
    OIDC_CLIENT_SECRET: input.secrets.clientSecret,
  }, "oidcClient.secret");
  parts.secretGenerator.push({
    name: "dex-oidc-client",
    namespace: "auth",
    behavior: "merge",
    envs: ["secrets/dex-oidc-client.env"],
    options: NO_HASH,
  });
  addPatch(parts, "patches/dex-deployment.yaml", {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "dex", namespace: "auth" },
    spec: {
      template: {
        metadata: {
          annotations: { [DEX_CONFIG_DIGEST_ANNOTATION]: input.dexDigest },
        },
      },
    },
  });
  if (Object.keys(input.secrets.connectorEnv).length > 0) {
    addDexConnectors(parts, input.secrets.connectorEnv);
  }
  if (input.release.dexPasswordsSecret && !input.options.dex.keepDefaultUser) {
    // The default user's hash (password 12341234) is public: drop it from the Secret
    // the Deployment still mounts.
    addPatch(parts, "patches/dex-passwords.yaml", [
      { op: "remove", path: "/stringData/DEX_USER_PASSWORD" },
    ], {
      version: "v1",
      kind: "Secret",
      name: "dex-passwords",
      namespace: "auth",
    });
  }
}

/** Connector client secrets: a Secret and an `envFrom` on Dex. */
function addDexConnectors(
  parts: OverlayParts,
  connectorEnv: Record<string, string>,
): void {
  parts.secretFiles["secrets/dex-connectors.env"] = envFile(
    connectorEnv,
    "dex.connectors",
  );
  parts.secretGenerator.push({
    name: CONNECTOR_SECRET_NAME,
    namespace: "auth",
    type: "Opaque",
    envs: ["secrets/dex-connectors.env"],
    options: NO_HASH,
  });
  // envFrom has no merge key, so a strategic merge would replace the list: append.
  addPatch(parts, "patches/dex-deployment-connectors.yaml", [{
    op: "add",
    path: "/spec/template/spec/containers/0/envFrom/-",
    value: { secretRef: { name: CONNECTOR_SECRET_NAME } },
  }], {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    name: "dex",
    namespace: "auth",
  });
}

/** oauth2-proxy (v1.9+): parameters, its config file, its Secret, the JWT issuer. */
function addOauth2Proxy(parts: OverlayParts, input: OverlayInput): void {
  const proxy = input.options.oauth2Proxy;
  if (!proxy) {
    throw new OptionsError([{
      path: "oauth2Proxy",
      message:
        `required for ${input.release.version} (oauth2-proxy): give at least cookieSecret ({ env } or { file })`,
    }]);
  }
  parts.configMapGenerator.push({
    name: "oauth2-proxy-parameters",
    namespace: "oauth2-proxy",
    behavior: "merge",
    literals: [`FORCE_HTTPS=${proxy.forceHttps}`],
  });
  if (input.oauth2ProxyConfig !== undefined) {
    parts.files["oauth2_proxy.cfg"] = input.oauth2ProxyConfig;
    parts.configMapGenerator.push({
      name: "oauth2-proxy",
      namespace: "oauth2-proxy",
      behavior: "replace",
      files: ["oauth2_proxy.cfg"],
    });
  }
  parts.secretFiles["secrets/oauth2-proxy.env"] = envFile({
    "client-id": input.secrets.clientId,
    "client-secret": input.secrets.proxyClientSecret ??
      input.secrets.clientSecret,
    "cookie-secret": input.secrets.cookieSecret ?? "",
  }, "oauth2Proxy");
  parts.secretGenerator.push({
    name: "oauth2-proxy",
    namespace: "oauth2-proxy",
    behavior: "merge",
    envs: ["secrets/oauth2-proxy.env"],
  });
  addPatch(parts, "patches/requestauthentication-dex-jwt.yaml", [
    {
      op: "replace",
      path: "/spec/jwtRules/0/issuer",
      value: input.options.dex.issuer,
    },
  ], {
    group: "security.istio.io",
    kind: "RequestAuthentication",
    name: "dex-jwt",
    namespace: "istio-system",
  });
}

/** oidc-authservice (v1.5/v1.6): its parameters and client Secret. */
function addAuthservice(parts: OverlayParts, input: OverlayInput): void {
  const auth = input.options.authservice ?? {
    authUrl: "/dex/auth",
    scopes: ["profile", "email", "groups"],
    redirectUrl: input.release.redirectUri,
  };
  parts.configMapGenerator.push({
    name: "oidc-authservice-parameters",
    namespace: "istio-system",
    behavior: "merge",
    literals: [
      `OIDC_PROVIDER=${input.options.dex.issuer}`,
      `OIDC_AUTH_URL=${auth.authUrl}`,
      `OIDC_SCOPES=${auth.scopes.join(" ")}`,
      `REDIRECT_URL=${auth.redirectUrl}`,
    ],
    options: NO_HASH,
  });
  parts.secretFiles["secrets/oidc-authservice-client.env"] = envFile({
    CLIENT_ID: input.secrets.clientId,
    CLIENT_SECRET: input.secrets.proxyClientSecret ??
      input.secrets.clientSecret,
  }, "authservice");
  parts.secretGenerator.push({
    name: "oidc-authservice-client",
    namespace: "istio-system",
    behavior: "merge",
    envs: ["secrets/oidc-authservice-client.env"],
    options: NO_HASH,
  });
}

/**
 * Ingress exposure. Going to ClusterIP from the NodePort releases must also drop the
 * node ports, which a strategic merge cannot do; the manifests carry no fixed
 * nodePort values, so setting the type is enough.
 */
function addIngress(parts: OverlayParts, options: KubeflowOptions): void {
  addPatch(parts, "patches/ingressgateway-service.yaml", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "istio-ingressgateway", namespace: "istio-system" },
    spec: { type: options.ingress.type },
  });
}

/** `$patch: delete` for each `exclude` entry (exported overlays). */
function addExcludePatches(
  parts: OverlayParts,
  options: KubeflowOptions,
): void {
  options.exclude.forEach((e, i) => {
    const target: Record<string, string> = { kind: e.kind };
    if (e.name) target.name = e.name;
    if (e.namespace) target.namespace = e.namespace;
    addPatch(parts, `patches/exclude-${i}.yaml`, {
      $patch: "delete",
      apiVersion: "v1",
      kind: e.kind,
      metadata: { name: "excluded" },
    }, target);
  });
}

/**
 * The directory as kustomize sees it: kustomize resolves the overlay directory's
 * symlinks before it follows relative paths, so the path to the checkout must be
 * relative to the resolved directory. A directory not created yet is resolved
 * through its nearest existing parent.
 */
function physicalDir(dir: string): string {
  const absolute = resolve(dir);
  try {
    return Deno.realPathSync(absolute);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    const parent = dirname(absolute);
    if (parent === absolute) return absolute;
    return join(physicalDir(parent), basename(absolute));
  }
}

/**
 * The overlay's `kustomization.yaml` for an overlay living in `dir`: kustomize only
 * accepts relative paths to other kustomizations, so the checkout is referenced
 * relative to `dir` (as kustomize resolves it, see {@linkcode physicalDir}).
 */
export function renderKustomization(overlay: Overlay, dir: string): string {
  const k = {
    ...overlay.kustomization,
    resources: [relative(physicalDir(dir), `${overlay.manifestsRoot}/example`)],
  };
  return "# Generated by kfplan: settings on top of the kubeflow/manifests checkout.\n" +
    "# Build with: kustomize build --load-restrictor LoadRestrictionsNone .\n" +
    stringify(k, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** Options for {@linkcode writeOverlay}. */
export interface WriteOverlayOptions {
  /** Also write `secrets/*.env` (mode 0600); never for directories kept in Git. */
  includeSecrets: boolean;
}

/** Writes an overlay's files under `dir` (secret files with mode 0600); returns their paths. */
export async function writeOverlay(
  dir: string,
  overlay: Overlay,
  options: WriteOverlayOptions,
): Promise<string[]> {
  const written: string[] = [];
  const all: [string, string, boolean][] = [
    ["kustomization.yaml", renderKustomization(overlay, dir), false],
    ...Object.entries(overlay.files).map(([p, c]) =>
      [p, c, false] as [string, string, boolean]
    ),
  ];
  if (options.includeSecrets) {
    all.push(
      ...Object.entries(overlay.secretFiles).map(([p, c]) =>
        [p, c, true] as [string, string, boolean]
      ),
    );
  }
  for (const [path, content, secret] of all) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), {
      recursive: true,
      mode: secret ? 0o700 : 0o755,
    });
    await Deno.writeTextFile(full, content, { mode: secret ? 0o600 : 0o644 });
    written.push(path);
  }
  return written;
}
