import { assertEquals, assertMatch } from "../_assert.ts";
import { unlockCommand } from "../../lib/cli/unlock.ts";
import { capturedIO } from "../../lib/cli/io.ts";

// Breaking a real Lease is in tests/integration/engine_lock_test.ts.
Deno.test("unlock explains --force and needs a cluster", async () => {
  const help = capturedIO();
  assertEquals(await unlockCommand(["--help"], { io: help }), 0);
  assertMatch(
    help.stdout(),
    /--force\s+remove the lock even when it looks alive/,
  );
  const io = capturedIO();
  assertEquals(
    await unlockCommand([], {
      io,
      connect: () => Promise.resolve({ offline: "none" }),
    }),
    1,
  );
  assertMatch(io.stderr(), /unlock needs a cluster/);
});
