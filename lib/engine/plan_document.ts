/**
 * The JSON plan document (`format_version: "1"`), documented in `docs/plan-format.md`.
 *
 * The document is canonical: keys sorted, steps in topological order, observed objects
 * sorted by identity, and exactly one timestamp (`created_at`), so that the same inputs
 * and cluster state give byte-identical JSON apart from that field. Secrets never enter
 * it: options are redacted and sensitive diffs carry only a short digest.
 *
 * @module
 */

import { z } from "../deps.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { canonicalJson } from "./digest.ts";
import { objectKey, objectName } from "../kube/object_ref.ts";

export { objectKey, objectName };
import { OptionsError, validateOptions } from "./options.ts";
import type {
  ChangeAction,
  Finding,
  ObservedObject,
  StepAction,
} from "./types.ts";

/** The format version this kfplan writes and reads. */
export const PLAN_FORMAT_VERSION = "1";

/** kfplan's own version, from `deno.json`. */
export const KFPLAN_VERSION: string = denoJson.version;

/** The cluster a plan was made against, or why it was made offline. */
export type PlanCluster =
  | { offline: false; server: string; context: string }
  | { offline: true; reason: string };

/** One field difference as stored in a plan. */
export interface PlanFieldDiff {
  /** Dotted path with `[i]` indices, e.g. `spec.replicas`. */
  path: string;
  /** The live value; absent when the field is added. */
  before?: unknown;
  /** The desired value; absent when the field is removed. */
  after?: unknown;
  /** True when `before`/`after` are `(sensitive, sha256:…)` markers. */
  sensitive?: boolean;
}

/** One resource change as stored in a plan. */
export interface PlanChange {
  /** `group/version` of the object. */
  apiVersion: string;
  /** Kind of the object. */
  kind: string;
  /** Namespace; absent for cluster-scoped objects. */
  namespace?: string;
  /** Name of the object. */
  name: string;
  /** What apply does to the object. */
  action: ChangeAction;
  /** Field diffs for updates and replacements; empty for create and delete. */
  diff: PlanFieldDiff[];
  /** Why the change is planned this way (e.g. why an update became a replacement). */
  reason?: string;
  /** The kind is served only once this apply creates its CRD. */
  known_after_apply?: boolean;
}

/** A step's entry in the plan. */
export interface PlanStep {
  /** Stable step id. */
  id: string;
  /** One line for humans. */
  title: string;
  /** Ids of the steps that must be done first. */
  needs: string[];
  /** The most disruptive change, `unknown` when only known after apply, `error` when planning failed. */
  action: StepAction | "error";
  /** `sha256:` of the canonical options, sensitive values entering only as their digest. */
  options_digest: string;
  /** The options with sensitive values replaced by `(sensitive, sha256:…)`. */
  options: unknown;
  /** Resource changes in the order the step applies them. */
  changes: PlanChange[];
  /** Host and cluster checks with severity and fix. */
  findings: Finding[];
  /** Things to read before applying. */
  warnings: string[];
  /** What is known only after apply. */
  unknowns: string[];
  /** Objects read while planning, with the resourceVersion and uid seen. */
  observed: ObservedObject[];
  /** Digest of the desired state; saved plans compare it. */
  desired_digest?: string;
  /** Non-secret facts for the reader (versions, chart names). */
  facts?: Record<string, unknown>;
  /** Why planning this step failed (the rest of the plan still comes out). */
  error?: string;
}

/** Counts over every resource change of every step. */
export interface PlanSummary {
  /** Objects to create. */
  create: number;
  /** Objects to update in place. */
  update: number;
  /** Objects to delete and create again. */
  replace: number;
  /** Objects to delete. */
  delete: number;
  /** Objects already as desired. */
  no_op: number;
  /** Steps whose effect is known only after apply (no resource changes to show). */
  unknown_steps: number;
  /** Steps whose plan failed. */
  errors: number;
  /** Steps in the plan. */
  steps: number;
}

/** The whole plan. */
export interface PlanDocument {
  /** Version of this format: `"1"`. */
  format_version: typeof PLAN_FORMAT_VERSION;
  /** The kfplan that wrote the plan. */
  kfplan_version: string;
  /** The only timestamp in the document (ISO 8601, UTC). */
  created_at: string;
  /** The cluster planned against, or why the plan is offline. */
  cluster: PlanCluster;
  /** The configuration file planned, when the plan came from one. */
  config?: { path: string; digest: string };
  /** Counts over all steps. */
  summary: PlanSummary;
  /** One entry per step, in dependency order. */
  steps: PlanStep[];
}

const severity = z.enum(["ok", "info", "warning", "error"]);
const changeAction = z.enum(["create", "update", "replace", "delete", "no-op"]);

const fieldDiffSchema = z.object({
  path: z.string(),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
  sensitive: z.boolean().optional(),
}).strict();

const changeSchema = z.object({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  namespace: z.string().optional(),
  name: z.string().min(1),
  action: changeAction,
  diff: z.array(fieldDiffSchema),
  reason: z.string().optional(),
  known_after_apply: z.boolean().optional(),
}).strict();

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

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, {
  message: 'expected "sha256:" followed by 64 hex digits',
});

const stepSchema = z.object({
  id: z.string().min(1),
  title: z.string(),
  needs: z.array(z.string()),
  action: z.enum([
    "create",
    "update",
    "replace",
    "delete",
    "no-op",
    "unknown",
    "error",
  ]),
  options_digest: digest,
  options: z.unknown(),
  changes: z.array(changeSchema),
  findings: z.array(findingSchema),
  warnings: z.array(z.string()),
  unknowns: z.array(z.string()),
  observed: z.array(observedSchema),
  desired_digest: z.string().optional(),
  facts: z.record(z.string(), z.unknown()).optional(),
  error: z.string().optional(),
}).strict();

const count = z.int().min(0);

/** zod schema of {@linkcode PlanDocument}; {@linkcode parsePlanDocument} uses it. */
export const planDocumentSchema = z.object({
  /** Version of this format: `"1"`. */
  format_version: z.literal(PLAN_FORMAT_VERSION, {
    message:
      `unsupported format_version; this kfplan reads "${PLAN_FORMAT_VERSION}"`,
  }),
  /** The kfplan that wrote the plan. */
  kfplan_version: z.string(),
  created_at: z.iso.datetime({ message: "expected an ISO 8601 UTC timestamp" }),
  /** The cluster planned against, or why the plan is offline. */
  cluster: z.discriminatedUnion("offline", [
    z.object({
      offline: z.literal(false),
      server: z.string(),
      context: z.string(),
    }).strict(),
    z.object({ offline: z.literal(true), reason: z.string() }).strict(),
  ]),
  config: z.object({ path: z.string(), digest }).strict().optional(),
  /** Counts over all steps. */
  summary: z.object({
    create: count,
    update: count,
    replace: count,
    delete: count,
    no_op: count,
    unknown_steps: count,
    errors: count,
    /** One entry per step, in dependency order. */
    steps: count,
  }).strict(),
  /** One entry per step, in dependency order. */
  steps: z.array(stepSchema),
}).strict();

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
    unknown_steps: 0,
    errors: 0,
    /** One entry per step, in dependency order. */
    steps: steps.length,
  };
  for (const step of steps) {
    if (step.error !== undefined) s.errors++;
    if (step.action === "unknown") s.unknown_steps++;
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
    return validateOptions(planDocumentSchema, data, {
      source,
    }) as PlanDocument;
  } catch (e) {
    if (e instanceof OptionsError) {
      throw new PlanFormatError(`invalid plan document: ${e.message}`);
    }
    throw e;
  }
}
