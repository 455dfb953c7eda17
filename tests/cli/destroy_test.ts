/**
 * `deno task destroy` as a library call: usage, no cluster, and on the shared
 * control plane the plan first, then refusal without a terminal, "no" cancels, "yes"
 * destroys, and a second run has nothing to do.
 */

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import { useCluster } from "../cluster/harness.ts";
import { DESTROY_USAGE, destroyCommand } from "../../lib/cli/destroy.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import { emptyPlan, type Step } from "../../lib/engine/types.ts";
import {
  applySetIdOf,
  deleteInventory,
  withPartOf,
  writeInventory,
} from "../../lib/kube/inventory.ts";
import { refOf } from "../../lib/kube/object_ref.ts";

function step(id: string): Step {
  return {
    id,
    title: `step ${id}`,
    needs: [],
    options: {},
    plan: () => Promise.resolve(emptyPlan()),
    apply: () => Promise.resolve({}),
    verify: () => Promise.resolve({ checks: [] }),
  };
}

Deno.test("destroy --help prints the usage with the exit codes", async () => {
  const io = capturedIO();
  assertEquals(await destroyCommand(["--help"], { io }), 0);
  assertEquals(io.stdout(), DESTROY_USAGE);
  assertMatch(DESTROY_USAGE, /--allow-data-loss/);
  assertMatch(DESTROY_USAGE, /Exit status: 0/);
});

Deno.test("destroy needs a cluster and says so", async () => {
  const io = capturedIO();
  const code = await destroyCommand(["--yes"], {
    io,
    compose: () => Promise.resolve({ steps: [step("x")] }),
    connect: () => Promise.resolve({ offline: "no kubeconfig found" }),
  });
  assertEquals(code, 1);
  assertMatch(io.stderr(), /destroy needs a cluster.*no kubeconfig found/);
});

Deno.test("destroy shows the plan, refuses without a terminal, 'no' cancels, 'yes' destroys, then nothing to do", async () => {
  const { kube, namespace } = await useCluster();
  const ns = await namespace("destroy-cli");
  await using work = await tempDir();
  const id = `cli-${ns}`;
  // The installation of the lock the session below names.
  const scope = { installation: `kfplan-lock-${ns}` };
  const applySetId = applySetIdOf(id, scope);
  const cm = withPartOf({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "settings", namespace: ns },
    data: { a: "1" },
  }, applySetId);
  const live = await kube.apply(cm);
  await writeInventory(kube, {
    step: id,
    applySetId,
    entries: [{ ...refOf(cm), uid: live.metadata.uid, state: "applied" }],
  }, scope);
  const session = {
    compose: () => Promise.resolve({ steps: [step(id)] }),
    connect: () => Promise.resolve({ kube }),
    lock: { name: `kfplan-lock-${ns}` },
  };
  const argv = ["--checkpoint", work.path];
  try {
    const refused = capturedIO({ stdinIsTerminal: false });
    assertEquals(await destroyCommand(argv, { ...session, io: refused }), 1);
    assertMatch(refused.stdout(), new RegExp(`- .*ConfigMap ${ns}/settings`));
    assertMatch(
      refused.stderr(),
      /refusing to destroy without confirmation: stdin is not a terminal.*--yes/,
    );
    assert(await kube.get(refOf(cm)), "nothing deleted");

    const no = capturedIO({ stdinIsTerminal: true, input: ["no"] });
    assertEquals(await destroyCommand(argv, { ...session, io: no }), 1);
    assertMatch(no.stdout(), /Destroy cancelled; nothing was deleted/);
    assert(await kube.get(refOf(cm)), "nothing deleted");

    const yes = capturedIO({ stdinIsTerminal: true, input: ["yes"] });
    assertEquals(
      await destroyCommand(argv, { ...session, io: yes }),
      0,
      yes.stderr(),
    );
    assertMatch(yes.stdout(), /Destroy: 1 done/);
    assertEquals(await kube.get(refOf(cm)), undefined);

    const again = capturedIO({ stdinIsTerminal: false });
    assertEquals(await destroyCommand(argv, { ...session, io: again }), 0);
    assertMatch(again.stdout(), /Nothing to destroy/);

    const json = capturedIO();
    assertEquals(
      await destroyCommand([...argv, "--json"], { ...session, io: json }),
      1,
    );
    assertMatch(json.stderr(), /--json needs --yes/);
  } finally {
    await deleteInventory(kube, id).catch(() => {});
    await kube.delete({ apiVersion: "v1", kind: "Namespace", name: ns })
      .catch(() => false);
  }
});
