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
): string[] {
  const recognized = recognize(objects);
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
