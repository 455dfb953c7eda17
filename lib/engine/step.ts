/**
 * {@linkcode defineStep} turns a step definition with a zod schema into a
 * {@linkcode Step} whose options are validated before anything runs.
 *
 * @module
 */

import type { z } from "../deps.ts";
import { validateOptions } from "./options.ts";
import type {
  Step,
  StepContext,
  StepOutputs,
  StepPlan,
  VerifyResult,
} from "./types.ts";

/** A step as its author writes it: phases receive the parsed options. */
export interface StepDefinition<S extends z.ZodType> {
  /** Stable, unique id. */
  id: string;
  /** One line for humans. */
  title: string;
  /** Ids of the steps that must be done first. */
  needs?: string[];
  /** Schema of the options; unknown fields should be rejected (`.strict()`). */
  schema: S;
  /** Raw options, validated against `schema` by {@linkcode defineStep}. */
  options: z.input<S>;
  /** Option paths holding secrets (see {@linkcode Step.sensitive}). */
  sensitive?: string[];
  /** Output paths holding secrets (see {@linkcode Step.sensitiveOutputs}). */
  sensitiveOutputs?: string[];
  /** Read-only: what would change. */
  plan(ctx: StepContext, options: z.output<S>): Promise<StepPlan>;
  /** Idempotent: make it so. */
  apply(
    ctx: StepContext,
    plan: StepPlan,
    options: z.output<S>,
  ): Promise<StepOutputs>;
  /** The post-conditions that define done; `plan` as in {@linkcode Step.verify}. */
  verify(
    ctx: StepContext,
    options: z.output<S>,
    plan?: StepPlan,
  ): Promise<VerifyResult>;
  /** Optional, idempotent: see {@linkcode Step.uninstall}. */
  uninstall?(ctx: StepContext, options: z.output<S>): Promise<void>;
}

/** Options for {@linkcode defineStep}. */
export interface DefineStepOptions {
  /** The config file the options came from, named in validation errors. */
  source?: string;
  /** Path of the options inside that file, e.g. `["metallb"]`. */
  prefix?: PropertyKey[];
  /**
   * Directory that relative paths in the options resolve against (the config file's
   * directory). Steps that take paths read it; defaults to the working directory.
   */
  baseDir?: string;
}

/**
 * Validates the definition's options and returns a {@linkcode Step}.
 * Throws {@linkcode OptionsError} naming every bad field.
 *
 * @example
 * ```ts
 * import { z } from "../../mod.ts";
 * import { defineStep, emptyPlan } from "../../mod.ts";
 *
 * const hello = defineStep({
 *   id: "hello",
 *   title: "Say hello",
 *   schema: z.object({ name: z.string() }).strict(),
 *   options: { name: "kubeflow" },
 *   plan: async () => emptyPlan(),
 *   apply: async (ctx, _plan, o) => { ctx.log.info(`hello ${o.name}`); return {}; },
 *   verify: async () => ({ checks: [{ name: "greeted", ok: true }] }),
 * });
 * ```
 */
export function defineStep<S extends z.ZodType>(
  definition: StepDefinition<S>,
  options: DefineStepOptions = {},
): Step<z.output<S>> {
  const parsed = validateOptions(
    definition.schema,
    definition.options,
    options,
  );
  return {
    id: definition.id,
    title: definition.title,
    needs: definition.needs ?? [],
    options: parsed,
    sensitive: definition.sensitive,
    sensitiveOutputs: definition.sensitiveOutputs,
    plan: (ctx) => definition.plan(ctx, parsed),
    apply: (ctx, plan) => definition.apply(ctx, plan, parsed),
    verify: (ctx, plan) => definition.verify(ctx, parsed, plan),
    ...(definition.uninstall
      ? {
        uninstall: (ctx: StepContext) => definition.uninstall!(ctx, parsed),
      }
      : {}),
  };
}
