/**
 * The README's "Try it end to end on one machine", run as a newcomer runs it: `deno
 * task cluster up` (a fresh cluster in a state directory of its own, with the
 * simulated controllers it starts by default), `deno task apply --yes` of
 * `examples/kfplan.yaml` unchanged with the secrets from the environment and
 * KUBECONFIG from `deno task cluster env`, then `deno task status --json`: every step
 * verified. Each command is a child process; `cluster down` runs even when a step
 * fails, and every wait is bounded.
 */

import { fileURLToPath } from "node:url";
import { assertEquals, assertMatch } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import { readClusterState, stopClusterState } from "../../sim/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const STEPS = [
  "gpu-operator",
  "kubeflow",
  "metallb",
  "nvidia-toolkit",
  "storage",
  "time-slicing",
  "users",
];

/** Runs `deno task ...` in the repository, bounded; returns exit code and output. */
async function task(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs: number },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", ...args],
    cwd: ROOT,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs),
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    code: out.code,
    stdout: decode(out.stdout),
    stderr: decode(out.stderr),
  };
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

Deno.test({
  name:
    "try it end to end: cluster up, apply --yes of the shipped example, every step verified in status, cluster down",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using work = await tempDir("kfplan-try-it-");
    const dir = `${work.path}/cluster`;
    const started = performance.now();
    try {
      const up = await task(["cluster", "up", "--dir", dir], {
        timeoutMs: 240_000,
      });
      assertEquals(up.code, 0, up.stdout + up.stderr);
      // It says that it starts the simulated controllers, and status shows them.
      assertMatch(up.stdout, /simulated controllers running/);
      const status = await task(["cluster", "status", "--dir", dir], {
        timeoutMs: 60_000,
      });
      assertMatch(status.stdout, /simulated controllers: running, pid \d+/);
      const env = await task(["cluster", "env", "--dir", dir], {
        timeoutMs: 60_000,
      });
      const kubeconfig = /export KUBECONFIG=(\S+)/.exec(env.stdout)?.[1];
      assertMatch(kubeconfig ?? "", /kubeconfig$/, env.stdout + env.stderr);
      const secrets = {
        KUBECONFIG: kubeconfig!,
        KF_OIDC_CLIENT_SECRET: crypto.randomUUID().replaceAll("-", ""),
        KF_COOKIE_SECRET: crypto.randomUUID().replaceAll("-", ""),
        KF_ALICE_PASSWORD: "change-me",
        KF_GITHUB_CLIENT_SECRET: "from-your-github-app",
      };
      const checkpoint = ["--checkpoint", `${work.path}/checkpoints`];
      const apply = await task(["apply", "--yes", ...checkpoint], {
        env: secrets,
        timeoutMs: 1_500_000,
      });
      assertEquals(
        apply.code,
        0,
        `apply:\n${tail(apply.stdout)}\n${tail(apply.stderr)}`,
      );
      const shown = await task(["status", "--json", ...checkpoint], {
        env: secrets,
        timeoutMs: 120_000,
      });
      assertEquals(shown.code, 0, shown.stderr);
      const steps = JSON.parse(shown.stdout).steps as Record<
        string,
        { status: string }
      >;
      assertEquals(
        Object.entries(steps).map(([id, s]) => `${id} ${s.status}`).sort(),
        STEPS.map((id) => `${id} verified`),
      );
      console.log(
        `[timing] try-it path (cluster up, apply --yes, status): ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s`,
      );
    } finally {
      const down = await task(["cluster", "down", "--dir", dir], {
        timeoutMs: 120_000,
      }).catch((e) => ({ code: -1, stdout: "", stderr: String(e) }));
      // Should `down` itself fail, stop what the state file names directly.
      const left = readClusterState(dir);
      if (down.code !== 0 && left) {
        await stopClusterState({ ...left, ownsDir: true });
      }
    }
  },
});
