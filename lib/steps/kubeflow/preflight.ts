/**
 * Plan-time checks of the rendered platform against the live cluster, run before any
 * write: Kubernetes version against the release's supported range, API versions the
 * server no longer serves (with the release that removed them), a default
 * StorageClass for the PVCs, and namespaces nobody creates.
 *
 * @module
 */

import type { Finding } from "../../engine/types.ts";
import type { KubeClient, KubeObject } from "../../kube/types.ts";
import { kubernetesMinor, type ReleaseInfo } from "./version.ts";

/** The fields of a CRD's spec read here (`version` is the v1beta1 single version). */
interface CrdVersions {
  group?: string;
  version?: string;
  versions?: { name?: string; served?: boolean }[];
}

/**
 * Built-in API versions Kubernetes stopped serving, with the release that removed
 * them (from the Kubernetes deprecated API migration guide).
 */
export const REMOVED_APIS: Record<string, string> = {
  "extensions/v1beta1": "1.16 (Ingress: 1.22)",
  "apps/v1beta1": "1.16",
  "apps/v1beta2": "1.16",
  "apiextensions.k8s.io/v1beta1": "1.22",
  "admissionregistration.k8s.io/v1beta1": "1.22",
  "rbac.authorization.k8s.io/v1beta1": "1.22",
  "networking.k8s.io/v1beta1": "1.22",
  "scheduling.k8s.io/v1beta1": "1.22",
  "certificates.k8s.io/v1beta1": "1.22",
  "coordination.k8s.io/v1beta1": "1.22",
  "apiregistration.k8s.io/v1beta1": "1.22",
  "authentication.k8s.io/v1beta1": "1.22",
  "authorization.k8s.io/v1beta1": "1.22",
  "policy/v1beta1": "1.25",
  "batch/v1beta1": "1.25",
  "discovery.k8s.io/v1beta1": "1.25",
  "events.k8s.io/v1beta1": "1.25",
  "autoscaling/v2beta1": "1.25",
  "node.k8s.io/v1beta1": "1.25",
  "autoscaling/v2beta2": "1.26",
  "flowcontrol.apiserver.k8s.io/v1beta1": "1.26",
  "storage.k8s.io/v1beta1": "1.22 (CSIStorageCapacity: 1.27)",
  "flowcontrol.apiserver.k8s.io/v1beta2": "1.29",
  "flowcontrol.apiserver.k8s.io/v1beta3": "1.32",
};

/** Namespaces that exist on every cluster and need not be created. */
export const SYSTEM_NAMESPACES = new Set([
  "default",
  "kube-system",
  "kube-public",
  "kube-node-lease",
]);

/** Input of {@linkcode preflight}. */
export interface PreflightInput {
  /** Facts about the detected release, notably its supported Kubernetes range. */
  release: ReleaseInfo;
  /** The rendered objects to check: API versions, namespaces they use, PVCs. */
  objects: KubeObject[];
  /** A step in the same plan creates a default StorageClass. */
  defaultStorageClassFromPlan: boolean;
}

function ref(o: KubeObject): string {
  return `${o.apiVersion} ${o.kind} ${
    o.metadata.namespace ? `${o.metadata.namespace}/` : ""
  }${o.metadata.name}`;
}

function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
}

/** `group/version`s the rendered CRDs will serve once applied. */
export function crdServedVersions(objects: KubeObject[]): Set<string> {
  const out = new Set<string>();
  for (const o of objects) {
    if (o.kind !== "CustomResourceDefinition") continue;
    const spec = o.spec as CrdVersions | undefined;
    const group = spec?.group;
    for (const v of spec?.versions ?? []) {
      if (v.served !== false) out.add(`${group}/${v.name}`);
    }
    if (spec?.version) out.add(`${group}/${spec.version}`);
  }
  return out;
}

/** What the server serves, for {@linkcode unservedApiFindings}. */
export interface ServedApis {
  /** `group/version`s from discovery (`v1` for core). */
  served: Set<string>;
  /** The server's `gitVersion`, for messages. */
  serverVersion: string;
}

/**
 * Objects whose API version the server does not serve and no CRD in the set will
 * serve, as error findings naming each object and, for built-in APIs, the Kubernetes
 * release that removed it. Pure: takes the served set from discovery.
 */
export function unservedApiFindings(
  objects: KubeObject[],
  server: ServedApis,
): Finding[] {
  const { served, serverVersion } = server;
  const fromCrds = crdServedVersions(objects);
  const crdGroups = new Set([...fromCrds].map(groupOf));
  const findings: Finding[] = [];
  for (const o of objects) {
    if (served.has(o.apiVersion) || fromCrds.has(o.apiVersion)) continue;
    const removed = REMOVED_APIS[o.apiVersion];
    const custom = crdGroups.has(groupOf(o.apiVersion)) ||
      (!removed && groupOf(o.apiVersion).includes("."));
    findings.push({
      check: "kubeflow.api-served",
      severity: "error",
      target: ref(o),
      seen: removed
        ? `${o.apiVersion} was removed in Kubernetes ${removed}; the server (${serverVersion}) does not serve it`
        : custom
        ? `${o.apiVersion} is served neither by the server (${serverVersion}) nor by a CRD in these manifests`
        : `${o.apiVersion} is not served by the server (${serverVersion})`,
      fix: removed
        ? "use a kubeflow/manifests release that supports this Kubernetes version, or leave the object out with kubeflow.exclude"
        : "install the CRD that serves it first, or exclude the object",
    });
  }
  return findings;
}

/** Namespaces the objects use that the set does not create, minus system namespaces. */
export function uncreatedNamespaces(
  objects: KubeObject[],
): Map<string, string[]> {
  const created = new Set(
    objects.filter((o) => o.kind === "Namespace").map((o) => o.metadata.name),
  );
  const missing = new Map<string, string[]>();
  for (const o of objects) {
    const ns = o.metadata.namespace;
    if (!ns || created.has(ns) || SYSTEM_NAMESPACES.has(ns)) continue;
    missing.set(ns, [
      ...(missing.get(ns) ?? []),
      `${o.kind} ${o.metadata.name}`,
    ]);
  }
  return missing;
}

/** Whether the rendered objects claim persistent volumes. */
export function needsStorage(objects: KubeObject[]): boolean {
  return objects.some((o) =>
    o.kind === "PersistentVolumeClaim" ||
    (o.kind === "StatefulSet" &&
      ((o.spec as { volumeClaimTemplates?: unknown[] } | undefined)
          ?.volumeClaimTemplates?.length ?? 0) > 0)
  );
}

/**
 * Runs the live checks. Returns every finding; the caller refuses the plan when one
 * has severity `error`.
 *
 * @example
 * ```ts
 * const findings = await preflight(kube, { release, objects, defaultStorageClassFromPlan: false });
 * ```
 */
export async function preflight(
  kube: KubeClient,
  input: PreflightInput,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const { release, objects } = input;
  const version = await kube.serverVersion();
  const minor = kubernetesMinor(version.minor);
  const k8s = release.kubernetes;
  const range = k8s
    ? k8s.max !== undefined
      ? `1.${k8s.min} to 1.${k8s.max}`
      : `1.${k8s.min} or newer`
    : "";
  if (!k8s) {
    findings.push({
      check: "kubeflow.kubernetes-version",
      severity: "warning",
      seen:
        `Kubeflow ${release.line} is not in kfplan's release table: the Kubernetes versions it supports are unknown (server ${version.gitVersion})`,
      fix:
        "API compatibility is checked object by object below; add the release line to RELEASE_FACTS (lib/steps/kubeflow/version.ts) with its source",
    });
  } else if (
    version.major === 1 && minor >= k8s.min &&
    (k8s.max === undefined || minor <= k8s.max)
  ) {
    findings.push({
      check: "kubeflow.kubernetes-version",
      severity: "ok",
      seen:
        `server ${version.gitVersion} is within ${release.version}'s supported range ${range} (${release.source})`,
    });
  } else {
    findings.push({
      check: "kubeflow.kubernetes-version",
      severity: "warning",
      seen:
        `server ${version.gitVersion} is outside ${release.version}'s supported range ${range} (${release.source})`,
      fix:
        "prefer a release tested on this Kubernetes version; API compatibility is checked object by object below",
    });
  }
  findings.push(
    ...unservedApiFindings(objects, {
      served: await kube.servedApiVersions(),
      serverVersion: version.gitVersion,
    }),
  );

  if (needsStorage(objects)) {
    const classes = await kube.list("storage.k8s.io/v1", "StorageClass");
    const defaults = classes.filter((c) =>
      c.metadata.annotations
        ?.["storageclass.kubernetes.io/is-default-class"] === "true"
    );
    if (defaults.length > 0) {
      findings.push({
        check: "kubeflow.default-storageclass",
        severity: "ok",
        seen: `default StorageClass ${
          defaults.map((d) => d.metadata.name).join(", ")
        }`,
      });
    } else if (input.defaultStorageClassFromPlan) {
      findings.push({
        check: "kubeflow.default-storageclass",
        severity: "info",
        seen: "no default StorageClass yet; a step of this plan creates one",
      });
    } else {
      const pvcs = objects.filter((o) => o.kind === "PersistentVolumeClaim")
        .map(ref);
      findings.push({
        check: "kubeflow.default-storageclass",
        severity: "error",
        seen: `no default StorageClass: PVCs would stay Pending (${
          pvcs.join(", ")
        })`,
        fix:
          "add a storage step (e.g. the NFS provisioner) to the plan, or mark a StorageClass default " +
          "(annotation storageclass.kubernetes.io/is-default-class=true)",
      });
    }
  }

  for (const [ns, users] of uncreatedNamespaces(objects)) {
    const live = await kube.get({
      apiVersion: "v1",
      kind: "Namespace",
      name: ns,
    });
    if (live) continue;
    findings.push({
      check: "kubeflow.namespace-created",
      severity: "error",
      target: ns,
      seen: `namespace ${ns} is used by ${users.length} object(s) (${
        users.slice(0, 5).join(", ")
      }${
        users.length > 5 ? ", ..." : ""
      }) but neither exists nor is created by these manifests`,
      fix: `create namespace ${ns} first or exclude those objects`,
    });
  }
  return findings;
}

/** Raised when preflight finds errors; the message lists them all. */
export class PreflightError extends Error {
  /** Every finding of the run, not only the errors the message lists. */
  readonly findings: Finding[];
  /** Creates the error for release `version` (e.g. `v1.10.2`); the message lists each error finding with its fix. */
  constructor(findings: Finding[], version: string) {
    const errors = findings.filter((f) => f.severity === "error");
    super(
      `kubeflow ${version}: ${errors.length} preflight error(s), nothing was written:\n` +
        errors.map((f) =>
          `  - ${f.target ? `${f.target}: ` : ""}${f.seen}${
            f.fix ? `\n    fix: ${f.fix}` : ""
          }`
        )
          .join("\n"),
    );
    this.name = "PreflightError";
    this.findings = findings;
  }
}
