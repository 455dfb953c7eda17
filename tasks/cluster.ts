/**
 * `deno task cluster up|down|env|status`: see {@linkcode clusterCommand} in
 * `sim/cli.ts` (`--help` for usage).
 *
 * @module
 */

import { clusterCommand } from "../sim/mod.ts";

if (import.meta.main) clusterCommand(Deno.args).then((code) => Deno.exit(code));
