/**
 * `kubeflow.identity`: who logs users in. With Dex (the default) nothing here changes
 * the render. With an external OpenID Connect provider:
 * - the auth proxy talks to the provider directly: oauth2-proxy's `oauth2_proxy.cfg`
 *   (issuer, scopes, claims; OIDC discovery on instead of the Dex-specific login,
 *   redeem and JWKS URLs), its parameters (the provider's certificate is verified)
 *   and its Secret (client id and secret); or oidc-authservice's parameters
 *   (`OIDC_PROVIDER`, `OIDC_AUTH_URL`, `OIDC_SCOPES`, `USERID_CLAIM`, `GROUPS_CLAIM`)
 *   and client Secret;
 * - Istio's RequestAuthentication trusts the provider's issuer (with its `jwksUri`
 *   from discovery, and the claims mapped to the same headers) instead of Dex's;
 * - Dex is not deployed: every rendered object recognized as Dex's (its Deployment,
 *   what it reads, its ServiceAccount, Services, VirtualService, RBAC, CRDs and, when
 *   nothing else lives there, its namespace) is left out of the desired state, so a
 *   cluster that ran Dex has it pruned.
 *
 * Objects are recognized by what they are (the Dex image, the references between
 * objects), never by a release's file paths or names.
 *
 * @module
 */

import type { Finding } from "../../engine/types.ts";
import type { KubeObject } from "../../kube/types.ts";
import { objectName, refOf } from "../../kube/object_ref.ts";
import { discoverIssuer, type DiscoveryResult } from "./oidc_discovery.ts";
import type {
  ExternalIdentityOptions,
  KubeflowOptions,
  SecretRef,
} from "./options.ts";
import { type Oauth2ProxyStack, recognize } from "./recognize.ts";
import { domainUrls } from "./domain.ts";

/** The OAuth2 client the auth proxy presents, and the option its secret comes from. */
export interface OAuthClientRef {
  /** Client id. */
  id: string;
  /** Where its secret comes from. */
  secret: SecretRef;
  /** Option path of the secret, for errors: `oidcClient.secret` or `identity.clientSecret`. */
  field: string;
}

/**
 * The issuer every part of the auth stack must agree on: the external provider's, or
 * Dex's.
 */
export function identityIssuer(o: KubeflowOptions): string {
  return o.identity.provider === "oidc" ? o.identity.issuer : o.dex.issuer;
}

/**
 * The OAuth2 client of the auth proxy: `identity.clientId`/`clientSecret` with an
 * external provider, `oidcClient` with Dex. The schema guarantees the one needed is
 * there; this throws only on options that bypassed it.
 */
export function oauthClientOf(o: KubeflowOptions): OAuthClientRef {
  if (o.identity.provider === "oidc") {
    if (!o.identity.clientSecret) {
      throw new Error("identity.clientSecret is required");
    }
    return {
      id: o.identity.clientId,
      secret: o.identity.clientSecret,
      field: "identity.clientSecret",
    };
  }
  if (!o.oidcClient) throw new Error("oidcClient is required with Dex");
  return {
    id: o.oidcClient.id,
    secret: o.oidcClient.secret,
    field: "oidcClient.secret",
  };
}

/** An external provider's settings, with what plan-time discovery found. */
export interface ExternalIdentity {
  /** The issuer, exactly as configured (and, when discovered, as the provider says). */
  issuer: string;
  /** The client id registered at the provider. */
  clientId: string;
  /** Scopes to ask for. */
  scopes: string[];
  /** Claim holding the user's email. */
  emailClaim: string;
  /** Claim holding the user's groups. */
  groupsClaim: string;
  /** The provider's JWKS URL, when discovery reached it. */
  jwksUri?: string;
  /** Its authorization endpoint, when discovery reached it. */
  authorizationEndpoint?: string;
}

/** The external identity of the options (undefined with Dex), with discovery's endpoints. */
export function externalIdentity(
  o: KubeflowOptions,
  discovery?: DiscoveryResult,
): ExternalIdentity | undefined {
  if (o.identity.provider !== "oidc") return undefined;
  const i: ExternalIdentityOptions = o.identity;
  const found = discovery?.status === "ok" ? discovery.metadata : undefined;
  return {
    issuer: i.issuer,
    clientId: i.clientId,
    scopes: i.scopes,
    emailClaim: i.emailClaim,
    groupsClaim: i.groupsClaim,
    ...(found ? { jwksUri: found.jwks_uri } : {}),
    ...(found?.authorization_endpoint
      ? { authorizationEndpoint: found.authorization_endpoint }
      : {}),
  };
}

/** Options for {@linkcode planIdentity}. */
export interface PlanIdentityOptions {
  /** Planning without a cluster: the provider is not fetched either. */
  offline?: boolean;
  /** Aborts discovery. */
  signal?: AbortSignal;
  /** Bound of each discovery request; default 5000 ms. */
  timeoutMs?: number;
  /** Path of the step's options, e.g. `["kubeflow"]`, for the field named in errors. */
  prefix?: string[];
}

/** What {@linkcode planIdentity} found. */
export interface PlannedIdentity {
  /** Discovery's result; undefined with Dex. */
  discovery?: DiscoveryResult;
  /** Findings for the plan (what was checked, or why it could not be). */
  findings: Finding[];
}

/**
 * Plan-time checks of the identity provider: with an external one, its discovery
 * document and JWKS ({@linkcode discoverIssuer}; errors throw `OptionsError` naming
 * `<prefix>.identity.issuer`, an unreachable provider is a warning finding).
 *
 * @example
 * ```ts
 * const { discovery, findings } = await planIdentity(options, { offline: false });
 * ```
 */
export async function planIdentity(
  o: KubeflowOptions,
  options: PlanIdentityOptions = {},
): Promise<PlannedIdentity> {
  if (o.identity.provider !== "oidc") return { findings: [] };
  const prefix = (options.prefix ?? ["kubeflow"]).join(".");
  const discovery = await discoverIssuer(o.identity.issuer, {
    offline: options.offline,
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    field: `${prefix ? `${prefix}.` : ""}identity.issuer`,
  });
  if (discovery.status === "unreachable") {
    // No guessed JWKS URL (providers put it anywhere): istiod discovers it itself.
    const finding = {
      ...discovery.finding,
      seen:
        `${discovery.finding.seen}; RequestAuthentication gets no jwksUri (istiod discovers it from the issuer) ` +
        "and oidc-authservice no OIDC_AUTH_URL (it discovers it)",
    };
    return { discovery: { ...discovery, finding }, findings: [finding] };
  }
  return {
    discovery,
    findings: [{
      check: "kubeflow.identity.discovery",
      severity: "info",
      target: o.identity.issuer,
      seen:
        `external OIDC provider: issuer matches its discovery document, jwks_uri ${discovery.metadata.jwks_uri} ` +
        `serves ${discovery.keys} key(s); Dex is not deployed`,
    }],
  };
}

/** The auth proxy's OAuth2 callback as rendered, and where it was read. */
interface ProxyCallback {
  /** Absolute, or a path on whatever host the browser is on. */
  value: string;
  /** Which setting it is, e.g. `oauth2-proxy redirect_url`. */
  source: string;
}

/** A string setting of oauth2-proxy's TOML-like config, unquoted. */
function cfgString(cfg: string, key: string): string | undefined {
  const raw = cfg.match(new RegExp(`^${key}\\s*=\\s*(.*?)\\s*$`, "m"))?.[1];
  if (raw === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === "string" ? value : undefined;
  } catch {
    return raw;
  }
}

/**
 * The callback the rendered auth proxy sends the provider: oauth2-proxy's
 * `redirect_url` (its default `/oauth2/callback` when unset); oidc-authservice's
 * `REDIRECT_URL`, else its default `<AUTHSERVICE_URL_PREFIX>oidc/callback`
 * (`/authservice/oidc/callback`, as v1.7's parameters leave it).
 */
function proxyCallback(objects: KubeObject[]): ProxyCallback | undefined {
  const auth = recognize(objects).auth;
  if (auth?.kind === "oauth2-proxy") {
    const value = cfgString(auth.configText ?? "", "redirect_url");
    return value
      ? { value, source: "oauth2-proxy redirect_url" }
      : { value: "/oauth2/callback", source: "oauth2-proxy's default" };
  }
  if (auth?.kind !== "oidc-authservice") return undefined;
  const params = auth.parameters;
  const data =
    (objects.find((o) =>
      params && o.kind === "ConfigMap" && o.metadata.name === params.name &&
      o.metadata.namespace === params.namespace
    ) as { data?: Record<string, string> } | undefined)?.data ?? {};
  if (data.REDIRECT_URL) {
    return {
      value: data.REDIRECT_URL,
      source: "oidc-authservice REDIRECT_URL",
    };
  }
  const prefix = data.AUTHSERVICE_URL_PREFIX ?? "/authservice/";
  return {
    value: `${prefix.replace(/\/?$/, "/")}oidc/callback`,
    source:
      "oidc-authservice's default (AUTHSERVICE_URL_PREFIX + oidc/callback)",
  };
}

/**
 * With an external provider, the plan's info finding naming the redirect URI to
 * register for the client at the provider: the auth proxy's callback as rendered,
 * absolute on `ingress.domain` ({@linkcode domainUrls}) when that is set; without a
 * domain a relative callback is named with the host left to the user. Undefined with
 * Dex (kfplan registers the callback at Dex itself) or when no auth proxy is rendered.
 *
 * @example
 * ```ts
 * const finding = redirectUriFinding(options, rendered.objects);
 * // finding?.target: "https://kubeflow.example.com/oauth2/callback"
 * ```
 */
export function redirectUriFinding(
  o: KubeflowOptions,
  objects: KubeObject[],
): Finding | undefined {
  if (o.identity.provider !== "oidc") return undefined;
  const callback = proxyCallback(objects);
  if (!callback) return undefined;
  const absolute = /^https?:\/\//.test(callback.value);
  const domain = o.ingress.domain;
  const uri = absolute || !domain
    ? callback.value
    : domainUrls(domain, { tls: o.ingress.tls !== undefined })
      .authserviceCallback(callback.value);
  const client = `client "${o.identity.clientId}" at ${o.identity.issuer}`;
  if (absolute || domain) {
    return {
      check: "kubeflow.identity.redirect-uri",
      severity: "info",
      target: uri,
      seen:
        `register the redirect URI ${uri} for ${client} (${callback.source}` +
        `${domain ? `, on ingress.domain ${domain}` : ""})`,
    };
  }
  return {
    check: "kubeflow.identity.redirect-uri",
    severity: "info",
    target: uri,
    seen:
      `register the redirect URI <scheme>://<host>${uri} for ${client}, with the ` +
      `scheme and host users open Kubeflow at (${callback.source} is the relative ${uri}; ` +
      "set kubeflow.ingress.domain to make it one exact URI)",
  };
}

/**
 * The warning for a rendered Profile owned by the manifests' default user
 * `user@example.com`, whose Dex login kfplan removes: with Dex the fix is a password
 * for that user; with an external provider there is no Dex, so the owner must be
 * able to log in at the provider with that email.
 *
 * @example
 * ```ts
 * orphanedProfileWarning(options, "kubeflow-user-example-com");
 * ```
 */
export function orphanedProfileWarning(
  o: KubeflowOptions,
  profile: string,
): string {
  const exclude = `exclude it ({ kind: Profile, name: ${profile} })`;
  if (o.identity.provider === "oidc") {
    return `Profile ${profile} is owned by user@example.com, who has no Dex login ` +
      `(identity.provider oidc: Dex is not deployed); its owner must be able to log in ` +
      `at the external provider ${o.identity.issuer} as user@example.com ` +
      `(its ${o.identity.emailClaim} claim), or ${exclude}`;
  }
  return `Profile ${profile} is owned by user@example.com, whose login was removed; ` +
    `${exclude} or give that user a password`;
}

/** `key = value` in oauth2-proxy's TOML-like config: replaced in place, or appended. */
function setCfg(cfg: string, key: string, value: string): string {
  const line = `${key} = ${value}`;
  const re = new RegExp(`^${key}\\s*=.*$`, "m");
  return re.test(cfg)
    ? cfg.replace(re, line)
    : `${cfg.replace(/\n*$/, "\n")}${line}\n`;
}

function removeCfg(cfg: string, key: string): string {
  return cfg.replace(new RegExp(`^${key}\\s*=.*(\\r?\\n|$)`, "m"), "");
}

/**
 * Settings of oauth2-proxy's config that hard-wire Dex: discovery is skipped and the
 * login, redeem and JWKS URLs point at Dex; `prompt = "none"` works around a Dex
 * quirk. With an external provider they go, and the proxy discovers the provider's
 * endpoints from the issuer.
 */
const DEX_ONLY_CFG = [
  "skip_oidc_discovery",
  "login_url",
  "redeem_url",
  "oidc_jwks_url",
  "prompt",
];

/**
 * oauth2-proxy's `oauth2_proxy.cfg` for an external provider, from the manifests'
 * one: the issuer, scopes and claims set, the Dex-only settings removed, Dex's
 * `^/dex/` skip route dropped; everything else (comments included) as the tree has it.
 *
 * @example
 * ```ts
 * const cfg = externalOauth2ProxyConfig(treeCfg, identity);
 * ```
 */
export function externalOauth2ProxyConfig(
  baseConfig: string,
  identity: ExternalIdentity,
): string {
  // The tree's comment above says why discovery was skipped (for Dex): say why it is on.
  let cfg = baseConfig.replace(
    /^skip_oidc_discovery\s*=.*$/m,
    "# kfplan: identity.provider oidc: discovery on, endpoints from the issuer",
  );
  for (const key of DEX_ONLY_CFG) cfg = removeCfg(cfg, key);
  cfg = cfg.replace(/^\s*"\^\/dex\/",?[ \t]*\r?\n/m, "");
  cfg = setCfg(cfg, "oidc_issuer_url", JSON.stringify(identity.issuer));
  cfg = setCfg(cfg, "scope", JSON.stringify(identity.scopes.join(" ")));
  cfg = setCfg(cfg, "oidc_email_claim", JSON.stringify(identity.emailClaim));
  cfg = setCfg(cfg, "oidc_groups_claim", JSON.stringify(identity.groupsClaim));
  cfg = setCfg(
    cfg,
    "provider_display_name",
    JSON.stringify(new URL(identity.issuer).host),
  );
  return cfg;
}

/**
 * oauth2-proxy parameters for an external provider: its TLS certificate is verified
 * (the manifests skip verification, `ALLOW_SELF_SIGNED_ISSUER=true`, for an
 * in-cluster Dex; skipping it for a provider across the network would let anyone on
 * the path answer for it).
 */
export function externalOauth2ProxyParameters(): Record<string, string> {
  return { ALLOW_SELF_SIGNED_ISSUER: "false" };
}

/** oidc-authservice parameters for an external provider, and keys to remove. */
export interface AuthserviceParameters {
  /** Keys to set. */
  set: Record<string, string>;
  /** Keys to remove (a Dex-relative login URL when the provider's is unknown). */
  remove: string[];
}

/**
 * oidc-authservice's parameters for an external provider: `OIDC_PROVIDER`, the
 * absolute `OIDC_AUTH_URL` from discovery (removed when unknown, so authservice
 * discovers it instead of sending browsers to Dex's `/dex/auth`), `OIDC_SCOPES`,
 * `USERID_CLAIM` and `GROUPS_CLAIM`.
 */
export function externalAuthserviceParameters(
  keys: string[],
  identity: ExternalIdentity,
): AuthserviceParameters {
  const set: Record<string, string> = {
    OIDC_PROVIDER: identity.issuer,
    OIDC_SCOPES: identity.scopes.join(" "),
    USERID_CLAIM: identity.emailClaim,
    GROUPS_CLAIM: identity.groupsClaim,
  };
  const remove: string[] = [];
  if (identity.authorizationEndpoint) {
    set.OIDC_AUTH_URL = identity.authorizationEndpoint;
  } else if (keys.includes("OIDC_AUTH_URL")) {
    remove.push("OIDC_AUTH_URL");
  }
  return { set, remove };
}

/** A JSON patch operation. */
export interface JsonPatchOp {
  /** `add`, `replace` or `remove`. */
  op: "add" | "replace" | "remove";
  /** JSON pointer. */
  path: string;
  /** The value for `add` and `replace`. */
  value?: unknown;
}

/**
 * JSON patch of the RequestAuthentication rule that trusted Dex, so it trusts the
 * external issuer: `issuer`, `jwksUri` when discovered (without it istiod discovers
 * the keys from the issuer itself), and the claims behind the user and groups headers.
 */
export function externalJwtRuleOps(
  stack: Oauth2ProxyStack,
  identity: ExternalIdentity,
): JsonPatchOp[] {
  const base = `/spec/jwtRules/${stack.jwtRule}`;
  const ops: JsonPatchOp[] = [
    { op: "replace", path: `${base}/issuer`, value: identity.issuer },
  ];
  if (identity.jwksUri) {
    ops.push({ op: "add", path: `${base}/jwksUri`, value: identity.jwksUri });
  }
  const claims = stack.jwtClaims ?? [];
  claims.forEach((c, i) => {
    const claim = c.claim === "email"
      ? identity.emailClaim
      : c.claim === "groups"
      ? identity.groupsClaim
      : c.claim;
    if (claim !== c.claim) {
      ops.push({
        op: "replace",
        path: `${base}/outputClaimToHeaders/${i}/claim`,
        value: claim,
      });
    }
  });
  return ops;
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec?: {
    serviceAccountName?: string;
    volumes?: {
      configMap?: { name?: string };
      secret?: { secretName?: string };
    }[];
    containers?: PodContainer[];
    initContainers?: PodContainer[];
  };
}

interface PodContainer {
  env?: {
    valueFrom?: {
      secretKeyRef?: { name?: string };
      configMapKeyRef?: { name?: string };
    };
  }[];
  envFrom?: {
    configMapRef?: { name?: string };
    secretRef?: { name?: string };
  }[];
}

function template(o: KubeObject): PodTemplate | undefined {
  return (o.spec as { template?: PodTemplate } | undefined)?.template;
}

/** `Kind/name` of the ConfigMaps and Secrets a workload reads. */
function reads(o: KubeObject): Set<string> {
  const spec = template(o)?.spec;
  const out = new Set<string>();
  for (const v of spec?.volumes ?? []) {
    if (v.configMap?.name) out.add(`ConfigMap/${v.configMap.name}`);
    if (v.secret?.secretName) out.add(`Secret/${v.secret.secretName}`);
  }
  for (
    const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]
  ) {
    for (const e of c.envFrom ?? []) {
      if (e.configMapRef?.name) out.add(`ConfigMap/${e.configMapRef.name}`);
      if (e.secretRef?.name) out.add(`Secret/${e.secretRef.name}`);
    }
    for (const e of c.env ?? []) {
      const s = e.valueFrom?.secretKeyRef?.name;
      const m = e.valueFrom?.configMapKeyRef?.name;
      if (s) out.add(`Secret/${s}`);
      if (m) out.add(`ConfigMap/${m}`);
    }
  }
  return out;
}

function matches(
  selector: Record<string, string> | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The label selector an object applies to pods with, whatever its kind calls it. */
function podSelector(o: KubeObject): Record<string, string> | undefined {
  const spec = o.spec as {
    selector?:
      & { matchLabels?: Record<string, string> }
      & Record<string, unknown>;
    podSelector?: { matchLabels?: Record<string, string> };
    workloadSelector?: { labels?: Record<string, string> };
  } | undefined;
  if (o.kind === "Service") {
    return spec?.selector as Record<string, string> | undefined;
  }
  return spec?.selector?.matchLabels ?? spec?.podSelector?.matchLabels ??
    spec?.workloadSelector?.labels;
}

/** Destination hosts of a VirtualService's routes. */
function destinations(vs: KubeObject): string[] {
  const spec = vs.spec as
    | Record<string, { route?: { destination?: { host?: string } }[] }[]>
    | undefined;
  return ["http", "tcp", "tls"].flatMap((k) =>
    (spec?.[k] ?? []).flatMap((r) =>
      (r.route ?? []).map((d) => d.destination?.host ?? "")
    )
  );
}

/** `namespace/name` of the Service a mesh host names (`svc`, `svc.ns`, `svc.ns.svc.cluster.local`). */
function hostService(host: string, namespace: string | undefined): string {
  const [name, ns] = host.split(".");
  return `${ns ?? namespace ?? ""}/${name}`;
}

interface Binding {
  roleRef?: { kind?: string; name?: string };
  subjects?: { kind?: string; name?: string; namespace?: string }[];
}

/**
 * The rendered objects that are Dex's, recognized from the Dex Deployment (by its
 * image, see `recognize.ts`) and what refers to it:
 * - the ConfigMaps and Secrets it reads that no other workload reads;
 * - its ServiceAccount; Services, network policies, disruption budgets and Istio
 *   policies selecting its pods; VirtualServices routing only to those Services;
 * - (Cluster)RoleBindings whose only subject is its ServiceAccount, and the roles only
 *   those bindings use; CRDs of API groups only its roles grant and no other rendered
 *   object uses;
 * - its namespace, when nothing else would be left in it.
 *
 * @example
 * ```ts
 * const dex = dexObjects(objects); // [] when the render deploys no Dex
 * ```
 */
export function dexObjects(objects: KubeObject[]): KubeObject[] {
  const found = recognize(objects).dex;
  if (!found) return [];
  const deployment = objects.find((o) =>
    o.kind === "Deployment" && o.metadata.name === found.deployment.name &&
    o.metadata.namespace === found.deployment.namespace
  );
  if (!deployment) return [];
  const ns = deployment.metadata.namespace;
  const picked = new Set<KubeObject>([deployment]);
  const inNs = (o: KubeObject) => o.metadata.namespace === ns;
  const others = objects.filter((o) =>
    o !== deployment && template(o)?.spec !== undefined && inNs(o)
  );
  const readByOthers = new Set(others.flatMap((o) => [...reads(o)]));
  for (const key of reads(deployment)) {
    if (readByOthers.has(key)) continue;
    const [kind, name] = key.split("/");
    for (const o of objects) {
      if (o.kind === kind && o.metadata.name === name && inNs(o)) picked.add(o);
    }
  }
  const sa = template(deployment)?.spec?.serviceAccountName ?? "default";
  const account = objects.find((o) =>
    o.kind === "ServiceAccount" && o.metadata.name === sa && inNs(o)
  );
  if (account && sa !== "default") picked.add(account);
  const labels = template(deployment)?.metadata?.labels ?? {};
  const services = new Set<string>();
  for (const o of objects) {
    if (!inNs(o) || o === deployment) continue;
    if (matches(podSelector(o), labels)) {
      picked.add(o);
      if (o.kind === "Service") services.add(`${ns}/${o.metadata.name}`);
    }
  }
  for (const vs of objects.filter((o) => o.kind === "VirtualService")) {
    const hosts = destinations(vs);
    if (
      hosts.length > 0 &&
      hosts.every((h) => services.has(hostService(h, vs.metadata.namespace)))
    ) picked.add(vs);
  }
  const roles = new Set<string>();
  const otherRoles = new Set<string>();
  for (const b of objects.filter((o) => /RoleBinding$/.test(o.kind))) {
    const binding = b as unknown as Binding;
    const role = `${binding.roleRef?.kind}/${
      binding.roleRef?.kind === "Role" ? b.metadata.namespace : ""
    }/${binding.roleRef?.name}`;
    const subjects = binding.subjects ?? [];
    const onlyDex = account !== undefined && subjects.length > 0 &&
      subjects.every((s) =>
        s.kind === "ServiceAccount" && s.name === sa &&
        (s.namespace ?? b.metadata.namespace) === ns
      );
    if (onlyDex) {
      picked.add(b);
      roles.add(role);
    } else otherRoles.add(role);
  }
  const groups = new Set<string>();
  for (const r of objects.filter((o) => /^(Cluster)?Role$/.test(o.kind))) {
    const key = `${r.kind}/${
      r.kind === "Role" ? r.metadata.namespace : ""
    }/${r.metadata.name}`;
    if (!roles.has(key) || otherRoles.has(key)) continue;
    picked.add(r);
    for (
      const rule of (r as { rules?: { apiGroups?: string[] }[] }).rules ?? []
    ) {
      for (const g of rule.apiGroups ?? []) groups.add(g);
    }
  }
  const usedGroups = new Set(
    objects.filter((o) => !picked.has(o)).map((o) =>
      o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : ""
    ),
  );
  for (const crd of objects) {
    const group = (crd.spec as { group?: string } | undefined)?.group;
    if (
      crd.kind === "CustomResourceDefinition" && group && groups.has(group) &&
      !usedGroups.has(group)
    ) picked.add(crd);
  }
  const left = objects.filter((o) => inNs(o) && !picked.has(o));
  if (ns && left.length === 0) {
    const namespace = objects.find((o) =>
      o.kind === "Namespace" && o.metadata.name === ns
    );
    if (namespace) picked.add(namespace);
  }
  return objects.filter((o) => picked.has(o));
}

/** The render split into what stays and the Dex objects left out. */
export interface WithoutDex {
  /** Objects to apply. */
  objects: KubeObject[];
  /** Dex's objects, not deployed with an external provider. */
  dropped: KubeObject[];
  /** One line for the plan naming what was left out. */
  summary?: string;
}

/**
 * Leaves Dex out of a render when the options choose an external provider; with Dex,
 * returns the objects unchanged.
 */
export function withoutDex(
  objects: KubeObject[],
  o: KubeflowOptions,
): WithoutDex {
  if (o.identity.provider !== "oidc") return { objects, dropped: [] };
  const dropped = new Set(dexObjects(objects));
  if (dropped.size === 0) return { objects, dropped: [] };
  const list = objects.filter((x) => dropped.has(x));
  return {
    objects: objects.filter((x) => !dropped.has(x)),
    dropped: list,
    summary:
      `identity.provider oidc: Dex is not deployed; left out ${list.length} object(s) ` +
      `recognized as Dex's (pruned where a previous apply created them): ${
        list.map((x) => objectName(refOf(x))).join(", ")
      }`,
  };
}
