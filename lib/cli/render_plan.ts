/**
 * Human rendering of a {@linkcode PlanDocument}, modelled on Terraform's plan output:
 * `+` create, `~` update, `-/+` replace, `-` delete, per-field diffs
 * (`~ spec.replicas: 1 -> 3`), findings with severity and fix, warnings, what is known
 * only after apply, and the summary line `Plan: 3 to create, 1 to update, 0 to replace,
 * 0 to delete.` (or `No changes.`). Colours only when asked for (see
 * {@linkcode useColor}).
 *
 * @module
 */

import {
  objectName,
  type PlanChange,
  type PlanDocument,
  type PlanStep,
} from "../engine/plan_document.ts";
import type { Finding } from "../engine/types.ts";
import { isSensitiveMarker } from "../engine/secret_digest.ts";

/** Options for {@linkcode renderPlan}. */
export interface RenderOptions {
  /** ANSI colours; default false. */
  color?: boolean;
  /** Steps with more creates than this list objects grouped by kind; default 25. */
  groupCreatesOver?: number;
}

/**
 * True when output to a stream should be coloured: it is a terminal and `NO_COLOR` is
 * not set (https://no-color.org).
 *
 * @example
 * ```ts
 * const color = useColor(Deno.stdout.isTerminal());
 * ```
 */
export function useColor(
  isTerminal: boolean,
  env: { get(k: string): string | undefined } = Deno.env,
): boolean {
  const noColor = env.get("NO_COLOR");
  return isTerminal && (noColor === undefined || noColor === "");
}

type Paint = (code: number, text: string) => string;

function painter(color: boolean): Paint {
  return (code, text) => color ? `\x1b[${code}m${text}\x1b[0m` : text;
}

const SYMBOL: Record<string, { sym: string; code: number }> = {
  create: { sym: "+", code: 32 },
  update: { sym: "~", code: 33 },
  replace: { sym: "-/+", code: 35 },
  delete: { sym: "-", code: 31 },
  "no-op": { sym: " ", code: 2 },
};

/** A value for humans: short JSON, long values cut. */
export function formatValue(value: unknown): string {
  if (isSensitiveMarker(value)) return value as string;
  const text = JSON.stringify(value) ?? "null";
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * The summary line, Terraform style: `Plan: 1 to create, 0 to update, 0 to replace,
 * 1 to delete.`, with `, 2 kept` before the period when objects no longer rendered
 * are kept (they hold data).
 */
export function summaryLine(doc: PlanDocument): string {
  const s = doc.summary;
  const kept = s.kept ?? 0;
  if (
    s.create + s.update + s.replace + s.delete === 0 && s.unknown_steps === 0
  ) {
    const keptNote = kept > 0
      ? ` ${kept} object${kept === 1 ? "" : "s"} no longer rendered ${
        kept === 1 ? "is" : "are"
      } kept (see above).`
      : "";
    return s.errors > 0
      ? `No changes planned, but ${s.errors} step${
        s.errors === 1 ? "" : "s"
      } failed to plan.${keptNote}`
      : `No changes. The cluster matches the configuration.${keptNote}`;
  }
  let line =
    `Plan: ${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete${
      kept > 0 ? `, ${kept} kept` : ""
    }.`;
  if (s.unknown_steps > 0) {
    line += ` ${s.unknown_steps} step${
      s.unknown_steps === 1 ? "" : "s"
    } known after apply.`;
  }
  if (s.errors > 0) {
    line += ` ${s.errors} step${s.errors === 1 ? "" : "s"} failed to plan.`;
  }
  return line;
}

/**
 * Renders the whole plan as text (ends with a newline).
 *
 * @example
 * ```ts
 * console.log(renderPlan(document, { color: useColor(Deno.stdout.isTerminal()) }));
 * ```
 */
export function renderPlan(
  doc: PlanDocument,
  options: RenderOptions = {},
): string {
  const paint = painter(options.color ?? false);
  const lines: string[] = [];
  if (doc.cluster.offline) {
    lines.push(
      paint(
        1,
        `Planned OFFLINE (${doc.cluster.reason}): every object is shown as created and cluster checks are known after apply.`,
      ),
    );
  } else {
    lines.push(
      `Planned against cluster ${doc.cluster.context} (${doc.cluster.server}).`,
    );
  }
  if (doc.config) {
    lines.push(
      `Configuration: ${doc.config.path} (${doc.config.digest.slice(0, 19)})`,
    );
  }
  lines.push("", "kfplan will perform the following actions:", "");
  for (const step of doc.steps) {
    lines.push(...renderStep(step, paint, options), "");
  }
  lines.push(paint(1, summaryLine(doc)));
  return lines.join("\n") + "\n";
}

function renderStep(
  step: PlanStep,
  paint: Paint,
  options: RenderOptions,
): string[] {
  const out: string[] = [];
  const visible = step.changes.filter((c) => c.action !== "no-op");
  const unchanged = step.changes.length - visible.length;
  const needs = step.needs.length ? ` (needs ${step.needs.join(", ")})` : "";
  const action = step.action === "error" ? paint(31, "ERROR") : step.action;
  out.push(paint(1, `# ${step.id}: ${step.title}`) + ` [${action}]${needs}`);
  if (step.error !== undefined) {
    out.push(...indent(paint(31, `Error: ${step.error}`), "    "));
  }
  const creates = visible.filter((c) => c.action === "create");
  const group = creates.length > (options.groupCreatesOver ?? 25);
  if (group) out.push(...renderCreateGroups(creates, paint));
  for (const change of visible) {
    if (group && change.action === "create") continue;
    out.push(...renderChange(change, paint));
  }
  if (unchanged > 0) {
    out.push(
      paint(
        2,
        `    ${unchanged} object${unchanged === 1 ? "" : "s"} unchanged`,
      ),
    );
  }
  if (
    visible.length === 0 && step.error === undefined && step.action === "no-op"
  ) {
    out.push(paint(2, "    no changes"));
  }
  for (const f of step.findings) out.push(...renderFinding(f, paint));
  for (const w of step.warnings) {
    out.push(...indent(paint(33, `Warning: ${w}`), "    "));
  }
  for (const u of step.unknowns) {
    out.push(`    ${paint(36, "(known after apply)")} ${u}`);
  }
  for (const k of step.kept ?? []) {
    out.push(
      ...indent(
        `${paint(33, keptLabel(k.reason))} ${k.apiVersion} ${
          objectName(k)
        } — ${k.reason}`,
        "    ",
      ),
    );
  }
  return out;
}

/**
 * The label of a kept object, by the kind of reason `planPrune` gave: data, a keep
 * marker, a changed owner, a protected CRD or system namespace; a reason of
 * another kind gets the plain `kept:` (its text still says why).
 *
 * @example
 * ```ts
 * keptLabel("changed owner: its part-of label is missing"); // "kept (changed owner):"
 * ```
 */
export function keptLabel(reason: string): string {
  for (const [prefix, label] of KEPT_LABELS) {
    if (reason.startsWith(prefix)) return `kept (${label}):`;
  }
  return "kept:";
}

/** Reason prefixes of `planPrune` (lib/kube/prune.ts) and the label each gets. */
const KEPT_LABELS: ReadonlyArray<readonly [string, string]> = [
  ["holds data", "holds data"],
  ["carries ", "keep marker"],
  ["changed owner", "changed owner"],
  ["protected", "protected"],
  ["a system namespace", "system namespace"],
];

function renderChange(change: PlanChange, paint: Paint): string[] {
  const { sym, code } = SYMBOL[change.action];
  const tag = change.known_after_apply ? paint(36, " (known after apply)") : "";
  const out = [
    `  ${paint(code, sym.padStart(3))} ${change.apiVersion} ${
      objectName(change)
    }${tag}`,
  ];
  if (change.reason) out.push(paint(2, `        # ${change.reason}`));
  for (const d of change.diff) {
    const hasBefore = d.before !== undefined;
    const hasAfter = d.after !== undefined;
    const sens = d.sensitive ? " (sensitive)" : "";
    if (hasBefore && hasAfter) {
      out.push(
        `        ${paint(33, "~")} ${d.path}: ${formatValue(d.before)} -> ${
          formatValue(d.after)
        }${sens && !String(d.after).startsWith("(sensitive") ? sens : ""}`,
      );
    } else if (hasAfter) {
      out.push(`        ${paint(32, "+")} ${d.path}: ${formatValue(d.after)}`);
    } else if (hasBefore) {
      out.push(`        ${paint(31, "-")} ${d.path}: ${formatValue(d.before)}`);
    } else {
      out.push(
        `        ${paint(33, "~")} ${d.path}${
          d.sensitive ? ": (sensitive)" : ""
        }`,
      );
    }
  }
  return out;
}

function renderCreateGroups(creates: PlanChange[], paint: Paint): string[] {
  const byKind = new Map<string, PlanChange[]>();
  for (const c of creates) {
    const k = `${c.apiVersion} ${c.kind}`;
    byKind.set(k, [...(byKind.get(k) ?? []), c]);
  }
  const out = [
    `  ${paint(32, "  +")} ${creates.length} objects to create, by kind:`,
  ];
  for (const [kind, list] of byKind) {
    const names = list.map((c) =>
      (c.namespace ? `${c.namespace}/` : "") + c.name
    );
    const tag = list.some((c) => c.known_after_apply)
      ? paint(36, " (known after apply)")
      : "";
    out.push(
      ...wrap(
        `      ${paint(32, "+")} ${kind} (${list.length})${tag}: `,
        names,
        100,
      ),
    );
  }
  return out;
}

function wrap(head: string, items: string[], width: number): string[] {
  const lines: string[] = [];
  let line = head;
  const pad = " ".repeat(10);
  for (const [i, item] of items.entries()) {
    const piece = item + (i < items.length - 1 ? ", " : "");
    if (
      line.length + piece.length > width && line.trim() !== "" && line !== head
    ) {
      lines.push(line.trimEnd());
      line = pad;
    }
    line += piece;
  }
  lines.push(line.trimEnd());
  return lines;
}

function renderFinding(f: Finding, paint: Paint): string[] {
  const code = { ok: 32, info: 36, warning: 33, error: 31 }[f.severity];
  const where = f.target ? ` (${f.target})` : "";
  const out = [
    `    ${paint(code, `[${f.severity}]`)} ${f.check}${where}: ${f.seen}`,
  ];
  if (f.fix) out.push(...indent(`fix: ${f.fix}`, "        "));
  return out;
}

function indent(text: string, prefix: string): string[] {
  return text.split("\n").map((l) => prefix + l);
}
