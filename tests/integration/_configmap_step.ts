/**
 * A small real step for engine integration tests: manages one ConfigMap through the
 * KubeClient (plan reads it and records what it saw, apply server-side applies it,
 * verify reads it back).
 *
 * @module
 */

import { digestOf } from "../../lib/engine/digest.ts";
import {
  emptyPlan,
  type FieldDiff,
  type Step,
} from "../../lib/engine/types.ts";
import type { KubeObject } from "../../lib/kube/types.ts";

/** A step owning ConfigMap `namespace/name` with `data`. */
export function configMapStep(
  id: string,
  target: { namespace: string; name: string; data: Record<string, string> },
  options: { needs?: string[] } = {},
): Step {
  const ref = {
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: target.namespace,
    name: target.name,
  };
  const desired: KubeObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: target.name, namespace: target.namespace },
    data: target.data,
  };
  return {
    id,
    title: `ConfigMap ${target.namespace}/${target.name}`,
    needs: options.needs ?? [],
    options: target,
    async plan(ctx) {
      if (!ctx.kube) {
        return {
          ...emptyPlan(),
          changes: [{ ...ref, action: "create", diff: [] }],
        };
      }
      const live = await ctx.kube.get(ref);
      const diff: FieldDiff[] = [];
      const liveData = (live?.data ?? {}) as Record<string, string>;
      for (const key of Object.keys(target.data).sort()) {
        if (liveData[key] !== target.data[key]) {
          diff.push({
            path: `data.${key}`,
            before: liveData[key],
            after: target.data[key],
          });
        }
      }
      return {
        ...emptyPlan(),
        changes: [{
          ...ref,
          action: live ? (diff.length ? "update" : "no-op") : "create",
          diff: live ? diff : [],
        }],
        observed: [{
          ...ref,
          resourceVersion: live?.metadata.resourceVersion,
          uid: live?.metadata.uid,
        }],
        desiredDigest: digestOf(desired),
      };
    },
    async apply(ctx) {
      const applied = await ctx.kube!.apply(desired);
      return { uid: applied.metadata.uid };
    },
    async verify(ctx) {
      const live = await ctx.kube!.get(ref);
      const data = (live?.data ?? {}) as Record<string, string>;
      return {
        checks: Object.entries(target.data).map(([k, v]) => ({
          name: `data.${k}`,
          ok: data[k] === v,
          detail: data[k] === v ? undefined : `is ${JSON.stringify(data[k])}`,
        })),
      };
    },
  };
}
