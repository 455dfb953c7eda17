/**
 * `deno task status`: see {@linkcode statusCommand} in `lib/cli/status.ts` (`--help` for usage).
 *
 * @module
 */

import { statusCommand } from "../lib/cli/status.ts";

if (import.meta.main) statusCommand(Deno.args).then((code) => Deno.exit(code));
