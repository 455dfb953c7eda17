/**
 * Field-level diffs between a live object and what the server says it would become
 * (the server-side dry-run result), with server bookkeeping ignored and Secret values
 * redacted. Pure functions, no I/O.
 *
 * @module
 */

import type { KubeObject } from "./types.ts";

/** One changed field of a resource, addressed by a JSON path such as `spec.replicas`. */
export interface FieldDiff {
  /** Dotted path with `[i]` indices, e.g. `data["config.yaml"]` or `spec.ports[0].port`. */
  path: string;
  /** The live value, absent when the field is new. */
  before?: unknown;
  /** The desired value, absent when the field is removed. */
  after?: unknown;
  /**
   * True when the values are secret: renderers show `(sensitive)` and a short digest
   * instead of `before`/`after`, which must already be redacted.
   */
  sensitive?: boolean;
}

/**
 * Formats a path as written in YAML configs: `a.b[0].c`, with keys that are not
 * identifiers quoted (`data["config.yaml"]`).
 *
 * @example
 * ```ts
 * formatPath(["metallb", "pools", 0, "addresses", 1]); // "metallb.pools[0].addresses[1]"
 * ```
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(String(part))) {
      out += out ? `.${String(part)}` : String(part);
    } else out += `[${JSON.stringify(String(part))}]`;
  }
  return out || "(root)";
}

/** One step of a path into an object: a map key or a list index. */
export type PathSegment = string | number;

/** Metadata the server maintains; a change there is not a change the user made. */
const SERVER_METADATA = new Set([
  "managedFields",
  "resourceVersion",
  "generation",
  "uid",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "selfLink",
]);

/**
 * Whether a path is server bookkeeping rather than desired state: `status`, and
 * `metadata.{managedFields,resourceVersion,generation,uid,creationTimestamp,...}`.
 */
export function isIgnoredPath(path: readonly PathSegment[]): boolean {
  if (path[0] === "status") return true;
  return path[0] === "metadata" && typeof path[1] === "string" &&
    SERVER_METADATA.has(path[1]);
}

/** Whether `object` is a core `v1` Secret, whose `data`/`stringData` values are secret. */
export function isSecret(
  object: { apiVersion?: string; kind?: string },
): boolean {
  return object.kind === "Secret" && object.apiVersion === "v1";
}

/**
 * What a Secret's payload reads as in diffs and redacted objects. No digest: the kube
 * layer has no installation key, and a bare hash of a low-entropy secret could be
 * confirmed offline; the engine's keyed desired-state digest tells whether it changed.
 */
export const REDACTED = "(sensitive)";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON values; key order does not matter. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length &&
      a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/** Options for {@linkcode diffValues}. */
export interface DiffValuesOptions {
  /** Paths to skip entirely; default {@linkcode isIgnoredPath}. */
  ignore?: (path: readonly PathSegment[]) => boolean;
}

interface RawDiff {
  segments: PathSegment[];
  before?: unknown;
  after?: unknown;
}

function rawDiff(
  before: unknown,
  after: unknown,
  options: DiffValuesOptions,
): RawDiff[] {
  const ignore = options.ignore ?? isIgnoredPath;
  const out: RawDiff[] = [];
  walk(before, after, []);
  return out;

  function walk(a: unknown, b: unknown, path: PathSegment[]) {
    if (path.length > 0 && ignore(path)) return;
    if (jsonEqual(a, b)) return;
    if (isPlainObject(a) || isPlainObject(b)) {
      if (
        (a === undefined || isPlainObject(a)) &&
        (b === undefined || isPlainObject(b))
      ) {
        const keys = new Set([
          ...Object.keys(a ?? {}),
          ...Object.keys(b ?? {}),
        ]);
        for (const key of [...keys].sort()) {
          walk(a?.[key], b?.[key], [...path, key]);
        }
        return;
      }
    } else if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        walk(a[i], b[i], [...path, i]);
      }
      return;
    }
    const entry: RawDiff = { segments: path };
    if (a !== undefined) entry.before = a;
    if (b !== undefined) entry.after = b;
    out.push(entry);
  }
}

function toFieldDiff(d: RawDiff): FieldDiff {
  const out: FieldDiff = { path: formatPath(d.segments) };
  if ("before" in d) out.before = d.before;
  if ("after" in d) out.after = d.after;
  return out;
}

/**
 * Leaf-level differences from `before` to `after`. Maps are compared key by key, lists
 * index by index; a value present on one side only is reported at its leaves when it is
 * a map, whole when it is a list or scalar.
 *
 * @example
 * ```ts
 * import { diffValues } from "./diff.ts";
 * diffValues({ spec: { replicas: 1 } }, { spec: { replicas: 3 } });
 * // [{ path: "spec.replicas", before: 1, after: 3 }]
 * ```
 */
export function diffValues(
  before: unknown,
  after: unknown,
  options: DiffValuesOptions = {},
): FieldDiff[] {
  return rawDiff(before, after, options).map(toFieldDiff);
}

/**
 * Whether `desired` sets the value at `path`: the path resolves in it, or runs into a
 * list or scalar it sets as a whole. A Secret's `stringData.x` counts as setting
 * `data.x`, which is where the server stores it.
 */
export function setsPath(
  desired: unknown,
  path: readonly PathSegment[],
): boolean {
  if (
    isSecret(desired as KubeObject) && path[0] === "data" && path.length > 1 &&
    isPlainObject((desired as KubeObject).stringData) &&
    (desired as KubeObject & { stringData: Record<string, unknown> })
        .stringData[
          String(path[1])
        ] !== undefined
  ) return true;
  let current: unknown = desired;
  for (const segment of path) {
    if (Array.isArray(current)) {
      if (typeof segment !== "number") return true;
      // Past the end of a list desired sets: the server dropped an item because of
      // us (e.g. a name removed from an atomic list), a real change.
      if (segment >= current.length) return true;
      current = current[segment];
    } else if (isPlainObject(current)) {
      current = current[String(segment)];
    } else {
      return current !== undefined;
    }
    if (current === undefined) return false;
  }
  return true;
}

/**
 * Whether the server-side apply field manager `manager` owns `path` of `live`
 * (per `metadata.managedFields`, format `FieldsV1`). List items are matched by the
 * `k:{...}` keys, `v:` values or `i:` indices the server recorded.
 */
export function ownsPath(
  live: KubeObject,
  path: readonly PathSegment[],
  options: { manager: string },
): boolean {
  const entries = (live.metadata?.managedFields ?? []) as {
    manager?: string;
    operation?: string;
    subresource?: string;
    fieldsV1?: Record<string, unknown>;
  }[];
  return entries.some((entry) => {
    if (
      entry.manager !== options.manager || entry.operation !== "Apply" ||
      entry.subresource
    ) {
      return false;
    }
    let node: unknown = entry.fieldsV1;
    let value: unknown = live;
    for (const segment of path) {
      if (!isPlainObject(node)) return false;
      if (typeof segment === "number") {
        const item = Array.isArray(value) ? value[segment] : undefined;
        const fields = node;
        const key = Object.keys(fields).find((k) => {
          if (k === `i:${segment}`) return true;
          if (k.startsWith("v:")) {
            return jsonEqual(JSON.parse(k.slice(2)), item);
          }
          if (k.startsWith("k:") && isPlainObject(item)) {
            const keyFields = JSON.parse(k.slice(2)) as Record<string, unknown>;
            return Object.entries(keyFields).every(([f, v]) =>
              jsonEqual(item[f], v)
            );
          }
          return false;
        });
        if (!key) return false;
        node = fields[key];
        value = item;
      } else {
        node = node[`f:${segment}`];
        value = isPlainObject(value) ? value[segment] : undefined;
        if (node === undefined) return false;
      }
    }
    return true;
  });
}
/** Replaces secret values in a Secret's diff entries by digests and marks them sensitive. */
function redactEntries(diffs: FieldDiff[]): FieldDiff[] {
  return diffs.map((d) => {
    const secret = /^(data|stringData)\b/.test(d.path) ||
      d.path.includes("kubectl.kubernetes.io/last-applied-configuration");
    if (!secret) return d;
    const out: FieldDiff = { path: d.path, sensitive: true };
    if (d.before !== undefined) out.before = REDACTED;
    if (d.after !== undefined) out.after = REDACTED;
    return out;
  });
}

/** Options for {@linkcode objectFieldDiff}. */
export interface ObjectFieldDiffOptions {
  /** The object as kfplan applies it: only fields it sets are compared. */
  desired: KubeObject;
  /** The server-side apply field manager whose removed fields are reported. */
  manager: string;
}

/**
 * What applying would change: the differences from the live object to the server's
 * dry-run result, limited to the fields `desired` sets plus fields `manager` owned and
 * the apply removes (so controllers updating other fields meanwhile are not reported),
 * minus server bookkeeping, with Secret `data`/`stringData` values replaced by
 * `(sensitive)` and marked `sensitive`.
 */
export function objectFieldDiff(
  live: KubeObject,
  dryRun: KubeObject,
  options: ObjectFieldDiffOptions,
): FieldDiff[] {
  const diffs = rawDiff(live, dryRun, {})
    .filter((d) =>
      setsPath(options.desired, d.segments) ||
      (d.after === undefined &&
        ownsPath(live, d.segments, { manager: options.manager }))
    )
    .map(toFieldDiff);
  return isSecret(dryRun) || isSecret(live) ? redactEntries(diffs) : diffs;
}

/**
 * A copy of `object` that is safe to print or store: for a Secret, every `data` and
 * `stringData` value is replaced by `(sensitive)` and the
 * `kubectl.kubernetes.io/last-applied-configuration` annotation (which repeats them) is
 * dropped. Other kinds are returned as they are.
 */
export function redactObject<T extends KubeObject | undefined>(
  object: T,
): T {
  if (!object || !isSecret(object)) return object;
  const copy = structuredClone(object) as KubeObject;
  for (const field of ["data", "stringData"]) {
    const values = copy[field];
    if (!isPlainObject(values)) continue;
    for (const key of Object.keys(values)) {
      values[key] = REDACTED;
    }
  }
  const annotations = copy.metadata?.annotations;
  if (annotations) {
    delete annotations["kubectl.kubernetes.io/last-applied-configuration"];
  }
  return copy as T;
}
