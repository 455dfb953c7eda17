/**
 * Option validation with errors that name the file, the field path and what would be
 * valid, e.g. `kfplan.yaml: metallb.pools[0].addresses[1]: "10.0.0.300/32" is not an
 * IP range; use a CIDR or "first-last"`.
 *
 * Schemas are zod schemas. Put the "what would be valid" part in the schema's
 * messages (`z.string().refine(isRange, { message: "... use a CIDR or \"first-last\"" })`).
 *
 * @module
 */

import type { z } from "../deps.ts";
import { formatPath } from "../kube/diff.ts";

export { formatPath };

/** One problem with an option value. */
export interface OptionIssue {
  /** Field path such as `metallb.pools[0].addresses[1]`. */
  path: string;
  /** What is wrong and what would be valid. */
  message: string;
}

/** Thrown when options do not match their schema. Lists every problem found. */
export class OptionsError extends Error {
  /** The file the options came from, when known. */
  readonly source?: string;
  /** Every problem found. */
  readonly issues: OptionIssue[];

  /** Formats the issues, prefixed by the file when known. */
  constructor(issues: OptionIssue[], source?: string) {
    const prefix = source ? `${source}: ` : "";
    super(
      issues.length === 1
        ? `${prefix}${issues[0].path}: ${issues[0].message}`
        : `invalid options in ${source ?? "input"}:\n` +
          issues.map((i) => `  ${i.path}: ${i.message}`).join("\n"),
    );
    this.name = "OptionsError";
    this.source = source;
    this.issues = issues;
  }
}

/** Options for {@linkcode validateOptions}. */
export interface ValidateOptions {
  /** The file the input came from, named in errors. */
  source?: string;
  /** Path of the input inside that file, e.g. `["metallb"]`. */
  prefix?: PropertyKey[];
}

/**
 * Validates `input` against `schema` and returns the parsed value, or throws an
 * {@linkcode OptionsError} naming every bad field.
 *
 * @example
 * ```ts
 * import { z } from "../../mod.ts";
 * const opts = validateOptions(z.object({ replicas: z.int().min(2) }), { replicas: 4 });
 * ```
 */
export function validateOptions<S extends z.ZodType>(
  schema: S,
  input: unknown,
  options: ValidateOptions = {},
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const prefix = options.prefix ?? [];
  const issues = result.error.issues.map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: describeIssue(issue, input, issue.path),
  }));
  throw new OptionsError(issues, options.source);
}

function describeIssue(
  issue: z.core.$ZodIssue,
  input: unknown,
  path: readonly PropertyKey[],
): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown field${issue.keys.length > 1 ? "s" : ""} ${
      issue.keys.map((k) => JSON.stringify(k)).join(", ")
    } (check the spelling; unknown fields are rejected, not ignored)`;
  }
  if (issue.code === "invalid_type" && valueAt(input, path) === undefined) {
    return `required (${issue.expected})`;
  }
  return issue.message;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * Gathers the problems of several option sets so that one error names them all:
 * a user fixing a config should not discover its mistakes one run at a time.
 *
 * @example
 * ```ts
 * const issues = new OptionsIssues();
 * const a = issues.attempt(() => validateOptions(schemaA, inputA));
 * const b = issues.attempt(() => validateOptions(schemaB, inputB));
 * issues.throwIfAny("kfplan.yaml");
 * ```
 */
export class OptionsIssues {
  /** Every problem gathered so far. */
  readonly issues: OptionIssue[] = [];

  /** Runs `build`; on {@linkcode OptionsError} keeps its issues and returns `undefined`. */
  attempt<T>(build: () => T): T | undefined {
    try {
      return build();
    } catch (error) {
      if (!(error instanceof OptionsError)) throw error;
      this.issues.push(...error.issues);
      return undefined;
    }
  }

  /** Throws one {@linkcode OptionsError} with every gathered issue, if any. */
  throwIfAny(source?: string): void {
    if (this.issues.length > 0) throw new OptionsError(this.issues, source);
  }
}
