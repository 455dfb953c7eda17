/**
 * The JSON plan document (`format_version: "1"`), documented in `docs/plan-format.md`.
 *
 * The document is canonical: keys sorted, steps in topological order, observed objects
 * sorted by identity, and exactly one timestamp (`created_at`), so that the same inputs
 * and cluster state give byte-identical JSON apart from that field. Secrets never enter
 * it: options are redacted and sensitive diffs carry only a short keyed digest.
 * The zod schemas below are the single source of the types.
 *
 * @module
 */

import { z } from "../deps.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { canonicalJson } from "./digest.ts";
import { objectKey, objectName } from "../kube/object_ref.ts";
import { OptionsError, validateOptions } from "./options.ts";

export { objectKey, objectName };

/** The format version this kfplan writes and reads. */
export const PLAN_FORMAT_VERSION = "1";

/** kfplan's own version, from `deno.json`. */
export const KFPLAN_VERSION: string = denoJson.version;

const severity = z.enum(["ok", "info", "warning", "error"]);
const changeAction = z.enum(["create", "update", "replace", "delete", "no-op"]);

/** zod schema of one field difference; the single source of {@linkcode PlanFieldDiff}. */
export const planFieldDiffSchema = z.object({
  /** Dotted path with `[i]` indices, e.g. `spec.replicas`. */
  path: z.string(),
  /** The live value; absent when the field is added. */
  before: z.unknown().optional(),
  /** The desired value; absent when the field is removed. */
  after: z.unknown().optional(),
  /** True when `before`/`after` are `(sensitive…)` markers. */
  sensitive: z.boolean().optional(),
}).strict();

/** One field difference as stored in a plan. */
export type PlanFieldDiff = z.infer<typeof planFieldDiffSchema>;

/** zod schema of one resource change; the single source of {@linkcode PlanChange}. */
export const planChangeSchema = z.object({
  /** `group/version` of the object. */
  apiVersion: z.string().min(1),
  /** Kind of the object. */
  kind: z.string().min(1),
  /** Namespace; absent for cluster-scoped objects. */
  namespace: z.string().optional(),
  /** Name of the object. */
  name: z.string().min(1),
  /** What apply does to the object. */
  action: changeAction,
  /** Field diffs for updates and replacements; empty for create and delete. */
  diff: z.array(planFieldDiffSchema),
  /** Why the change is planned this way (e.g. why an update became a replacement). */
  reason: z.string().optional(),
  /** The kind is served only once this apply creates its CRD. */
  known_after_apply: z.boolean().optional(),
}).strict();

/** One resource change as stored in a plan. */
export type PlanChange = z.infer<typeof planChangeSchema>;

const observedSchema = z.object({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  namespace: z.string().optional(),
  name: z.string().min(1),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
  generation: z.int().optional(),
}).strict();

const findingSchema = z.object({
  check: z.string(),
  severity,
  target: z.string().optional(),
  seen: z.string(),
  fix: z.string().optional(),
}).strict();

/** zod schema of an object kept rather than deleted; the single source of {@linkcode PlanKept}. */
export const planKeptSchema = z.object({
  /** `group/version` of the object. */
  apiVersion: z.string().min(1),
  /** Kind of the object. */
  kind: z.string().min(1),
  /** Namespace; absent for cluster-scoped objects. */
  namespace: z.string().optional(),
  /** Name of the object. */
  name: z.string().min(1),
  /** Why it is kept, e.g. that it holds data and what would delete it. */
  reason: z.string(),
}).strict();

/** An object the step owned and no longer renders, kept (not deleted), with why. */
export type PlanKept = z.infer<typeof planKeptSchema>;

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, {
  message: 'expected "sha256:" followed by 64 hex digits',
});

/** zod schema of a step's entry; the single source of {@linkcode PlanStep}. */
export const planStepSchema = z.object({
  /** Stable step id. */
  id: z.string().min(1),
  /** One line for humans. */
  title: z.string(),
  /** Ids of the steps that must be done first. */
  needs: z.array(z.string()),
  /** The most disruptive change, `unknown` when only known after apply, `error` when planning failed. */
  action: z.enum([
    "create",
    "update",
    "replace",
    "delete",
    "no-op",
    "unknown",
    "error",
  ]),
  /** `sha256:` of the canonical options, sensitive values entering only as keyed digests. */
  options_digest: digest,
  /** The options with sensitive values replaced by `(sensitive, hmac:…)`. */
  options: z.unknown(),
  /** Resource changes in the order the step applies them. */
  changes: z.array(planChangeSchema),
  /** Host and cluster checks with severity and fix. */
  findings: z.array(findingSchema),
  /** Things to read before applying. */
  warnings: z.array(z.string()),
  /** What is known only after apply. */
  unknowns: z.array(z.string()),
  /** Objects read while planning, with the resourceVersion and uid seen. */
  observed: z.array(observedSchema),
  /** Keyed digest (`hmac-sha256:`) of the desired state; saved plans compare it. */
  desired_digest: z.string().optional(),
  /** Non-secret facts for the reader (versions, chart names). */
  facts: z.record(z.string(), z.unknown()).optional(),
  /** Why planning this step failed (the rest of the plan still comes out). */
  error: z.string().optional(),
  /**
   * Objects the step owned (its inventory) and no longer renders that are kept
   * rather than deleted, each with its reason. Written for every planned step;
   * optional when read, so plans written before it existed still parse.
   */
  kept: z.array(planKeptSchema).optional(),
}).strict();

/** A step's entry in the plan. */
export type PlanStep = z.infer<typeof planStepSchema>;

const count = z.int().min(0);

/** zod schema of the summary; the single source of {@linkcode PlanSummary}. */
export const planSummarySchema = z.object({
  /** Objects to create. */
  create: count,
  /** Objects to update in place. */
  update: count,
  /** Objects to delete and create again. */
  replace: count,
  /** Objects to delete. */
  delete: count,
  /** Objects already as desired. */
  no_op: count,
  /** Objects no longer rendered that are kept (they hold data); see each step's `kept`. */
  kept: count.optional(),
  /** Steps whose effect is known only after apply (no resource changes to show). */
  unknown_steps: count,
  /** Steps whose plan failed. */
  errors: count,
  /** Steps in the plan. */
  steps: count,
}).strict();

/** Counts over every resource change of every step. */
export type PlanSummary = z.infer<typeof planSummarySchema>;

/** zod schema of the cluster entry; the single source of {@linkcode PlanCluster}. */
export const planClusterSchema = z.discriminatedUnion("offline", [
  z.object({
    offline: z.literal(false),
    server: z.string(),
    context: z.string(),
    /** uid of the cluster's `kube-system` namespace: the cluster's own identity. */
    uid: z.string().optional(),
  }).strict(),
  z.object({ offline: z.literal(true), reason: z.string() }).strict(),
]);

/** The cluster a plan was made against, or why it was made offline. */
export type PlanCluster = z.infer<typeof planClusterSchema>;

/** zod schema of {@linkcode PlanDocument}: its single source; {@linkcode parsePlanDocument} uses it. */
export const planDocumentSchema = z.object({
  /** Version of this format: `"1"`. */
  format_version: z.literal(PLAN_FORMAT_VERSION, {
    message:
      `unsupported format_version; this kfplan reads "${PLAN_FORMAT_VERSION}"`,
  }),
  /** The kfplan that wrote the plan. */
  kfplan_version: z.string(),
  /** The only timestamp in the document (ISO 8601, UTC). */
  created_at: z.iso.datetime({ message: "expected an ISO 8601 UTC timestamp" }),
  /** The cluster planned against, or why the plan is offline. */
  cluster: planClusterSchema,
  /** The configuration file planned (path and `sha256:` of its bytes), when the plan came from one. */
  config: z.object({ path: z.string(), digest }).strict().optional(),
  /** Counts over all steps. */
  summary: planSummarySchema,
  /** One entry per step, in dependency order. */
  steps: z.array(planStepSchema),
}).strict();

/** The whole plan. */
export type PlanDocument = z.infer<typeof planDocumentSchema>;

/**
 * Counts the changes of a list of plan steps.
 *
 * @example
 * ```ts
 * summarize([]); // { create: 0, update: 0, ..., steps: 0 }
 * ```
 */
export function summarize(steps: readonly PlanStep[]): PlanSummary {
  const s: PlanSummary = {
    create: 0,
    update: 0,
    replace: 0,
    delete: 0,
    no_op: 0,
    kept: 0,
    unknown_steps: 0,
    errors: 0,
    /** One entry per step, in dependency order. */
    steps: steps.length,
  };
  for (const step of steps) {
    if (step.error !== undefined) s.errors++;
    if (step.action === "unknown") s.unknown_steps++;
    s.kept = (s.kept ?? 0) + (step.kept?.length ?? 0);
    for (const c of step.changes) {
      if (c.action === "no-op") s.no_op++;
      else s[c.action]++;
    }
  }
  return s;
}

/** True when applying the plan would change something (Terraform's exit code 2). */
export function hasChanges(doc: PlanDocument): boolean {
  const s = doc.summary;
  return s.create + s.update + s.replace + s.delete + s.unknown_steps > 0;
}

/**
 * Serialises a plan canonically (sorted keys, 2-space indent, trailing newline).
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("plan.json", serializePlanDocument(doc));
 * ```
 */
export function serializePlanDocument(doc: PlanDocument): string {
  return canonicalJson(doc, { indent: 2 }) + "\n";
}

/** Thrown when a file is not a valid plan document. */
export class PlanFormatError extends Error {
  /** A plan format error with its message. */
  constructor(message: string) {
    super(message);
    this.name = "PlanFormatError";
  }
}

/**
 * Parses and validates a plan document. Errors name the file and the field, e.g.
 * `plan.json: steps[0].changes[1].action: Invalid option: expected one of ...`.
 *
 * @example
 * ```ts
 * const doc = parsePlanDocument(await Deno.readTextFile("plan.json"), { source: "plan.json" });
 * ```
 */
export function parsePlanDocument(
  text: string,
  options: { source?: string } = {},
): PlanDocument {
  const source = options.source ?? "plan";
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new PlanFormatError(
      `${source}: not JSON (${
        (e as Error).message
      }); expected a plan written by \`deno task plan --out FILE\``,
    );
  }
  const version = (data as { format_version?: unknown } | null)?.format_version;
  if (
    data !== null && typeof data === "object" && version !== PLAN_FORMAT_VERSION
  ) {
    throw new PlanFormatError(
      `${source}: format_version ${
        JSON.stringify(version)
      } is not supported; this kfplan (${KFPLAN_VERSION}) reads format_version "${PLAN_FORMAT_VERSION}"`,
    );
  }
  try {
    return validateOptions(planDocumentSchema, data, { source });
  } catch (e) {
    if (e instanceof OptionsError) {
      throw new PlanFormatError(`invalid plan document: ${e.message}`);
    }
    throw e;
  }
}
