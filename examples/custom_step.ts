/**
 * A custom automation script: the shipped steps of a configuration plus a step of your
 * own, planned, applied and verified with exactly the behaviour of the `deno task`s
 * (same flags, output, exit codes, checkpoint, lock and saved plans).
 *
 *     deno run -A examples/custom_step.ts plan  [--config kfplan.yaml] [--out plan.json]
 *     deno run -A examples/custom_step.ts apply [plan.json] [--yes]
 *     deno run -A examples/custom_step.ts verify
 *
 * The custom step publishes a "message of the day" ConfigMap after Kubeflow is up.
 *
 * @module
 */

import { z } from "../mod.ts";
import {
  applyCommand,
  applyObjects,
  composeFromConfig,
  type Composition,
  defineStep,
  digestOf,
  emptyPlan,
  type KubeObject,
  planCommand,
  planObjects,
  planOptionsOf,
  type SessionOptions,
  type Step,
  verifyCommand,
} from "../mod.ts";

/** Options of {@linkcode motdStep}. */
export const motdSchema = z.object({
  namespace: z.string().regex(/^[a-z0-9-]+$/, {
    message: "must be a namespace name (lowercase letters, digits, '-')",
  }),
  message: z.string().min(1, "must not be empty"),
}).strict();

/**
 * A step managing ConfigMap `<namespace>/motd`: plans with a server-side dry-run diff
 * (`planObjects`, conflicts with other field managers named), applies with
 * server-side apply, verifies by reading it back.
 */
export function motdStep(
  options: z.input<typeof motdSchema>,
  context: { needs?: string[] } = {},
): Step {
  function desired(o: z.output<typeof motdSchema>): KubeObject {
    return {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "motd", namespace: o.namespace },
      data: { message: o.message },
    };
  }
  return defineStep({
    id: "motd",
    title: "Message of the day",
    needs: context.needs ?? [],
    schema: motdSchema,
    options,
    async plan(ctx, o) {
      const object = desired(o);
      const ref = {
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: o.namespace,
        name: "motd",
      };
      if (!ctx.kube) {
        return {
          ...emptyPlan(),
          changes: [{ ...ref, action: "create", diff: [] }],
          desiredDigest: digestOf(object),
        };
      }
      // planObjects names fields another field manager owns (a motd someone made
      // with kubectl): the engine shows them and refuses them without
      // --force-conflicts, as for the shipped steps.
      const planned = await planObjects(ctx.kube, [object], planOptionsOf(ctx));
      return {
        ...emptyPlan(),
        changes: planned.changes,
        observed: planned.observed,
        desiredDigest: digestOf(object),
      };
    },
    async apply(ctx, _plan, o) {
      const [applied] = (await applyObjects(ctx.kube!, [desired(o)], {
        signal: ctx.signal,
      })).applied;
      return { uid: applied.uid };
    },
    async verify(ctx, o) {
      const live = await ctx.kube!.get({
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: o.namespace,
        name: "motd",
      });
      const message = (live?.data as Record<string, string> | undefined)
        ?.message;
      return {
        checks: [{
          name: `ConfigMap ${o.namespace}/motd has the message`,
          ok: message === o.message,
          detail: message === undefined
            ? "absent"
            : `message is ${JSON.stringify(message)}`,
        }],
      };
    },
  }, { source: "examples/custom_step.ts", prefix: ["motd"] });
}

/** The configuration's steps plus the custom one, which runs after all of them. */
export async function composeWithMotd(
  configPath: string | undefined,
): Promise<Composition> {
  const base = await composeFromConfig(configPath);
  const motd = motdStep(
    { namespace: "kubeflow", message: "Welcome to Kubeflow" },
    { needs: base.steps.map((s) => s.id) },
  );
  return { ...base, steps: [...base.steps, motd] };
}

const COMMANDS: Record<
  string,
  (argv: string[], options: SessionOptions) => Promise<number>
> = {
  plan: planCommand,
  apply: applyCommand,
  verify: verifyCommand,
};

/** Runs `plan`, `apply` or `verify` with the given arguments; resolves the exit code. */
export function main(
  argv: string[],
  options: SessionOptions = {},
): Promise<number> {
  const [command, ...rest] = argv;
  const run = COMMANDS[command ?? ""];
  if (!run) {
    console.error(
      "usage: custom_step.ts plan|apply|verify [task options, see --help]",
    );
    return Promise.resolve(1);
  }
  return run(rest, { compose: composeWithMotd, ...options });
}

if (import.meta.main) main(Deno.args).then((code) => Deno.exit(code));
