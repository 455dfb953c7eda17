/**
 * Command-line parsing for the `deno task` entry points (over `npm:minimist`), with
 * errors that name the bad flag and list the valid ones.
 *
 * @module
 */

import { minimist } from "../deps.ts";
import type { StepPolicy } from "../engine/types.ts";

/** The flags every kfplan command understands (each command uses a subset). */
export interface CliArgs {
  /** Positional arguments (e.g. the plan file of `apply`). */
  _: string[];
  /** `--config FILE`. */
  config?: string;
  /** `--context NAME`. */
  context?: string;
  /** `--kubeconfig FILE`. */
  kubeconfig?: string;
  /** `--out PLAN.json`. */
  out?: string;
  /** `--checkpoint DIR`. */
  checkpoint?: string;
  /** `--parallelism N`, 1 to 64. */
  parallelism?: number;
  /** `--lock-timeout SECONDS`: wait that long for another apply's lock. */
  lockTimeout?: number;
  /** `--json`. */
  json: boolean;
  /** `--yes`. */
  yes: boolean;
  /** `--help` / `-h`. */
  help: boolean;
  /** `--force`. */
  force: boolean;
  /** `--force-conflicts`: take fields other managers own (see {@linkcode StepPolicy}). */
  forceConflicts: boolean;
  /** `--allow-downgrade`: install a lower Kubeflow release over a higher one. */
  allowDowngrade: boolean;
  /** `--refresh-only`: report drift only (plan). */
  refreshOnly: boolean;
  /** `--allow-data-loss`: prune (and replace) data-holding objects too. */
  allowDataLoss: boolean;
}

/** Which flags a command accepts. */
export interface ArgSpec {
  /** Flags taking a value. */
  strings: string[];
  /** On/off flags. */
  booleans: string[];
  /** Most positional arguments; default 0. */
  maxPositional?: number;
}

/** A command-line mistake; the message says what is valid. */
export class UsageError extends Error {
  /** A usage error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses `argv` for a command. Unknown flags, missing values and a bad
 * `--parallelism` throw {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * parseArgs(["--config", "k.yaml", "--json"], { strings: ["config"], booleans: ["json"] });
 * ```
 */
export function parseArgs(argv: string[], spec: ArgSpec): CliArgs {
  const unknown: string[] = [];
  const parsed = minimist(argv, {
    string: spec.strings,
    boolean: [...spec.booleans, "help"],
    alias: { h: "help" },
    unknown: (arg: string) => {
      if (arg.startsWith("-")) {
        unknown.push(arg);
        return false;
      }
      return true;
    },
  }) as Record<string, unknown> & { _: unknown[] };
  const valid = [
    ...spec.strings.map((s) => `--${s} VALUE`),
    ...spec.booleans.map((b) => `--${b}`),
    "--help",
  ];
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown option${unknown.length > 1 ? "s" : ""} ${
        unknown.join(", ")
      }; valid: ${valid.join(", ")}`,
    );
  }
  for (const s of spec.strings) {
    const v = parsed[s];
    if (Array.isArray(v)) throw new UsageError(`--${s} given more than once`);
    if (v === "" && argv.some((a) => a === `--${s}`)) {
      throw new UsageError(`--${s} needs a value`);
    }
  }
  const positional = parsed._.map(String);
  if (positional.length > (spec.maxPositional ?? 0)) {
    throw new UsageError(
      `unexpected argument${positional.length > 1 ? "s" : ""} ${
        positional.join(" ")
      }` +
        (spec.maxPositional ? ` (at most ${spec.maxPositional})` : ""),
    );
  }
  let parallelism: number | undefined;
  if (typeof parsed.parallelism === "string" && parsed.parallelism !== "") {
    parallelism = Number(parsed.parallelism);
    if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 64) {
      throw new UsageError(
        `--parallelism ${parsed.parallelism}: expected a whole number from 1 to 64`,
      );
    }
  }
  let lockTimeout: number | undefined;
  const lt = parsed["lock-timeout"];
  if (typeof lt === "string" && lt !== "") {
    lockTimeout = Number(lt.replace(/s$/, ""));
    if (!Number.isFinite(lockTimeout) || lockTimeout < 0) {
      throw new UsageError(
        `--lock-timeout ${lt}: expected seconds, e.g. 300 or 300s`,
      );
    }
  }
  const str = (k: string) =>
    typeof parsed[k] === "string" && parsed[k] !== ""
      ? parsed[k] as string
      : undefined;
  return {
    _: positional,
    config: str("config"),
    context: str("context"),
    kubeconfig: str("kubeconfig"),
    out: str("out"),
    checkpoint: str("checkpoint"),
    parallelism,
    lockTimeout,
    json: parsed.json === true,
    yes: parsed.yes === true,
    help: parsed.help === true,
    force: parsed.force === true,
    forceConflicts: parsed["force-conflicts"] === true,
    allowDowngrade: parsed["allow-downgrade"] === true,
    refreshOnly: parsed["refresh-only"] === true,
    allowDataLoss: parsed["allow-data-loss"] === true,
  };
}

/**
 * What the flags allow, for the engine to hand to every step.
 *
 * @example
 * ```ts
 * policyOf(parseArgs(["--force-conflicts"], { strings: [], booleans: ["force-conflicts"] }));
 * // { forceConflicts: true }
 * ```
 */
export function policyOf(args: CliArgs): StepPolicy {
  return {
    ...(args.forceConflicts ? { forceConflicts: true } : {}),
    ...(args.allowDowngrade ? { allowDowngrade: true } : {}),
    ...(args.allowDataLoss ? { allowDataLoss: true } : {}),
  };
}
