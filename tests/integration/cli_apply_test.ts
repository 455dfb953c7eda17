import { tempDir } from "../_shared.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import { applyCommand } from "../../lib/cli/apply.ts";
import { planCommand } from "../../lib/cli/plan.ts";
import { statusCommand } from "../../lib/cli/status.ts";
import { verifyCommand } from "../../lib/cli/verify.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { Composition, SessionOptions } from "../../lib/cli/session.ts";
import type { Step } from "../../lib/engine/types.ts";
import { configMapStep } from "./_configmap_step.ts";

async function setup(prefix: string) {
  const cluster = await useCluster();
  const ns = await cluster.namespace(prefix);
  const work = await tempDir();
  const dir = work.path;
  const session = (
    steps: Step[],
    io = capturedIO(),
  ): SessionOptions & { io: ReturnType<typeof capturedIO> } => ({
    io,
    compose: (): Promise<Composition> => Promise.resolve({ steps }),
    connect: () => Promise.resolve({ kube: cluster.kube }),
    lock: { name: `kfplan-lock-${ns}` },
  });
  return { cluster, ns, dir, work, session };
}

Deno.test("apply asks for confirmation, refuses without a terminal, applies with --yes and resumes", async () => {
  const { cluster, ns, dir, work, session } = await setup("kfplan-cli");
  await using _work = work;
  const steps = [
    configMapStep("settings", {
      namespace: ns,
      name: "settings",
      data: { replicas: "3" },
    }),
    configMapStep("users", {
      namespace: ns,
      name: "users",
      data: { alice: "admin" },
    }, { needs: ["settings"] }),
  ];
  const cp = ["--checkpoint", dir];

  const noTty = session(steps);
  assertEquals(await applyCommand(cp, noTty), 1);
  assertMatch(noTty.io.stderr(), /stdin is not a terminal\. Re-run with --yes/);
  assertEquals(
    await cluster.kube.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: ns,
      name: "settings",
    }),
    undefined,
  );

  const declined = session(
    steps,
    capturedIO({ stdinIsTerminal: true, input: ["no"] }),
  );
  assertEquals(await applyCommand(cp, declined), 1);
  assertMatch(declined.io.stdout(), /Only 'yes' will be accepted/);
  assertMatch(declined.io.stdout(), /Apply cancelled/);

  const yes = session(
    steps,
    capturedIO({ stdinIsTerminal: true, input: ["yes"] }),
  );
  assertEquals(await applyCommand(cp, yes), 0, yes.io.stderr());
  assertMatch(yes.io.stdout(), /Plan: 2 to create/);
  assertMatch(yes.io.stdout(), /settings: done in \d+\.\ds/);
  assertMatch(
    yes.io.stdout(),
    /Apply: 2 done, 0 unchanged, 0 failed, 0 not started\./,
  );

  const again = session(steps);
  assertEquals(
    await applyCommand([...cp, "--yes"], again),
    0,
    again.io.stderr(),
  );
  assertMatch(again.io.stdout(), /No changes\./);
  assertMatch(again.io.stdout(), /Nothing to apply/);

  const json = session([
    ...steps.slice(0, 1),
    configMapStep("users", {
      namespace: ns,
      name: "users",
      data: { alice: "viewer" },
    }, { needs: ["settings"] }),
  ]);
  assertEquals(
    await applyCommand([...cp, "--yes", "--json"], json),
    0,
    json.io.stderr(),
  );
  const events = json.io.stdout().trim().split("\n").map((l) => JSON.parse(l));
  const skipped = events.find((e) => e.type === "step-skipped");
  assertEquals(skipped?.id, "settings");
  assertMatch(skipped.reason, /^unchanged, verified at .* — skipped$/);
  assert(events.some((e) => e.type === "step-done" && e.id === "users"));

  const status = session(steps);
  assertEquals(await statusCommand(cp, status), 0);
  assertMatch(status.io.stdout(), /settings\s+verified/);
  assertMatch(
    status.io.stdout(),
    /users\s+verified .*its options changed since it was verified: will re-apply/,
  );

  const verify = session(steps);
  assertEquals(
    await verifyCommand(cp, verify),
    1,
    "users has viewer, the config says admin",
  );
  assertMatch(verify.io.stdout(), /FAILED users/);
  assertMatch(verify.io.stdout(), /FAIL data\.alice: is "viewer"/);
});

Deno.test("plan --out then apply PLAN.json applies exactly that plan, refuses when stale", async () => {
  const { cluster, ns, dir, work, session } = await setup("kfplan-cli2");
  await using _work = work;
  const steps = [
    configMapStep("one", { namespace: ns, name: "one", data: { a: "1" } }),
  ];
  const planFile = `${dir}/plan.json`;
  const p = session(steps);
  assertEquals(
    await planCommand(["--checkpoint", dir, "--out", planFile], p),
    2,
  );
  assertMatch(p.io.stdout(), /deno task apply .*plan\.json/);
  const a = session(steps);
  assertEquals(
    await applyCommand([planFile, "--checkpoint", dir], a),
    0,
    a.io.stderr(),
  );

  const changed = [
    configMapStep("one", { namespace: ns, name: "one", data: { a: "2" } }),
  ];
  assertEquals(
    await planCommand(
      ["--checkpoint", dir, "--out", planFile],
      session(changed),
    ),
    2,
  );
  const live = await cluster.kube.get({
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: ns,
    name: "one",
  });
  await cluster.kube.replace({ ...live!, data: { a: "edited by hand" } });
  const stale = session(changed);
  assertEquals(await applyCommand([planFile, "--checkpoint", dir], stale), 1);
  assertMatch(
    stale.io.stderr(),
    new RegExp(`ConfigMap ${ns}/one changed since the plan`),
  );
});
