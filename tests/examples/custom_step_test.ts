import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import { parsePlanDocument } from "../../lib/engine/plan_document.ts";
import { main, motdStep } from "../../examples/custom_step.ts";

Deno.test("the custom step validates its options", () => {
  const e = throws(
    () => motdStep({ namespace: "Kube Flow", message: "" }),
    OptionsError,
  );
  assertMatch(e.message, /examples\/custom_step\.ts/);
  assertMatch(e.message, /motd\.namespace: must be a namespace name/);
  assertMatch(e.message, /motd\.message: must not be empty/);
});

Deno.test("the script plans the shipped steps plus the custom one, like deno task plan", async () => {
  const io = capturedIO();
  const code = await main(["plan", "--json"], {
    io,
    connect: () => Promise.resolve({ offline: "no kubeconfig (test)" }),
  });
  const doc = parsePlanDocument(io.stdout());
  const motd = doc.steps.at(-1)!;
  assertEquals(motd.id, "motd");
  assertEquals(motd.needs, doc.steps.slice(0, -1).map((s) => s.id));
  assertEquals(
    motd.changes.map((c) => `${c.action} ${c.kind} ${c.namespace}/${c.name}`),
    [
      "create ConfigMap kubeflow/motd",
    ],
  );
  // Offline, the shipped steps and the custom one plan without errors: exit 2.
  assertEquals(doc.summary.errors, 0, io.stderr());
  assertEquals(code, 2, io.stderr());
});

Deno.test("an unknown command prints usage", async () => {
  assertEquals(await main(["destroy"]), 1);
});
