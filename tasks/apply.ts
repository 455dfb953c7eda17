/**
 * `deno task apply`: see {@linkcode applyCommand} in `lib/cli/apply.ts` (`--help` for usage).
 *
 * @module
 */

import { applyCommand } from "../lib/cli/apply.ts";

if (import.meta.main) applyCommand(Deno.args).then((code) => Deno.exit(code));
