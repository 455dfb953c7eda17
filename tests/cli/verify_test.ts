import { assertEquals, assertMatch } from "../_assert.ts";
import { verifyCommand } from "../../lib/cli/verify.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { Composition } from "../../lib/cli/session.ts";
import { testStep } from "../engine/_steps.ts";

// verify against a real cluster is in tests/integration/cli_apply_test.ts.
Deno.test("verify without a cluster says so", async () => {
  const io = capturedIO();
  const code = await verifyCommand([], {
    io,
    compose: (): Promise<Composition> =>
      Promise.resolve({ steps: [testStep("a")] }),
    connect: () => Promise.resolve({ offline: "no kubeconfig (test)" }),
  });
  assertEquals(code, 1);
  assertMatch(
    io.stderr(),
    /verify needs a cluster, and there is none: no kubeconfig \(test\)/,
  );
});
