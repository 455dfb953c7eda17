/**
 * The simulated nodes, moved to `sim/_nodes.ts` (exported by `sim/harness.ts`).
 *
 * @module
 */

export { defaultNodes, nodeObject, type NodeSpec } from "../../sim/harness.ts";
