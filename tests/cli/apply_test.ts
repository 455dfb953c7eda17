import { assertEquals, assertMatch } from "../_assert.ts";
import { applyCommand } from "../../lib/cli/apply.ts";
import { planCommand } from "../../lib/cli/plan.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { Composition } from "../../lib/cli/session.ts";
import { testStep } from "../engine/_steps.ts";
import { tempDir } from "../_shared.ts";

function offlineSession(calls: string[] = []) {
  return {
    io: capturedIO(),
    compose: (): Promise<Composition> =>
      Promise.resolve({ steps: [testStep("a", { calls })] }),
    connect: () => Promise.resolve({ offline: "no kubeconfig (test)" }),
  };
}

Deno.test("apply refuses a plan made offline, explaining to plan against the cluster", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await planCommand(["--out", `${dir}/plan.json`], offlineSession());
  const calls: string[] = [];
  const s = offlineSession(calls);
  assertEquals(await applyCommand([`${dir}/plan.json`], s), 1);
  assertMatch(
    s.io.stderr(),
    /was planned offline .* Plan against the cluster first: deno task plan --out/,
  );
  assertEquals(calls, []);
});

Deno.test("apply without a cluster says so and applies nothing", async () => {
  const calls: string[] = [];
  const s = offlineSession(calls);
  assertEquals(await applyCommand(["--yes"], s), 1);
  assertMatch(
    s.io.stderr(),
    /apply needs a cluster, and there is none: no kubeconfig \(test\)/,
  );
  assertEquals(calls.filter((c) => c.startsWith("apply:")), []);
});

Deno.test("apply names a broken plan file", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.writeTextFile(`${dir}/p.json`, '{"format_version":"1"}');
  const s = offlineSession();
  assertEquals(await applyCommand([`${dir}/p.json`], s), 1);
  assertMatch(s.io.stderr(), /invalid plan document: .*p\.json/);
});
