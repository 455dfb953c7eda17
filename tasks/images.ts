/**
 * `deno task images`: see {@linkcode imagesCommand} in `lib/cli/images.ts` (`--help` for usage).
 *
 * @module
 */

import { imagesCommand } from "../lib/cli/images.ts";

if (import.meta.main) imagesCommand(Deno.args).then((code) => Deno.exit(code));
