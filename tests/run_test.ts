import { assertEquals } from "./_assert.ts";
import { parseSummary } from "./run.ts";

Deno.test("parseSummary reads deno test's last summary line, with or without colours", () => {
  assertEquals(parseSummary("ok | 12 passed | 0 failed (3s)\n"), {
    passed: 12,
    failed: 0,
  });
  assertEquals(
    parseSummary(
      "x\n\x1b[0m\x1b[31mFAILED\x1b[0m | 40 passed (3 steps) | 2 failed | 1 ignored (9s)\n",
    ),
    { passed: 40, failed: 2 },
  );
  assertEquals(
    parseSummary("ok | 1 passed | 0 failed\nFAILED | 5 passed | 1 failed\n"),
    { passed: 5, failed: 1 },
  );
  assertEquals(parseSummary("error: Module not found"), undefined);
});
