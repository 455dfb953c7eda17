import { tempDir } from "../_shared.ts";
import { assertEquals, assertMatch } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { Composition } from "../../lib/cli/session.ts";
import { main, motdStep } from "../../examples/custom_step.ts";

Deno.test("the example script applies and verifies its custom step on a real cluster", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("kfplan-motd");
  await using work = await tempDir();
  const dir = work.path;
  const session = (message: string) => ({
    io: capturedIO(),
    compose: (): Promise<Composition> =>
      Promise.resolve({ steps: [motdStep({ namespace: ns, message })] }),
    connect: () => Promise.resolve({ kube: cluster.kube }),
    lock: { name: `kfplan-lock-${ns}` },
  });
  const apply = session("hello");
  assertEquals(
    await main(["apply", "--yes", "--checkpoint", dir], apply),
    0,
    apply.io.stderr(),
  );
  assertMatch(apply.io.stdout(), new RegExp(`\\+ v1 ConfigMap ${ns}/motd`));
  const verify = session("hello");
  assertEquals(
    await main(["verify", "--checkpoint", dir], verify),
    0,
    verify.io.stderr(),
  );
  const drift = session("bye");
  assertEquals(await main(["verify", "--checkpoint", dir], drift), 1);
  assertMatch(drift.io.stdout(), /message is "hello"/);
  const update = session("bye");
  assertEquals(await main(["plan", "--checkpoint", dir], update), 2);
  assertMatch(update.io.stdout(), /~ data\.message: "hello" -> "bye"/);
});
