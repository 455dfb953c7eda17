/**
 * Renders Dex's `config.yaml` from the manifests' own config and kfplan's settings:
 * issuer, static users (bcrypt hashes, never clear text), connectors (secrets through
 * environment variables), the OAuth2 client shared with the auth proxy.
 *
 * ## Stable hashes
 * bcrypt hashes are salted, so hashing the same password twice gives two different
 * hashes, and a naive renderer would show the Dex config as changed on every plan
 * (and restart Dex on every apply). kfplan avoids that in two ways:
 * 1. when the live Dex config holds a hash for the same email that still matches the
 *    password (`bcrypt.compare`), that hash is reused as is;
 * 2. otherwise the salt is derived from the issuer and the email (sha256), so the same
 *    password for the same user of the same installation hashes the same on every
 *    render. The salt is still unique per user and per installation, which is what a
 *    salt is for (no shared precomputed tables); it never depends on the password.
 *
 * @module
 */

import { bcrypt } from "../../deps.ts";
import { parseYaml as parse, stringifyYaml as stringify } from "../../deps.ts";
import { OptionsError } from "../../engine/options.ts";
import type { Connector, KubeflowOptions } from "./options.ts";

/** Dex's manifests default user, replaced unless `keepDefaultUser` is set. */
export const DEFAULT_USER_EMAIL = "user@example.com";

/** bcrypt cost kfplan hashes with. */
export const BCRYPT_COST = 12;

/** Name of the Secret (namespace `auth`) holding connector client secrets. */
export const CONNECTOR_SECRET_NAME = "kfplan-dex-connectors";

/** A static user with its password resolved (plaintext stays in memory only). */
export interface ResolvedUser {
  /** Login email; also keys hash reuse and seeds the derived salt and `userID`. */
  email: string;
  /** Name Dex shows after login; default the email's local part. */
  username?: string;
  /** Dex `userID`; default {@linkcode deriveUserId} of the email, so it is stable across plans. */
  userID?: string;
  /** Plain password to hash, or undefined when `hash` is given. */
  password?: string;
  /** An existing bcrypt hash (cost 10..16), written as is; given instead of `password`. */
  hash?: string;
}

/** Input of {@linkcode renderDexConfig}. */
export interface DexRenderInput {
  /** The manifests' `config.yaml` text. */
  baseConfig: string;
  /** The validated `dex` options: issuer, connectors, `keepDefaultUser`, `enablePasswordDB`. */
  dex: KubeflowOptions["dex"];
  /** Static users for `staticPasswords`, in order, with passwords already read from their sources. */
  users: ResolvedUser[];
  /** Connector client secrets by connector id. */
  connectorSecrets: Record<string, string>;
  /** Redirect URIs of the proxy's OAuth2 client. */
  redirectURIs: string[];
  /** Hashes in the live Dex config by lower-case email, for reuse. */
  liveHashes?: Record<string, string>;
  /** Option path of `dex` for errors, e.g. `kubeflow.dex`. */
  field?: string;
}

/** The rendered Dex config and what goes next to it. */
export interface DexRenderResult {
  /** The `config.yaml` text (hashes only, no clear-text secrets). */
  config: string;
  /** Env var name -> value for Secret {@linkcode CONNECTOR_SECRET_NAME}; secret. */
  connectorEnv: Record<string, string>;
  /** Emails of the static users, in order. */
  users: string[];
  /** Emails whose hash was reused from the live config. */
  reusedHashes: string[];
  /** Whether the manifests' default user stays. */
  keptDefaultUser: boolean;
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The stable Dex `userID` kfplan derives from an email: 32 hex characters of
 * sha256 over the lower-cased address, so re-plans do not change it.
 *
 * @example
 * ```ts
 * await deriveUserId("alice@example.com"); // always the same 32 hex characters
 * ```
 */
export async function deriveUserId(email: string): Promise<string> {
  return hex(await sha256(`kfplan-dex-user\0${email.toLowerCase()}`)).slice(
    0,
    32,
  );
}

/**
 * bcrypt salt (cost 12) derived from issuer and email; see the module docs for why.
 */
export async function deriveSalt(
  issuer: string,
  email: string,
): Promise<string> {
  const bytes =
    (await sha256(`kfplan-dex-salt\0${issuer}\0${email.toLowerCase()}`)).slice(
      0,
      16,
    );
  return `$2b$${BCRYPT_COST}$${bcrypt.encodeBase64(Array.from(bytes), 16)}`;
}

/**
 * Hashes a password with bcryptjs at cost 12 and a fresh random salt (for the
 * `hash-password` task).
 *
 * @example
 * ```ts
 * const hash = await hashPassword("s3cret-pass"); // "$2b$12$..."
 * ```
 */
export async function hashPassword(password: string): Promise<string> {
  if (bcrypt.truncates(password)) {
    throw new Error(
      "password longer than 72 bytes: bcrypt would silently ignore the rest",
    );
  }
  return await bcrypt.hash(password, BCRYPT_COST);
}

/** Environment variable Dex reads a connector's client secret from. */
export function connectorSecretEnv(connectorId: string): string {
  return `DEX_CONNECTOR_${
    connectorId.toUpperCase().replace(/[^A-Z0-9]/g, "_")
  }_CLIENT_SECRET`;
}

/**
 * Reads the hashes of a live Dex `config.yaml` by lower-case email. Unparseable
 * input gives an empty map (the plan then shows the hashes as changed).
 */
export function liveHashesFromConfig(
  config: string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!config) return out;
  try {
    const parsed = parse(config) as {
      staticPasswords?: { email?: string; hash?: string }[];
    };
    for (const p of parsed?.staticPasswords ?? []) {
      if (typeof p.email === "string" && typeof p.hash === "string") {
        out[p.email.toLowerCase()] = p.hash;
      }
    }
  } catch {
    return {};
  }
  return out;
}

function connectorConfig(connector: Connector): Record<string, unknown> {
  // Dex expands $VARS inside connectors[].config only: the secret goes through env.
  const { clientSecret: _secret, ...rest } = connector.config;
  const config: Record<string, unknown> = {
    ...rest,
    clientSecret: `$${connectorSecretEnv(connector.id)}`,
  };
  return config;
}

/**
 * Renders Dex's config. Throws {@linkcode OptionsError} when the manifests' config
 * cannot be parsed or a password is too long for bcrypt.
 *
 * @example
 * ```ts
 * const out = await renderDexConfig({
 *   baseConfig, dex: options.dex, users, connectorSecrets: {}, redirectURIs: ["/oauth2/callback"],
 * });
 * ```
 */
export async function renderDexConfig(
  input: DexRenderInput,
): Promise<DexRenderResult> {
  const field = input.field ?? "dex";
  // deno-lint-ignore no-explicit-any
  let base: any;
  try {
    base = parse(input.baseConfig);
  } catch (e) {
    throw new OptionsError([{
      path: field,
      message: `the manifests' Dex config does not parse: ${
        (e as Error).message
      }`,
    }]);
  }
  if (!base || typeof base !== "object") base = {};
  const dex = input.dex;
  const reused: string[] = [];
  const staticPasswords: Record<string, unknown>[] = [];
  const keptDefault = dex.keepDefaultUser;
  if (keptDefault) {
    for (const p of base.staticPasswords ?? []) {
      if (p?.email === DEFAULT_USER_EMAIL) staticPasswords.push(p);
    }
  }
  for (const [i, user] of input.users.entries()) {
    let hash = user.hash;
    if (!hash && user.password !== undefined) {
      if (bcrypt.truncates(user.password)) {
        throw new OptionsError([{
          path: `${field}.staticUsers[${i}].password`,
          message:
            "password longer than 72 bytes: bcrypt would silently ignore the rest",
        }]);
      }
      const live = input.liveHashes?.[user.email.toLowerCase()];
      if (
        live && /^\$2[aby]\$/.test(live) &&
        await bcrypt.compare(user.password, live)
      ) {
        hash = live;
        reused.push(user.email);
      } else {
        hash = await bcrypt.hash(
          user.password,
          await deriveSalt(dex.issuer, user.email),
        );
      }
    }
    staticPasswords.push({
      email: user.email,
      hash,
      username: user.username ?? user.email.split("@")[0],
      userID: user.userID ?? await deriveUserId(user.email),
    });
  }
  const connectorEnv: Record<string, string> = {};
  for (const c of dex.connectors) {
    connectorEnv[connectorSecretEnv(c.id)] = input.connectorSecrets[c.id];
  }
  const clients =
    Array.isArray(base.staticClients) && base.staticClients.length > 0
      ? base.staticClients
      : [{
        idEnv: "OIDC_CLIENT_ID",
        secretEnv: "OIDC_CLIENT_SECRET",
        name: "Dex Login Application",
      }];
  const staticClients = clients.map((c: Record<string, unknown>, i: number) =>
    i === 0 ? { ...c, redirectURIs: input.redirectURIs } : c
  );
  const config: Record<string, unknown> = {
    ...base,
    issuer: dex.issuer,
    enablePasswordDB: dex.enablePasswordDB ?? staticPasswords.length > 0,
    staticPasswords,
    staticClients,
  };
  if (dex.connectors.length > 0) {
    config.connectors = dex.connectors.map((c) => ({
      type: c.type,
      id: c.id,
      name: c.name,
      config: connectorConfig(c),
    }));
  } else {
    delete config.connectors;
  }
  if (staticPasswords.length === 0) delete config.staticPasswords;
  return {
    config: stringify(config, { lineWidth: 0 }),
    connectorEnv,
    users: input.users.map((u) => u.email),
    reusedHashes: reused,
    keptDefaultUser: keptDefault,
  };
}

/** What {@linkcode inspectDexConfig} found in a rendered or live Dex config. */
export interface DexConfigSummary {
  /** The `issuer` URL; when missing, Dex does not start (listed in `problems`). */
  issuer?: string;
  /** `enablePasswordDB` as written; static users can only log in when it is `true`. */
  enablePasswordDB?: boolean;
  /** Emails of the `staticPasswords` entries, in order. */
  users: string[];
  /** Type and id of each `connectors` entry, e.g. `{ type: github, id: github }`. */
  connectors: { type: string; id: string }[];
  /** Redirect URIs of all `staticClients`; the auth proxy's callback must be among them. */
  redirectURIs: string[];
  /** Problems that would make Dex crash-loop or refuse logins. */
  problems: string[];
}

/**
 * Parses a Dex `config.yaml` and reports what Dex would do with it, including the
 * mistakes that make Dex crash-loop (no issuer, static users without the password DB,
 * malformed or too cheap hashes, unknown connector types).
 */
export function inspectDexConfig(text: string): DexConfigSummary {
  const summary: DexConfigSummary = {
    users: [],
    connectors: [],
    redirectURIs: [],
    problems: [],
  };
  // deno-lint-ignore no-explicit-any
  let c: any;
  try {
    c = parse(text);
  } catch (e) {
    summary.problems.push(`does not parse: ${(e as Error).message}`);
    return summary;
  }
  if (!c || typeof c !== "object") {
    summary.problems.push("is not a YAML mapping");
    return summary;
  }
  summary.issuer = c.issuer;
  summary.enablePasswordDB = c.enablePasswordDB;
  if (!c.issuer) summary.problems.push("no issuer");
  for (const p of c.staticPasswords ?? []) {
    summary.users.push(p.email);
    if (typeof p.hash === "string") {
      const m = p.hash.match(/^\$2[aby]\$(\d\d)\$/);
      if (!m) summary.problems.push(`user ${p.email}: malformed bcrypt hash`);
      else if (Number(m[1]) < 10 || Number(m[1]) > 16) {
        summary.problems.push(
          `user ${p.email}: bcrypt cost ${m[1]} outside 10..16`,
        );
      }
    } else if (typeof p.hashFromEnv !== "string") {
      summary.problems.push(`user ${p.email}: no hash`);
    }
  }
  if (summary.users.length > 0 && c.enablePasswordDB !== true) {
    summary.problems.push("static users without enablePasswordDB: true");
  }
  for (const k of c.connectors ?? []) {
    summary.connectors.push({ type: k.type, id: k.id });
    if (
      ![
        "github",
        "oidc",
        "ldap",
        "saml",
        "gitlab",
        "google",
        "microsoft",
        "oauth",
      ].includes(k.type)
    ) {
      summary.problems.push(`connector ${k.id}: unknown type ${k.type}`);
    }
  }
  for (const s of c.staticClients ?? []) {
    for (const uri of s.redirectURIs ?? []) summary.redirectURIs.push(uri);
  }
  return summary;
}
