import { assert, assertEquals, assertMatch } from "../_assert.ts";
import {
  createProgress,
  progressMode,
  renderSummary,
} from "../../lib/cli/progress.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { RunEvent } from "../../lib/engine/executor.ts";

const at = "2026-01-01T10:00:00.000Z";
const events: RunEvent[] = [
  { type: "run-start", command: "apply", steps: ["a", "b"], at },
  {
    type: "step-skipped",
    id: "a",
    reason: "unchanged, verified at 2025-12-31T00:00:00.000Z — skipped",
    at,
  },
  { type: "step-start", id: "b", title: "Step b", at },
  { type: "step-phase", id: "b", phase: "apply", at },
  {
    type: "step-failed",
    id: "b",
    error: "webhook not ready",
    elapsed_ms: 1500,
    at,
  },
];

Deno.test("plain progress prints one line per event with elapsed time", () => {
  const io = capturedIO();
  const p = createProgress(io, {
    mode: "plain",
    steps: [{ id: "a", title: "A" }, { id: "b", title: "B" }],
  });
  events.forEach((e) => p.onEvent(e));
  p.close();
  assertMatch(io.stdout(), /10:00:00 a: unchanged, verified at .* — skipped/);
  assertMatch(io.stdout(), /10:00:00 b: FAILED after 1\.5s: webhook not ready/);
  assert(!io.stdout().includes("\x1b["));
});

Deno.test("json progress is one parseable event per line", () => {
  const io = capturedIO();
  const p = createProgress(io, { mode: "json", steps: [] });
  events.forEach((e) => p.onEvent(e));
  const lines = io.stdout().trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(lines.map((l) => l.type), events.map((e) => e.type));
});

Deno.test("live progress redraws a table of steps", () => {
  const io = capturedIO({ stdoutIsTerminal: true });
  const p = createProgress(io, {
    mode: "live",
    steps: [{ id: "a", title: "A" }, { id: "b", title: "B" }],
    color: false,
  });
  events.forEach((e) => p.onEvent(e));
  p.close();
  assertMatch(io.stdout(), /b\s+FAILED\s+1\.5s\s+B/);
  assert(io.stdout().includes("\x1b[2A"), "moves the cursor up to redraw");
});

Deno.test("progressMode: live on a terminal, plain in CI or pipes", () => {
  assertEquals(
    progressMode(false, capturedIO({ stdoutIsTerminal: true })),
    "live",
  );
  assertEquals(
    progressMode(
      false,
      capturedIO({ stdoutIsTerminal: true, env: { CI: "true" } }),
    ),
    "plain",
  );
  assertEquals(progressMode(false, capturedIO()), "plain");
  assertEquals(
    progressMode(true, capturedIO({ stdoutIsTerminal: true })),
    "json",
  );
});

Deno.test("renderSummary lists done, unchanged, failed and not started", () => {
  const text = renderSummary("Apply", {
    done: ["x"],
    skipped: ["a"],
    failed: [{ id: "b", error: "boom" }],
    not_started: [{ id: "c", reason: "skipped: dependency b failed" }],
  });
  assertMatch(text, /Apply: 1 done, 1 unchanged, 1 failed, 1 not started\./);
  assertMatch(text, /not started: c \(skipped: dependency b failed\)/);
});

Deno.test("plain progress lists the steps still running, with phase and duration", async () => {
  const io = capturedIO();
  const p = createProgress(io, { mode: "plain", steps: [], heartbeatMs: 10 });
  const at = new Date(Date.now() - 75_000).toISOString();
  p.onEvent({
    type: "step-start",
    id: "gpu-operator",
    title: "GPU operator",
    at,
  });
  p.onEvent({ type: "step-phase", id: "gpu-operator", phase: "verify", at });
  for (let i = 0; i < 400 && !io.stdout().includes("still running"); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  p.close();
  assertMatch(io.stdout(), /still running: gpu-operator \(verify, 1m1\ds\)/);
});
