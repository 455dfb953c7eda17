/**
 * Plan-time OpenID Connect discovery of an external identity provider: fetches
 * `<issuer>/.well-known/openid-configuration` with a bounded timeout, checks that the
 * document's `issuer` equals the configured one byte for byte (oauth2-proxy,
 * oidc-authservice and Istio all compare it with the tokens' `iss` claim), and that
 * its `jwks_uri` serves a JWKS with at least one key.
 *
 * A provider that answers wrongly is an error naming `kubeflow.identity.issuer`; one
 * that cannot be reached from where kfplan runs (a firewall, a provider only the
 * cluster can reach, an offline plan) is a finding, not an error: the cluster may
 * well reach it.
 *
 * @module
 */

import { OptionsError } from "../../engine/options.ts";
import type { Finding } from "../../engine/types.ts";

/** The discovery document fields kfplan uses. */
export interface OidcProviderMetadata {
  /** The provider's issuer, as it signs tokens (`iss`). */
  issuer: string;
  /** Where its signing keys are. */
  jwks_uri: string;
  /** The browser login endpoint (oidc-authservice's `OIDC_AUTH_URL`). */
  authorization_endpoint?: string;
  /** The code-for-token endpoint. */
  token_endpoint?: string;
  /** The logout endpoint, when the provider has one. */
  end_session_endpoint?: string;
}

/** What discovery found: the document and the number of keys, or why it could not look. */
export type DiscoveryResult =
  | {
    /** The provider answered and is consistent. */
    status: "ok";
    /** Its discovery document. */
    metadata: OidcProviderMetadata;
    /** Keys in its JWKS. */
    keys: number;
  }
  | {
    /** The provider could not be reached (or planning is offline). */
    status: "unreachable";
    /** What happened, e.g. `connection refused` or `timed out after 5 s`. */
    reason: string;
    /** The finding for the plan (severity warning, with the fix). */
    finding: Finding;
  };

/** Options for {@linkcode discoverIssuer}. */
export interface DiscoverOptions {
  /** Bound of each request; default 5000 ms. */
  timeoutMs?: number;
  /** Aborts the requests (the plan was cancelled). */
  signal?: AbortSignal;
  /** Option path named in errors; default `kubeflow.identity.issuer`. */
  field?: string;
  /** Don't fetch: planning offline. The result is `unreachable` with a finding. */
  offline?: boolean;
}

/** The URL of an issuer's discovery document (OpenID Connect Discovery 1.0, section 4). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
}

/** A network failure, as opposed to a provider answering wrongly. */
class Unreachable extends Error {}

async function getJson(
  url: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ status: number; body: unknown; text: string }> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      signal: combined,
      headers: { accept: "application/json" },
      redirect: "follow",
    });
    text = await response.text();
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new Unreachable(
      timeout.aborted
        ? `timed out after ${timeoutMs / 1000} s`
        : (e as Error).message.split("\n")[0],
    );
  }
  let body: unknown = undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text };
}

function unreachable(
  issuer: string,
  reason: string,
  what: string,
): DiscoveryResult {
  return {
    status: "unreachable",
    reason,
    finding: {
      check: "kubeflow.identity.discovery",
      severity: "warning",
      target: issuer,
      seen: `${what}: ${reason}; the issuer and its keys were not checked`,
      fix:
        "plan from a machine that reaches the provider to have kfplan check it; the cluster (oauth2-proxy or " +
        "authservice, and istiod for RequestAuthentication) must reach it in any case",
    },
  };
}

function fail(field: string, message: string): never {
  throw new OptionsError([{ path: field, message }]);
}

/**
 * Fetches and checks an issuer's discovery document and JWKS. Throws
 * {@linkcode OptionsError} naming `field` when the provider answers but disagrees
 * (another issuer, no `jwks_uri`, a JWKS without keys, not JSON); returns an
 * `unreachable` result with a finding when it cannot be reached.
 *
 * @example
 * ```ts
 * const found = await discoverIssuer("https://login.example.com/realms/kubeflow");
 * if (found.status === "ok") console.log(found.metadata.jwks_uri, found.keys);
 * else console.log(found.finding.seen);
 * ```
 */
export async function discoverIssuer(
  issuer: string,
  options: DiscoverOptions = {},
): Promise<DiscoveryResult> {
  const field = options.field ?? "kubeflow.identity.issuer";
  const url = discoveryUrl(issuer);
  if (options.offline) {
    return unreachable(issuer, "planning offline", `${url} not fetched`);
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  let doc: { status: number; body: unknown; text: string };
  try {
    doc = await getJson(url, timeoutMs, options.signal);
  } catch (e) {
    if (e instanceof Unreachable) {
      return unreachable(issuer, e.message, `${url} unreachable`);
    }
    throw e;
  }
  if (doc.status >= 500) {
    return unreachable(issuer, `HTTP ${doc.status}`, `${url} answered`);
  }
  if (doc.status !== 200) {
    fail(
      field,
      `${url} answered HTTP ${doc.status}: ${issuer} serves no OpenID configuration; ` +
        "give the issuer exactly as the provider names it (e.g. Keycloak's https://<host>/realms/<realm>)",
    );
  }
  const meta = doc.body as Partial<OidcProviderMetadata> | undefined;
  if (!meta || typeof meta !== "object" || Array.isArray(meta)) {
    fail(field, `${url} is not a JSON object: not an OpenID configuration`);
  }
  if (meta.issuer !== issuer) {
    fail(
      field,
      `issuer mismatch: kubeflow.identity.issuer is ${
        JSON.stringify(issuer)
      } but ${url} says issuer ${JSON.stringify(meta.issuer)}; ` +
        "tokens carry the provider's value, so set identity.issuer to it exactly (trailing slash included)",
    );
  }
  if (typeof meta.jwks_uri !== "string" || meta.jwks_uri === "") {
    fail(
      field,
      `${url} has no jwks_uri: without the provider's keys neither the auth proxy nor Istio can verify its tokens`,
    );
  }
  let jwks: { status: number; body: unknown; text: string };
  try {
    jwks = await getJson(meta.jwks_uri, timeoutMs, options.signal);
  } catch (e) {
    if (e instanceof Unreachable) {
      return unreachable(issuer, e.message, `jwks_uri ${meta.jwks_uri}`);
    }
    throw e;
  }
  if (jwks.status >= 500) {
    return unreachable(
      issuer,
      `HTTP ${jwks.status}`,
      `jwks_uri ${meta.jwks_uri} answered`,
    );
  }
  const keys = (jwks.body as { keys?: unknown } | undefined)?.keys;
  if (jwks.status !== 200 || !Array.isArray(keys) || keys.length === 0) {
    fail(
      field,
      `jwks_uri ${meta.jwks_uri} (from ${url}) ${
        jwks.status !== 200
          ? `answered HTTP ${jwks.status}`
          : "serves no JWKS with keys"
      }: tokens of ${issuer} could not be verified`,
    );
  }
  return {
    status: "ok",
    metadata: meta as OidcProviderMetadata,
    keys: keys.length,
  };
}
