/**
 * Where the read-only inputs live: `../shared` beside the repository (as in CI), or
 * `$KFPLAN_SHARED_DIR`. Tests read charts and manifests from there and copy before
 * changing anything.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The shared directory (charts, kubeflow-manifests, reference). */
export const SHARED_DIR: string = Deno.env.get("KFPLAN_SHARED_DIR") ??
  fileURLToPath(new URL("../../shared", import.meta.url));

/** A chart directory under `shared/charts`, e.g. `metallb-0.15.3`. */
export function sharedChart(name: string): string {
  return `${SHARED_DIR}/charts/${name}`;
}

/** A temporary directory that `await using` removes when the scope ends. */
export interface TempDir extends AsyncDisposable {
  /** The directory. */
  path: string;
}

/**
 * Creates a temporary directory removed (recursively) when disposed, so tests leave
 * nothing behind even when they fail: `await using work = await tempDir();`.
 */
export async function tempDir(prefix = "kfplan-test-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * A free loopback TCP port: bound, then closed again, so nothing listens on it
 * (a server to start there, or an address that refuses connections).
 */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
