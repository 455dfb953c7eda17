/**
 * The test runner behind `deno task test`: builds (or reuses) the control-plane
 * binaries, starts ONE control plane, runs `deno test -A --parallel tests/` against it
 * (env `KFPLAN_TEST_KUBECONFIG`, with the built kustomize/helm first on `PATH`), stops
 * the control plane, and ends with the line `tests: N passed, M failed` that CI reads.
 * Extra arguments go to `deno test`; when any of them is a path, it replaces `tests/`.
 *
 *     deno task test
 *     deno task test --filter diff
 *     deno task test tests/integration/kube_test.ts
 *
 * @module
 */

import { binDir, startCluster } from "./cluster/harness.ts";

/** Counts from `deno test`'s summary line, or `undefined` when it printed none. */
export function parseSummary(
  output: string,
): { passed: number; failed: number } | undefined {
  // deno-lint-ignore no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const matches = [
    ...plain.matchAll(
      /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/gm,
    ),
  ];
  const last = matches.at(-1);
  return last
    ? { passed: Number(last[1]), failed: Number(last[2]) }
    : undefined;
}

async function tee(
  stream: ReadableStream<Uint8Array>,
  sink: typeof Deno.stdout,
) {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    await sink.write(chunk);
    chunks.push(decoder.decode(chunk, { stream: true }));
  }
  return chunks.join("");
}

async function main(args: string[]): Promise<number> {
  let bin: string;
  try {
    bin = await binDir();
  } catch (e) {
    console.error(
      `tests: cannot build the test control plane: ${(e as Error).message}`,
    );
    console.log("tests: 0 passed, 1 failed");
    return 1;
  }
  const started = performance.now();
  const cluster = await startCluster({ binDir: bin });
  console.error(
    `tests: control plane ${cluster.server} ready in ${
      Math.round(performance.now() - started)
    }ms (kubeconfig ${cluster.kubeconfig})`,
  );
  try {
    const paths = args.some((a) => !a.startsWith("-")) ? [] : ["tests/"];
    const child = new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "--parallel", ...args, ...paths],
      env: {
        KFPLAN_TEST_KUBECONFIG: cluster.kubeconfig,
        KFPLAN_TEST_BIN_DIR: bin,
        PATH: `${bin}:${Deno.env.get("PATH") ?? ""}`,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const [out, err, status] = await Promise.all([
      tee(child.stdout, Deno.stdout),
      tee(child.stderr, Deno.stderr),
      child.status,
    ]);
    const summary = parseSummary(out) ?? parseSummary(err);
    if (!summary) {
      console.error(
        `tests: deno test exited ${status.code} without a summary line`,
      );
    }
    const passed = summary?.passed ?? 0;
    const failed = summary?.failed ?? (status.success ? 0 : 1);
    if (!status.success) {
      // The cluster's files go away with it; keep its logs for the failure analysis.
      const kept = await Deno.makeTempDir({ prefix: "kfplan-test-logs-" });
      for await (const entry of Deno.readDir(`${cluster.dir}/logs`)) {
        await Deno.copyFile(
          `${cluster.dir}/logs/${entry.name}`,
          `${kept}/${entry.name}`,
        );
      }
      console.error(`tests: control plane logs kept in ${kept}`);
    }
    console.log(`tests: ${passed} passed, ${failed} failed`);
    return status.success ? 0 : status.code || 1;
  } finally {
    await cluster.stop();
  }
}

if (import.meta.main) main(Deno.args).then((code) => Deno.exit(code));
