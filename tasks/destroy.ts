/**
 * `deno task destroy`: see {@linkcode destroyCommand} in `lib/cli/destroy.ts` (`--help` for usage).
 *
 * @module
 */

import { destroyCommand } from "../lib/cli/destroy.ts";

if (import.meta.main) {
  destroyCommand(Deno.args).then((code) => Deno.exit(code));
}
