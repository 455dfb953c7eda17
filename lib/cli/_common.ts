/**
 * Helpers shared by the command modules.
 *
 * @module
 */

import { type ArgSpec, type CliArgs, parseArgs, UsageError } from "./args.ts";
import { type CliIO, denoIO } from "./io.ts";
import type { KubeClient } from "../kube/types.ts";
import type { Composition, SessionOptions } from "./session.ts";
import { type Cluster, composeFromConfig, openCluster } from "./session.ts";

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

/** What a command runs with: its steps and the cluster, or why there is none. */
export interface Session {
  /** The steps and the config they came from. */
  composition: Composition;
  /** The cluster; absent offline. */
  kube?: KubeClient;
  /** Why there is no cluster, when offline. */
  offline?: string;
}

/** Options for {@linkcode runSession}. */
export interface RunSessionOptions extends SessionOptions {
  /** Where errors go. */
  io: CliIO;
  /** Load the configuration (default true; `unlock` needs none). */
  needsConfig?: boolean;
  /** The command's name when it cannot run without a cluster. */
  requireCluster?: string;
}

/**
 * What every command does around its work: compose the steps, connect, run `body`,
 * report an error the way every command does (exit 1), and close the connection.
 */
export async function runSession(
  args: CliArgs,
  body: (session: Session) => Promise<number>,
  options: RunSessionOptions,
): Promise<number> {
  let cluster: Cluster | undefined;
  try {
    const composition = options.needsConfig === false
      ? { steps: [] }
      : await compose(args, options);
    cluster = await openCluster(args, composition, options);
    if ("offline" in cluster) {
      if (options.requireCluster) {
        throw new Error(
          `${options.requireCluster} needs a cluster, and there is none: ${cluster.offline}`,
        );
      }
      return await body({ composition, offline: cluster.offline });
    }
    return await body({ composition, kube: cluster.kube });
  } catch (error) {
    return fail(options.io, error);
  } finally {
    if (cluster && "close" in cluster) cluster.close();
  }
}
