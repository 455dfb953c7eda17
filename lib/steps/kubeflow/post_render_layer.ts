/**
 * The final layer of an exported overlay (`deno task export-overlay`): plain
 * kustomize that turns the build of kfplan's settings overlay into exactly the
 * objects kfplan's Kubeflow step plans.
 *
 * Some settings are applied to the rendered objects after `kustomize build`, not
 * through the overlay: external databases and object stores (`external_data.ts`),
 * the image mirror (`image_mirror.ts`), Dex left out for an external identity
 * provider, `components`, and the `rules` kfplan drops from aggregated ClusterRoles.
 * Rather than one translation per edit, the layer is computed from the difference
 * between the two object sets, matched by identity (API group, kind, namespace,
 * name), never by file, so edits added to the step later are covered without
 * changes here:
 * - an object the build has and kfplan does not: a strategic-merge `$patch: delete`;
 * - an object kfplan adds: a resource file, or a `secretGenerator` for a Secret
 *   (values in files under the secrets directory, never in the kustomization);
 * - a changed object: a JSON 6902 patch of `add`/`remove`/`replace` operations,
 *   lists replaced whole (exact, unlike strategic merges of `env` or `containers`);
 *   a Secret whose data changed is regenerated with `behavior: replace`.
 *
 * Objects are compared as the API server stores them ({@linkcode comparable}): a
 * Secret's `stringData` as `data`, its type defaulted to `Opaque`.
 *
 * @module
 */

import { stringifyYaml as stringify } from "../../deps.ts";
import type { KubeObject } from "../../kube/types.ts";
import { normaliseSecret } from "./render.ts";

/** One JSON 6902 operation. */
export interface JsonPatchOp {
  /** `add`, `remove` or `replace`. */
  op: "add" | "remove" | "replace";
  /** JSON pointer into the object. */
  path: string;
  /** The new value (not for `remove`). */
  value?: unknown;
}

/** An object both sides have, with different contents. */
export interface ChangedObject {
  /** As the build has it. */
  base: KubeObject;
  /** As kfplan plans it. */
  desired: KubeObject;
}

/** What separates the build of the settings overlay from kfplan's desired objects. */
export interface ObjectDiff {
  /** Built but not desired. */
  removed: KubeObject[];
  /** Desired but not built. */
  added: KubeObject[];
  /** Both, different. */
  changed: ChangedObject[];
}

/** The final layer as files, relative to the exported directory. */
export interface PostRenderLayer {
  /** The top kustomization (resources, secretGenerator, patches). */
  kustomization: Record<string, unknown>;
  /** Reviewable files: delete patches, added objects, JSON patches. */
  files: Record<string, string>;
  /** Secret values, one file per key; written only when secrets are asked for. */
  secretFiles: Record<string, Uint8Array>;
}

/** Options for {@linkcode postRenderLayer}. */
export interface PostRenderLayerOptions {
  /** What the layer builds on, relative to its directory (the settings overlay). */
  resources: string[];
  /** Directory of the layer's secret files, relative to the layer; default `secrets/post-render`. */
  secretsDir?: string;
  /** Directory of the layer's other files; default `post-render`. */
  filesDir?: string;
}

/** Identity of an object: API group (not version), kind, namespace, name. */
export function identityOf(o: KubeObject): string {
  const slash = o.apiVersion.indexOf("/");
  const group = slash > 0 ? o.apiVersion.slice(0, slash) : "";
  return `${group}|${o.kind}|${o.metadata.namespace ?? ""}|${o.metadata.name}`;
}

/** Drops `undefined` members (YAML and JSON have none) and sorts keys, recursively. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v);
    }
    return out;
  }
  return value;
}

/**
 * An object as the API server stores it, for comparison: a Secret's `stringData`
 * moved into `data` and its type defaulted to `Opaque`; keys sorted.
 */
export function comparable(o: KubeObject): KubeObject {
  let n = normaliseSecret(o);
  if (n.kind === "Secret") {
    // kustomize folds long base64 values; the API server's decoder skips line breaks.
    const data = n.data as Record<string, string> | undefined;
    n = {
      ...n,
      type: n.type ?? "Opaque",
      ...(data
        ? {
          data: Object.fromEntries(
            Object.entries(data).map(([k, v]) => [k, v.replace(/\s+/g, "")]),
          ),
        }
        : {}),
    };
  }
  return canonical(n) as KubeObject;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** JSON pointer escaping of one path segment. */
function pointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * The operations turning `from` into `to`: maps are compared key by key, anything
 * else (lists included) replaced whole, so the result never depends on merge keys.
 */
export function jsonPatchOps(
  from: unknown,
  to: unknown,
  path = "",
): JsonPatchOp[] {
  if (isMap(from) && isMap(to)) {
    const ops: JsonPatchOp[] = [];
    for (const k of Object.keys(from).sort()) {
      if (!(k in to)) ops.push({ op: "remove", path: `${path}/${pointer(k)}` });
    }
    for (const k of Object.keys(to).sort()) {
      const p = `${path}/${pointer(k)}`;
      if (!(k in from)) ops.push({ op: "add", path: p, value: to[k] });
      else ops.push(...jsonPatchOps(from[k], to[k], p));
    }
    return ops;
  }
  return JSON.stringify(from) === JSON.stringify(to)
    ? []
    : [{ op: "replace", path, value: to }];
}

/**
 * Matches both sets by identity and compares them as the API server stores them
 * (see {@linkcode comparable}).
 */
export function diffObjects(
  base: KubeObject[],
  desired: KubeObject[],
): ObjectDiff {
  const built = new Map(base.map((o) => [identityOf(o), comparable(o)]));
  const wanted = new Map(desired.map((o) => [identityOf(o), comparable(o)]));
  const diff: ObjectDiff = { removed: [], added: [], changed: [] };
  for (const [k, o] of [...built].sort(([a], [b]) => a < b ? -1 : 1)) {
    const w = wanted.get(k);
    if (!w) diff.removed.push(o);
    else if (JSON.stringify(o) !== JSON.stringify(w)) {
      diff.changed.push({ base: o, desired: w });
    }
  }
  for (const [k, o] of [...wanted].sort(([a], [b]) => a < b ? -1 : 1)) {
    if (!built.has(k)) diff.added.push(o);
  }
  return diff;
}

/** A regular expression matching exactly `s`. */
function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Whether the name ends in a kustomize hash suffix (ten characters of the alphabet
 * kustomize encodes its hash in), for a ConfigMap or Secret.
 */
function generatedName(o: KubeObject): boolean {
  return (o.kind === "ConfigMap" || o.kind === "Secret") &&
    HASH_SUFFIX.test(o.metadata.name);
}

const HASH_SUFFIX = /^(.+)-[2456789bcdfghkmt]{10}$/;

/**
 * The patch target's name (kustomize reads it as an anchored regular expression):
 * kustomize selects a generated object by the name it was generated under, without
 * its hash suffix, so a generated name matches both ways.
 */
function nameSelector(o: KubeObject): string {
  const name = o.metadata.name;
  const base = generatedName(o) ? name.match(HASH_SUFFIX)?.[1] : undefined;
  return base ? `(?:${literal(name)}|${literal(base)})` : literal(name);
}

/** A strategic-merge patch deleting `o`. */
function deletePatch(o: KubeObject): Record<string, unknown> {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: {
      name: o.metadata.name,
      ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    },
    $patch: "delete",
  };
}

/** The kustomize patch target naming exactly one object. */
function targetOf(o: KubeObject): Record<string, string> {
  const slash = o.apiVersion.indexOf("/");
  return {
    ...(slash > 0 ? { group: o.apiVersion.slice(0, slash) } : {}),
    version: slash > 0 ? o.apiVersion.slice(slash + 1) : o.apiVersion,
    kind: o.kind,
    name: nameSelector(o),
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
  };
}

function fileStem(o: KubeObject): string {
  return [o.kind, o.metadata.namespace, o.metadata.name].filter(Boolean).join(
    "-",
  ).toLowerCase().replace(/[^a-z0-9.-]+/g, "_");
}

function decode(b64: string): Uint8Array {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** Everything but identity and what the generator sets, to patch after it. */
function generatedSecret(
  desired: KubeObject,
  base?: KubeObject,
): KubeObject {
  // `behavior: replace` keeps the replaced Secret's labels and annotations.
  const metadata: Record<string, unknown> = {
    name: desired.metadata.name,
    ...(desired.metadata.namespace
      ? { namespace: desired.metadata.namespace }
      : {}),
    ...(base?.metadata.labels ? { labels: base.metadata.labels } : {}),
    ...(base?.metadata.annotations
      ? { annotations: base.metadata.annotations }
      : {}),
  };
  const data = desired.data as Record<string, string> | undefined;
  const { data: _replaced, ...kept } = base ?? ({} as Partial<KubeObject>);
  return comparable({
    ...kept,
    apiVersion: "v1",
    kind: "Secret",
    metadata,
    type: desired.type,
    ...(data && Object.keys(data).length > 0 ? { data } : {}),
  } as unknown as KubeObject);
}

/**
 * The final layer reproducing `diff` on top of `options.resources`.
 *
 * @example
 * ```ts
 * const layer = postRenderLayer(diffObjects(built, desired), { resources: ["settings"] });
 * console.log(Object.keys(layer.files));
 * ```
 */
export function postRenderLayer(
  diff: ObjectDiff,
  options: PostRenderLayerOptions,
): PostRenderLayer {
  const dir = options.filesDir ?? "post-render";
  const secretsDir = options.secretsDir ?? "secrets/post-render";
  const files: Record<string, string> = {};
  const secretFiles: Record<string, Uint8Array> = {};
  const resources = [...options.resources];
  const secretGenerator: Record<string, unknown>[] = [];
  const patches: Record<string, unknown>[] = [];
  const yaml = (docs: unknown[]) =>
    docs.map((d) => stringify(d, { lineWidth: 0 })).join("---\n");

  // A changed object kustomize generated with a hash suffix is replaced whole:
  // patched in a later layer, kustomize would hash it again under a new name.
  const replaced = diff.changed.filter(({ base }) => generatedName(base));
  const patched = diff.changed.filter(({ base }) => !generatedName(base));
  const deleted = [...diff.removed, ...replaced.map(({ base }) => base)];
  if (deleted.length > 0) {
    // Deleted one layer down, so that replacements do not collide with them.
    const up = "../".repeat(dir.split("/").length + 1);
    const plain = deleted.filter((o) => !generatedName(o));
    const layerPatches: Record<string, unknown>[] = [];
    if (plain.length > 0) {
      files[`${dir}/delete/delete.yaml`] = yaml(plain.map(deletePatch));
      layerPatches.push({ path: "delete.yaml" });
    }
    for (const o of deleted.filter((o) => generatedName(o))) {
      layerPatches.push({
        patch: stringify(deletePatch(o), { lineWidth: 0 }),
        target: targetOf(o),
      });
    }
    files[`${dir}/delete/kustomization.yaml`] = stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources: resources.map((r) => `${up}${r}`),
      patches: layerPatches,
    }, { lineWidth: 0 });
    resources.splice(0, resources.length, `${dir}/delete`);
  }

  function generate(
    desired: KubeObject,
    base?: KubeObject,
  ): KubeObject {
    const data = (desired.data ?? {}) as Record<string, string>;
    const stem = `${secretsDir}/${fileStem(desired)}`;
    for (const [key, value] of Object.entries(data)) {
      secretFiles[`${stem}/${key}`] = decode(value);
    }
    secretGenerator.push({
      name: desired.metadata.name,
      ...(desired.metadata.namespace
        ? { namespace: desired.metadata.namespace }
        : {}),
      ...(base ? { behavior: "replace" } : {}),
      ...(desired.type ? { type: desired.type } : {}),
      files: Object.keys(data).map((k) => `${k}=${stem}/${k}`),
      options: { disableNameSuffixHash: true },
    });
    return generatedSecret(desired, base);
  }

  let n = patches.length;
  function patch(from: KubeObject, to: KubeObject): void {
    const ops = jsonPatchOps(from, to);
    if (ops.length === 0) return;
    const path = `${dir}/patches/${String(++n).padStart(3, "0")}-${
      fileStem(to)
    }.yaml`;
    files[path] = stringify(ops, { lineWidth: 0 });
    patches.push({ path, target: targetOf(from) });
  }

  const added = [...diff.added, ...replaced.map(({ desired }) => desired)];
  const addedObjects = added.filter((o) => o.kind !== "Secret");
  if (addedObjects.length > 0) {
    const path = `${dir}/added.yaml`;
    files[path] = yaml(addedObjects);
    resources.push(path);
  }
  for (const o of added.filter((o) => o.kind === "Secret")) {
    patch(generate(o), o);
  }
  for (const { base, desired } of patched) {
    const dataChanged = base.kind === "Secret" &&
      JSON.stringify(base.data ?? {}) !== JSON.stringify(desired.data ?? {});
    patch(dataChanged ? generate(desired, base) : base, desired);
  }
  return {
    kustomization: {
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      resources,
      ...(secretGenerator.length > 0 ? { secretGenerator } : {}),
      ...(patches.length > 0 ? { patches } : {}),
    },
    files,
    secretFiles,
  };
}

/**
 * The layer with JSON patches, applied last, for objects whose build with the layer
 * still differs (kustomize rewrites references to a generated object the layer
 * replaced, for one): `built` is the layer's build, `desired` what it should be.
 *
 * @example
 * ```ts
 * const fixed = withFollowUpPatches(layer, diffObjects(built, desired));
 * ```
 */
export function withFollowUpPatches(
  layer: PostRenderLayer,
  residual: ObjectDiff,
  options: { filesDir?: string } = {},
): PostRenderLayer {
  const dir = options.filesDir ?? "post-render";
  const files = { ...layer.files };
  const patches = [
    ...(layer.kustomization.patches as Record<string, unknown>[] | undefined ??
      []),
  ];
  let n = patches.length;
  for (const { base, desired } of residual.changed) {
    const ops = jsonPatchOps(base, desired);
    if (ops.length === 0) continue;
    const path = `${dir}/patches/${String(++n).padStart(3, "0")}-${
      fileStem(desired)
    }.yaml`;
    files[path] = stringify(ops, { lineWidth: 0 });
    patches.push({ path, target: targetOf(base) });
  }
  return {
    ...layer,
    files,
    kustomization: { ...layer.kustomization, patches },
  };
}

/** A line per difference, naming the object, for reports of what a layer missed. */
export function describeDiff(diff: ObjectDiff): string[] {
  const name = (o: KubeObject) =>
    `${o.kind} ${
      o.metadata.namespace ? `${o.metadata.namespace}/` : ""
    }${o.metadata.name}`;
  return [
    ...diff.removed.map((o) => `${name(o)}: built but not planned by kfplan`),
    ...diff.added.map((o) => `${name(o)}: planned by kfplan but not built`),
    ...diff.changed.map(({ base, desired }) =>
      `${name(desired)}: differs at ${
        jsonPatchOps(base, desired).map((op) => op.path).slice(0, 5).join(", ")
      }`
    ),
  ];
}
