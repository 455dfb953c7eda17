/**
 * Parsing the multi-document YAML streams that `kustomize build` and `helm template`
 * print into Kubernetes objects.
 *
 * @module
 */

import { parseAllDocuments } from "../deps.ts";
import type { KubeObject } from "../kube/types.ts";

/** A document in a manifest stream is not valid YAML or not a Kubernetes object. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

/**
 * Parses a multi-document YAML stream into Kubernetes objects: `List`s are flattened
 * and empty documents dropped. Throws {@linkcode ManifestError} naming `source` and the
 * document index when a document is not an object with `apiVersion`, `kind` and
 * `metadata.name`.
 *
 * @example
 * ```ts
 * parseManifests("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n").length; // 1
 * ```
 */
export function parseManifests(text: string, source = "input"): KubeObject[] {
  const objects: KubeObject[] = [];
  const docs = parseAllDocuments(text, { uniqueKeys: false });
  if (!Array.isArray(docs)) {
    throw new ManifestError(`${source}: not a YAML stream`);
  }
  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      throw new ManifestError(
        `${source}: document ${index}: ${doc.errors[0].message}`,
      );
    }
    const value = doc.toJS({ maxAliasCount: -1 });
    if (value === null || value === undefined) return;
    const items = isList(value) ? value.items : [value];
    for (const item of items) {
      if (
        !item || typeof item !== "object" ||
        typeof item.apiVersion !== "string" ||
        typeof item.kind !== "string" || typeof item.metadata?.name !== "string"
      ) {
        throw new ManifestError(
          `${source}: document ${index} is not a Kubernetes object (needs apiVersion, kind, metadata.name)`,
        );
      }
      objects.push(item as KubeObject);
    }
  });
  return objects;
}

function isList(value: unknown): value is { items: unknown[] } {
  const v = value as { kind?: unknown; items?: unknown } | null;
  return typeof v === "object" && v !== null && typeof v.kind === "string" &&
    v.kind.endsWith("List") && Array.isArray(v.items);
}
