import { assertEquals, assertMatch } from "../_assert.ts";
import { statusCommand } from "../../lib/cli/status.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import { applySteps } from "../../lib/engine/executor.ts";
import type { Composition } from "../../lib/cli/session.ts";
import { testStep } from "../engine/_steps.ts";
import { tempDir } from "../_shared.ts";

Deno.test("status shows each step's checkpoint entry", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const steps = [
    testStep("a"),
    testStep("b", { needs: ["a"], applyError: "boom" }),
    testStep("c", { needs: ["b"] }),
  ];
  await applySteps(steps, { checkpointDir: dir });
  const io = capturedIO();
  const code = await statusCommand(["--checkpoint", dir], {
    io,
    compose: (): Promise<Composition> => Promise.resolve({ steps }),
    connect: () => Promise.resolve({ offline: "test" }),
  });
  assertEquals(code, 0);
  const out = io.stdout();
  assertMatch(out, /a\s+verified\s+\d{4}-/);
  assertMatch(out, /b\s+failed .*attempts 1/);
  assertMatch(out, /last error: boom/);
  assertMatch(out, /c\s+pending/);
  assertMatch(out, /1 failed, 1 pending, 1 verified of 3 steps\./);
});
