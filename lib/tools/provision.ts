/**
 * Providing kustomize and helm on a machine that lacks them (or has them too old):
 * the pinned version (the one `tests/cluster/versions.env` pins) is fetched once into
 * `<cache>/tools/<tool>-<version>/<tool>` and used from there afterwards.
 *
 * The ways, in order:
 *
 * 1. the official release archive (or the same file name under
 *    `$KFPLAN_TOOLS_MIRROR`), checked against a pinned sha256; a short connect
 *    timeout lets a machine without internet fall through in seconds;
 *    `KFPLAN_TOOLS_DOWNLOAD=0` turns it off;
 * 2. `go install` of the pinned module when `go` is on `PATH` (the modules and flags
 *    of `tests/cluster/build.sh`, `GOTOOLCHAIN=local`);
 * 3. for kustomize, whose only use is rendering: `kubectl kustomize` when a
 *    kubectl >= 1.27 (which embeds kustomize v5) is on `PATH`;
 * 4. else an error naming each way, why it did not work, and how to do it by hand.
 *
 * A download goes to a temporary directory inside the cache and is renamed into place
 * once verified, so two processes at once never leave a broken tool behind, and a
 * checksum mismatch leaves nothing.
 *
 * @example
 * ```ts
 * import { provisionTool } from "./provision.ts";
 *
 * const kustomize = await provisionTool("kustomize");
 * console.log(kustomize.path, kustomize.way); // ~/.cache/kfplan/tools/kustomize-v5.7.1/kustomize download
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { kfplanCacheDir } from "./find_binary.ts";

/** A tool kfplan can provide. */
export type ToolName = "kustomize" | "helm";

/**
 * The versions kfplan provides; the same as `tests/cluster/versions.env` (a test
 * checks they agree).
 */
export const PINNED_TOOL_VERSIONS: Readonly<Record<ToolName, string>> = {
  kustomize: "v5.7.1",
  helm: "v3.19.5",
};

/**
 * sha256 of the official release archives, by file name. A platform missing here
 * skips the download way (saying so). Sources: kustomize's `checksums.txt` of
 * kustomize/v5.7.1 (as recorded in cashapp/hermit-packages `kustomize.hcl`; no
 * published value found for darwin/arm64), helm's v3.19.5 release notes
 * (= `get.helm.sh/<file>.sha256sum`).
 */
export const PINNED_TOOL_SHA256: Readonly<Record<string, string>> = {
  "kustomize_v5.7.1_linux_amd64.tar.gz":
    "ea375e7372f9aa029129d4b2d16c66b7750b7f1213c4f66f910d981c895818d8",
  "kustomize_v5.7.1_linux_arm64.tar.gz":
    "4261a040217df3bd6896597c3986d1465925726e4f22a945304b5233a4dcdbda",
  "kustomize_v5.7.1_darwin_amd64.tar.gz":
    "4a0dff80c5644df6bc8f51b342842969004cb6ba5f94dddaabbea7483493273d",
  "helm-v3.19.5-linux-amd64.tar.gz":
    "a0a5e8c592ed3f376ac110715eff214730c7422f9a44d96cf98117d2b8b0e6c0",
  "helm-v3.19.5-linux-arm64.tar.gz":
    "ce02147ffee6d993bf8ae97a44a22e9e1daf0b69d2d5b69a0c8cf6706445ccf5",
  "helm-v3.19.5-darwin-amd64.tar.gz":
    "57f4a847c349382b7cc742a6434ef25f88f0928a113d8cf49084b464878ef0b9",
  "helm-v3.19.5-darwin-arm64.tar.gz":
    "195e24e587f423f15a78feebab04583ceee68323598575a0e8b3b11b43fd26fe",
};

/** One of the ways a tool is provided, in the order they are tried. */
export type ProvisionWay =
  | "cache"
  | "download"
  | "go install"
  | "kubectl kustomize";

/** What one way did. */
export interface ProvisionAttempt {
  /** The way. */
  way: ProvisionWay;
  /** `used` (it provided the tool), `skipped` (not applicable here) or `failed`. */
  result: "used" | "skipped" | "failed";
  /** Why, e.g. the URL and the error, or `go is not on PATH`. */
  detail: string;
}

/** A provided tool. */
export interface ProvisionedTool {
  /** Path of the executable. */
  path: string;
  /** The version it reports, e.g. `v5.7.1`. */
  version: string;
  /** `["kustomize"]` when the tool is `kubectl kustomize`. */
  args?: string[];
  /** The way that provided it. */
  way: ProvisionWay;
  /** Every way tried, in order, the last one `used`. */
  attempts: ProvisionAttempt[];
}

/** No way provided the tool; the message lists each and how to do it by hand. */
export class ProvisionError extends Error {
  /** Every way tried, in order. */
  readonly attempts: ProvisionAttempt[];
  /** Creates the error from the ways tried and the by-hand instructions. */
  constructor(message: string, attempts: ProvisionAttempt[]) {
    super(message);
    this.name = "ProvisionError";
    this.attempts = attempts;
  }
}

/** A downloaded archive whose sha256 is not the pinned one. */
export class ChecksumMismatchError extends Error {
  /** Creates the error naming the URL and both digests. */
  constructor(url: string, expected: string, actual: string) {
    super(
      `checksum mismatch for ${url}: expected sha256 ${expected}, got ${actual}; ` +
        "refused, nothing was cached",
    );
    this.name = "ChecksumMismatchError";
  }
}

/** Options for {@linkcode provisionTool}. */
export interface ProvisionOptions {
  /**
   * Environment for `KFPLAN_CACHE`/`XDG_CACHE_HOME`/`HOME`, `PATH` (to find `go`,
   * `kubectl`, `tar`), `KFPLAN_TOOLS_MIRROR`, `KFPLAN_TOOLS_DOWNLOAD`,
   * `KFPLAN_TOOLS_CHECKSUMS`; also the environment of `go`. Default `Deno.env`.
   */
  env?: Record<string, string | undefined>;
  /**
   * sha256 by archive file name, used instead of the entries of
   * {@linkcode PINNED_TOOL_SHA256} with the same name (as `KFPLAN_TOOLS_CHECKSUMS`).
   */
  checksums?: Record<string, string>;
  /** The platform to fetch for; default this machine's. */
  platform?: { os: string; arch: string };
  /** How long to wait for the server's response to begin; default 5000 ms. */
  connectTimeoutMs?: number;
  /** Receives progress lines; default stderr. */
  progress?: (line: string) => void;
}

interface Platform {
  os: string;
  arch: string;
}

interface ToolSpec {
  versionArgs: string[];
  archive(version: string, p: Platform): { file: string; member: string };
  officialUrl(version: string, file: string): string;
  module(version: string): { pkg: string; ldflags: string };
}

const TOOL_SPECS: Readonly<Record<ToolName, ToolSpec>> = {
  kustomize: {
    versionArgs: ["version"],
    archive: (v, p) => ({
      file: `kustomize_${v}_${p.os}_${p.arch}.tar.gz`,
      member: "kustomize",
    }),
    officialUrl: (v, file) =>
      `https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2F${v}/${file}`,
    module: (v) => ({
      pkg: `sigs.k8s.io/kustomize/kustomize/v5@${v}`,
      ldflags: `-s -w -X sigs.k8s.io/kustomize/api/provenance.version=${v}`,
    }),
  },
  helm: {
    versionArgs: ["version", "--short"],
    archive: (v, p) => ({
      file: `helm-${v}-${p.os}-${p.arch}.tar.gz`,
      member: `${p.os}-${p.arch}/helm`,
    }),
    officialUrl: (_v, file) => `https://get.helm.sh/${file}`,
    module: (v) => ({
      pkg: `helm.sh/helm/v3/cmd/helm@${v}`,
      ldflags: `-s -w -X helm.sh/helm/v3/internal/version.version=${v}`,
    }),
  },
};

/** A stalled transfer (no bytes for this long) is abandoned. */
const IDLE_TIMEOUT_MS = 60_000;

/**
 * The path a provided tool is cached at: `<cache>/tools/<tool>-<version>/<tool>`.
 *
 * @example
 * ```ts
 * toolCachePath("helm", { env: { HOME: "/home/ada" } });
 * // "/home/ada/.cache/kfplan/tools/helm-v3.19.5/helm"
 * ```
 */
export function toolCachePath(
  tool: ToolName,
  options: { env?: Record<string, string | undefined> } = {},
): string | undefined {
  const cache = kfplanCacheDir(options.env ?? Deno.env.toObject());
  if (!cache) return undefined;
  return `${cache}/tools/${tool}-${PINNED_TOOL_VERSIONS[tool]}/${tool}`;
}

/**
 * Provides the pinned version of a tool: from the cache, else by the first way that
 * works (download, `go install`, `kubectl kustomize`). Prints a progress line when it
 * fetches or builds. Throws {@linkcode ProvisionError} listing every way otherwise,
 * and {@linkcode ChecksumMismatchError} (trying nothing further) when a downloaded
 * archive is not the pinned one.
 *
 * @example
 * ```ts
 * const helm = await provisionTool("helm", { env: { ...Deno.env.toObject(), KFPLAN_TOOLS_DOWNLOAD: "0" } });
 * ```
 */
export async function provisionTool(
  tool: ToolName,
  options: ProvisionOptions = {},
): Promise<ProvisionedTool> {
  const env = options.env ?? Deno.env.toObject();
  const version = PINNED_TOOL_VERSIONS[tool];
  const spec = TOOL_SPECS[tool];
  const progress = options.progress ??
    ((line: string) => console.error(line));
  const attempts: ProvisionAttempt[] = [];
  const cached = toolCachePath(tool, { env });
  const done = (
    found: { path: string; version: string; args?: string[] },
    way: ProvisionWay,
    detail: string,
  ): ProvisionedTool => {
    attempts.push({ way, result: "used", detail });
    return { ...found, way, attempts };
  };

  if (cached && await reportsVersion(cached, spec.versionArgs, version, env)) {
    return done({ path: cached, version }, "cache", cached);
  }
  attempts.push({
    way: "cache",
    result: "skipped",
    detail: cached
      ? `${cached} not there yet`
      : "no cache directory (set KFPLAN_CACHE or HOME)",
  });

  const ctx: WayContext = { tool, version, spec, env, options, progress };
  if (cached) {
    for (
      const [way, run] of [["download", downloadWay], [
        "go install",
        goInstallWay,
      ]] as const
    ) {
      const outcome = await run(ctx, cached);
      if (outcome.ok) {
        return done({ path: cached, version }, way, outcome.detail);
      }
      attempts.push({ way, ...outcome });
    }
  } else {
    for (const way of ["download", "go install"] as const) {
      attempts.push({ way, result: "skipped", detail: "no cache directory" });
    }
  }
  if (tool === "kustomize") {
    const outcome = await kubectlWay(env);
    if (outcome.ok) {
      return done(outcome.found, "kubectl kustomize", outcome.detail);
    }
    attempts.push({ way: "kubectl kustomize", ...outcome });
  }
  throw new ProvisionError(failureMessage(ctx, attempts), attempts);
}

interface WayContext {
  tool: ToolName;
  version: string;
  spec: ToolSpec;
  env: Record<string, string | undefined>;
  options: ProvisionOptions;
  progress: (line: string) => void;
}

type Outcome =
  | { ok: true; detail: string }
  | { ok: false; result: "skipped" | "failed"; detail: string };

function platformOf(options: ProvisionOptions): Platform {
  if (options.platform) return options.platform;
  const arch =
    ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[
      Deno.build.arch
    ] ?? Deno.build.arch;
  return { os: Deno.build.os, arch };
}

async function checksumsOf(
  ctx: WayContext,
): Promise<Record<string, string>> {
  const file = ctx.env.KFPLAN_TOOLS_CHECKSUMS;
  let fromFile: Record<string, string> = {};
  if (file) {
    try {
      fromFile = JSON.parse(await Deno.readTextFile(file));
    } catch (error) {
      throw new Error(
        `KFPLAN_TOOLS_CHECKSUMS=${file}: not a JSON object of file name to sha256 (${
          (error as Error).message
        })`,
      );
    }
  }
  return { ...PINNED_TOOL_SHA256, ...fromFile, ...ctx.options.checksums };
}

/** The archive URL: the official one, or the same file name under the mirror. */
function archiveUrl(ctx: WayContext, file: string): string {
  const mirror = ctx.env.KFPLAN_TOOLS_MIRROR;
  return mirror
    ? `${mirror.replace(/\/+$/, "")}/${file}`
    : ctx.spec.officialUrl(ctx.version, file);
}

async function downloadWay(
  ctx: WayContext,
  target: string,
): Promise<Outcome> {
  if (ctx.env.KFPLAN_TOOLS_DOWNLOAD === "0") {
    return {
      ok: false,
      result: "skipped",
      detail: "downloads are turned off (KFPLAN_TOOLS_DOWNLOAD=0)",
    };
  }
  const { file, member } = ctx.spec.archive(
    ctx.version,
    platformOf(ctx.options),
  );
  let expected: string | undefined;
  try {
    expected = (await checksumsOf(ctx))[file];
  } catch (error) {
    return { ok: false, result: "failed", detail: (error as Error).message };
  }
  if (!expected) {
    return {
      ok: false,
      result: "skipped",
      detail:
        `no pinned sha256 for ${file} (this platform has no published checksum kfplan knows)`,
    };
  }
  const url = archiveUrl(ctx, file);
  ctx.progress(
    `kfplan: ${ctx.tool} ${ctx.version} not found; downloading ${url} (once, into ${
      dirOf(target)
    })`,
  );
  try {
    await intoCache(target, async (tmp) => {
      const archive = `${tmp}/${file}`;
      const actual = await download(url, archive, ctx.options);
      if (actual !== expected.toLowerCase()) {
        throw new ChecksumMismatchError(url, expected, actual);
      }
      await extract(archive, `${tmp}/x`, ctx.env);
      return `${tmp}/x/${member}`;
    }, ctx);
    return { ok: true, detail: url };
  } catch (error) {
    if (error instanceof ChecksumMismatchError) throw error;
    return {
      ok: false,
      result: "failed",
      detail: `${url}: ${(error as Error).message}`,
    };
  }
}

async function goInstallWay(
  ctx: WayContext,
  target: string,
): Promise<Outcome> {
  const go = await lookPath("go", ctx.env);
  if (!go) return { ok: false, result: "skipped", detail: "go is not on PATH" };
  const { pkg, ldflags } = ctx.spec.module(ctx.version);
  ctx.progress(
    `kfplan: ${ctx.tool} ${ctx.version} not found; building it with \`go install ${pkg}\` ` +
      `(once, into ${dirOf(target)}; helm takes about 80 s)`,
  );
  try {
    await intoCache(target, async (tmp) => {
      const goEnv = await run(go, ["env", "GOMODCACHE", "GOPROXY"], ctx.env);
      const [modcache, proxy] = goEnv.trim().split("\n");
      await run(go, ["install", "-trimpath", "-ldflags", ldflags, pkg], {
        ...ctx.env,
        GOBIN: tmp,
        GOTOOLCHAIN: "local",
        CGO_ENABLED: "0",
        GOFLAGS: "-mod=mod",
        // Modules already in the module cache first, as build.sh does.
        GOPROXY: `file://${modcache}/cache/download,${proxy || "off"}`,
      });
      return `${tmp}/${ctx.tool}`;
    }, ctx);
    return { ok: true, detail: `go install ${pkg}` };
  } catch (error) {
    return {
      ok: false,
      result: "failed",
      detail: `go install ${pkg}: ${(error as Error).message}`,
    };
  }
}

async function kubectlWay(
  env: Record<string, string | undefined>,
): Promise<
  | {
    ok: true;
    found: { path: string; version: string; args: string[] };
    detail: string;
  }
  | { ok: false; result: "skipped" | "failed"; detail: string }
> {
  const kubectl = await lookPath("kubectl", env);
  if (!kubectl) {
    return { ok: false, result: "skipped", detail: "kubectl is not on PATH" };
  }
  let out: string;
  try {
    out = await run(kubectl, ["version", "--client"], env);
  } catch (error) {
    return { ok: false, result: "failed", detail: (error as Error).message };
  }
  const client = /Client Version: v?(\d+)\.(\d+)/.exec(out);
  const embedded = /Kustomize Version: (v?(\d+)\.\d+\.\d+)/.exec(out);
  if (
    !client || Number(client[1]) !== 1 || Number(client[2]) < 27 || !embedded
  ) {
    return {
      ok: false,
      result: "skipped",
      detail:
        `${kubectl} is older than 1.27 (kustomize v5 is embedded from 1.27 on)`,
    };
  }
  const version = embedded[1].startsWith("v") ? embedded[1] : `v${embedded[1]}`;
  return {
    ok: true,
    found: { path: kubectl, version, args: ["kustomize"] },
    detail: `${kubectl} (kubectl ${client[1]}.${
      client[2]
    }, kustomize ${version})`,
  };
}

/**
 * Produces the tool in a temporary directory inside the cache, checks it runs and
 * reports the pinned version, then renames its directory into place. When another
 * process got there first, its complete copy is kept.
 */
async function intoCache(
  target: string,
  produce: (tmp: string) => Promise<string>,
  ctx: WayContext,
): Promise<void> {
  const finalDir = dirOf(target);
  const toolsDir = dirOf(finalDir);
  await Deno.mkdir(toolsDir, { recursive: true });
  const tmp = await Deno.makeTempDir({
    dir: toolsDir,
    prefix: `.${ctx.tool}-${ctx.version}.tmp-`,
  });
  try {
    const produced = await produce(tmp);
    const staged = `${tmp}/out`;
    await Deno.mkdir(staged);
    await Deno.rename(produced, `${staged}/${ctx.tool}`);
    await Deno.chmod(`${staged}/${ctx.tool}`, 0o755);
    if (
      !await reportsVersion(
        `${staged}/${ctx.tool}`,
        ctx.spec.versionArgs,
        ctx.version,
        ctx.env,
      )
    ) {
      throw new Error(
        `the ${ctx.tool} it produced does not run or does not report ${ctx.version}`,
      );
    }
    try {
      await Deno.rename(staged, finalDir);
    } catch (error) {
      // Another process renamed its complete copy into place first: use that one.
      if (
        !await reportsVersion(
          target,
          ctx.spec.versionArgs,
          ctx.version,
          ctx.env,
        )
      ) throw error;
    }
    ctx.progress(`kfplan: ${ctx.tool} ${ctx.version} ready at ${target}`);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Downloads `url` to `dest`; resolves the sha256 (hex) of what was written. */
async function download(
  url: string,
  dest: string,
  options: ProvisionOptions,
): Promise<string> {
  const controller = new AbortController();
  const connectMs = options.connectTimeoutMs ?? 5000;
  let timer = setTimeout(
    () =>
      controller.abort(
        new Error(`no response within ${connectMs / 1000} s`),
      ),
    connectMs,
  );
  try {
    const response = await fetch(url, { signal: controller.signal });
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status} ${response.statusText}`);
    }
    const hash = createHash("sha256");
    const stall = () =>
      controller.abort(
        new Error(`the transfer stalled for ${IDLE_TIMEOUT_MS / 1000} s`),
      );
    clearTimeout(timer);
    timer = setTimeout(stall, IDLE_TIMEOUT_MS);
    const file = await Deno.open(dest, {
      write: true,
      createNew: true,
      mode: 0o600,
    });
    await response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, out) {
          clearTimeout(timer);
          timer = setTimeout(stall, IDLE_TIMEOUT_MS);
          hash.update(chunk);
          out.enqueue(chunk);
        },
      }),
    ).pipeTo(file.writable);
    return hash.digest("hex");
  } catch (error) {
    const reason = controller.signal.aborted ? controller.signal.reason : error;
    throw new Error(
      (reason as Error).message ?? String(reason),
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
  }
}

/** Unpacks a `.tar.gz` with the system's `tar` (present on Linux and macOS). */
async function extract(
  archive: string,
  dir: string,
  env: Record<string, string | undefined>,
): Promise<void> {
  await Deno.mkdir(dir);
  const tar = await lookPath("tar", env) ?? "tar";
  await run(tar, ["-xzf", archive, "-C", dir], env);
}

async function reportsVersion(
  path: string,
  versionArgs: string[],
  version: string,
  env: Record<string, string | undefined>,
): Promise<boolean> {
  try {
    return (await run(path, versionArgs, env)).includes(version);
  } catch {
    return false;
  }
}

/** Runs a command; resolves stdout+stderr, rejects with its last lines on failure. */
async function run(
  cmd: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    env: definedOf(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
  if (!out.success) {
    const tail = text.trim().split("\n").slice(-15).join("\n");
    throw new Error(`exit ${out.code}: ${tail}`);
  }
  return text;
}

function definedOf(
  env: Record<string, string | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

async function lookPath(
  name: string,
  env: Record<string, string | undefined>,
): Promise<string | undefined> {
  for (const dir of (env.PATH ?? "").split(":")) {
    if (!dir) continue;
    try {
      const info = await Deno.stat(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) {
        return `${dir}/${name}`;
      }
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function dirOf(path: string): string {
  return path.replace(/\/[^/]+\/?$/, "");
}

function failureMessage(ctx: WayContext, attempts: ProvisionAttempt[]): string {
  const { tool, version, spec } = ctx;
  const { file, member } = spec.archive(version, platformOf(ctx.options));
  const { pkg, ldflags } = spec.module(version);
  const tried = attempts
    .filter((a) => a.way !== "cache")
    .map((a) => `  - ${a.way}: ${a.result}: ${a.detail}`)
    .join("\n");
  const byHand = [
    `  - download ${
      archiveUrl(ctx, file)
    }, check its sha256, and put ${member} on PATH (or set KFPLAN_TOOLS_MIRROR to a mirror serving ${file})`,
    `  - with Go >= 1.24: GOTOOLCHAIN=local CGO_ENABLED=0 go install -trimpath -ldflags '${ldflags}' ${pkg}`,
  ];
  if (tool === "kustomize") {
    byHand.push(
      "  - install kubectl >= 1.27 (it renders with `kubectl kustomize`)",
    );
  }
  return `kfplan could not provide ${tool} ${version}; tried:\n${tried}\n` +
    `To provide it by hand, one of:\n${byHand.join("\n")}`;
}
