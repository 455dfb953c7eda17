/**
 * `deno task cluster`, moved to `sim/cli.ts`; re-exported here so tests keep importing
 * it from `tests/cluster/cli.ts`.
 *
 * @module
 */

export * from "../../sim/cli.ts";
