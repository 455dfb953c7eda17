/**
 * The polling loop every simulated controller runs, and the label and field manager
 * they share.
 *
 * @module
 */

import {
  type ClosableKubeClient,
  createKubeClient,
} from "../../lib/kube/client.ts";

/** Label on every object the simulation creates. */
export const SIMULATED_LABEL = "kfplan.dev/simulated";

/** `{ "kfplan.dev/simulated": "true" }`, for the labels of created objects. */
export function simulatedLabels(): Record<string, string> {
  return { [SIMULATED_LABEL]: "true" };
}

/** The field manager of `deno task cluster up`'s simulated controllers. */
export const SIM_FIELD_MANAGER = "kfplan-sim";

/** A client under the simulation's own field manager (see {@linkcode SIM_FIELD_MANAGER}). */
export function simClient(
  kubeconfig: string,
  options: { fieldManager?: string } = {},
): ClosableKubeClient {
  return createKubeClient({
    kubeconfig,
    fieldManager: options.fieldManager ?? SIM_FIELD_MANAGER,
  });
}

/** A simulated controller running in the background. */
export interface Played {
  /** Stops the loop; rethrows nothing, logs its last error. */
  stop(): Promise<void>;
  /** What the controller wrote, in order (e.g. `ClusterPolicy notReady`). */
  history: string[];
}

/** Options of {@linkcode loop}. */
export interface LoopOptions {
  /** Pause between rounds; default 200 ms. */
  intervalMs?: number;
  /** Where the last error goes when the loop stops; default the console. */
  onLog?: (message: string) => void;
  /** Name in that message; default `played controller`. */
  name?: string;
}

/**
 * Runs `tick` every `intervalMs` until stopped. A failing round is retried on the
 * next one (the API may be busy during a big apply); the last error is reported when
 * the loop stops.
 */
export function loop(
  tick: () => Promise<void>,
  options: LoopOptions = {},
): () => Promise<void> {
  let running = true;
  let lastError: unknown;
  let wake: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = (async () => {
    while (running) {
      try {
        await tick();
        lastError = undefined;
      } catch (error) {
        lastError = error;
      }
      if (!running) break;
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, options.intervalMs ?? 200);
      });
    }
  })();
  return async () => {
    running = false;
    clearTimeout(timer);
    wake?.();
    await done;
    if (lastError) {
      (options.onLog ?? console.log)(
        `  [${options.name ?? "played controller"}] last error: ${
          (lastError as Error).message
        }`,
      );
    }
  };
}
