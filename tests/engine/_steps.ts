/**
 * Test steps with recorded calls, for the engine tests.
 *
 * @module
 */

import { emptyPlan, type Step, type StepPlan } from "../../lib/engine/types.ts";

/** Options of {@linkcode testStep}. */
export interface TestStepOptions {
  needs?: string[];
  options?: unknown;
  sensitive?: string[];
  plan?: Partial<StepPlan>;
  planError?: string;
  applyError?: string;
  failChecks?: string[];
  outputs?: Record<string, unknown>;
  /** Awaited inside apply (for concurrency tests). */
  during?: () => Promise<void>;
  /** Every call is appended here as `phase:id`. */
  calls?: string[];
}

/** A step whose phases record their calls and behave as told. */
export function testStep(id: string, o: TestStepOptions = {}): Step {
  const calls = o.calls ?? [];
  return {
    id,
    title: `Step ${id}`,
    needs: o.needs ?? [],
    options: o.options ?? { id },
    sensitive: o.sensitive,
    plan() {
      calls.push(`plan:${id}`);
      if (o.planError) return Promise.reject(new Error(o.planError));
      return Promise.resolve({ ...emptyPlan(), ...o.plan });
    },
    async apply() {
      calls.push(`apply:${id}`);
      await o.during?.();
      if (o.applyError) throw new Error(o.applyError);
      return o.outputs ?? { applied: id };
    },
    verify() {
      calls.push(`verify:${id}`);
      return Promise.resolve({
        checks: [
          { name: "exists", ok: true },
          ...(o.failChecks ?? []).map((name) => ({
            name,
            ok: false,
            detail: "not ready",
          })),
        ],
      });
    },
  };
}
