/**
 * A small installation for the fault tests, built from a JSON config: settings
 * (ConfigMaps), address pools (ConfigMaps standing in for MetalLB pools), user profiles
 * (a ServiceAccount and a ConfigMap each) and a chart's values. Each step renders its
 * objects as `desired`, so the engine keeps its inventory and prunes what a new config
 * drops, as it does for the shipped steps. Going from {@linkcode configA} to
 * {@linkcode configB} adds, changes and removes objects in every step.
 *
 * @module
 */

import { planObjects } from "../../lib/kube/apply_set.ts";
import { refOf } from "../../lib/kube/object_ref.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import { emptyPlan, type Step } from "../../lib/engine/types.ts";

/** The installation's settings. */
export interface FaultConfig {
  /** Step ids start with this (unique per test run: inventories are per step id). */
  prefix: string;
  /** Namespace of every object. */
  namespace: string;
  /** Settings, one ConfigMap each. */
  settings: Record<string, string>;
  /** Address pools by name. */
  pools: string[];
  /** User profiles by name. */
  profiles: string[];
  /** The chart's values. */
  chart: Record<string, string>;
}

/** The first configuration. */
export function configA(prefix: string, namespace: string): FaultConfig {
  return {
    prefix,
    namespace,
    settings: { a: "1", b: "2", c: "3" },
    pools: ["p1", "p2"],
    profiles: ["alice", "bob"],
    chart: { replicas: "1", image: "v1" },
  };
}

/** The upgrade: a setting dropped, changed and added, a pool and a profile removed, a profile added, a chart value changed. */
export function configB(prefix: string, namespace: string): FaultConfig {
  return {
    prefix,
    namespace,
    settings: { a: "1", c: "changed", d: "4" },
    pools: ["p1"],
    profiles: ["alice", "carol"],
    chart: { replicas: "2", image: "v1" },
  };
}

function configMap(
  namespace: string,
  name: string,
  data: Record<string, string>,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace },
    data,
  };
}

/** A step owning `objects`: plans them, applies them one by one, verifies each. */
function objectsStep(
  id: string,
  objects: KubeObject[],
  needs: string[],
): Step {
  return {
    id,
    title: `${objects.length} objects`,
    needs,
    options: { objects },
    async plan(ctx) {
      const planned = await planObjects(ctx.kube, objects, {
        signal: ctx.signal,
      });
      return {
        ...emptyPlan(),
        changes: planned.changes,
        observed: planned.observed,
        desired: objects,
      };
    },
    async apply(ctx, plan) {
      for (const object of plan.desired ?? objects) {
        await ctx.kube!.apply(object);
      }
      return {};
    },
    async verify(ctx, plan) {
      const checks = [];
      for (const object of plan?.desired ?? objects) {
        const live = await ctx.kube!.get(refOf(object));
        const want = (object as { data?: Record<string, string> }).data ?? {};
        const got = (live as { data?: Record<string, string> } | undefined)
          ?.data ?? {};
        const ok = !!live &&
          Object.keys(got).length === Object.keys(want).length &&
          Object.entries(want).every(([k, v]) => got[k] === v);
        checks.push({ name: `${object.kind} ${object.metadata.name}`, ok });
      }
      return { checks };
    },
  };
}

/** The steps of `config`, in the order settings, pools and users (both need settings), chart (needs pools). */
export function faultSteps(config: FaultConfig): Step[] {
  const { prefix: p, namespace: ns } = config;
  return [
    objectsStep(
      `${p}-settings`,
      Object.entries(config.settings).map(([k, v]) =>
        configMap(ns, `setting-${k}`, { value: v })
      ),
      [],
    ),
    objectsStep(
      `${p}-pools`,
      config.pools.map((name) =>
        configMap(ns, `pool-${name}`, { addresses: `10.0.${name.length}.0/28` })
      ),
      [`${p}-settings`],
    ),
    objectsStep(
      `${p}-users`,
      config.profiles.flatMap((name) => [
        {
          apiVersion: "v1",
          kind: "ServiceAccount",
          metadata: { name: `profile-${name}`, namespace: ns },
        },
        configMap(ns, `profile-${name}`, { owner: `${name}@example.com` }),
      ]),
      [`${p}-settings`],
    ),
    objectsStep(
      `${p}-chart`,
      [configMap(ns, "chart-values", config.chart)],
      [`${p}-pools`],
    ),
  ];
}
