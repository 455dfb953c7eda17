/**
 * Shared plumbing of the planner, the executor and verify: the secret scrubber of a
 * run, the default logger, and step contexts.
 *
 * @module
 */

import type { KubeClient } from "../kube/types.ts";
import { redactOptions, scrubbingLogger, SecretScrubber } from "./redact.ts";
import type { Logger, Step, StepContext, StepPolicy } from "./types.ts";

/** A scrubber knowing every sensitive option value of `steps`. */
export function scrubberFor(
  steps: readonly Step[],
  extra: Iterable<string> = [],
): SecretScrubber {
  const scrubber = new SecretScrubber(extra);
  for (const step of steps) {
    for (
      const s of redactOptions(step.options, {
        sensitive: step.sensitive ?? [],
      })
        .secrets
    ) {
      scrubber.add(s);
    }
  }
  return scrubber;
}

/** A logger that drops everything: the default of library calls. */
export function silentLogger(): Logger {
  return { info() {}, warn() {}, debug() {} };
}

/** A logger that prefixes messages with the step id. */
export function stepLogger(
  log: Logger,
  id: string,
  scrubber: SecretScrubber,
): Logger {
  const scrubbed = scrubbingLogger(log, scrubber);
  return {
    info: (m) => scrubbed.info(`[${id}] ${m}`),
    warn: (m) => scrubbed.warn(`[${id}] ${m}`),
    debug: (m) => scrubbed.debug(`[${id}] ${m}`),
  };
}

/** Inputs of {@linkcode contextFor}. */
export interface ContextInputs {
  kube?: KubeClient;
  log: Logger;
  workDir: string;
  signal: AbortSignal;
  scrubber: SecretScrubber;
  /** Known outputs of every step, by id. */
  outputs: Map<string, Record<string, unknown>>;
  /** Key for sealed render caches (see {@linkcode StepContext.renderCacheKey}). */
  renderCacheKey?: Uint8Array;
  /** What the user allowed (see {@linkcode StepContext.policy}). */
  policy?: StepPolicy;
}

/** The context of one step: only the outputs of the steps it needs. */
export function contextFor(step: Step, inputs: ContextInputs): StepContext {
  const outputs: Record<string, Record<string, unknown>> = {};
  for (const need of step.needs) {
    const o = inputs.outputs.get(need);
    if (o) outputs[need] = o;
  }
  return {
    kube: inputs.kube,
    offline: inputs.kube === undefined,
    outputs,
    log: stepLogger(inputs.log, step.id, inputs.scrubber),
    workDir: inputs.workDir,
    signal: inputs.signal,
    addSecret: (value) => inputs.scrubber.add(value),
    renderCacheKey: inputs.renderCacheKey,
    ...(inputs.policy ? { policy: inputs.policy } : {}),
  };
}

/** The message of an error, secrets scrubbed. */
export function errorMessage(error: unknown, scrubber: SecretScrubber): string {
  const m = error instanceof Error ? error.message : String(error);
  return scrubber.scrub(m);
}

/** Removes a scratch directory; a failure to clean up never fails the run. */
export async function removeDir(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch(() => {});
}
