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
  /** The `openAPIV3Schema` (default: an object keeping unknown fields). */
  schema?: Record<string, unknown>;
  /** The one version served and stored (default `v1`). */
  version?: string;
  /** Default `Namespaced`. */
  scope?: "Namespaced" | "Cluster";
  /** Serve the `status` subresource (as controllers' CRDs do). */
  statusSubresource?: boolean;
}

/**
 * A CRD of `kind` in `group` with one version (namespaced `v1` unless told); plural
 * and singular are the lower-cased kind (plus `s`).
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
      scope: options.scope ?? "Namespaced",
      names: {
        plural: `${singular}s`,
        singular,
        kind,
        listKind: `${kind}List`,
      },
      versions: [{
        name: options.version ?? "v1",
        served: true,
        storage: true,
        ...(options.statusSubresource ? { subresources: { status: {} } } : {}),
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
