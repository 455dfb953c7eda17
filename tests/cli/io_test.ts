import { assertEquals } from "../_assert.ts";
import { capturedIO } from "../../lib/cli/io.ts";

Deno.test("capturedIO records output and answers prompts in order, then end of input", async () => {
  const io = capturedIO({
    stdinIsTerminal: true,
    input: ["yes", "no"],
    env: { NO_COLOR: "1" },
  });
  io.out("a");
  io.out("b\n");
  io.err("e\n");
  assertEquals([io.stdout(), io.stderr()], ["ab\n", "e\n"]);
  assertEquals(
    [await io.readLine(), await io.readLine(), await io.readLine()],
    ["yes", "no", null],
  );
  assertEquals([
    io.stdinIsTerminal,
    io.stdoutIsTerminal,
    io.env("NO_COLOR"),
    io.env("CI"),
  ], [
    true,
    false,
    "1",
    undefined,
  ]);
});
