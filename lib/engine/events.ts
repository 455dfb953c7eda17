/**
 * Progress of a plan, apply or verify as a typed event union: the human and JSON
 * views render these, and scripts may listen to them. Every event is scrubbed of
 * known secrets before it leaves the engine.
 *
 * @module
 */

import type { PlanDocument } from "./plan_document.ts";
import type { SecretScrubber } from "./redact.ts";
import type { Logger, ObjectRef, VerifyCheck } from "./types.ts";

/** Done / skipped / failed / not started, by step id. */
export interface RunSummary {
  /** Steps applied and verified in this run. */
  done: string[];
  /** Steps skipped: current (verified, and the fresh plan shows nothing to do). */
  skipped: string[];
  /** Steps that failed, with the error (secrets scrubbed). */
  failed: { id: string; error: string }[];
  /** Steps not started, with why (e.g. `skipped: dependency X failed`). */
  not_started: { id: string; reason: string }[];
}

/** Progress of an apply or verify, for displays and `--json` (one JSON line each). */
export type RunEvent =
  | {
    type: "run-start";
    command: "apply" | "verify" | "destroy";
    steps: string[];
    at: string;
  }
  | {
    /** The plan apply is about to carry out (already redacted). */
    type: "plan";
    plan: PlanDocument;
    at: string;
  }
  | {
    type: "lock";
    action: "waiting" | "acquired" | "took-over" | "released" | "lost";
    detail: string;
    at: string;
  }
  | { type: "step-start"; id: string; title: string; at: string }
  | {
    type: "step-phase";
    id: string;
    /** `uninstall` and `delete` are destroy's phases. */
    phase: "plan" | "apply" | "verify" | "uninstall" | "delete";
    at: string;
  }
  | {
    /** Destroy (or prune) of one object: deleting, waiting for finalizers, deleted, skipped. */
    type: "object-delete";
    id: string;
    phase: "deleting" | "waiting" | "deleted" | "skipped";
    ref: ObjectRef;
    /** The finalizers waited for, or why the object was skipped. */
    detail?: string;
    at: string;
  }
  | { type: "step-skipped"; id: string; reason: string; at: string }
  | { type: "step-done"; id: string; elapsed_ms: number; at: string }
  | {
    type: "step-failed";
    id: string;
    error: string;
    failed_checks?: VerifyCheck[];
    elapsed_ms: number;
    at: string;
  }
  | { type: "step-not-started"; id: string; reason: string; at: string }
  | {
    type: "log";
    id?: string;
    level: "info" | "warn" | "debug";
    message: string;
    at: string;
  }
  | { type: "run-end"; ok: boolean; summary: RunSummary; at: string };

/** An event before the emitter stamps its time. */
export type RunEventInput = RunEvent extends infer E
  ? E extends RunEvent ? Omit<E, "at"> : never
  : never;

/** Stamps, scrubs and delivers events. */
export interface Emitter {
  /** The run's clock. */
  now(): Date;
  /** Delivers one event (scrubbed) to the listener, if any. */
  emit(event: RunEventInput): void;
}

/** Options for {@linkcode createEmitter}. */
export interface EmitterOptions {
  /** Receives the events. */
  onEvent?: (event: RunEvent) => void;
  /** Clock, for tests. */
  now?: () => Date;
}

/** An emitter whose events pass through the run's scrubber. */
export function createEmitter(
  scrubber: SecretScrubber,
  options: EmitterOptions,
): Emitter {
  const now = options.now ?? (() => new Date());
  return {
    now,
    emit(event) {
      if (!options.onEvent) return;
      const full = { ...event, at: now().toISOString() } as RunEvent;
      // Events may carry error texts from steps: scrub the serialised form, once.
      options.onEvent(
        JSON.parse(scrubber.scrub(JSON.stringify(full))) as RunEvent,
      );
    },
  };
}

/** A logger that forwards to `base` and emits `log` events carrying `id`. */
export function eventLogger(
  base: Logger | undefined,
  options: { emitter: Emitter; id?: string },
): Logger {
  function send(level: "info" | "warn" | "debug", message: string): void {
    base?.[level](message);
    options.emitter.emit({ type: "log", id: options.id, level, message });
  }
  return {
    info: (m) => send("info", m),
    warn: (m) => send("warn", m),
    debug: (m) => send("debug", m),
  };
}
