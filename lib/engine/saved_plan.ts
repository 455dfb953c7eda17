/**
 * Saved plans: `apply plan.json` applies exactly what was reviewed. Before anything is
 * written the steps are planned again against the cluster and compared with the saved
 * plan; any difference (an object's resourceVersion or uid changed, an object appeared
 * or disappeared, a different set of changes, a different desired state, different
 * options, another cluster, an offline plan) refuses the apply and names what differs.
 *
 * @module
 */

import { canonicalJson } from "./digest.ts";
import { type ClusterIdentity, clusterMismatch } from "./cluster.ts";
import {
  objectKey,
  objectName,
  type PlanDocument,
  type PlanStep,
} from "./plan_document.ts";
import type { ObservedObject } from "./types.ts";

/** Thrown when a saved plan no longer matches the cluster or the configuration. */
export class StalePlanError extends Error {
  /** One line per difference, each naming the step and object. */
  readonly problems: string[];
  /** `source` names the plan in the message, e.g. `plan.json`. */
  constructor(problems: string[], source = "the saved plan") {
    super(
      `refusing to apply ${source}: it no longer matches ${
        problems.length === 1 ? "" : "in " + problems.length + " ways"
      }\n${problems.map((p) => `  - ${p}`).join("\n")}\n` +
        "Make a new plan (`deno task plan --out PLAN.json`), review it, and apply that.",
    );
    this.name = "StalePlanError";
    this.problems = problems;
  }
}

/**
 * Checks that a saved plan can be applied to the cluster at all: not made offline, made
 * for this cluster. Returns the problems (empty when fine).
 */
export function savedPlanTargetProblems(
  saved: PlanDocument,
  cluster: ClusterIdentity | undefined,
): string[] {
  if (saved.cluster.offline) {
    return [
      `the plan was made offline (${saved.cluster.reason}); it read nothing from a cluster, so there is nothing to check it against. ` +
      "Plan against the cluster first: `deno task plan --out PLAN.json` with KUBECONFIG (or --context) pointing at it",
    ];
  }
  if (!cluster) {
    return [
      `the plan was made for cluster ${saved.cluster.context} (${saved.cluster.server}) but there is no cluster connection now`,
    ];
  }
  const mismatch = clusterMismatch(saved.cluster, cluster);
  return mismatch ? [`the plan was made for another cluster: ${mismatch}`] : [];
}

function changeKey(c: PlanStep["changes"][number]): string {
  return canonicalJson({ ...c, reason: undefined }) ?? "";
}

function observedProblems(
  id: string,
  saved: ObservedObject[],
  fresh: ObservedObject[],
): string[] {
  const out: string[] = [];
  const before = new Map(saved.map((o) => [objectKey(o), o]));
  const after = new Map(fresh.map((o) => [objectKey(o), o]));
  for (const [key, s] of before) {
    const f = after.get(key);
    const name = `${s.apiVersion} ${objectName(s)}`;
    const existed = s.resourceVersion !== undefined || s.uid !== undefined;
    const exists = f !== undefined &&
      (f.resourceVersion !== undefined || f.uid !== undefined);
    if (f === undefined) {
      out.push(`${id}: ${name} was read when planning but not now`);
    } else if (existed && !exists) {
      out.push(
        `${id}: ${name} disappeared since the plan (was resourceVersion ${s.resourceVersion})`,
      );
    } else if (!existed && exists) {
      out.push(
        `${id}: ${name} appeared since the plan (now resourceVersion ${f.resourceVersion})`,
      );
    } else if (s.uid !== f.uid) {
      out.push(
        `${id}: ${name} was deleted and re-created since the plan (uid ${s.uid} -> ${f.uid})`,
      );
    } else if (s.generation !== undefined && f.generation !== undefined) {
      // Status updates by controllers bump resourceVersion, not generation: only a
      // spec change makes the plan stale (changes to fields kfplan sets also show up
      // as a different diff).
      if (s.generation !== f.generation) {
        out.push(
          `${id}: ${name} changed since the plan (generation ${s.generation} -> ${f.generation})`,
        );
      }
    } else if (s.resourceVersion !== f.resourceVersion) {
      out.push(
        `${id}: ${name} changed since the plan (resourceVersion ${s.resourceVersion} -> ${f.resourceVersion})`,
      );
    }
  }
  for (const [key, f] of after) {
    if (
      !before.has(key) &&
      (f.resourceVersion !== undefined || f.uid !== undefined)
    ) {
      out.push(
        `${id}: ${f.apiVersion} ${
          objectName(f)
        } is read now but was not when planning`,
      );
    }
  }
  return out;
}

function changeProblems(saved: PlanStep, fresh: PlanStep): string[] {
  const out: string[] = [];
  const s = new Map(saved.changes.map((c) => [objectKey(c), c]));
  const f = new Map(fresh.changes.map((c) => [objectKey(c), c]));
  for (const [key, c] of s) {
    const now = f.get(key);
    const name = `${c.apiVersion} ${objectName(c)}`;
    if (!now) {
      out.push(
        `${saved.id}: ${name}: planned ${c.action}, now not part of the plan`,
      );
    } else if (now.action !== c.action) {
      out.push(`${saved.id}: ${name}: planned ${c.action}, now ${now.action}`);
    } else if (changeKey(now) !== changeKey(c)) {
      out.push(
        `${saved.id}: ${name}: the field changes differ from the saved plan`,
      );
    }
  }
  for (const [key, c] of f) {
    if (!s.has(key)) {
      out.push(
        `${saved.id}: ${c.apiVersion} ${
          objectName(c)
        }: now planned ${c.action}, not in the saved plan`,
      );
    }
  }
  return out;
}

/**
 * Compares a saved plan with a fresh one made now from the same configuration against
 * the same cluster. Returns every difference, each naming the step and object.
 *
 * @example
 * ```ts
 * const problems = compareSavedPlan(saved, fresh);
 * if (problems.length) throw new StalePlanError(problems);
 * ```
 */
export function compareSavedPlan(
  saved: PlanDocument,
  fresh: PlanDocument,
): string[] {
  const problems = savedPlanTargetProblems(
    saved,
    fresh.cluster.offline ? undefined : fresh.cluster,
  );
  if (problems.length > 0) return problems;
  const freshById = new Map(fresh.steps.map((s) => [s.id, s]));
  const savedIds = new Set(saved.steps.map((s) => s.id));
  for (const s of saved.steps) {
    const f = freshById.get(s.id);
    if (!f) {
      problems.push(
        `${s.id}: step is in the saved plan but not in the configuration`,
      );
      continue;
    }
    if (s.error !== undefined) {
      problems.push(
        `${s.id}: the saved plan recorded a planning error (${s.error})`,
      );
      continue;
    }
    if (f.error !== undefined) {
      problems.push(`${s.id}: planning now fails: ${f.error}`);
      continue;
    }
    if (s.options_digest !== f.options_digest) {
      problems.push(
        `${s.id}: options changed since the plan (${
          s.options_digest.slice(0, 19)
        } -> ${f.options_digest.slice(0, 19)})`,
      );
    }
    problems.push(...observedProblems(s.id, s.observed, f.observed));
    problems.push(...changeProblems(s, f));
    if ((s.desired_digest ?? "") !== (f.desired_digest ?? "")) {
      problems.push(
        `${s.id}: desired state changed since the plan (desired_digest differs)`,
      );
    }
  }
  for (const f of fresh.steps) {
    if (!savedIds.has(f.id)) {
      problems.push(
        `${f.id}: step is in the configuration but not in the saved plan`,
      );
    }
  }
  return problems;
}
