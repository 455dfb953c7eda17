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

import { relative, resolve } from "node:path";
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
  const { release, options } = input;
  const files: Record<string, string> = {};
  const secretFiles: Record<string, string> = {};
  const noHash = { disableNameSuffixHash: true };
  const configMapGenerator: Record<string, unknown>[] = [];
  const secretGenerator: Record<string, unknown>[] = [];
  const patches: Record<string, unknown>[] = [];
  const replacements: Record<string, unknown>[] = [];

  // Central dashboard: merge the parameter and re-run the base's replacement, because
  // replacements (1.9+) and vars (1.5/1.6) were resolved where they were declared.
  configMapGenerator.push({
    name: "centraldashboard-parameters",
    namespace: "kubeflow",
    behavior: "merge",
    literals: [`CD_REGISTRATION_FLOW=${options.dashboard.registrationFlow}`],
    options: noHash,
  });
  replacements.push({
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

  // Dex: the whole config.yaml, the OAuth2 client, connector secrets, restart annotation.
  files["patches/dex-config.yaml"] = stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "dex", namespace: "auth" },
    data: { "config.yaml": input.dexConfig },
  }, { lineWidth: 0 });
  patches.push({ path: "patches/dex-config.yaml" });
  secretFiles["secrets/dex-oidc-client.env"] = envFile({
    OIDC_CLIENT_ID: input.secrets.clientId,
    OIDC_CLIENT_SECRET: input.secrets.clientSecret,
  }, "oidcClient.secret");
  secretGenerator.push({
    name: "dex-oidc-client",
    namespace: "auth",
    behavior: "merge",
    envs: ["secrets/dex-oidc-client.env"],
    options: noHash,
  });
  files["patches/dex-deployment.yaml"] = stringify({
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
  patches.push({ path: "patches/dex-deployment.yaml" });
  if (Object.keys(input.secrets.connectorEnv).length > 0) {
    secretFiles["secrets/dex-connectors.env"] = envFile(
      input.secrets.connectorEnv,
      "dex.connectors",
    );
    secretGenerator.push({
      name: CONNECTOR_SECRET_NAME,
      namespace: "auth",
      type: "Opaque",
      envs: ["secrets/dex-connectors.env"],
      options: noHash,
    });
    // envFrom has no merge key, so a strategic merge would replace the list: append.
    files["patches/dex-deployment-connectors.yaml"] = stringify([{
      op: "add",
      path: "/spec/template/spec/containers/0/envFrom/-",
      value: { secretRef: { name: CONNECTOR_SECRET_NAME } },
    }]);
    patches.push({
      path: "patches/dex-deployment-connectors.yaml",
      target: {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        name: "dex",
        namespace: "auth",
      },
    });
  }
  if (release.dexPasswordsSecret && !options.dex.keepDefaultUser) {
    // The default user's hash (password 12341234) is public: drop it from the Secret
    // the Deployment still mounts.
    files["patches/dex-passwords.yaml"] = stringify([
      { op: "remove", path: "/stringData/DEX_USER_PASSWORD" },
    ]);
    patches.push({
      path: "patches/dex-passwords.yaml",
      target: {
        version: "v1",
        kind: "Secret",
        name: "dex-passwords",
        namespace: "auth",
      },
    });
  }

  const issuer = options.dex.issuer;
  if (release.auth === "oauth2-proxy") {
    const proxy = options.oauth2Proxy;
    if (!proxy) {
      throw new OptionsError([{
        path: "oauth2Proxy",
        message:
          `required for ${release.version} (oauth2-proxy): give at least cookieSecret ({ env } or { file })`,
      }]);
    }
    configMapGenerator.push({
      name: "oauth2-proxy-parameters",
      namespace: "oauth2-proxy",
      behavior: "merge",
      literals: [`FORCE_HTTPS=${proxy.forceHttps}`],
    });
    if (input.oauth2ProxyConfig !== undefined) {
      files["oauth2_proxy.cfg"] = input.oauth2ProxyConfig;
      configMapGenerator.push({
        name: "oauth2-proxy",
        namespace: "oauth2-proxy",
        behavior: "replace",
        files: ["oauth2_proxy.cfg"],
      });
    }
    secretFiles["secrets/oauth2-proxy.env"] = envFile({
      "client-id": input.secrets.clientId,
      "client-secret": input.secrets.proxyClientSecret ??
        input.secrets.clientSecret,
      "cookie-secret": input.secrets.cookieSecret ?? "",
    }, "oauth2Proxy");
    secretGenerator.push({
      name: "oauth2-proxy",
      namespace: "oauth2-proxy",
      behavior: "merge",
      envs: ["secrets/oauth2-proxy.env"],
    });
    files["patches/requestauthentication-dex-jwt.yaml"] = stringify([
      { op: "replace", path: "/spec/jwtRules/0/issuer", value: issuer },
    ]);
    patches.push({
      path: "patches/requestauthentication-dex-jwt.yaml",
      target: {
        group: "security.istio.io",
        kind: "RequestAuthentication",
        name: "dex-jwt",
        namespace: "istio-system",
      },
    });
  } else {
    const auth = options.authservice ?? {
      authUrl: "/dex/auth",
      scopes: ["profile", "email", "groups"],
      redirectUrl: release.redirectUri,
    };
    configMapGenerator.push({
      name: "oidc-authservice-parameters",
      namespace: "istio-system",
      behavior: "merge",
      literals: [
        `OIDC_PROVIDER=${issuer}`,
        `OIDC_AUTH_URL=${auth.authUrl}`,
        `OIDC_SCOPES=${auth.scopes.join(" ")}`,
        `REDIRECT_URL=${auth.redirectUrl}`,
      ],
      options: noHash,
    });
    secretFiles["secrets/oidc-authservice-client.env"] = envFile({
      CLIENT_ID: input.secrets.clientId,
      CLIENT_SECRET: input.secrets.proxyClientSecret ??
        input.secrets.clientSecret,
    }, "authservice");
    secretGenerator.push({
      name: "oidc-authservice-client",
      namespace: "istio-system",
      behavior: "merge",
      envs: ["secrets/oidc-authservice-client.env"],
      options: noHash,
    });
  }

  // Ingress exposure. Going to ClusterIP from the NodePort releases must also drop
  // the node ports, which a strategic merge cannot do; the JSON patch sets the type only
  // and the manifests carry no fixed nodePort values.
  files["patches/ingressgateway-service.yaml"] = stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "istio-ingressgateway", namespace: "istio-system" },
    spec: { type: options.ingress.type },
  });
  patches.push({ path: "patches/ingressgateway-service.yaml" });

  if (input.excludePatches) {
    options.exclude.forEach((e, i) => {
      const target: Record<string, string> = { kind: e.kind };
      if (e.name) target.name = e.name;
      if (e.namespace) target.namespace = e.namespace;
      const file = `patches/exclude-${i}.yaml`;
      files[file] = stringify({
        $patch: "delete",
        apiVersion: "v1",
        kind: e.kind,
        metadata: { name: "excluded" },
      });
      patches.push({ path: file, target });
    });
  }

  const kustomization: Record<string, unknown> = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: [],
    configMapGenerator,
    secretGenerator,
    patches,
    replacements,
  };
  return {
    files,
    secretFiles,
    kustomization,
    manifestsRoot: input.manifestsRoot.replace(/\/+$/, ""),
  };
}

/**
 * The overlay's `kustomization.yaml` for an overlay living in `dir`: kustomize only
 * accepts relative paths to other kustomizations, so the checkout is referenced
 * relative to `dir`.
 */
export function renderKustomization(overlay: Overlay, dir: string): string {
  const k = {
    ...overlay.kustomization,
    resources: [relative(resolve(dir), `${overlay.manifestsRoot}/example`)],
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
