/**
 * `deno task unlock`: see {@linkcode unlockCommand} in `lib/cli/unlock.ts` (`--help` for usage).
 *
 * @module
 */

import { unlockCommand } from "../lib/cli/unlock.ts";

if (import.meta.main) unlockCommand(Deno.args).then((code) => Deno.exit(code));
