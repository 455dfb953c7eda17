/**
 * Plan-time check of an external MySQL-compatible database (MySQL, MariaDB) with
 * the `mysql2` client: it connects, authenticates, and finds whether each database
 * a component needs exists or the user may create it. Nothing is written: whether
 * the user may create a database is read from `information_schema` privileges.
 *
 * The result separates what the configuration got wrong ({@linkcode MysqlProblem},
 * naming the field) from an address this machine cannot reach (`reachable: false`):
 * planning from a laptop outside the cluster's network is normal, so the caller
 * reports the latter as a finding, not an error.
 *
 * @module
 */

import { mysql } from "../deps.ts";

/** What to connect to and what to look for. */
export interface MysqlTarget {
  /** Host name or address. */
  host: string;
  /** TCP port. */
  port: number;
  /** User name. */
  user: string;
  /** The user's password (never logged or returned). */
  password: string;
  /** Databases the component uses, by option key (e.g. `pipeline: mlpipeline`). */
  databases: Record<string, string>;
  /** Connect over TLS (with an optional PEM CA bundle, or without verification). */
  tls?: { ca?: string; skipVerify?: boolean };
}

/** Options for {@linkcode checkMysql}. */
export interface MysqlCheckOptions {
  /** Bound of the connection attempt and of each query; default 5000 ms. */
  timeoutMs?: number;
}

/** A configuration error: the field (relative to the database settings) and why. */
export interface MysqlProblem {
  /** Relative option path: `password`, `user`, `databases.cache`, `tls`. */
  field: string;
  /** What is wrong and what would be valid. */
  message: string;
}

/** The outcome of {@linkcode checkMysql}. */
export interface MysqlCheckResult {
  /** False when no connection could be made (refused, timed out, unknown host). */
  reachable: boolean;
  /** Why it was unreachable (never holds the password). */
  detail?: string;
  /** Settings the server refused: wrong password, missing database without CREATE. */
  problems: MysqlProblem[];
  /** What was found, for the plan (server version, databases present or to be created). */
  facts: string[];
}

/** Error codes of a connection that never reached the server. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ECONNRESET",
  "PROTOCOL_CONNECTION_LOST",
]);

/** `'user'@'host'`, the grantee form of `information_schema`, from `CURRENT_USER()`. */
function grantee(currentUser: string): string {
  const at = currentUser.lastIndexOf("@");
  return `'${currentUser.slice(0, at)}'@'${currentUser.slice(at + 1)}'`;
}

/** Whether a database name matches a grant's schema pattern (LIKE: `%`, `_`, `\` escapes). */
export function schemaPatternMatches(pattern: string, name: string): boolean {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\" && i + 1 < pattern.length) {
      re += pattern[++i].replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    } else if (c === "%") re += ".*";
    else if (c === "_") re += ".";
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`).test(name);
}

function errorCode(e: unknown): string {
  return String((e as { code?: unknown }).code ?? "");
}

/**
 * Connects to the database server and checks the settings. Never throws for a
 * server's answer; rejects only on a programming error.
 *
 * @example
 * ```ts
 * const r = await checkMysql({
 *   host: "db.example.com", port: 3306, user: "kfp", password,
 *   databases: { pipeline: "mlpipeline", metadata: "metadb", cache: "cachedb" },
 * });
 * if (!r.reachable) console.log("not reachable from here:", r.detail);
 * for (const p of r.problems) console.log(p.field, p.message);
 * ```
 */
export async function checkMysql(
  target: MysqlTarget,
  options: MysqlCheckOptions = {},
): Promise<MysqlCheckResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const where = `${target.host}:${target.port}`;
  let conn: Awaited<ReturnType<typeof mysql.createConnection>>;
  try {
    conn = await mysql.createConnection({
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      connectTimeout: timeoutMs,
      ...(target.tls
        ? {
          ssl: {
            ...(target.tls.ca ? { ca: target.tls.ca } : {}),
            rejectUnauthorized: !target.tls.skipVerify,
          },
        }
        : {}),
    });
  } catch (e) {
    const code = errorCode(e);
    if (
      code === "ER_ACCESS_DENIED_ERROR" || code === "ER_NOT_SUPPORTED_AUTH_MODE"
    ) {
      return {
        reachable: true,
        problems: [{
          field: "password",
          message:
            `${where} refused user ${target.user}: wrong password, or the user may not connect ` +
            `from this host (${code})`,
        }],
        facts: [],
      };
    }
    if (UNREACHABLE.has(code)) {
      return {
        reachable: false,
        detail: `${where}: ${code}`,
        problems: [],
        facts: [],
      };
    }
    if (/ssl|tls|certificate/i.test(`${code} ${(e as Error).message}`)) {
      return {
        reachable: true,
        problems: [{
          field: "tls",
          message: `TLS to ${where} failed: ${(e as Error).message}`,
        }],
        facts: [],
      };
    }
    return {
      reachable: false,
      detail: `${where}: ${code || (e as Error).message}`,
      problems: [],
      facts: [],
    };
  }
  try {
    return await inspect(conn, target, timeoutMs);
  } finally {
    await conn.end().catch(() => {});
  }
}

type Connection = Awaited<ReturnType<typeof mysql.createConnection>>;

async function rows(
  conn: Connection,
  sql: string,
  values: unknown[],
  timeout: number,
): Promise<Record<string, unknown>[]> {
  const [result] = await conn.query({ sql, values, timeout });
  return result as Record<string, unknown>[];
}

async function inspect(
  conn: Connection,
  target: MysqlTarget,
  timeoutMs: number,
): Promise<MysqlCheckResult> {
  const [info] = await rows(
    conn,
    "SELECT VERSION() AS version, CURRENT_USER() AS user",
    [],
    timeoutMs,
  );
  const facts = [
    `${target.host}:${target.port} accepted user ${target.user} (server ${info.version})`,
  ];
  const visible = new Set(
    (await rows(
      conn,
      "SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA",
      [],
      timeoutMs,
    )).map((r) => String(r.name)),
  );
  const missing = Object.entries(target.databases).filter(([, name]) =>
    !visible.has(name)
  );
  if (missing.length === 0) {
    facts.push(
      `databases present: ${Object.values(target.databases).join(", ")}`,
    );
    return { reachable: true, problems: [], facts };
  }
  const who = grantee(String(info.user));
  const global = await rows(
    conn,
    "SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ? AND PRIVILEGE_TYPE = 'CREATE'",
    [who],
    timeoutMs,
  );
  const schemas = (await rows(
    conn,
    "SELECT TABLE_SCHEMA AS pattern FROM information_schema.SCHEMA_PRIVILEGES " +
      "WHERE GRANTEE = ? AND PRIVILEGE_TYPE = 'CREATE'",
    [who],
    timeoutMs,
  )).map((r) => String(r.pattern));
  const problems: MysqlProblem[] = [];
  for (const [key, name] of missing) {
    const mayCreate = global.length > 0 ||
      schemas.some((p) => schemaPatternMatches(p, name));
    if (mayCreate) {
      facts.push(
        `database ${name} does not exist yet; ${target.user} may create it`,
      );
    } else {
      problems.push({
        field: `databases.${key}`,
        message:
          `database ${name} does not exist on ${target.host}:${target.port} (or ${target.user} ` +
          `has no privilege on it) and ${target.user} may not create it: create it, or ` +
          `GRANT CREATE ON \`${name}\`.* to ${who}`,
      });
    }
  }
  return { reachable: true, problems, facts };
}
