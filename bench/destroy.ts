/**
 * Destroy of the full example on a fresh throwaway cluster, the way a user runs it:
 * `deno task cluster up` (with the simulated controllers), `deno task apply --yes`
 * of `examples/kfplan.yaml`, then `deno task destroy --yes` timed, a second
 * `destroy --yes` timed (nothing to do), and `cluster down`.
 *
 *     deno run -A bench/destroy.ts [--allow-data-loss]
 *
 * Prints the apply and destroy wall times, the destroy plan's counts (delete, kept)
 * and the kept objects.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { minimist } from "../lib/deps.ts";
import { readClusterState, stopClusterState } from "../sim/mod.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

async function task(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs: number },
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
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
    ms: performance.now() - started,
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

async function main(args: string[]): Promise<number> {
  const flags = minimist(args, { boolean: ["allow-data-loss"] });
  const work = await Deno.makeTempDir({ prefix: "kfplan-bench-destroy-" });
  const dir = `${work}/cluster`;
  try {
    const up = await task(["cluster", "up", "--dir", dir], {
      timeoutMs: 240_000,
    });
    if (up.code !== 0) throw new Error(`cluster up:\n${up.stdout}${up.stderr}`);
    const env = await task(["cluster", "env", "--dir", dir], {
      timeoutMs: 60_000,
    });
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(env.stdout)?.[1];
    if (!kubeconfig) throw new Error(`cluster env:\n${env.stdout}`);
    const vars = {
      KUBECONFIG: kubeconfig,
      KF_OIDC_CLIENT_SECRET: crypto.randomUUID().replaceAll("-", ""),
      KF_COOKIE_SECRET: crypto.randomUUID().replaceAll("-", ""),
      KF_ALICE_PASSWORD: "change-me",
      KF_GITHUB_CLIENT_SECRET: "from-your-github-app",
    };
    const checkpoint = ["--checkpoint", `${work}/checkpoints`];
    const apply = await task(["apply", "--yes", ...checkpoint], {
      env: vars,
      timeoutMs: 1_800_000,
    });
    console.log(`apply --yes (full example): ${seconds(apply.ms)}`);
    if (apply.code !== 0) {
      throw new Error(`apply:\n${tail(apply.stdout)}\n${tail(apply.stderr)}`);
    }
    const destroyArgs = [
      "destroy",
      "--yes",
      "--json",
      ...(flags["allow-data-loss"] ? ["--allow-data-loss"] : []),
      ...checkpoint,
    ];
    const destroy = await task(destroyArgs, {
      env: vars,
      timeoutMs: 1_800_000,
    });
    const lines = destroy.stdout.trim().split("\n").filter((l) =>
      l.startsWith("{")
    ).map((l) => JSON.parse(l));
    const plan = lines.find((l) => l.type === "plan")?.plan;
    const result = lines.find((l) => l.type === "destroy-result");
    console.log(
      `destroy --yes${flags["allow-data-loss"] ? " --allow-data-loss" : ""}: ${
        seconds(destroy.ms)
      }, exit ${destroy.code}, planned ${plan?.summary.delete} deletes and ${
        plan?.summary.kept ?? 0
      } kept`,
    );
    for (const k of result?.kept ?? []) {
      console.log(
        `  kept ${k.kind} ${
          k.namespace ? `${k.namespace}/` : ""
        }${k.name}: ${k.reason}`,
      );
    }
    for (const r of result?.remaining ?? []) {
      console.log(`  still there: ${r.kind} ${r.namespace ?? ""}/${r.name}`);
    }
    for (const e of lines.filter((l) => l.type === "step-failed")) {
      console.log(`  step ${e.id} failed: ${e.error}`);
    }
    for (const e of lines.filter((l) => l.type === "step-done")) {
      console.log(`  step ${e.id} done in ${seconds(e.elapsed_ms)}`);
    }
    if (destroy.code !== 0) console.log(tail(destroy.stderr));
    const again = await task(["destroy", "--yes", "--json", ...checkpoint], {
      env: vars,
      timeoutMs: 600_000,
    });
    const second = again.stdout.trim().split("\n").filter((l) =>
      l.startsWith("{")
    ).map((l) => JSON.parse(l));
    const plan2 = second.find((l) => l.type === "plan")?.plan;
    const result2 = second.find((l) => l.type === "destroy-result");
    console.log(
      `second destroy --yes: ${
        seconds(again.ms)
      }, exit ${again.code}, ${result2?.outcome}, planned ${plan2?.summary.delete} deletes`,
    );
    for (const step of plan2?.steps ?? []) {
      for (const c of step.changes) {
        console.log(
          `  ${step.id}: - ${c.kind} ${
            c.namespace ? `${c.namespace}/` : ""
          }${c.name}`,
        );
      }
    }
    return destroy.code === 0 && again.code === 0 ? 0 : 1;
  } finally {
    const down = await task(["cluster", "down", "--dir", dir], {
      timeoutMs: 120_000,
    }).catch(() => ({ code: -1 }));
    const left = readClusterState(dir);
    if (down.code !== 0 && left) {
      await stopClusterState({ ...left, ownsDir: true });
    }
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) main(Deno.args).then((code) => Deno.exit(code));
