import { assertEquals } from "../_assert.ts";
import {
  createEmitter,
  eventLogger,
  type RunEvent,
} from "../../lib/engine/events.ts";
import { SecretScrubber } from "../../lib/engine/redact.ts";

Deno.test("events are stamped and scrubbed before they leave the engine", () => {
  const events: RunEvent[] = [];
  const emitter = createEmitter(new SecretScrubber(["tok-9f8e7d"]), {
    onEvent: (e) => events.push(e),
    now: () => new Date("2026-11-30T10:00:00Z"),
  });
  emitter.emit({
    type: "step-failed",
    id: "dex",
    error: "login with tok-9f8e7d refused",
    elapsed_ms: 5,
  });
  const log = eventLogger(undefined, { emitter, id: "dex" });
  log.warn("token tok-9f8e7d expires soon");
  assertEquals(events, [
    {
      type: "step-failed",
      id: "dex",
      error: "login with (sensitive) refused",
      elapsed_ms: 5,
      at: "2026-11-30T10:00:00.000Z",
    },
    {
      type: "log",
      id: "dex",
      level: "warn",
      message: "token (sensitive) expires soon",
      at: "2026-11-30T10:00:00.000Z",
    },
  ]);
});

Deno.test("an emitter without a listener drops events, and the logger still forwards", () => {
  const seen: string[] = [];
  const emitter = createEmitter(new SecretScrubber(), {});
  const log = eventLogger({
    info: (m) => seen.push(`info ${m}`),
    warn: (m) => seen.push(`warn ${m}`),
    debug: (m) => seen.push(`debug ${m}`),
  }, { emitter });
  log.info("a");
  log.debug("b");
  assertEquals(seen, ["info a", "debug b"]);
});
