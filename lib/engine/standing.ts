/**
 * "Is this step done?" answered in one place. The executor's skip, the apply
 * command's "nothing to apply", the planner's use of recorded outputs and `status`
 * all ask {@linkcode stepStanding}.
 *
 * The rule: a step is current when the checkpoint records it verified with the same
 * options and upstream outputs, and a fresh plan of it shows no changes (no resource
 * change, no delete of an object its inventory has and its render lacks, nothing
 * known only after apply) and the same desired state. The checkpoint
 * lets a resumed run skip work it already did; it never hides work the plan shows
 * (drift, a rotated secret).
 *
 * @module
 */

import type { CheckpointStep } from "./checkpoint.ts";
import type { StepAction } from "./types.ts";

/**
 * Where a step stands:
 * - `current`: verified, unchanged, and a fresh plan shows nothing to do: skip it;
 * - `recorded`: verified with the same options and inputs, not re-planned yet (what
 *   `status` and the planner know without planning): its recorded outputs are usable;
 * - `outstanding`: apply must run it; `reason` says why.
 */
export type StandingKind = "current" | "recorded" | "outstanding";

/** The answer of {@linkcode stepStanding}. */
export interface Standing {
  /** See {@linkcode StandingKind}. */
  kind: StandingKind;
  /** Why, in a few words: `verified at …`, `the plan shows changes`, … */
  reason: string;
}

/** What a fresh plan of the step says, as far as standing goes. */
export interface FreshPlan {
  /** The step's action in the fresh plan (`no-op` when nothing changes). */
  action: StepAction | "error";
  /** The fresh plan's (keyed) desired-state digest. */
  desiredDigest?: string;
}

/** What {@linkcode stepStanding} compares. */
export interface StandingInputs {
  /** The step's checkpoint entry, if any. */
  entry: CheckpointStep | undefined;
  /** The digest of the step's options now. */
  optionsDigest: string;
  /** The digest of the upstream outputs the step would see now; unknown when absent. */
  inputsDigest?: string;
  /** A fresh plan of the step; without one the answer is at best `recorded`. */
  plan?: FreshPlan;
}

/**
 * Decides whether a step is done. See the module documentation for the rule.
 *
 * @example
 * ```ts
 * const s = stepStanding({ entry, optionsDigest, inputsDigest, plan: { action: "no-op" } });
 * if (s.kind === "current") console.log(`skipped: ${s.reason}`);
 * ```
 */
export function stepStanding(inputs: StandingInputs): Standing {
  const { entry } = inputs;
  if (!entry) return outstanding("never applied");
  if (entry.status !== "verified") {
    return outstanding(
      entry.status === "failed"
        ? `the last attempt failed${
          entry.last_error ? `: ${firstLine(entry.last_error)}` : ""
        }`
        : entry.status === "applying"
        ? "the last attempt was interrupted"
        : `not verified yet (${entry.status})`,
    );
  }
  if (entry.options_digest !== inputs.optionsDigest) {
    return outstanding("its options changed since it was verified");
  }
  if (
    inputs.inputsDigest !== undefined && entry.inputs_digest !== undefined &&
    entry.inputs_digest !== inputs.inputsDigest
  ) {
    return outstanding("the outputs of the steps it needs changed");
  }
  const verified = `verified at ${entry.verified_at ?? "(unknown)"}`;
  if (!inputs.plan) return { kind: "recorded", reason: verified };
  if (inputs.plan.action === "error") return outstanding("planning it failed");
  if (inputs.plan.action !== "no-op") {
    return outstanding(
      inputs.plan.action === "unknown"
        ? "its plan has values known only after apply"
        : inputs.plan.action === "delete"
        ? "its plan deletes objects it no longer renders"
        : "its plan shows changes",
    );
  }
  if (
    entry.desired_digest !== undefined &&
    inputs.plan.desiredDigest !== undefined &&
    entry.desired_digest !== inputs.plan.desiredDigest
  ) {
    return outstanding("its desired state changed (a secret, say)");
  }
  return { kind: "current", reason: `unchanged, ${verified}` };
}

function outstanding(reason: string): Standing {
  return { kind: "outstanding", reason };
}

function firstLine(text: string): string {
  const line = text.split("\n")[0];
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}
