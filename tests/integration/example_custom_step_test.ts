import { tempDir } from "../_shared.ts";
import { assertEquals, assertMatch } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import { createKubeClient } from "../../lib/kube/client.ts";
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

Deno.test("the example's custom step names a motd another tool made and takes it only with --force-conflicts", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("kfplan-motd-theirs");
  await using work = await tempDir();
  const dir = work.path;
  // Made by another tool: `kubectl apply --server-side` writes as "kubectl".
  const kubectl = createKubeClient({
    kubeconfig: cluster.kubeconfig,
    fieldManager: "kubectl",
  });
  await kubectl.apply({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "motd", namespace: ns },
    data: { message: "theirs" },
  });
  const session = () => ({
    io: capturedIO(),
    compose: (): Promise<Composition> =>
      Promise.resolve({
        steps: [motdStep({ namespace: ns, message: "ours" })],
      }),
    connect: () => Promise.resolve({ kube: cluster.kube }),
    lock: { name: `kfplan-lock-${ns}` },
  });
  const plan = session();
  assertEquals(await main(["plan", "--checkpoint", dir], plan), 2);
  assertMatch(plan.io.stdout() + plan.io.stderr(), /kubectl.*data\.message/s);
  assertMatch(plan.io.stdout() + plan.io.stderr(), /--force-conflicts/);
  const refused = session();
  assertEquals(
    await main(["apply", "--yes", "--checkpoint", dir], refused),
    1,
  );
  assertMatch(
    refused.io.stdout() + refused.io.stderr(),
    /kubectl.*--force-conflicts/s,
  );
  const motd = { apiVersion: "v1", kind: "ConfigMap", namespace: ns };
  assertEquals(
    (await cluster.kube.get({ ...motd, name: "motd" }))?.data,
    { message: "theirs" },
  );
  const forced = session();
  assertEquals(
    await main(
      ["apply", "--yes", "--force-conflicts", "--checkpoint", dir],
      forced,
    ),
    0,
    forced.io.stderr(),
  );
  assertEquals(
    (await cluster.kube.get({ ...motd, name: "motd" }))?.data,
    { message: "ours" },
  );
});
