/**
 * Cross-checks on the rendered objects, before anything is applied: the issuer is
 * the same in Dex, the auth proxy and RequestAuthentication `dex-jwt`; the client id
 * and secret the proxy presents match Dex's client; the proxy's redirect URI is one
 * Dex allows. Messages name objects and fields, never secret values.
 *
 * @module
 */

import { parseYaml as parse } from "../../deps.ts";
import type { KubeObject } from "../../kube/types.ts";
import { type Recognition, recognize } from "./recognize.ts";
import type { AuthStack } from "./version.ts";

/** The parts of Dex's `config.yaml` the cross-checks read. */
interface DexConfigFields {
  issuer?: string;
  staticClients?: { redirectURIs?: string[] }[];
}

/** The issuers of a RequestAuthentication's `jwtRules`. */
function jwtIssuers(ra: KubeObject | undefined): (string | undefined)[] {
  const rules = (ra?.spec as { jwtRules?: { issuer?: string }[] } | undefined)
    ?.jwtRules ?? [];
  return rules.map((r) => r.issuer);
}

function decodeSecret(
  object: KubeObject | undefined,
  key: string,
): string | undefined {
  if (!object) return undefined;
  const stringData = object.stringData as Record<string, string> | undefined;
  if (stringData && key in stringData) return stringData[key];
  const data = object.data as Record<string, string> | undefined;
  if (data && key in data) {
    return new TextDecoder().decode(
      Uint8Array.from(atob(data[key]), (c) => c.charCodeAt(0)),
    );
  }
  return undefined;
}

function find(
  objects: KubeObject[],
  kind: string,
  namespace: string,
  match: (o: KubeObject) => boolean,
): KubeObject | undefined {
  return objects.find((o) =>
    o.kind === kind && o.metadata.namespace === namespace && match(o)
  );
}

function cfgValue(cfg: string, key: string): string | undefined {
  const m = cfg.match(new RegExp(`^${key}\\s*=\\s*"?([^"\\n]*)"?\\s*$`, "m"));
  return m?.[1];
}

/** Options for {@linkcode crossCheckAuth}. */
export interface CrossCheckOptions {
  /** The issuer the options ask for (`identity.issuer`, or `dex.issuer`). */
  issuer?: string;
  /**
   * An external identity provider replaces Dex: the proxy and RequestAuthentication
   * are checked against `issuer` and this client id instead of Dex's config.
   */
  external?: { clientId: string };
}

/**
 * Returns one message per inconsistency; empty when the auth settings agree.
 *
 * @example
 * ```ts
 * const problems = crossCheckAuth(objects, "oauth2-proxy");
 * if (problems.length) throw new Error(problems.join("\n"));
 * ```
 */
export function crossCheckAuth(
  objects: KubeObject[],
  auth: AuthStack,
  options: CrossCheckOptions = {},
): string[] {
  const recognized = recognize(objects);
  if (options.external && options.issuer) {
    return checkExternal(objects, auth, recognized, {
      issuer: options.issuer,
      clientId: options.external.clientId,
    });
  }
  const dexRef = recognized.dex;
  const dexConfigText = dexRef?.configText;
  if (!dexConfigText) return ["the rendered tree has no Dex config"];
  const dex = parse(dexConfigText) as DexConfigFields | null;
  const issuer: string | undefined = dex?.issuer;
  const redirectURIs: string[] = dex?.staticClients?.[0]?.redirectURIs ?? [];
  const dexClient = dexRef?.clientSecret
    ? find(
      objects,
      "Secret",
      dexRef.clientSecret.namespace ?? "",
      (o) => o.metadata.name === dexRef.clientSecret?.name,
    )
    : undefined;
  const client: DexClient = {
    config: `ConfigMap ${dexRef.config.namespace}/${dexRef.config.name}`,
    secretName: dexRef.clientSecret
      ? `Secret ${dexRef.clientSecret.namespace}/${dexRef.clientSecret.name}`
      : "Dex's client Secret",
    issuer,
    redirectURIs,
    id: decodeSecret(dexClient, "OIDC_CLIENT_ID"),
    secret: decodeSecret(dexClient, "OIDC_CLIENT_SECRET"),
  };
  return auth === "oauth2-proxy"
    ? checkOauth2Proxy(objects, client, recognized.auth)
    : checkAuthservice(objects, client);
}

/**
 * The proxy and RequestAuthentication against an external provider: its issuer and
 * client id, and no setting left pointing at Dex (whose objects are not deployed).
 */
function checkExternal(
  objects: KubeObject[],
  auth: AuthStack,
  recognized: Recognition,
  want: { issuer: string; clientId: string },
): string[] {
  const problems: string[] = [];
  const issuer = JSON.stringify(want.issuer);
  const dexUrl = (value: string | undefined) =>
    value !== undefined && value !== "" && !value.startsWith(
      new URL(want.issuer).origin,
    );
  if (auth === "oauth2-proxy") {
    const proxy = recognized.auth?.kind === "oauth2-proxy"
      ? recognized.auth
      : undefined;
    const ns = proxy?.deployment.namespace ?? "oauth2-proxy";
    const cm = find(
      objects,
      "ConfigMap",
      ns,
      (o) =>
        typeof (o.data as Record<string, string> | undefined)
          ?.["oauth2_proxy.cfg"] === "string",
    );
    const cfg =
      (cm?.data as Record<string, string> | undefined)?.["oauth2_proxy.cfg"] ??
        "";
    const where = `ConfigMap ${ns}/${cm?.metadata.name ?? "oauth2-proxy"}`;
    const proxyIssuer = cfgValue(cfg, "oidc_issuer_url");
    if (proxyIssuer !== want.issuer) {
      problems.push(
        `issuer mismatch: ${where} oidc_issuer_url is ${
          JSON.stringify(proxyIssuer)
        } but identity.issuer is ${issuer}`,
      );
    }
    for (const key of ["login_url", "redeem_url", "oidc_jwks_url"]) {
      const value = cfgValue(cfg, key);
      if (dexUrl(value) && cfgValue(cfg, "skip_oidc_discovery") === "true") {
        problems.push(
          `${where} ${key} is ${
            JSON.stringify(value)
          }, not on the provider ${issuer}, with discovery skipped`,
        );
      }
    }
    const ra = objects.find((o) =>
      o.kind === "RequestAuthentication" && jwtIssuers(o).length > 0 &&
      o.metadata.namespace === "istio-system" && /jwt/.test(o.metadata.name)
    );
    if (ra && !jwtIssuers(ra).includes(want.issuer)) {
      problems.push(
        `issuer mismatch: RequestAuthentication istio-system/${ra.metadata.name} jwtRules issuers ${
          JSON.stringify(jwtIssuers(ra))
        } do not include identity.issuer ${issuer}`,
      );
    }
    const secret = find(
      objects,
      "Secret",
      ns,
      (o) => decodeSecret(o, "client-secret") !== undefined,
    );
    if (decodeSecret(secret, "client-id") !== want.clientId) {
      problems.push(
        `client id mismatch: Secret ${ns}/${
          secret?.metadata.name ?? "oauth2-proxy"
        } client-id differs from identity.clientId`,
      );
    }
    return problems;
  }
  const params = objects.find((o) =>
    o.kind === "ConfigMap" &&
    "OIDC_PROVIDER" in ((o.data as Record<string, string>) ?? {})
  );
  const data = (params?.data ?? {}) as Record<string, string>;
  const where =
    `ConfigMap ${params?.metadata.namespace}/${params?.metadata.name}`;
  if (data.OIDC_PROVIDER !== want.issuer) {
    problems.push(
      `issuer mismatch: ${where} OIDC_PROVIDER is ${
        JSON.stringify(data.OIDC_PROVIDER)
      } but identity.issuer is ${issuer}`,
    );
  }
  if (data.OIDC_AUTH_URL !== undefined && dexUrl(data.OIDC_AUTH_URL)) {
    problems.push(
      `${where} OIDC_AUTH_URL is ${
        JSON.stringify(data.OIDC_AUTH_URL)
      }, not on the provider ${issuer}`,
    );
  }
  const secret = objects.find((o) =>
    o.kind === "Secret" && decodeSecret(o, "CLIENT_SECRET") !== undefined
  );
  if (decodeSecret(secret, "CLIENT_ID") !== want.clientId) {
    problems.push(
      `client id mismatch: Secret ${secret?.metadata.namespace}/${secret?.metadata.name} CLIENT_ID differs from identity.clientId`,
    );
  }
  return problems;
}

/** What Dex says about the OAuth2 client, for the proxy's settings to agree with. */
interface DexClient {
  /** `ConfigMap ns/name` of Dex's config, for messages. */
  config: string;
  /** `Secret ns/name` of Dex's client Secret, for messages. */
  secretName: string;
  issuer?: string;
  redirectURIs: string[];
  id?: string;
  secret?: string;
}

/** oauth2-proxy's issuer, JWT issuer, client id/secret and redirect URL against Dex's. */
function checkOauth2Proxy(
  objects: KubeObject[],
  client: DexClient,
  stack: Recognition["auth"],
): string[] {
  const problems: string[] = [];
  const proxy = stack?.kind === "oauth2-proxy" ? stack : undefined;
  const ns = proxy?.deployment.namespace ?? "oauth2-proxy";
  const cm = find(
    objects,
    "ConfigMap",
    ns,
    (o) =>
      proxy?.config
        ? o.metadata.name === proxy.config.name
        : typeof (o.data as Record<string, string> | undefined)
          ?.["oauth2_proxy.cfg"] === "string",
  );
  const cfg =
    (cm?.data as Record<string, string> | undefined)?.["oauth2_proxy.cfg"] ??
      "";
  const proxyIssuer = cfgValue(cfg, "oidc_issuer_url");
  if (proxyIssuer !== client.issuer) {
    problems.push(
      `issuer mismatch: ConfigMap ${ns}/${
        cm?.metadata.name ?? "oauth2-proxy"
      } oidc_issuer_url is ` +
        `${JSON.stringify(proxyIssuer)} but Dex (${client.config}) issuer is ${
          JSON.stringify(client.issuer)
        }`,
    );
  }
  const ra = objects.find((o) =>
    o.kind === "RequestAuthentication" &&
    jwtIssuers(o).length > 0 &&
    o.metadata.namespace === "istio-system" &&
    /jwt/.test(o.metadata.name)
  );
  const raIssuers = jwtIssuers(ra);
  if (ra && !raIssuers.includes(client.issuer ?? "")) {
    problems.push(
      `issuer mismatch: RequestAuthentication istio-system/${ra.metadata.name} jwtRules issuers ${
        JSON.stringify(raIssuers)
      } ` +
        `do not include the Dex issuer ${JSON.stringify(client.issuer)}`,
    );
  }
  const secret = find(
    objects,
    "Secret",
    ns,
    (o) =>
      proxy?.secret
        ? o.metadata.name === proxy.secret.name
        : decodeSecret(o, "client-secret") !== undefined,
  );
  if (decodeSecret(secret, "client-secret") !== client.secret) {
    problems.push(
      `client secret mismatch: Secret ${ns}/${
        secret?.metadata.name ?? "oauth2-proxy"
      } client-secret ` +
        `differs from ${client.secretName} OIDC_CLIENT_SECRET`,
    );
  }
  if (decodeSecret(secret, "client-id") !== client.id) {
    problems.push(
      `client id mismatch: Secret ${ns}/${
        secret?.metadata.name ?? "oauth2-proxy"
      } client-id ` +
        `differs from ${client.secretName} OIDC_CLIENT_ID`,
    );
  }
  const redirect = cfgValue(cfg, "redirect_url");
  if (redirect && !client.redirectURIs.includes(redirect)) {
    problems.push(
      `redirect URI mismatch: oauth2-proxy redirect_url ${
        JSON.stringify(redirect)
      } is not in Dex ` +
        `staticClients[0].redirectURIs ${JSON.stringify(client.redirectURIs)}`,
    );
  }
  return problems;
}

/** oidc-authservice's issuer, client id/secret and redirect URL against Dex's. */
function checkAuthservice(objects: KubeObject[], client: DexClient): string[] {
  const problems: string[] = [];
  const params = objects.find((o) =>
    o.kind === "ConfigMap" &&
    "OIDC_PROVIDER" in ((o.data as Record<string, string>) ?? {})
  );
  const data = (params?.data ?? {}) as Record<string, string>;
  if (data.OIDC_PROVIDER !== client.issuer) {
    problems.push(
      `issuer mismatch: ConfigMap istio-system/oidc-authservice-parameters OIDC_PROVIDER is ` +
        `${JSON.stringify(data.OIDC_PROVIDER)} but Dex issuer is ${
          JSON.stringify(client.issuer)
        }`,
    );
  }
  const secret = objects.find((o) =>
    o.kind === "Secret" && decodeSecret(o, "CLIENT_SECRET") !== undefined
  );
  if (decodeSecret(secret, "CLIENT_SECRET") !== client.secret) {
    problems.push(
      "client secret mismatch: Secret istio-system/oidc-authservice-client CLIENT_SECRET differs from " +
        `${client.secretName} OIDC_CLIENT_SECRET`,
    );
  }
  if (decodeSecret(secret, "CLIENT_ID") !== client.id) {
    problems.push(
      "client id mismatch: Secret istio-system/oidc-authservice-client CLIENT_ID differs from " +
        `${client.secretName} OIDC_CLIENT_ID`,
    );
  }
  if (data.REDIRECT_URL && !client.redirectURIs.includes(data.REDIRECT_URL)) {
    problems.push(
      `redirect URI mismatch: oidc-authservice REDIRECT_URL ${
        JSON.stringify(data.REDIRECT_URL)
      } is not in ` +
        `Dex staticClients[0].redirectURIs ${
          JSON.stringify(client.redirectURIs)
        }`,
    );
  }
  return problems;
}
