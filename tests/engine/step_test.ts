import { z } from "../../lib/deps.ts";
import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { defineStep } from "../../lib/engine/step.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import { emptyPlan } from "../../lib/engine/types.ts";

function make(options: unknown) {
  return defineStep({
    id: "s",
    title: "s",
    schema: z.object({ name: z.string().default("x"), password: z.string() })
      .strict(),
    options: options as { password: string },
    sensitive: ["password"],
    sensitiveOutputs: ["token"],
    plan: () => Promise.resolve(emptyPlan()),
    apply: (_ctx, _plan, o) => Promise.resolve({ name: o.name }),
    verify: () => Promise.resolve({ checks: [] }),
  }, { source: "kfplan.yaml", prefix: ["dex"] });
}

Deno.test("defineStep validates options before anything runs", () => {
  const e = throws(() => make({ pasword: "x" }), OptionsError);
  assertMatch(e.message, /kfplan\.yaml/);
  assertMatch(e.message, /dex\.password: required/);
  assertMatch(e.message, /unknown field "pasword"/);
});

Deno.test("defineStep passes parsed options (with defaults) and sensitivity through", () => {
  const step = make({ password: "pw-123456" });
  assertEquals(step.options, { name: "x", password: "pw-123456" });
  assertEquals(step.sensitive, ["password"]);
  assertEquals(step.sensitiveOutputs, ["token"]);
  assertEquals(step.needs, []);
});
