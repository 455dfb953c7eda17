/**
 * The Kubeflow install scenario shared by the per-version integration tests, on a
 * control plane of its own (Kubeflow writes cluster-scoped objects and fixed
 * namespaces, which would collide with other tests on the shared cluster).
 *
 * What the test plays, because no real controller runs on a kwok cluster:
 * - the storage provisioner: a default StorageClass with static PersistentVolumes the
 *   PV controller binds the platform's PVCs to;
 * - a LoadBalancer controller: sets `status.loadBalancer.ingress` of LoadBalancer
 *   Services (MetalLB is another step's business);
 * - Kubeflow's profile controller: creates the namespace of each Profile.
 *
 * Webhook-guarded resources: kwok pods run no webhook server. The scenario handles that
 * in one of two deliberate ways:
 * - `serve` ({@linkcode serveWebhooks}): the test plays every webhook backend. One real
 *   HTTPS admission server per backend Service runs on this machine and admits every
 *   request; a post-render transform (the step's `postRender` hook, like Helm's
 *   post-renderer) drops the backend Services' selectors, adds Endpoints pointing at
 *   the test servers and fills the `caBundle`s cert-manager's cainjector would inject.
 *   The API server then really calls the webhooks (aggregator routing), so
 *   cert-manager Certificates/Issuers/ClusterIssuers, KServe ClusterServingRuntimes,
 *   knative's Certificate and pods in `istio-injection=enabled` namespaces go through
 *   the real admission path, after `applyObjects` waited for the backends' endpoints.
 * - `exclude` ({@linkcode WEBHOOK_EXCLUDES}): the step's `exclude` option leaves the
 *   webhook configurations out; the plan lists each excluded object with the reason,
 *   and the guarded resources are admitted by the API server alone.
 *
 * @module
 */

import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { sleep } from "../../lib/kube/retry.ts";
import { startWebhookServer, type WebhookServer } from "../cluster/webhook.ts";

/** The `exclude` entries the scenario uses, with the reason the plan shows. */
export const WEBHOOK_EXCLUDES = [
  {
    kind: "MutatingWebhookConfiguration",
    reason: "test cluster: kwok pods serve no admission webhooks",
  },
  {
    kind: "ValidatingWebhookConfiguration",
    reason: "test cluster: kwok pods serve no admission webhooks",
  },
];

/** Test address the fake LoadBalancer controller assigns (TEST-NET-1). */
export const FAKE_LB_ADDRESS = "192.0.2.10";

/** Creates a default StorageClass and static PVs the platform's PVCs can bind to. */
export async function provideStorage(
  kube: KubeClient,
  count = 6,
): Promise<void> {
  await kube.apply({
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: {
      name: "kfplan-test-static",
      annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
    },
    provisioner: "kfplan.test/static",
    volumeBindingMode: "Immediate",
    reclaimPolicy: "Retain",
  });
  for (let i = 0; i < count; i++) {
    await kube.apply({
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: `kfplan-test-pv-${i}` },
      spec: {
        capacity: { storage: "50Gi" },
        accessModes: ["ReadWriteOnce"],
        storageClassName: "kfplan-test-static",
        persistentVolumeReclaimPolicy: "Retain",
        hostPath: { path: `/tmp/kfplan-test-pv-${i}` },
      },
    });
  }
}

/** A background loop playing the LoadBalancer and profile controllers. */
export interface FakeControllers {
  /** Namespaces created for Profiles so far. */
  profileNamespaces: string[];
  stop(): Promise<void>;
}

/** Starts the fake controllers (see the module doc). */
export function startFakeControllers(kube: KubeClient): FakeControllers {
  const state = { running: true, profileNamespaces: [] as string[] };
  const loop = (async () => {
    while (state.running) {
      try {
        const services = await kube.list("v1", "Service");
        for (const s of services) {
          // deno-lint-ignore no-explicit-any
          const spec = s.spec as any;
          // deno-lint-ignore no-explicit-any
          const ingress = (s.status as any)?.loadBalancer?.ingress;
          if (spec?.type === "LoadBalancer" && !(ingress?.length > 0)) {
            await kube.apply({
              apiVersion: "v1",
              kind: "Service",
              metadata: {
                name: s.metadata.name,
                namespace: s.metadata.namespace,
              },
              status: { loadBalancer: { ingress: [{ ip: FAKE_LB_ADDRESS }] } },
            } as KubeObject, { subresource: "status" });
          }
        }
        const profiles = (await kube.resourceFor("kubeflow.org/v1", "Profile"))
          ? await kube.list("kubeflow.org/v1", "Profile")
          : [];
        for (const p of profiles) {
          const ref = {
            apiVersion: "v1",
            kind: "Namespace",
            name: p.metadata.name,
          };
          if (!(await kube.get(ref))) {
            // deno-lint-ignore no-explicit-any
            const owner = (p.spec as any)?.owner?.name ?? "";
            await kube.apply({
              apiVersion: "v1",
              kind: "Namespace",
              metadata: {
                name: p.metadata.name,
                annotations: { owner },
                labels: { "app.kubernetes.io/part-of": "kubeflow-profile" },
              },
            });
            state.profileNamespaces.push(p.metadata.name);
          }
        }
      } catch {
        // The API may be busy during the big apply; the next round tries again.
      }
      await sleep(500);
    }
  })();
  return {
    get profileNamespaces() {
      return state.profileNamespaces;
    },
    async stop() {
      state.running = false;
      await loop;
    },
  };
}

/** Every file under `dir`, as text, for secret searches. */
export async function readTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(d: string) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch {
      return;
    }
    for (const e of entries) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile) out[p] = await Deno.readTextFile(p).catch(() => "");
    }
  }
  await walk(dir);
  return out;
}

/** Names of the artifacts in which any of `secrets` occurs (empty when none leaks). */
export function findLeaks(
  artifacts: Record<string, string>,
  secrets: string[],
): string[] {
  const leaks: string[] = [];
  for (const [name, text] of Object.entries(artifacts)) {
    for (const s of secrets) {
      if (text.includes(s)) leaks.push(`${name} contains a planted secret`);
    }
  }
  return leaks;
}

/** A wall-clock measurement printed for the report (never asserted). */
export async function timed<T>(
  label: string,
  fn: () => Promise<T>,
): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    console.log(
      `[timing] ${label}: ${((performance.now() - start) / 1000).toFixed(1)} s`,
    );
  }
}

/** Test webhook servers standing in for the platform's webhook backends. */
export interface ServedWebhooks {
  /** Server by `namespace/name` of the backend Service. */
  servers: Map<string, WebhookServer>;
  /** The step's `postRender` hook: routes every webhook to its test server. */
  postRender(objects: KubeObject[]): KubeObject[];
  close(): Promise<void>;
}

function backendOf(o: KubeObject): { namespace: string; name: string }[] {
  // deno-lint-ignore no-explicit-any
  const a = o as any;
  if (
    o.kind === "MutatingWebhookConfiguration" ||
    o.kind === "ValidatingWebhookConfiguration"
  ) {
    return (a.webhooks ?? []).flatMap((
      w: { clientConfig?: { service?: { namespace: string; name: string } } },
    ) => w.clientConfig?.service ? [w.clientConfig.service] : []);
  }
  const conv = a.spec?.conversion?.webhook?.clientConfig?.service;
  return o.kind === "CustomResourceDefinition" && conv ? [conv] : [];
}

/** Starts one admitting webhook server per webhook backend Service of `objects`. */
export async function serveWebhooks(
  objects: KubeObject[],
  options: { kubeconfig?: string } = {},
): Promise<ServedWebhooks> {
  const servers = new Map<string, WebhookServer>();
  for (const o of objects) {
    for (const svc of backendOf(o)) {
      const key = `${svc.namespace}/${svc.name}`;
      if (!servers.has(key)) {
        servers.set(
          key,
          await startWebhookServer(svc, {
            handler: () => ({ allowed: true }),
            kubeconfig: options.kubeconfig,
          }),
        );
      }
    }
  }
  function postRender(input: KubeObject[]): KubeObject[] {
    const out: KubeObject[] = [];
    for (const original of input) {
      const o = structuredClone(original);
      // deno-lint-ignore no-explicit-any
      const a = o as any;
      if (
        o.kind === "MutatingWebhookConfiguration" ||
        o.kind === "ValidatingWebhookConfiguration"
      ) {
        for (const w of a.webhooks ?? []) {
          const svc = w.clientConfig?.service;
          const server = svc && servers.get(`${svc.namespace}/${svc.name}`);
          if (server) w.clientConfig.caBundle = server.caBundle;
        }
      } else if (
        o.kind === "CustomResourceDefinition" &&
        a.spec?.conversion?.webhook?.clientConfig?.service
      ) {
        const svc = a.spec.conversion.webhook.clientConfig.service;
        const server = servers.get(`${svc.namespace}/${svc.name}`);
        if (server) {
          a.spec.conversion.webhook.clientConfig.caBundle = server.caBundle;
        }
      }
      out.push(o);
      const server = o.kind === "Service" && o.apiVersion === "v1"
        ? servers.get(`${o.metadata.namespace}/${o.metadata.name}`)
        : undefined;
      if (server) {
        // Without a selector the endpoints controller leaves our Endpoints alone.
        delete a.spec.selector;
        out.push({
          apiVersion: "v1",
          kind: "Endpoints",
          metadata: { name: o.metadata.name, namespace: o.metadata.namespace },
          subsets: [{
            addresses: [{ ip: server.hostname }],
            ports: (a.spec.ports ?? []).map((p: { name?: string }) => ({
              ...(p.name ? { name: p.name } : {}),
              port: server.port,
              protocol: "TCP",
            })),
          }],
        });
      }
    }
    return out;
  }
  return {
    servers,
    postRender,
    async close() {
      for (const s of servers.values()) await s.close();
    },
  };
}
