import { assertMatch } from "../_assert.ts";
import { PROBE_LABEL } from "../../lib/steps/probe.ts";

Deno.test("the probe label is a valid, kfplan-prefixed label key", () => {
  // A label key: optional DNS prefix, '/', and a name of at most 63 characters.
  assertMatch(
    PROBE_LABEL,
    /^kfplan\.dev\/[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?$/,
  );
});
