/**
 * Real data servers on loopback for the external-database and object-store tests:
 * a private MariaDB instance (Debian's `mariadb-server` package: `.ci/run` installs
 * it) with its own data directory, port and socket, and the S3-compatible
 * `s3server` (`go/s3server`: gofakes3 behind Signature V4 verification, built by
 * `build.sh s3server`). Each start gets free ports and a temp directory; `stop()`
 * ends the process and removes the directory.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mysql } from "../../lib/deps.ts";
import { freePort } from "../_shared.ts";

const BUILD_SCRIPT = join(
  dirname(fileURLToPath(import.meta.url)),
  "build.sh",
);

/** A running MariaDB instance; `root` has no password and connects from 127.0.0.1. */
export interface MariaDb extends AsyncDisposable {
  /** Always `127.0.0.1`. */
  host: string;
  /** The instance's TCP port. */
  port: number;
  /** Runs statements as root (e.g. `CREATE USER`). */
  sql(statements: string): Promise<void>;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

async function which(name: string, fallbacks: string[]): Promise<string> {
  for (
    const dir of [...(Deno.env.get("PATH") ?? "").split(":"), ...fallbacks]
  ) {
    try {
      const path = `${dir}/${name}`;
      if ((await Deno.stat(path)).isFile) return path;
    } catch { /* not here */ }
  }
  throw new Error(
    `${name} not found: install MariaDB (apt-get install -y mariadb-server; .ci/run does this)`,
  );
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
}

/** Options for {@linkcode startMariaDb}. */
export interface MariaDbOptions {
  /** Serve TLS with these PEM files (server certificate, its key, the CA). */
  tls?: { cert: string; key: string; ca: string };
}

/**
 * Starts a private MariaDB with real authentication (no `--skip-grant-tables`).
 *
 * @example
 * ```ts
 * await using db = await startMariaDb();
 * await db.sql("CREATE USER 'kf'@'127.0.0.1' IDENTIFIED BY 'pw'");
 * ```
 */
export async function startMariaDb(
  options: MariaDbOptions = {},
): Promise<MariaDb> {
  const mariadbd = await which("mariadbd", ["/usr/sbin"]);
  const installDb = await which("mariadb-install-db", ["/usr/bin"]);
  const dir = await Deno.makeTempDir({ prefix: "kfplan-mariadb-" });
  const root = Deno.uid() === 0 ? ["--user=root"] : [];
  await run(installDb, [
    "--no-defaults",
    `--datadir=${dir}/data`,
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    ...root,
  ]);
  const port = freePort();
  const child = new Deno.Command(mariadbd, {
    args: [
      "--no-defaults",
      `--datadir=${dir}/data`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--socket=${dir}/mysqld.sock`,
      `--pid-file=${dir}/mysqld.pid`,
      `--log-error=${dir}/error.log`,
      "--skip-name-resolve",
      "--innodb-buffer-pool-size=16M",
      ...(options.tls
        ? [
          `--ssl-cert=${options.tls.cert}`,
          `--ssl-key=${options.tls.key}`,
          `--ssl-ca=${options.tls.ca}`,
        ]
        : []),
      ...root,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  async function stop(): Promise<void> {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  async function connect() {
    return await mysql.createConnection({
      host: "127.0.0.1",
      port,
      user: "root",
      password: "",
      connectTimeout: 2000,
      multipleStatements: true,
    });
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const c = await connect();
      await c.end();
      break;
    } catch (e) {
      if (exited || Date.now() > deadline) {
        const log = await Deno.readTextFile(`${dir}/error.log`).catch(() => "");
        await stop();
        throw new Error(
          `MariaDB did not start on 127.0.0.1:${port}: ${
            (e as Error).message
          }\n${log.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    host: "127.0.0.1",
    port,
    async sql(statements: string) {
      const c = await connect();
      try {
        await c.query(statements);
      } finally {
        await c.end();
      }
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A running S3-compatible server. */
export interface S3Server extends AsyncDisposable {
  /** `127.0.0.1:<port>` (plain HTTP). */
  endpoint: string;
  /** Stops the server (its store is in memory). */
  stop(): Promise<void>;
}

/** Options for {@linkcode startS3Server}. */
export interface S3ServerOptions {
  /** Key pairs the server accepts; `readOnly` ones may only list and read. */
  identities: { accessKey: string; secretKey: string; readOnly?: boolean }[];
  /** Buckets that exist at start. */
  buckets?: string[];
}

let s3serverPath: Promise<string> | undefined;

/** The `s3server` binary, built on first use (`build.sh s3server`, cached). */
export function s3serverBinary(): Promise<string> {
  s3serverPath ??= (async () => {
    const out = await new Deno.Command("bash", {
      args: [BUILD_SCRIPT, "s3server"],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) {
      throw new Error(
        `tests/cluster/build.sh s3server failed (exit ${out.code})`,
      );
    }
    return new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
  })();
  return s3serverPath;
}

/**
 * Starts the S3-compatible server on a free loopback port.
 *
 * @example
 * ```ts
 * await using s3 = await startS3Server({
 *   identities: [{ accessKey: "AK", secretKey: "SK" }],
 *   buckets: ["mlpipeline"],
 * });
 * ```
 */
export async function startS3Server(
  options: S3ServerOptions,
): Promise<S3Server> {
  const child = new Deno.Command(await s3serverBinary(), {
    args: [
      "-listen",
      "127.0.0.1:0",
      ...options.identities.flatMap((i) => [
        "-identity",
        `${i.accessKey}:${i.secretKey}${i.readOnly ? ":ro" : ""}`,
      ]),
      ...(options.buckets ?? []).flatMap((b) => ["-bucket", b]),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const endpoint = text.match(/listening on (\S+)/)?.[1];
  async function stop(): Promise<void> {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
  }
  if (!endpoint) {
    await stop();
    throw new Error(`s3server did not start: ${text}`);
  }
  return { endpoint, stop, [Symbol.asyncDispose]: stop };
}
