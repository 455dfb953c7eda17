/**
 * The test control plane, moved to `sim/harness.ts` (shared with `deno task cluster`);
 * re-exported here so tests keep importing it from `tests/cluster/harness.ts`.
 *
 * @module
 */

export * from "../../sim/harness.ts";
