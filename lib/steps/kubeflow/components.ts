/**
 * Whole components of a rendered platform, recognized from the objects themselves
 * (the API groups of their CRDs, their namespaces, names and `app` labels), so that
 * `kubeflow.components` can leave them out: `exclude` drops a component, `external`
 * drops Istio or cert-manager that the cluster already runs, and the plan then checks
 * that the cluster serves the CRDs the remaining objects need.
 *
 * @module
 */

import type { KubeClient, KubeObject } from "../../kube/types.ts";
import { objectName } from "../../kube/object_ref.ts";
import { OptionsError } from "../../engine/options.ts";

/** Components `kubeflow.components.exclude` can leave out. */
export const COMPONENT_IDS = [
  "knative",
  "kserve",
  "katib",
  "training-operator",
  "spark",
  "model-registry",
  "tensorboard",
  "istio",
  "cert-manager",
] as const;

/** A component id. */
export type ComponentId = typeof COMPONENT_IDS[number];

/** Components the cluster may already run (`kubeflow.components.external`). */
export const EXTERNAL_COMPONENT_IDS = ["istio", "cert-manager"] as const;

/** How a component's objects are recognized. */
interface ComponentRule {
  /** CRDs of these API groups belong to it. */
  crdGroups: RegExp;
  /** Whether custom resources of those groups belong to it too (not for shared infrastructure, whose resources are the platform's). */
  ownsCustomResources: boolean;
  /** Every object in these namespaces (and the Namespace itself). */
  namespaces: string[];
  /** Object names (any kind, any namespace). */
  names: RegExp;
  /** Values of the `app`, `app.kubernetes.io/name` or `app.kubernetes.io/component` label. */
  labels: string[];
  /** Components it cannot run without. */
  needs: ComponentId[];
}

const NOTHING = /^$a/;

/**
 * The rules: API groups, namespaces, names and labels the upstream projects use,
 * whatever files a tree keeps them in.
 */
const RULES: Record<ComponentId, ComponentRule> = {
  "knative": {
    crdGroups: /(^|\.)knative\.dev$/,
    ownsCustomResources: true,
    namespaces: ["knative-serving", "knative-eventing"],
    names: /^knative-|\.knative\.dev$/,
    labels: ["knative-serving", "knative-eventing", "net-istio"],
    needs: ["istio"],
  },
  "kserve": {
    crdGroups: /^serving\.kserve\.io$/,
    ownsCustomResources: true,
    namespaces: [],
    names: /^kserve|^kubeflow-kserve-|\.serving\.kserve\.io$/,
    labels: ["kserve", "kserve-models-web-app"],
    needs: ["knative"],
  },
  "katib": {
    crdGroups: NOTHING,
    ownsCustomResources: false,
    namespaces: [],
    names:
      /^katib|^kubeflow-katib-|^(experiments|suggestions|trials)\.kubeflow\.org$|^trial-templates$/,
    labels: ["katib", "katib-controller", "katib-ui", "katib-mysql"],
    needs: [],
  },
  "training-operator": {
    crdGroups: /^(trainer\.kubeflow\.org|jobset\.x-k8s\.io)$/,
    ownsCustomResources: true,
    namespaces: [],
    names:
      /^training-operator|^kubeflow-training-|^(tf|pytorch|mpi|xgboost|paddle|jax|mx)jobs\.kubeflow\.org$|^(kubeflow-)?trainer|^jobset/,
    labels: ["training-operator", "trainer", "jobset"],
    needs: [],
  },
  "spark": {
    crdGroups: /^sparkoperator\.k8s\.io$/,
    ownsCustomResources: true,
    namespaces: [],
    names: /^spark-operator|^kubeflow-spark-/,
    labels: ["spark-operator"],
    needs: [],
  },
  "model-registry": {
    crdGroups: NOTHING,
    ownsCustomResources: false,
    namespaces: [],
    names: /^model-registry/,
    labels: ["model-registry", "model-registry-ui"],
    needs: [],
  },
  "tensorboard": {
    crdGroups: /^tensorboard\.kubeflow\.org$/,
    ownsCustomResources: true,
    namespaces: [],
    names: /^tensorboard|^kubeflow-tensorboard/,
    labels: ["tensorboard-controller", "tensorboards-web-app"],
    needs: [],
  },
  "istio": {
    crdGroups: /(^|\.)istio\.io$/,
    ownsCustomResources: false,
    namespaces: [],
    names: /^istiod?($|-)/,
    labels: [
      "istiod",
      "istio-ingressgateway",
      "istio-reader",
      "istio-cni",
      "sidecar-injector",
      "pilot",
    ],
    needs: [],
  },
  "cert-manager": {
    crdGroups: /(^|\.)cert-manager\.io$/,
    ownsCustomResources: false,
    namespaces: ["cert-manager"],
    names: /^cert-manager/,
    labels: ["cert-manager", "cainjector", "webhook-cert-manager"],
    needs: [],
  },
};

function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
}

/** The CRD group of a CustomResourceDefinition object. */
function crdGroup(o: KubeObject): string | undefined {
  return (o.spec as { group?: string } | undefined)?.group;
}

/**
 * The component an object belongs to, or undefined for the platform itself.
 * Istio's own objects are only its control plane and gateways' installation; the
 * platform's Istio resources (Gateways, AuthorizationPolicies, ...) stay.
 */
export function componentOf(o: KubeObject): ComponentId | undefined {
  const labels = o.metadata as { labels?: Record<string, string> };
  const labelValues = [
    labels.labels?.app,
    labels.labels?.["app.kubernetes.io/name"],
    labels.labels?.["app.kubernetes.io/component"],
  ];
  for (const id of COMPONENT_IDS) {
    const rule = RULES[id];
    if (o.kind === "CustomResourceDefinition") {
      if (rule.crdGroups.test(crdGroup(o) ?? "")) return id;
      if (rule.names.test(o.metadata.name)) return id;
      continue;
    }
    if (rule.crdGroups.test(groupOf(o.apiVersion))) {
      // A component's own custom resources go with it; shared infrastructure's
      // (Certificates, Issuers, Gateways, ...) are the platform's, whatever their labels.
      if (rule.ownsCustomResources) return id;
      continue;
    }
    if (rule.namespaces.includes(o.metadata.namespace ?? "")) return id;
    if (o.kind === "Namespace" && rule.namespaces.includes(o.metadata.name)) {
      return id;
    }
    if (id === "istio" && o.kind === "Namespace") continue;
    if (id === "istio" && !isIstioInstall(o)) continue;
    if (rule.names.test(o.metadata.name)) return id;
    if (labelValues.some((v) => v !== undefined && rule.labels.includes(v))) {
      return id;
    }
  }
  return undefined;
}

/** Istio's installation: its control plane, ingress gateway and their RBAC/config, not the platform's Istio resources. */
function isIstioInstall(o: KubeObject): boolean {
  return !groupOf(o.apiVersion).endsWith("istio.io") ||
    o.metadata.namespace === "istio-system" && o.kind === "Gateway" &&
      o.metadata.name === "istio-ingressgateway";
}

/** A component found in the render, with its object count. */
export interface FoundComponent {
  /** The component. */
  id: ComponentId;
  /** How many rendered objects belong to it. */
  objects: number;
}

/** The rendered components, in {@linkcode COMPONENT_IDS} order. */
export function findComponents(objects: KubeObject[]): FoundComponent[] {
  const counts = new Map<ComponentId, number>();
  for (const o of objects) {
    const id = componentOf(o);
    if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return COMPONENT_IDS.filter((id) => counts.has(id)).map((id) => ({
    id,
    objects: counts.get(id)!,
  }));
}

/** The `kubeflow.components` selection. */
export interface ComponentSelection {
  /** Components to leave out. */
  exclude: ComponentId[];
  /** Istio or cert-manager the cluster already runs: left out and checked. */
  external: ("istio" | "cert-manager")[];
}

/** Result of {@linkcode selectComponents}. */
export interface SelectedComponents {
  /** The objects to keep. */
  objects: KubeObject[];
  /** Left-out object count by component. */
  leftOut: Record<string, number>;
  /** CRDs of external components the kept objects need, as `group/version` by CRD name. */
  externalCrds: Map<string, Set<string>>;
}

/**
 * Leaves whole components out. Throws {@linkcode OptionsError} (field
 * `components.exclude`) when a component is not in the render, or when a kept
 * component needs a left-out one that is not external, naming both.
 */
export function selectComponents(
  objects: KubeObject[],
  selection: ComponentSelection,
): SelectedComponents {
  const leaving = new Set<ComponentId>([
    ...selection.exclude,
    ...selection.external,
  ]);
  if (leaving.size === 0) {
    return { objects, leftOut: {}, externalCrds: new Map() };
  }
  const found = new Set(findComponents(objects).map((c) => c.id));
  const issues: { path: string; message: string }[] = [];
  for (const id of leaving) {
    if (!found.has(id)) {
      issues.push({
        path: selection.external.includes(id as "istio")
          ? "components.external"
          : "components.exclude",
        message: `${id} is not in the rendered tree (it has: ${
          [...found].join(", ") || "none of the known components"
        })`,
      });
    }
  }
  const external = new Set<string>(selection.external);
  for (const id of found) {
    if (leaving.has(id)) continue;
    for (const need of RULES[id].needs) {
      if (leaving.has(need) && !external.has(need)) {
        issues.push({
          path: "components.exclude",
          message:
            `${need} cannot be left out alone: ${id} needs it (leave both out, or keep ${need})`,
        });
      }
    }
  }
  const kept: KubeObject[] = [];
  const gone: KubeObject[] = [];
  const leftOut: Record<string, number> = {};
  for (const o of objects) {
    const id = componentOf(o);
    if (id && leaving.has(id)) {
      gone.push(o);
      leftOut[id] = (leftOut[id] ?? 0) + 1;
    } else kept.push(o);
  }
  // Kept objects whose API only a left-out (not external) CRD serves.
  const goneCrds = new Map<string, { id: ComponentId; crd: string }>();
  for (const o of gone) {
    if (o.kind !== "CustomResourceDefinition") continue;
    const spec = o.spec as {
      group?: string;
      names?: { kind?: string };
      versions?: { name?: string }[];
    };
    for (const v of spec.versions ?? []) {
      goneCrds.set(`${spec.group}/${v.name}\0${spec.names?.kind}`, {
        id: componentOf(o)!,
        crd: o.metadata.name,
      });
    }
  }
  const externalCrds = new Map<string, Set<string>>();
  const needy = new Map<string, string[]>();
  for (const o of kept) {
    const served = goneCrds.get(`${o.apiVersion}\0${o.kind}`);
    if (!served) continue;
    if (external.has(served.id)) {
      const set = externalCrds.get(served.crd) ?? new Set<string>();
      set.add(o.apiVersion);
      externalCrds.set(served.crd, set);
    } else {
      const who = componentOf(o) ?? "the platform";
      const key = `${served.id}\0${who}`;
      needy.set(key, [
        ...(needy.get(key) ?? []),
        objectName(
          o.metadata.namespace
            ? {
              kind: o.kind,
              namespace: o.metadata.namespace,
              name: o.metadata.name,
            }
            : { kind: o.kind, name: o.metadata.name },
        ),
      ]);
    }
  }
  for (const [key, refs] of needy) {
    const [id, who] = key.split("\0");
    issues.push({
      path: "components.exclude",
      message: `${id} cannot be left out alone: ${who} needs it (${
        refs.slice(0, 3).join(", ")
      }${refs.length > 3 ? ", ..." : ""} use its API)`,
    });
  }
  if (issues.length > 0) throw new OptionsError(issues);
  return { objects: kept, leftOut, externalCrds };
}

/**
 * Checks that the cluster serves the CRDs of external components at the versions
 * the kept objects use; returns one message per missing CRD or version.
 */
export async function missingExternalCrds(
  kube: KubeClient,
  needed: Map<string, Set<string>>,
): Promise<string[]> {
  const missing: string[] = [];
  for (const [name, versions] of [...needed].sort()) {
    const crd = await kube.get({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      name,
    });
    if (!crd) {
      missing.push(
        `CRD ${name} is not installed (needed at ${
          [...versions].sort().join(", ")
        })`,
      );
      continue;
    }
    const spec = crd.spec as {
      group?: string;
      versions?: { name?: string; served?: boolean }[];
    };
    const served = new Set(
      (spec.versions ?? []).filter((v) => v.served !== false).map((v) =>
        `${spec.group}/${v.name}`
      ),
    );
    const lacking = [...versions].filter((v) => !served.has(v)).sort();
    if (lacking.length > 0) {
      missing.push(
        `CRD ${name} does not serve ${lacking.join(", ")} (serves ${
          [...served].sort().join(", ") || "nothing"
        })`,
      );
    }
  }
  return missing;
}
