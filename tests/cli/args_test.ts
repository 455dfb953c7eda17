import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { parseArgs, UsageError } from "../../lib/cli/args.ts";

const spec = {
  strings: ["config", "parallelism", "out"],
  booleans: ["json", "yes"],
  maxPositional: 1,
};

Deno.test("parseArgs reads flags and positionals", () => {
  const a = parseArgs([
    "plan.json",
    "--config",
    "k.yaml",
    "--json",
    "--parallelism",
    "3",
  ], spec);
  assertEquals(a._, ["plan.json"]);
  assertEquals(a.config, "k.yaml");
  assertEquals(a.json, true);
  assertEquals(a.yes, false);
  assertEquals(a.parallelism, 3);
});

Deno.test("parseArgs names the mistake", () => {
  assertMatch(
    throws(() => parseArgs(["--jsn"], spec), UsageError).message,
    /unknown option --jsn/,
  );
  assertMatch(
    throws(() => parseArgs(["a", "b"], spec), UsageError).message,
    /unexpected arguments a b/,
  );
  assertMatch(
    throws(() => parseArgs(["--parallelism", "x"], spec), UsageError).message,
    /whole number/,
  );
  assertMatch(
    throws(() => parseArgs(["--config"], spec), UsageError).message,
    /--config needs a value/,
  );
});
