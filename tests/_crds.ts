/**
 * Throwaway CustomResourceDefinitions for tests on the shared control plane: a
 * group of their own each time, so tests never share a CRD.
 *
 * @module
 */

import type { KubeObject } from "../lib/kube/types.ts";

/** A fresh API group, `<prefix><8 hex>.kfplan.test`. */
export function uniqueGroup(prefix = "g"): string {
  return `${prefix}${crypto.randomUUID().slice(0, 8)}.kfplan.test`;
}

/** Options of {@linkcode testCrd}. */
export interface TestCrdOptions {
  /** The `openAPIV3Schema` of v1 (default: an object keeping unknown fields). */
  schema?: Record<string, unknown>;
}

/**
 * A namespaced CRD of `kind` in `group`, served and stored as `v1`; plural and
 * singular are the lower-cased kind (plus `s`).
 *
 * @example
 * ```ts
 * const crd = testCrd(uniqueGroup(), "Widget"); // widgets.<group>
 * ```
 */
export function testCrd(
  group: string,
  kind: string,
  options: TestCrdOptions = {},
): KubeObject {
  const singular = kind.toLowerCase();
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${singular}s.${group}` },
    spec: {
      group,
      scope: "Namespaced",
      names: {
        plural: `${singular}s`,
        singular,
        kind,
        listKind: `${kind}List`,
      },
      versions: [{
        name: "v1",
        served: true,
        storage: true,
        schema: {
          // A copy: tests grow the schema of the CRD they get.
          openAPIV3Schema: options.schema ? structuredClone(options.schema) : {
            type: "object",
            "x-kubernetes-preserve-unknown-fields": true,
          },
        },
      }],
    },
  };
}
