/**
 * The simulated controllers of `sim/controllers/` against a real control plane of
 * their own: each reacts to the API as the real controller would (a claim of the
 * default class gets bound, a LoadBalancer Service an address from a pool, a Profile
 * its namespace, a webhook configuration a backend the API server really calls), and
 * leaves alone what the real one would leave alone.
 */

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import {
  hostAddress,
  metallbRound,
  parsePoolRange,
  profileRound,
  provisionerRound,
  simClient,
  SIMULATED_LABEL,
  startAdmissionBackends,
  startCluster,
} from "../../sim/mod.ts";
import { testCrd } from "../_crds.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function waitCrds(kube: KubeClient, crds: KubeObject[]): Promise<void> {
  for (const crd of crds) await kube.apply(crd);
  for (const crd of crds) {
    const spec = crd.spec as {
      group: string;
      versions: { name: string }[];
      names: { kind: string };
    };
    await until(`${spec.names.kind} served`, async () => {
      kube.invalidateDiscovery();
      return await kube.resourceFor(
          `${spec.group}/${spec.versions[0].name}`,
          spec.names.kind,
        )
        ? true
        : undefined;
    });
  }
}

Deno.test({
  name:
    "simulated controllers: provisioner, MetalLB, profile controller and admission backends on a real API server",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const cluster = await startCluster({ nodes: [{ name: "kwok-node-0" }] });
    const kube = simClient(cluster.kubeconfig);
    const admin = cluster.kube;
    try {
      await t.step(
        "the provisioner binds claims of the default class's provisioner only",
        async () => {
          const ns = await cluster.namespace("sim-storage");
          await admin.apply({
            apiVersion: "storage.k8s.io/v1",
            kind: "StorageClass",
            metadata: {
              name: "sim-default",
              annotations: {
                "storageclass.kubernetes.io/is-default-class": "true",
              },
            },
            provisioner: "example.com/nfs",
            reclaimPolicy: "Delete",
            volumeBindingMode: "Immediate",
          });
          await admin.apply({
            apiVersion: "storage.k8s.io/v1",
            kind: "StorageClass",
            metadata: { name: "sim-other" },
            provisioner: "example.com/other",
            volumeBindingMode: "Immediate",
          });
          const claim = (name: string, storageClassName: string) => ({
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            metadata: { name, namespace: ns },
            spec: {
              storageClassName,
              accessModes: ["ReadWriteOnce"],
              resources: { requests: { storage: "3Gi" } },
            },
          });
          await admin.apply(claim("data", "sim-default"));
          await admin.apply(claim("elsewhere", "sim-other"));
          const made = await provisionerRound(kube);
          assertEquals(made.length, 1);
          const bound = await until("claim data bound", async () => {
            const pvc = await admin.get({
              apiVersion: "v1",
              kind: "PersistentVolumeClaim",
              namespace: ns,
              name: "data",
            });
            return (pvc?.status as { phase?: string })?.phase === "Bound"
              ? pvc
              : undefined;
          });
          const pv = await admin.get({
            apiVersion: "v1",
            kind: "PersistentVolume",
            name: (bound!.spec as { volumeName: string }).volumeName,
          });
          assertEquals(pv?.metadata.labels?.[SIMULATED_LABEL], "true");
          assertEquals(
            (pv?.spec as { capacity: { storage: string } }).capacity.storage,
            "3Gi",
          );
          const other = await admin.get({
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            namespace: ns,
            name: "elsewhere",
          });
          assertEquals((other?.status as { phase?: string }).phase, "Pending");
          // Released under policy Delete: the provisioner deletes its volume.
          await admin.delete({
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            namespace: ns,
            name: "data",
          });
          await until("volume deleted", async () => {
            await provisionerRound(kube);
            return await admin.get({
                apiVersion: "v1",
                kind: "PersistentVolume",
                name: pv!.metadata.name,
              })
              ? undefined
              : true;
          });
        },
      );

      await t.step(
        "MetalLB assigns pool addresses, avoiding buggy ones, and leaves a Service pending when the pool is full",
        async () => {
          assertEquals(
            await metallbRound(kube),
            [],
            "no MetalLB, no addresses",
          );
          await waitCrds(admin, [
            testCrd("metallb.io", "IPAddressPool", {
              version: "v1beta1",
              scope: "Namespaced",
              statusSubresource: true,
            }),
          ]);
          const ns = await cluster.namespace("sim-metallb");
          await admin.apply({
            apiVersion: "metallb.io/v1beta1",
            kind: "IPAddressPool",
            metadata: { name: "pool", namespace: ns },
            spec: {
              addresses: ["198.51.100.254-198.51.101.1"],
              avoidBuggyIPs: true,
            },
          });
          const lb = (name: string) => ({
            apiVersion: "v1",
            kind: "Service",
            metadata: { name, namespace: ns },
            spec: { type: "LoadBalancer", ports: [{ port: 80 }] },
          });
          for (const name of ["a", "b", "c"]) await admin.apply(lb(name));
          const lines = await metallbRound(kube);
          assertEquals(lines.length, 2, lines.join("\n"));
          const address = async (name: string) =>
            ((await admin.get({
              apiVersion: "v1",
              kind: "Service",
              namespace: ns,
              name,
            }))?.status as {
              loadBalancer?: { ingress?: { ip: string }[] };
            }).loadBalancer?.ingress?.[0]?.ip;
          // .255 and .0 are skipped under avoidBuggyIPs.
          assertEquals(
            [await address("a"), await address("b")],
            ["198.51.100.254", "198.51.101.1"],
          );
          assertEquals(await address("c"), undefined);
          assertEquals(parsePoolRange("fd00:10::/120")?.family, 6);
        },
      );

      await t.step(
        "the profile controller makes each Profile's namespace, accounts, bindings and quota",
        async () => {
          assertEquals(await profileRound(kube), []);
          await waitCrds(admin, [
            testCrd("kubeflow.org", "Profile", {
              version: "v1",
              scope: "Cluster",
              statusSubresource: true,
            }),
          ]);
          const name = `sim-profile-${crypto.randomUUID().slice(0, 6)}`;
          await admin.apply({
            apiVersion: "kubeflow.org/v1",
            kind: "Profile",
            metadata: { name },
            spec: {
              owner: { kind: "User", name: "alice@example.com" },
              resourceQuotaSpec: { hard: { "requests.nvidia.com/gpu": "2" } },
            },
          });
          assertEquals(await profileRound(kube), [name]);
          const ns = await admin.get({
            apiVersion: "v1",
            kind: "Namespace",
            name,
          });
          assertEquals(
            (ns?.metadata.ownerReferences as { kind: string }[] | undefined)
              ?.[0]
              ?.kind,
            "Profile",
          );
          assertEquals(ns?.metadata.annotations?.owner, "alice@example.com");
          assertEquals(ns?.metadata.labels?.[SIMULATED_LABEL], "true");
          for (
            const [kind, apiVersion, object] of [
              ["ServiceAccount", "v1", "default-editor"],
              ["ServiceAccount", "v1", "default-viewer"],
              ["RoleBinding", "rbac.authorization.k8s.io/v1", "namespaceAdmin"],
              ["ResourceQuota", "v1", "kf-resource-quota"],
            ]
          ) {
            assert(
              await admin.get({
                apiVersion,
                kind,
                namespace: name,
                name: object,
              }),
              `${kind} ${object}`,
            );
          }
          assertEquals(
            await profileRound(kube),
            [],
            "nothing new on a second round",
          );
        },
      );

      await t.step(
        "admission backends: the API server really calls a webhook whose backend is a kwok pod",
        async () => {
          const ns = await cluster.namespace("sim-webhook");
          const labels = { app: "guard" };
          await admin.apply({
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "guard", namespace: ns },
            spec: {
              replicas: 1,
              selector: { matchLabels: labels },
              template: {
                metadata: { labels },
                spec: {
                  containers: [{
                    name: "guard",
                    image: "example.com/guard",
                    ports: [{ name: "https", containerPort: 9443 }],
                  }],
                },
              },
            },
          });
          await admin.apply({
            apiVersion: "v1",
            kind: "Service",
            metadata: { name: "guard", namespace: ns },
            spec: {
              selector: labels,
              ports: [{ port: 443, targetPort: "https" }],
            },
          });
          const guarded = `sim-guarded-${crypto.randomUUID().slice(0, 6)}`;
          await admin.apply({
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: guarded, labels: { guarded: "yes" } },
          });
          await admin.apply({
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "ValidatingWebhookConfiguration",
            metadata: { name: guarded },
            webhooks: [{
              name: "guard.example.com",
              clientConfig: {
                service: { namespace: ns, name: "guard", path: "/validate" },
              },
              rules: [{
                apiGroups: [""],
                apiVersions: ["v1"],
                operations: ["CREATE"],
                resources: ["configmaps"],
              }],
              namespaceSelector: { matchLabels: { guarded: "yes" } },
              failurePolicy: "Fail",
              sideEffects: "None",
              admissionReviewVersions: ["v1"],
              timeoutSeconds: 5,
            }],
          });
          const configMap = (name: string) => ({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name, namespace: guarded },
            data: { a: "b" },
          });
          // Without a backend the webhook fails closed, as on a bare kwok cluster.
          const refused = await admin.create(configMap("before")).then(
            () => "admitted",
            (e) => String((e as Error).message),
          );
          assertMatch(refused, /failed calling webhook/);
          const backends = await startAdmissionBackends(kube, {
            hostIp: cluster.hostIp ?? hostAddress(cluster.kubeconfig),
          });
          try {
            await until(
              "the webhook admits through the simulated backend",
              async () => {
                try {
                  await admin.create(configMap("after"));
                  return true;
                } catch {
                  return undefined;
                }
              },
              90_000,
            );
            assert((backends.requests.get(`${ns}/guard`) ?? 0) > 0);
            assert(backends.ports.includes(9443));
          } finally {
            await backends.close();
          }
        },
      );
    } finally {
      kube.close();
      await cluster.stop();
    }
  },
});
