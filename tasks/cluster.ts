/**
 * `deno task cluster up|down|env|status`: see {@linkcode clusterCommand} in
 * `tests/cluster/cli.ts` (`--help` for usage).
 *
 * @module
 */

import { clusterCommand } from "../tests/cluster/cli.ts";

if (import.meta.main) clusterCommand(Deno.args).then((code) => Deno.exit(code));
