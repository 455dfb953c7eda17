import { z } from "../../lib/deps.ts";
import { assertEquals, assertMatch, throws } from "../_assert.ts";
import {
  formatPath,
  OptionsError,
  OptionsIssues,
  validateOptions,
} from "../../lib/engine/options.ts";

const schema = z.object({
  pools: z.array(
    z.object({
      addresses: z.array(
        z.string().regex(/^\d+\.\d+\.\d+\.\d+\/\d+$/, {
          message: 'is not an IP range; use a CIDR or "first-last"',
        }),
      ),
    }).strict(),
  ),
  replicas: z.int().min(1, "must be at least 1"),
}).strict();

Deno.test("validation errors name the file, the field path and what is valid", () => {
  const e = throws(
    () =>
      validateOptions(schema, {
        pools: [{ addresses: ["10.0.0.0/24", "10.0.0.300"] }],
        replicas: 1,
      }, {
        source: "kfplan.yaml",
        prefix: ["metallb"],
      }),
    OptionsError,
  );
  assertEquals(
    e.message,
    'kfplan.yaml: metallb.pools[0].addresses[1]: is not an IP range; use a CIDR or "first-last"',
  );
});

Deno.test("every problem is listed; unknown and missing fields are explained", () => {
  const e = throws(
    () =>
      validateOptions(schema, { pools: [], replica: 2 }, { source: "k.yaml" }),
    OptionsError,
  );
  assertEquals(e.issues.length, 2);
  assertMatch(e.message, /unknown field "replica" \(check the spelling/);
  assertMatch(e.message, /replicas: required/);
});

Deno.test("formatPath quotes keys that are not identifiers", () => {
  assertEquals(formatPath(["data", "config.yaml"]), 'data["config.yaml"]');
  assertEquals(formatPath([]), "(root)");
});

Deno.test("OptionsIssues gathers the issues of several validations into one error", () => {
  const issues = new OptionsIssues();
  const replicas = z.object({ replicas: z.int().min(2) }).strict();
  const ok = issues.attempt(() =>
    validateOptions(replicas, { replicas: 4 }, { prefix: ["a"] })
  );
  const bad = issues.attempt(() =>
    validateOptions(replicas, { replicas: 1 }, { prefix: ["b"] })
  );
  const worse = issues.attempt(() =>
    validateOptions(replicas, { replica: 3 }, { prefix: ["c"] })
  );
  assertEquals(ok, { replicas: 4 });
  assertEquals([bad, worse], [undefined, undefined]);
  const error = throws(() => issues.throwIfAny("kfplan.yaml"), OptionsError);
  assertEquals(error.issues.map((i) => i.path), [
    "b.replicas",
    "c.replicas",
    "c",
  ]);
  // Errors other than option errors are not swallowed.
  throws(() =>
    issues.attempt(() => {
      throw new TypeError("bug");
    }), TypeError);
  new OptionsIssues().throwIfAny("nothing to report");
});
