/**
 * The public domain of a Kubeflow installation (`kubeflow.ingress.domain`) and every
 * URL derived from it: the default Dex issuer, the auth proxies' callbacks, Dex's
 * connector callback and the cookie domain. One function,
 * {@linkcode domainUrls}, derives them all, so Dex, the auth proxy, the Gateway and
 * an external identity provider's settings cannot disagree on a host or a scheme.
 *
 * Pure: no imports from the options module (which calls {@linkcode domainIssues}).
 *
 * @module
 */

/** Why a value is not a DNS name, or undefined when it is one. */
export function dnsNameProblem(value: string): string | undefined {
  if (value.length === 0) return "is empty";
  if (value.length > 253) return `is ${value.length} characters (at most 253)`;
  if (/[A-Z]/.test(value)) {
    return "has upper-case letters (write it lower-case)";
  }
  if (value.endsWith(".")) return "ends with a dot (leave the root dot out)";
  if (/:\/\/|\//.test(value)) {
    return "is a URL or path; give the host name alone, e.g. kubeflow.example.com";
  }
  if (/:/.test(value)) return "has a port; give the host name alone";
  if (/^\d+(\.\d+){3}$/.test(value)) {
    return "is an IP address; a certificate and cookies need a DNS name";
  }
  const labels = value.split(".");
  if (labels.length < 2) {
    return "is a single label; give a fully qualified name such as kubeflow.example.com";
  }
  for (const label of labels) {
    if (label === "*") {
      return "has a wildcard; give the one host Kubeflow answers on";
    }
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) {
      return `has the label "${label}": labels are 1 to 63 letters, digits or dashes, ` +
        "not starting or ending with a dash";
    }
  }
  if (/^\d+$/.test(labels[labels.length - 1])) {
    return "ends in a numeric label (not a DNS name)";
  }
  return undefined;
}

/** Options for {@linkcode domainUrls}. */
export interface DomainUrlOptions {
  /** Whether the gateway serves HTTPS for the domain (`ingress.tls` set). */
  tls: boolean;
}

/** The URLs a domain implies. */
export interface DomainUrls {
  /** The host, e.g. `kubeflow.example.com`. */
  domain: string;
  /** `https://<domain>` (or `http://` without TLS). */
  origin: string;
  /** The default Dex issuer: `<origin>/dex`. */
  issuer: string;
  /** Dex's callback for its connectors (upstream identity providers): `<origin>/dex/callback`. */
  dexCallback: string;
  /** oauth2-proxy's redirect URL (v1.9 on): `<origin>/oauth2/callback`. */
  oauth2ProxyCallback: string;
  /**
   * oidc-authservice's redirect URL for a callback path the tree has
   * (`/login/oidc` up to v1.6, `/authservice/oidc/callback` in v1.7).
   */
  authserviceCallback: (path: string) => string;
  /** Cookie domain for the auth proxy. */
  cookieDomain: string;
  /** Whether cookies must be `Secure`. */
  secureCookies: boolean;
}

/**
 * Every URL derived from the domain. H6's external identity provider reads the
 * callbacks from here too, so all of them agree on host and scheme.
 *
 * @example
 * ```ts
 * const urls = domainUrls("kubeflow.example.com", { tls: true });
 * urls.issuer; // "https://kubeflow.example.com/dex"
 * urls.oauth2ProxyCallback; // "https://kubeflow.example.com/oauth2/callback"
 * ```
 */
export function domainUrls(
  domain: string,
  options: DomainUrlOptions,
): DomainUrls {
  const origin = `${options.tls ? "https" : "http"}://${domain}`;
  return {
    domain,
    origin,
    issuer: `${origin}/dex`,
    dexCallback: `${origin}/dex/callback`,
    oauth2ProxyCallback: `${origin}/oauth2/callback`,
    authserviceCallback: (path: string) =>
      /^https?:\/\//.test(path)
        ? path
        : `${origin}${path.startsWith("/") ? "" : "/"}${path}`,
    cookieDomain: domain,
    secureCookies: options.tls,
  };
}

/** A URL option the domain constrains. */
export interface DomainField {
  /** The option path, e.g. `["dex", "issuer"]`. */
  path: (string | number)[];
  /** Its value: an absolute URL (relative paths are not checked). */
  url: string;
}

/** An issue {@linkcode domainIssues} found. */
export interface DomainIssue {
  /** Option path of the offending field. */
  path: (string | number)[];
  /** What is wrong and what would be valid, naming both fields. */
  message: string;
}

/** Input of {@linkcode domainIssues}. */
export interface DomainCheckInput {
  /** `ingress.domain`, when set. */
  domain?: string;
  /** Whether `ingress.tls` is set. */
  tls: boolean;
  /** The URL options to check against the domain. */
  fields: DomainField[];
}

function dotted(path: (string | number)[]): string {
  return path.map((p, i) =>
    typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${p}`
  ).join("");
}

/**
 * Cross-checks URL options against the domain: each must be on the domain's host,
 * and with TLS on each must be https. Relative URLs are fine (the browser resolves
 * them against the host it is on).
 *
 * @example
 * ```ts
 * domainIssues({
 *   domain: "kubeflow.example.com",
 *   tls: true,
 *   fields: [{ path: ["dex", "issuer"], url: "https://login.example.org/dex" }],
 * }); // [{ path: ["dex", "issuer"], message: "... differs from ingress.domain ..." }]
 * ```
 */
export function domainIssues(input: DomainCheckInput): DomainIssue[] {
  const issues: DomainIssue[] = [];
  for (const field of input.fields) {
    let url: URL;
    try {
      url = new URL(field.url);
    } catch {
      continue;
    }
    const name = dotted(field.path);
    if (input.domain !== undefined && url.hostname !== input.domain) {
      issues.push({
        path: field.path,
        message:
          `${name} "${field.url}" is on host ${url.hostname}, which differs from ` +
          `ingress.domain "${input.domain}": browsers reach Kubeflow on ${input.domain}, ` +
          `so use ${
            input.tls ? "https" : "http"
          }://${input.domain}${url.pathname} (or leave ${name} out to derive it)`,
      });
      continue;
    }
    if (input.tls && url.protocol === "http:") {
      issues.push({
        path: field.path,
        message:
          `${name} "${field.url}" is plain http but ingress.tls is on: ` +
          `use https://${url.host}${url.pathname}`,
      });
    }
  }
  return issues;
}

/** Input of {@linkcode authCallback}. */
export interface AuthCallbackInput {
  /** `ingress.domain`, when set. */
  domain?: string;
  /** Whether `ingress.tls` is set. */
  tls: boolean;
  /** The auth proxy the render deploys. */
  auth?: "oauth2-proxy" | "oidc-authservice";
  /** A redirect URL the user gave (`authservice.redirectUrl`). */
  configured?: string;
  /** The callback the tree's Dex client has (`/oauth2/callback`, `/login/oidc`, ...). */
  treeCallback?: string;
}

/**
 * The auth proxy's OAuth2 callback, as Dex's client and the proxy must both have
 * it: the one given, else the tree's, else the proxy's usual path; absolute on the
 * domain when there is one (Dex compares redirect URIs byte for byte).
 *
 * @example
 * ```ts
 * authCallback({ domain: "kf.example.com", tls: true, auth: "oauth2-proxy" });
 * // "https://kf.example.com/oauth2/callback"
 * ```
 */
export function authCallback(input: AuthCallbackInput): string {
  const path = input.configured ?? input.treeCallback ??
    (input.auth === "oauth2-proxy" ? "/oauth2/callback" : "/login/oidc");
  if (!input.domain) return path;
  return domainUrls(input.domain, { tls: input.tls }).authserviceCallback(path);
}

/** Sets `key = value` in an `oauth2_proxy.cfg` (TOML-like), replacing an existing line. */
function setCfg(cfg: string, key: string, value: unknown): string {
  const line = `${key} = ${JSON.stringify(value)}`;
  const re = new RegExp(`^${key}\\s*=.*$`, "m");
  return re.test(cfg)
    ? cfg.replace(re, line)
    : `${cfg.replace(/\n?$/, "\n")}${line}\n`;
}

/**
 * oauth2-proxy's settings for the domain: the absolute callback Dex has, the cookie
 * domain, `Secure` cookies with TLS, and redirects after login only to the domain.
 *
 * @example
 * ```ts
 * const cfg = oauth2ProxyDomainConfig(baseCfg, domainUrls("kf.example.com", { tls: true }));
 * ```
 */
export function oauth2ProxyDomainConfig(cfg: string, urls: DomainUrls): string {
  let out = setCfg(cfg, "redirect_url", urls.oauth2ProxyCallback);
  out = setCfg(out, "relative_redirect_url", false);
  out = setCfg(out, "cookie_domains", [urls.cookieDomain]);
  out = setCfg(out, "whitelist_domains", [urls.cookieDomain]);
  out = setCfg(out, "cookie_secure", urls.secureCookies);
  return out;
}
