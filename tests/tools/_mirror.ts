/**
 * Test helpers for tool provisioning: release-style archives built from the test
 * run's own kustomize/helm binaries, and a loopback HTTP mirror serving them, so no
 * test reaches outside the machine.
 *
 * @module
 */

import { binDir } from "../cluster/harness.ts";

/** The directory holding the test run's kustomize and helm. */
export async function toolBinDir(): Promise<string> {
  return Deno.env.get("KFPLAN_TEST_BIN_DIR") ?? await binDir();
}

/** This machine's platform in release file names, e.g. `{ os: "linux", arch: "amd64" }`. */
export function platform(): { os: string; arch: string } {
  return {
    os: Deno.build.os,
    arch: Deno.build.arch === "aarch64" ? "arm64" : "amd64",
  };
}

/** An archive laid out like the official release, with its sha256. */
export interface Archive {
  /** The release file name, e.g. `kustomize_v5.7.1_linux_amd64.tar.gz`. */
  file: string;
  /** The archive bytes. */
  bytes: Uint8Array;
  /** Hex sha256 of `bytes`. */
  sha256: string;
}

/**
 * Builds `kustomize_v5.7.1_<os>_<arch>.tar.gz` (the binary at the top) or
 * `helm-v3.19.5-<os>-<arch>.tar.gz` (the binary under `<os>-<arch>/`) from a binary.
 */
export async function releaseArchive(
  tool: "kustomize" | "helm",
  binary: string,
  work: string,
): Promise<Archive> {
  const { os, arch } = platform();
  const src = await Deno.makeTempDir({ dir: work, prefix: `${tool}-src-` });
  const member = tool === "kustomize" ? "kustomize" : `${os}-${arch}/helm`;
  const file = tool === "kustomize"
    ? `kustomize_v5.7.1_${os}_${arch}.tar.gz`
    : `helm-v3.19.5-${os}-${arch}.tar.gz`;
  await Deno.mkdir(`${src}/${member}`.replace(/\/[^/]+$/, ""), {
    recursive: true,
  });
  await Deno.copyFile(binary, `${src}/${member}`);
  const out = `${work}/${file}`;
  const tar = await new Deno.Command("tar", {
    args: ["-czf", out, "-C", src, member.split("/")[0]],
    stderr: "piped",
  }).output();
  if (!tar.success) throw new Error(new TextDecoder().decode(tar.stderr));
  const bytes = await Deno.readFile(out);
  return { file, bytes, sha256: await sha256(bytes) };
}

/** Hex sha256. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return Array.from(new Uint8Array(digest))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A loopback HTTP server serving files by name; records every request path. */
export interface Mirror extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Request paths in arrival order, e.g. `/kustomize_v5.7.1_linux_amd64.tar.gz`. */
  requests: string[];
}

/** Serves `files` on 127.0.0.1 (a free port); 404 for anything else. */
export function serveMirror(files: Record<string, Uint8Array>): Mirror {
  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const path = new URL(req.url).pathname;
      requests.push(path);
      const body = files[path.slice(1)];
      return body
        ? new Response(body as Uint8Array<ArrayBuffer>)
        : new Response("not found", { status: 404 });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A loopback port nothing listens on (bound, then closed). */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Writes an executable shell script. */
export async function script(path: string, body: string): Promise<string> {
  await Deno.mkdir(path.replace(/\/[^/]+$/, ""), { recursive: true });
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}
