/**
 * `deno task plan`: see {@linkcode planCommand} in `lib/cli/plan.ts` (`--help` for usage).
 *
 * @module
 */

import { planCommand } from "../lib/cli/plan.ts";

if (import.meta.main) planCommand(Deno.args).then((code) => Deno.exit(code));
