/**
 * `deno task verify`: see {@linkcode verifyCommand} in `lib/cli/verify.ts` (`--help` for usage).
 *
 * @module
 */

import { verifyCommand } from "../lib/cli/verify.ts";

if (import.meta.main) verifyCommand(Deno.args).then((code) => Deno.exit(code));
