/**
 * Kubeflow's profile controller, simulated through the real API: for every Profile a
 * namespace of that name owned by the Profile (owner reference, `owner` annotation,
 * the labels the real controller sets), the `default-editor` and `default-viewer`
 * ServiceAccounts with their RoleBindings, the owner's `namespaceAdmin` RoleBinding,
 * and the ResourceQuota `kf-resource-quota` from `spec.resourceQuotaSpec`.
 *
 * @module
 */

import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { simulatedLabels } from "./_loop.ts";

interface ProfileSpec {
  owner?: { kind?: string; name?: string };
  resourceQuotaSpec?: Record<string, unknown>;
}

/** What the real controller creates in a profile's namespace, besides the namespace. */
function namespaceObjects(profile: KubeObject): KubeObject[] {
  const ns = profile.metadata.name;
  const spec = (profile.spec ?? {}) as ProfileSpec;
  const owner = spec.owner?.name ?? "";
  const labels = simulatedLabels();
  const binding = (
    name: string,
    role: string,
    subject: Record<string, string>,
    annotations?: Record<string, string>,
  ): KubeObject => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: {
      name,
      namespace: ns,
      labels,
      ...(annotations ? { annotations } : {}),
    },
    roleRef: {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: role,
    },
    subjects: [subject],
  });
  const objects: KubeObject[] = [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "default-editor", namespace: ns, labels },
    },
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "default-viewer", namespace: ns, labels },
    },
    binding("default-editor", "kubeflow-edit", {
      kind: "ServiceAccount",
      name: "default-editor",
      namespace: ns,
    }),
    binding("default-viewer", "kubeflow-view", {
      kind: "ServiceAccount",
      name: "default-viewer",
      namespace: ns,
    }),
  ];
  if (owner) {
    objects.push(binding("namespaceAdmin", "kubeflow-admin", {
      apiGroup: "rbac.authorization.k8s.io",
      kind: spec.owner?.kind ?? "User",
      name: owner,
    }, { role: "admin", user: owner }));
  }
  if (
    spec.resourceQuotaSpec && Object.keys(spec.resourceQuotaSpec).length > 0
  ) {
    objects.push({
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "kf-resource-quota", namespace: ns, labels },
      spec: spec.resourceQuotaSpec,
    });
  }
  return objects;
}

/**
 * One round of the profile controller: creates what a Profile's namespace lacks.
 * Returns the namespaces it created. Nothing happens while the cluster does not
 * serve Profiles (Kubeflow is not installed yet).
 */
export async function profileRound(kube: KubeClient): Promise<string[]> {
  if (!await kube.resourceFor("kubeflow.org/v1", "Profile")) {
    // Discovery is cached: look again next round for a CRD that appears later.
    kube.invalidateDiscovery();
    return [];
  }
  const created: string[] = [];
  for (const profile of await kube.list("kubeflow.org/v1", "Profile")) {
    if (profile.metadata.deletionTimestamp) continue;
    const name = profile.metadata.name;
    const ns = await kube.get({ apiVersion: "v1", kind: "Namespace", name });
    if (!ns) {
      const owner = (profile.spec as ProfileSpec | undefined)?.owner?.name ??
        "";
      await kube.apply({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
          name,
          annotations: { owner },
          labels: {
            "app.kubernetes.io/part-of": "kubeflow-profile",
            "katib.kubeflow.org/metrics-collector-injection": "enabled",
            "pipelines.kubeflow.org/enabled": "true",
            "serving.kubeflow.org/inferenceservice": "enabled",
            ...simulatedLabels(),
          },
          ownerReferences: [{
            apiVersion: profile.apiVersion,
            kind: profile.kind,
            name,
            uid: profile.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          }],
        },
      });
      created.push(name);
    } else if (ns.metadata.deletionTimestamp) continue;
    for (const object of namespaceObjects(profile)) {
      const existing = await kube.get({
        apiVersion: object.apiVersion,
        kind: object.kind,
        namespace: name,
        name: object.metadata.name,
      });
      if (!existing) await kube.apply(object);
    }
  }
  return created;
}

/** Test address the fake LoadBalancer controller assigns (TEST-NET-1). */
export const FAKE_LB_ADDRESS = "192.0.2.10";

/** A background loop playing a LoadBalancer controller and the profile controller. */
export interface FakeControllers {
  /** Namespaces created for Profiles so far. */
  profileNamespaces: string[];
  stop(): Promise<void>;
}

/**
 * For scenarios without MetalLB: every LoadBalancer Service without an address gets
 * {@linkcode FAKE_LB_ADDRESS}, and Profiles get their namespaces
 * ({@linkcode profileRound}), every 500 ms until stopped.
 */
export function startFakeControllers(kube: KubeClient): FakeControllers {
  const state = { running: true, profileNamespaces: [] as string[] };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (state.running) {
      try {
        for (const s of await kube.list("v1", "Service")) {
          const spec = s.spec as { type?: string };
          const ingress = (s.status as {
            loadBalancer?: { ingress?: unknown[] };
          } | undefined)?.loadBalancer?.ingress ?? [];
          if (spec?.type === "LoadBalancer" && ingress.length === 0) {
            await kube.apply({
              apiVersion: "v1",
              kind: "Service",
              metadata: {
                name: s.metadata.name,
                namespace: s.metadata.namespace,
              },
              status: { loadBalancer: { ingress: [{ ip: FAKE_LB_ADDRESS }] } },
            }, { subresource: "status" });
          }
        }
        state.profileNamespaces.push(...await profileRound(kube));
      } catch {
        // The API may be busy during the big apply; the next round tries again.
      }
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, 500);
      });
    }
  })();
  return {
    get profileNamespaces() {
      return state.profileNamespaces;
    },
    async stop() {
      state.running = false;
      clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}
