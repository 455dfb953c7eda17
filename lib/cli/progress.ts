/**
 * Progress of apply and verify: a live table of steps (state and elapsed time) on a
 * terminal, plain timestamped lines in CI logs, or JSON lines with `--json`.
 *
 * @module
 */

import type { RunEvent, RunSummary } from "../engine/executor.ts";
import type { CliIO } from "./io.ts";

/** Receives events; `close` stops timers and prints the final state. */
export interface ProgressDisplay {
  /** Shows one event. */
  onEvent(event: RunEvent): void;
  /** Stops timers and draws the final state. */
  close(): void;
}

/** Options for {@linkcode createProgress}. */
export interface ProgressOptions {
  /** `json`: one JSON object per line; `live`: redrawn table; `plain`: log lines. */
  mode: "json" | "live" | "plain";
  /** Steps in display order with titles. */
  steps: { id: string; title: string }[];
  /** ANSI colours in the live display; default true. */
  color?: boolean;
  /** Plain mode: how often to list the steps still running; default 30 s. */
  heartbeatMs?: number;
}

/** Picks the mode from the flags and the terminal. */
export function progressMode(
  json: boolean,
  io: CliIO,
): ProgressOptions["mode"] {
  if (json) return "json";
  const ci = io.env("CI");
  return io.stdoutIsTerminal && !(ci && ci !== "false") ? "live" : "plain";
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * Creates a progress display writing to `io`.
 *
 * @example
 * ```ts
 * const progress = createProgress(io, { mode: "plain", steps });
 * await applySteps(steps, { onEvent: (e) => progress.onEvent(e) });
 * progress.close();
 * ```
 */
export function createProgress(
  io: CliIO,
  options: ProgressOptions,
): ProgressDisplay {
  if (options.mode === "json") {
    return { onEvent: (e) => io.out(JSON.stringify(e) + "\n"), close() {} };
  }
  if (options.mode === "plain") {
    return plainProgress(io, options.heartbeatMs ?? 30_000);
  }
  return liveProgress(io, options);
}

function plainProgress(io: CliIO, heartbeatMs: number): ProgressDisplay {
  // CI logs show nothing while a step waits for minutes; a periodic line says which
  // steps are still running, in which phase, for how long.
  const running = new Map<string, { since: number; phase: string }>();
  const timer = setInterval(() => {
    if (running.size === 0) return;
    const now = Date.now();
    const list = [...running].map(([id, r]) =>
      `${id} (${r.phase}, ${duration(now - r.since)})`
    );
    io.out(
      `${new Date(now).toISOString().slice(11, 19)} still running: ${
        list.join(", ")
      }\n`,
    );
  }, heartbeatMs);
  Deno.unrefTimer(timer);
  return {
    onEvent(e) {
      if (e.type === "step-start") {
        running.set(e.id, { since: Date.parse(e.at), phase: "start" });
      }
      if (e.type === "step-phase") {
        const r = running.get(e.id);
        if (r) r.phase = e.phase;
      }
      if (e.type === "step-done" || e.type === "step-failed") {
        running.delete(e.id);
      }
      const t = e.at.slice(11, 19);
      const line = describe(e);
      if (line !== undefined) io.out(`${t} ${line}\n`);
    },
    close() {
      clearInterval(timer);
    },
  };
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60
    ? `${s}s`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

function describe(e: RunEvent): string | undefined {
  switch (e.type) {
    case "run-start":
      return `${e.command}: ${e.steps.length} step${
        e.steps.length === 1 ? "" : "s"
      }`;
    case "lock":
      return `lock ${e.action}: ${e.detail}`;
    case "step-start":
      return `${e.id}: started (${e.title})`;
    case "step-phase":
      return `${e.id}: ${e.phase}`;
    case "step-skipped":
      return `${e.id}: ${e.reason}`;
    case "step-done":
      return `${e.id}: done in ${seconds(e.elapsed_ms)}`;
    case "step-failed":
      return `${e.id}: FAILED after ${seconds(e.elapsed_ms)}: ${e.error}`;
    case "step-not-started":
      return `${e.id}: not started (${e.reason})`;
    case "log":
      return e.level === "debug"
        ? undefined
        : `${e.level === "warn" ? "warning: " : ""}${e.message}`;
    case "run-end":
      return undefined;
  }
}

interface Row {
  id: string;
  title: string;
  state: string;
  started?: number;
  elapsed?: number;
  code: number;
}

function liveProgress(io: CliIO, options: ProgressOptions): ProgressDisplay {
  const rows = new Map<string, Row>(
    options.steps.map((
      s,
    ) => [s.id, { id: s.id, title: s.title, state: "waiting", code: 2 }]),
  );
  const paint = (code: number, t: string) =>
    options.color === false ? t : `\x1b[${code}m${t}\x1b[0m`;
  let drawn = 0;
  const width = Math.max(...options.steps.map((s) => s.id.length), 4);
  function draw(): void {
    let text = drawn > 0 ? `\x1b[${drawn}A\x1b[J` : "";
    const now = Date.now();
    for (const r of rows.values()) {
      const el = r.elapsed ??
        (r.started !== undefined ? now - r.started : undefined);
      text += `  ${r.id.padEnd(width)}  ${paint(r.code, r.state.padEnd(10))} ${
        el !== undefined ? seconds(el).padStart(7) : "       "
      }  ${r.title}\n`;
    }
    drawn = rows.size;
    io.out(text);
  }
  function above(line: string): void {
    io.out((drawn > 0 ? `\x1b[${drawn}A\x1b[J` : "") + line + "\n");
    drawn = 0;
    draw();
  }
  const timer = setInterval(draw, 500);
  Deno.unrefTimer(timer);
  return {
    onEvent(e) {
      const r = "id" in e && e.id ? rows.get(e.id) : undefined;
      switch (e.type) {
        case "step-start":
          if (r) {
            Object.assign(r, {
              state: "starting",
              started: Date.parse(e.at),
              code: 36,
            });
          }
          break;
        case "step-phase":
          if (r) {
            Object.assign(r, {
              state: e.phase === "plan"
                ? "planning"
                : e.phase === "apply"
                ? "applying"
                : e.phase === "verify"
                ? "verifying"
                : e.phase === "uninstall"
                ? "uninstalling"
                : "deleting",
              code: 36,
            });
          }
          break;
        case "step-skipped":
          if (r) Object.assign(r, { state: "unchanged", code: 2 });
          above(`${e.id}: ${e.reason}`);
          return;
        case "step-done":
          if (r) {
            Object.assign(r, {
              state: "done",
              elapsed: e.elapsed_ms,
              code: 32,
            });
          }
          break;
        case "step-failed":
          if (r) {
            Object.assign(r, {
              state: "FAILED",
              elapsed: e.elapsed_ms,
              code: 31,
            });
          }
          above(paint(31, `${e.id}: ${e.error}`));
          return;
        case "step-not-started":
          if (r) Object.assign(r, { state: "skipped", code: 2 });
          break;
        case "log":
          if (e.level !== "debug") {
            above(`${e.level === "warn" ? "warning: " : ""}${e.message}`);
          }
          return;
        case "lock":
          above(`lock ${e.action}: ${e.detail}`);
          return;
        default:
          break;
      }
      draw();
    },
    close() {
      clearInterval(timer);
      draw();
    },
  };
}

/** The end-of-run summary: done / skipped / failed / not started. */
export function renderSummary(command: string, summary: RunSummary): string {
  const lines: string[] = [];
  const n = (k: number, w: string) => `${k} ${w}`;
  lines.push(
    `${command}: ${n(summary.done.length, "done")}, ${
      n(summary.skipped.length, "unchanged")
    }, ${n(summary.failed.length, "failed")}, ${
      n(summary.not_started.length, "not started")
    }.`,
  );
  if (summary.done.length) lines.push(`  done: ${summary.done.join(", ")}`);
  if (summary.skipped.length) {
    lines.push(`  unchanged (verified earlier): ${summary.skipped.join(", ")}`);
  }
  for (const f of summary.failed) lines.push(`  failed: ${f.id}: ${f.error}`);
  for (const s of summary.not_started) {
    lines.push(`  not started: ${s.id} (${s.reason})`);
  }
  return lines.join("\n") + "\n";
}
