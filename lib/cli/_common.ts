/**
 * Helpers shared by the command modules.
 *
 * @module
 */

import { type ArgSpec, type CliArgs, parseArgs, UsageError } from "./args.ts";
import { type CliIO, denoIO } from "./io.ts";
import type { Composition, SessionOptions } from "./session.ts";
import { composeFromConfig } from "./session.ts";

/** Parses args and prints usage for `--help`; returns the args or an exit code. */
export function start(
  argv: string[],
  spec: ArgSpec,
  usage: string,
  io: CliIO,
): CliArgs | number {
  try {
    const args = parseArgs(argv, spec);
    if (args.help) {
      io.out(usage);
      return 0;
    }
    return args;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n\n${usage}`);
      return 1;
    }
    throw e;
  }
}

/** The session's IO or the process's. */
export function ioOf(options: SessionOptions): CliIO {
  return options.io ?? denoIO();
}

/** Builds the steps, honouring `--config`. */
export function compose(
  args: CliArgs,
  options: SessionOptions,
): Promise<Composition> {
  return (options.compose ?? composeFromConfig)(args.config);
}

/** Prints an error the way every command does and returns exit code 1. */
export function fail(io: CliIO, error: unknown): number {
  const message = error instanceof Error ? error.message : String(error);
  io.err(`error: ${message}\n`);
  return 1;
}
