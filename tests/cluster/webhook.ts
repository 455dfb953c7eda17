/**
 * The admission webhook test server, moved to `sim/webhook.ts`; re-exported here so
 * tests keep importing it from `tests/cluster/webhook.ts`.
 *
 * @module
 */

export * from "../../sim/webhook.ts";
