/**
 * kube-apiserver crashes and restarts in the middle of an apply (on a control plane of
 * this test's own): the apply converges after bounded backoff (the client's retries,
 * `lib/kube/retry.ts`, and the checkpoint's), or fails naming the step and the next
 * command; the following apply converges either way.
 */
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import { startCluster } from "../cluster/harness.ts";
import { applyCommand } from "../../lib/cli/apply.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { Composition, SessionOptions } from "../../lib/cli/session.ts";
import { loadCheckpoint } from "../../lib/engine/checkpoint.ts";
import { identifyCluster } from "../../lib/engine/cluster.ts";
import type { Step } from "../../lib/engine/types.ts";
import type { KubeClient } from "../../lib/kube/types.ts";
import { configMapStep } from "./_configmap_step.ts";

const NS = "restart";
const NAMES = ["one", "two", "three", "four"];

/** A chain of ConfigMap steps; `two` verifies slowly, which leaves room for the crash. */
function chain(): Step[] {
  return NAMES.map((name, i) => {
    const step = configMapStep(name, {
      namespace: NS,
      name,
      data: { n: String(i) },
    }, { needs: i === 0 ? [] : [NAMES[i - 1]] });
    if (name !== "two") return step;
    return {
      ...step,
      async verify(ctx, plan) {
        await new Promise((r) => setTimeout(r, 1500));
        return await step.verify(ctx, plan);
      },
    };
  });
}

async function waitFor(check: () => Promise<boolean>, ms: number) {
  const deadline = Date.now() + ms;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms}ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("an apply survives a kube-apiserver restart, or names the step to resume; the next apply converges", async () => {
  const cluster = await startCluster({ nodes: [] });
  await using state = await tempDir();
  const kube: KubeClient = cluster.kube;
  try {
    await kube.create({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: NS },
    });
    const steps = chain();
    const session = (io = capturedIO()): SessionOptions & {
      io: ReturnType<typeof capturedIO>;
    } => ({
      io,
      compose: (): Promise<Composition> => Promise.resolve({ steps }),
      connect: () => Promise.resolve({ kube }),
    });
    const cp = ["--checkpoint", state.path, "--yes"];

    const first = session();
    const running = applyCommand(cp, first);
    let finished = false;
    running.finally(() => finished = true).catch(() => {});
    // Crash the API server once the first step's object exists: the second step is
    // then verifying, the third and fourth are still to come.
    await waitFor(
      async () =>
        (await kube.get({
          apiVersion: "v1",
          kind: "ConfigMap",
          namespace: NS,
          name: "one",
        }).catch(() => undefined)) !== undefined,
      30_000,
    );
    assert(!finished, "the crash comes in the middle of the apply");
    await cluster.restartApiServer({ downMs: 1000 });
    const code = await running;
    const out = first.io.stdout() + first.io.stderr();
    if (code === 0) {
      assertMatch(
        out,
        /Apply: \d+ done, \d+ unchanged, 0 failed, 0 not started/,
      );
    } else {
      // Failed: the summary names the failed step and says what to run next.
      assertEquals(code, 1, out);
      assertMatch(out, /failed: (one|two|three|four): /);
      assertMatch(out, /To resume once the cause is fixed: deno task apply/);
    }
    console.log(
      `first apply across the restart: exit ${code}; ${
        out.split("\n").filter((l) => /^Apply:|failed:|retry/.test(l)).join(
          " | ",
        )
      }`,
    );

    const second = session();
    assertEquals(
      await applyCommand(cp, second),
      0,
      second.io.stdout() + second.io.stderr(),
    );
    const third = session();
    assertEquals(await applyCommand(cp, third), 0);
    assertMatch(third.io.stdout(), /Nothing to apply/);
    for (const name of NAMES) {
      const live = await kube.get({
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: NS,
        name,
      });
      assert(live, `ConfigMap ${name}`);
    }
    const { checkpoint, source } = await loadCheckpoint(kube, {
      dir: state.path,
      cluster: await identifyCluster(kube),
    });
    assertEquals(source, "cluster");
    assertEquals(
      NAMES.map((n) => checkpoint.steps[n]?.status),
      ["verified", "verified", "verified", "verified"],
    );
  } finally {
    await cluster.stop();
  }
});
