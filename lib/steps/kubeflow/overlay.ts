/**
 * The kustomize overlay kfplan generates on top of the user's kubeflow/manifests
 * checkout: `resources: [<the entry kustomization>]` plus patches and generator merges
 * that target the objects recognized in the first render by kind, namespace and name
 * (see `recognize.ts`), never files: a fork whose files moved but whose objects are
 * the same gets the same overlay. Settings covered: the Dex config, its client
 * Secret and Deployment (restart annotation, connector secrets), the default user's
 * hash, the auth proxy's parameters, config and Secret, the RequestAuthentication
 * issuer, the dashboard's registration flow and the ingress Service type. The
 * checkout itself is never edited.
 *
 * Generated ConfigMaps and Secrets are targeted by the name they were generated
 * under (the rendered name without kustomize's hash suffix), so kustomize computes
 * the new hash and renames every reference, as it would for a change in the tree.
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
import {
  externalAuthserviceParameters,
  type ExternalIdentity,
  externalJwtRuleOps,
  externalOauth2ProxyParameters,
} from "./identity.ts";
import { authCallback } from "./domain.ts";
import type { KubeflowOptions } from "./options.ts";
import type { Recognition, Target } from "./recognize.ts";
import { type TlsFiles, tlsOverlay } from "./tls.ts";

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
  /** oauth2-proxy cookie secret. */
  cookieSecret?: string;
  /** Env var -> value for connector client secrets. */
  connectorEnv: Record<string, string>;
  /** The gateway's certificate and key (`ingress.tls.mode: secret`). */
  tls?: TlsFiles;
}

/** Input of {@linkcode buildOverlay}. */
export interface OverlayInput {
  /** What the first render deployed: the objects the settings target. */
  recognition: Recognition;
  /** Absolute path of the kustomization the overlay builds on (the checkout's `example/`). */
  entry: string;
  /** The validated `kubeflow` options. */
  options: KubeflowOptions;
  /** Rendered Dex `config.yaml`. */
  dexConfig: string;
  /** Digest for {@linkcode DEX_CONFIG_DIGEST_ANNOTATION}. */
  dexDigest: string;
  /** Rendered `oauth2_proxy.cfg` (oauth2-proxy trees). */
  oauth2ProxyConfig?: string;
  /** Secret values; they go only into `secrets/*.env` files (see {@linkcode Overlay.secretFiles}). */
  secrets: OverlaySecrets;
  /** Add `$patch: delete` patches for `options.exclude` (exported overlays). */
  excludePatches?: boolean;
  /** An external identity provider: the proxy talks to it, Dex gets no settings. */
  identity?: ExternalIdentity;
}

/** The overlay as files, relative to the overlay directory. */
export interface Overlay {
  /** Reviewable files besides kustomization.yaml: patches, non-secret config. */
  files: Record<string, string>;
  /** The kustomization without `resources` (see {@linkcode renderKustomization}). */
  kustomization: Record<string, unknown>;
  /** Absolute path of the kustomization the overlay builds on. */
  entry: string;
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
  /** Files of new objects (`ingress.tls`), listed after the entry in `resources`. */
  resources: string[];
}

const NO_HASH = { disableNameSuffixHash: true };

/** The kustomize patch target of a recognized object: kind, namespace and generated name. */
export function patchTarget(t: Target): Record<string, string> {
  const slash = t.apiVersion.indexOf("/");
  const target: Record<string, string> = {
    ...(slash > 0 ? { group: t.apiVersion.slice(0, slash) } : {}),
    version: slash > 0 ? t.apiVersion.slice(slash + 1) : t.apiVersion,
    kind: t.kind,
    name: t.baseName,
  };
  if (t.namespace) target.namespace = t.namespace;
  return target;
}

/** JSON pointer escaping of one path segment. */
function pointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** Adds a patch file (an object to write as YAML, or the YAML text) targeting `target`. */
function addPatch(
  parts: OverlayParts,
  path: string,
  content: unknown,
  target: Target | Record<string, string>,
): void {
  parts.files[path] = typeof content === "string"
    ? content
    : stringify(content, { lineWidth: 0 });
  parts.patches.push({
    path,
    target: "baseName" in target ? patchTarget(target as Target) : target,
  });
}

/** Merges `values` into a recognized Secret through a secretGenerator (values stay in `secrets/`). */
function mergeSecret(
  parts: OverlayParts,
  target: Target,
  file: string,
  values: Record<string, string>,
  field: string,
): void {
  parts.secretFiles[file] = envFile(values, field);
  parts.secretGenerator.push({
    name: target.baseName,
    ...(target.namespace ? { namespace: target.namespace } : {}),
    behavior: "merge",
    envs: [file],
    ...(target.hashed ? {} : { options: NO_HASH }),
  });
}

/**
 * Sets keys of a recognized ConfigMap: single-line values through a
 * configMapGenerator merge (readable in the exported kustomization), multi-line
 * ones (whole config files) with a JSON patch. Both target the name the object was
 * generated under, so kustomize rehashes generated ones.
 */
function setConfigMapData(
  parts: OverlayParts,
  path: string,
  target: Target,
  values: Record<string, string>,
): void {
  if (Object.values(values).every((v) => !/[\r\n]/.test(v))) {
    parts.configMapGenerator.push({
      name: target.baseName,
      ...(target.namespace ? { namespace: target.namespace } : {}),
      behavior: "merge",
      literals: Object.entries(values).map(([k, v]) => `${k}=${v}`),
      ...(target.hashed ? {} : { options: NO_HASH }),
    });
    return;
  }
  addPatch(
    parts,
    path,
    Object.entries(values).map(([k, v]) => ({
      op: "add",
      path: `/data/${pointer(k)}`,
      value: v,
    })),
    target,
  );
}

/**
 * Builds the overlay for one recognized tree and set of options. The caller checked
 * that the tree carries every setting (see `render.ts`).
 *
 * @example
 * ```ts
 * const overlay = buildOverlay({ recognition, entry: "/src/manifests/example", options, dexConfig, dexDigest, secrets });
 * console.log(overlay.files);
 * ```
 */
export function buildOverlay(input: OverlayInput): Overlay {
  const parts: OverlayParts = {
    files: {},
    secretFiles: {},
    configMapGenerator: [],
    secretGenerator: [],
    patches: [],
    resources: [],
  };
  addDashboard(parts, input);
  // With an external provider Dex is left out of the render (identity.ts).
  if (!input.identity) addDex(parts, input);
  const auth = input.recognition.auth;
  if (auth?.kind === "oauth2-proxy") addOauth2Proxy(parts, input);
  else if (auth?.kind === "oidc-authservice") addAuthservice(parts, input);
  addIngress(parts, input);
  addTls(parts, input);
  if (input.excludePatches) addExcludePatches(parts, input.options);
  const { files, secretFiles, ...generators } = parts;
  return {
    files,
    secretFiles,
    kustomization: {
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: generators.resources,
      configMapGenerator: generators.configMapGenerator,
      secretGenerator: generators.secretGenerator,
      patches: generators.patches,
    },
    entry: input.entry.replace(/\/+$/, ""),
  };
}

/** Central dashboard: the parameter, and the literal env value the tree resolved from it. */
function addDashboard(parts: OverlayParts, input: OverlayInput): void {
  const dash = input.recognition.dashboard;
  if (!dash?.parameters) return;
  const flow = String(input.options.dashboard.registrationFlow);
  setConfigMapData(
    parts,
    "patches/dashboard-parameters.yaml",
    dash.parameters,
    {
      CD_REGISTRATION_FLOW: flow,
    },
  );
  if (dash.envValue) {
    addPatch(parts, "patches/dashboard-deployment.yaml", {
      apiVersion: dash.deployment.apiVersion,
      kind: "Deployment",
      metadata: { name: dash.deployment.name },
      spec: {
        template: {
          spec: {
            containers: [{
              name: dash.container,
              env: [{ name: "REGISTRATION_FLOW", value: flow }],
            }],
          },
        },
      },
    }, dash.deployment);
  }
}

/** Dex: the whole config, the OAuth2 client, connector secrets, restart annotation, default user. */
function addDex(parts: OverlayParts, input: OverlayInput): void {
  const dex = input.recognition.dex;
  if (!dex) return;
  addPatch(parts, "patches/dex-config.yaml", [{
    op: "add",
    path: `/data/${pointer(dex.configKey)}`,
    value: input.dexConfig,
  }], dex.config);
  if (dex.clientSecret) {
    mergeSecret(parts, dex.clientSecret, "secrets/dex-oidc-client.env", {
      OIDC_CLIENT_ID: input.secrets.clientId,
      OIDC_CLIENT_SECRET: input.secrets.clientSecret,
    }, "oidcClient.secret");
  }
  addPatch(parts, "patches/dex-deployment.yaml", {
    apiVersion: dex.deployment.apiVersion,
    kind: "Deployment",
    metadata: { name: dex.deployment.name },
    spec: {
      template: {
        metadata: {
          annotations: { [DEX_CONFIG_DIGEST_ANNOTATION]: input.dexDigest },
        },
      },
    },
  }, dex.deployment);
  if (Object.keys(input.secrets.connectorEnv).length > 0) {
    parts.secretFiles["secrets/dex-connectors.env"] = envFile(
      input.secrets.connectorEnv,
      "dex.connectors",
    );
    parts.secretGenerator.push({
      name: CONNECTOR_SECRET_NAME,
      namespace: dex.deployment.namespace,
      type: "Opaque",
      envs: ["secrets/dex-connectors.env"],
      options: NO_HASH,
    });
    // envFrom has no merge key, so a strategic merge would replace the list: append.
    const base = `/spec/template/spec/containers/${dex.container}/envFrom`;
    const ref = { secretRef: { name: CONNECTOR_SECRET_NAME } };
    addPatch(
      parts,
      "patches/dex-deployment-connectors.yaml",
      [
        dex.hasEnvFrom
          ? { op: "add", path: `${base}/-`, value: ref }
          : { op: "add", path: base, value: [ref] },
      ],
      dex.deployment,
    );
  }
  const user = dex.defaultUser;
  if (user.kind === "secret" && !input.options.dex.keepDefaultUser) {
    // The default user's hash (password 12341234) is public: drop it from the Secret
    // the Deployment still reads.
    addPatch(parts, "patches/dex-default-user.yaml", [
      {
        op: "remove",
        path: `/${user.stringData ? "stringData" : "data"}/${
          pointer(user.key)
        }`,
      },
    ], user.secret);
  }
}

/** oauth2-proxy: parameters, its config file, its Secret, the JWT issuer. */
function addOauth2Proxy(parts: OverlayParts, input: OverlayInput): void {
  const stack = input.recognition.auth;
  const proxy = input.options.oauth2Proxy;
  if (stack?.kind !== "oauth2-proxy" || !proxy) return;
  if (stack.parameters) {
    setConfigMapData(
      parts,
      "patches/oauth2-proxy-parameters.yaml",
      stack.parameters,
      {
        // HTTPS on the gateway: oauth2-proxy's cookies must be Secure too.
        FORCE_HTTPS: String(
          proxy.forceHttps || input.options.ingress.tls !== undefined,
        ),
        ...(input.identity ? externalOauth2ProxyParameters() : {}),
      },
    );
  }
  if (stack.config && input.oauth2ProxyConfig !== undefined) {
    setConfigMapData(parts, "patches/oauth2-proxy-config.yaml", stack.config, {
      "oauth2_proxy.cfg": input.oauth2ProxyConfig,
    });
  }
  if (stack.secret) {
    mergeSecret(parts, stack.secret, "secrets/oauth2-proxy.env", {
      "client-id": input.secrets.clientId,
      "client-secret": input.secrets.proxyClientSecret ??
        input.secrets.clientSecret,
      "cookie-secret": input.secrets.cookieSecret ?? "",
    }, "oauth2Proxy");
  }
  if (stack.requestAuthentication) {
    addPatch(
      parts,
      "patches/requestauthentication-issuer.yaml",
      input.identity ? externalJwtRuleOps(stack, input.identity) : [{
        op: "replace",
        path: `/spec/jwtRules/${stack.jwtRule}/issuer`,
        value: input.options.dex.issuer,
      }],
      stack.requestAuthentication,
    );
  }
}

/** oidc-authservice: its parameters and client Secret. */
/** authservice's `REDIRECT_URL`: its callback, absolute on the domain when one is set. */
function authserviceCallback(input: OverlayInput): string {
  return authCallback({
    domain: input.options.ingress.domain,
    tls: input.options.ingress.tls !== undefined,
    auth: "oidc-authservice",
    configured: input.options.authservice?.redirectUrl,
    treeCallback: input.recognition.dex?.redirectURIs[0],
  });
}

function addAuthservice(parts: OverlayParts, input: OverlayInput): void {
  const stack = input.recognition.auth;
  if (stack?.kind !== "oidc-authservice") return;
  const auth = input.options.authservice;
  if (stack.parameters && input.identity) {
    const external = externalAuthserviceParameters(
      stack.parameterKeys,
      input.identity,
    );
    if (stack.parameterKeys.includes("REDIRECT_URL")) {
      // The callback to register at the provider, absolute on the domain.
      external.set.REDIRECT_URL = authserviceCallback(input);
    }
    setConfigMapData(
      parts,
      "patches/authservice-parameters.yaml",
      stack.parameters,
      external.set,
    );
    if (external.remove.length > 0) {
      addPatch(
        parts,
        "patches/authservice-parameters-remove.yaml",
        external.remove.map((k) => ({
          op: "remove",
          path: `/data/${pointer(k)}`,
        })),
        stack.parameters,
      );
    }
  } else if (stack.parameters) {
    const values: Record<string, string> = {
      OIDC_PROVIDER: input.options.dex.issuer,
      OIDC_AUTH_URL: auth?.authUrl ?? "/dex/auth",
      OIDC_SCOPES: (auth?.scopes ?? ["profile", "email", "groups"]).join(" "),
    };
    if (stack.parameterKeys.includes("REDIRECT_URL")) {
      // The same callback Dex's client gets (render.ts), absolute on the domain.
      values.REDIRECT_URL = authserviceCallback(input);
    }
    setConfigMapData(
      parts,
      "patches/authservice-parameters.yaml",
      stack.parameters,
      values,
    );
  }
  if (stack.secret) {
    mergeSecret(parts, stack.secret, "secrets/oidc-authservice-client.env", {
      CLIENT_ID: input.secrets.clientId,
      CLIENT_SECRET: input.secrets.proxyClientSecret ??
        input.secrets.clientSecret,
    }, "authservice");
  }
}

/**
 * Ingress exposure. Going to ClusterIP from the NodePort releases must also drop the
 * node ports, which a strategic merge cannot do; the manifests carry no fixed
 * nodePort values, so setting the type is enough.
 */
function addIngress(parts: OverlayParts, input: OverlayInput): void {
  const ingress = input.recognition.ingress;
  if (!ingress) return;
  addPatch(parts, "patches/ingressgateway-service.yaml", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: ingress.service.name },
    spec: { type: input.options.ingress.type },
  }, ingress.service);
}

/**
 * HTTPS for `ingress.domain` (see `tls.ts`): new objects as resource files, patches of
 * the Gateway and auth policies, and the `secret` mode's Secret from `secrets/`.
 */
function addTls(parts: OverlayParts, input: OverlayInput): void {
  const tls = tlsOverlay(input.options, input.recognition);
  if (!tls) return;
  tls.resources.forEach((object, i) => {
    const path = `resources/tls-${i}-${object.kind.toLowerCase()}.yaml`;
    parts.files[path] = stringify(object, { lineWidth: 0 });
    parts.resources.push(path);
  });
  for (const p of tls.patches) {
    addPatch(parts, `patches/tls-${p.name}.yaml`, p.ops, p.target);
  }
  if (tls.secret && input.secrets.tls) {
    parts.secretFiles["secrets/tls.crt"] = input.secrets.tls.certificate + "\n";
    parts.secretFiles["secrets/tls.key"] = input.secrets.tls.key + "\n";
    parts.secretGenerator.push({
      name: tls.secret.name,
      namespace: tls.secret.namespace,
      type: "kubernetes.io/tls",
      files: ["tls.crt=secrets/tls.crt", "tls.key=secrets/tls.key"],
      options: NO_HASH,
    });
  }
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
    resources: [
      relative(physicalDir(dir), overlay.entry),
      ...(overlay.kustomization.resources as string[] | undefined ?? []),
    ],
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
