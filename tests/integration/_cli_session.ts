/**
 * Runs the CLI's commands in-process against a test control plane, as one
 * installation of its own (its lock and state directory), capturing their output.
 *
 * @module
 */

import { capturedIO } from "../../lib/cli/io.ts";
import type { Composition, SessionOptions } from "../../lib/cli/session.ts";
import type { planCommand } from "../../lib/cli/plan.ts";
import type { Step } from "../../lib/engine/types.ts";
import type { TestCluster } from "../cluster/harness.ts";

/** What one command printed and returned. */
export interface CliRun {
  /** The exit code. */
  code: number;
  /** Standard output. */
  out: string;
  /** Standard error. */
  err: string;
}

/** A CLI command (`planCommand`, `applyCommand`, ...) run on the given steps. */
export type CliSession = (
  command: typeof planCommand,
  steps: Step[],
  argv: string[],
) => Promise<CliRun>;

/**
 * Runs CLI commands against `cluster` as installation `install` (lock
 * `kfplan-lock-<install>`), with the checkpoint under `stateDir`.
 */
export function cliSession(
  cluster: TestCluster,
  install: string,
  stateDir: string,
): CliSession {
  return async (command, steps, argv) => {
    const io = capturedIO();
    const options: SessionOptions = {
      io,
      compose: (): Promise<Composition> => Promise.resolve({ steps }),
      connect: () => Promise.resolve({ kube: cluster.kube }),
      lock: { name: `kfplan-lock-${install}` },
    };
    const code = await command([...argv, "--checkpoint", stateDir], options);
    return { code, out: io.stdout(), err: io.stderr() };
  };
}
