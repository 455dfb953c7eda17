/**
 * Bad input that a configuration file cannot express: a custom step graph with a
 * cycle, an unknown need or a duplicate id, and a custom step whose options fail its
 * schema, as a script composing its own steps (see `examples/custom_step.ts`) would
 * write them. Every step here writes a ConfigMap when applied, so a graph check that
 * came after the first apply would show up in the audit log.
 *
 * @module
 */

import { z } from "../../lib/deps.ts";
import { defineStep } from "../../lib/engine/step.ts";
import { emptyPlan, type Step } from "../../lib/engine/types.ts";

/** One library case: the steps a script composes and what the error must name. */
export interface LibraryCase {
  /** Short name, shown as the test step's name. */
  name: string;
  /** `plan`, or `apply` (run with `--yes`). */
  command: "plan" | "apply";
  /** Builds the steps (inside the command's compose, so a throw is its error). */
  steps: () => Step[];
  /** What the error must name: the step ids and the problem. */
  words: string[];
  /** The exit code: 1 for every refusal. */
  exit: 1;
}

/** A custom step that writes ConfigMap `default/corpus-<id>` when applied. */
export function writerStep(
  id: string,
  needs: string[] = [],
  options: unknown = { value: id },
): Step {
  return defineStep({
    id,
    title: `Corpus writer ${id}`,
    needs,
    schema: z.object({ value: z.string().min(1) }).strict(),
    options: options as { value: string },
    plan: () => Promise.resolve(emptyPlan()),
    async apply(ctx, _plan, o) {
      await ctx.kube!.apply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `corpus-${id}`, namespace: "default" },
        data: { value: o.value },
      });
      return {};
    },
    verify: () => Promise.resolve({ checks: [{ name: "written", ok: true }] }),
  }, { source: "corpus script", prefix: [id] });
}

/** Every library case. */
export const LIBRARY_CASES: LibraryCase[] = [
  {
    name: "cycle",
    command: "plan",
    steps: () => [
      writerStep("independent"),
      writerStep("alpha", ["beta"]),
      writerStep("beta", ["alpha"]),
    ],
    words: ["cycle", "alpha -> beta -> alpha"],
    exit: 1,
  },
  {
    name: "cycle, applied",
    command: "apply",
    steps: () => [
      writerStep("independent"),
      writerStep("alpha", ["gamma"]),
      writerStep("beta", ["alpha"]),
      writerStep("gamma", ["beta"]),
    ],
    words: ["cycle", "alpha -> gamma -> beta -> alpha"],
    exit: 1,
  },
  {
    name: "unknown need",
    command: "plan",
    steps: () => [writerStep("independent"), writerStep("users", ["kubeflw"])],
    words: ['step "users" needs unknown step "kubeflw"'],
    exit: 1,
  },
  {
    name: "unknown need, applied",
    command: "apply",
    steps: () => [writerStep("independent"), writerStep("users", ["kubeflw"])],
    words: ['step "users" needs unknown step "kubeflw"'],
    exit: 1,
  },
  {
    name: "duplicate step id, applied",
    command: "apply",
    steps: () => [writerStep("independent"), writerStep("independent")],
    words: ['duplicate step id "independent"'],
    exit: 1,
  },
  {
    name: "custom step options fail its schema",
    command: "apply",
    steps: () => [
      writerStep("independent"),
      writerStep("bad", [], {
        value: "",
        valeu: "x",
      }),
    ],
    words: ["bad.value", 'unknown field "valeu"'],
    exit: 1,
  },
];
