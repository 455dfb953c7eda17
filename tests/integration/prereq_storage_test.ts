/**
 * The default StorageClass (NFS subdir provisioner chart) planned, applied and
 * verified on the real control plane. No NFS provisioner runs on kwok: the test plays
 * it (creates a PersistentVolume for each Pending PVC of the class, which the real PV
 * controller binds), and says so. kwok completes the probe Job's pod.
 */

import { sharedChart, tempDir } from "../_shared.ts";
import { PROBE_LABEL } from "../../lib/steps/probe.ts";
import { assert, assertEquals, assertMatch, throws } from "../_assert.ts";
import {
  DEFAULT_CLASS_ANNOTATION,
  storageStep,
} from "../../lib/steps/storage.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import { conflictGuardedClient } from "../../lib/kube/apply_set.ts";
import { findHelm, helmStatus } from "../../lib/tools/helm.ts";
import {
  playedClient,
  playNfsProvisioner,
  privateCluster,
  removeRelease,
  tag,
  testContext,
} from "./_played.ts";

const CHART = sharedChart("nfs-subdir-external-provisioner-4.0.18");

Deno.test("storage: NFS server missing fails before any cluster access, naming the field", () => {
  const e = throws(
    () =>
      storageStep({ nfs: { path: "/export" } } as never, {
        source: "kfplan.yaml",
        prefix: ["storage"],
      }),
    OptionsError,
  );
  assertEquals(e.message, "kfplan.yaml: storage.nfs.server: required (string)");
  const rel = throws(
    () =>
      storageStep({ nfs: { server: "nfs.example.com", path: "export" } }, {
        prefix: ["storage"],
      }),
    OptionsError,
  );
  assertMatch(
    rel.message,
    /storage\.nfs\.path: use the absolute exported path/,
  );
});

Deno.test({
  name:
    "storage: one default class, PVC binds and a pod writes to it, immutable change is a replacement",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await using work = await tempDir("kfplan-storage-");
    const cluster = await privateCluster();
    const kube = cluster.kube;
    const played = playedClient(cluster.kubeconfig);
    const helm = await findHelm();
    const id = tag();
    const sc = `nfs-${id}`;
    const other = `kfplan-other-default-${id}`;
    const namespace = `nfs-${id}`;
    const release = `nfs-${id}`;
    const probeNs = await cluster.namespace("storage-probe");
    await played.apply({
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: {
        name: other,
        annotations: { [DEFAULT_CLASS_ANNOTATION]: "true" },
      },
      provisioner: "example.com/none",
    });
    const options = {
      chart: { path: CHART },
      namespace,
      release,
      nfs: {
        server: "192.0.2.10",
        path: "/export/kubeflow",
        mountOptions: ["nfsvers=4.1"],
      },
      storageClass: { name: sc },
      verify: { namespace: probeNs, timeoutSeconds: 30 },
    };
    const env = {
      source: "kfplan.yaml",
      prefix: ["storage"],
      kubeconfig: cluster.kubeconfig,
      helm,
    };
    const step = storageStep(options, env);
    try {
      await t.step(
        "plan: the class is created and the other default is switched off",
        async () => {
          const plan = await step.plan(testContext(work.path, kube));
          const ours = plan.changes.find((c) =>
            c.kind === "StorageClass" && c.name === sc
          );
          assertEquals(ours?.action, "create");
          const off = plan.changes.find((c) =>
            c.kind === "StorageClass" && c.name === other
          );
          assertEquals(off?.action, "update");
          assertEquals(off?.diff, [{
            path: `metadata.annotations["${DEFAULT_CLASS_ANNOTATION}"]`,
            before: "true",
            after: "false",
          }]);
          assertMatch(off!.reason!, /exactly one default StorageClass/);
        },
      );

      await t.step(
        "apply: helm release, then exactly one default class",
        async () => {
          const plan = await step.plan(testContext(work.path, kube));
          // Through the client the engine hands a step (it forces only what the
          // plan agreed): the other default's annotation belongs to another field
          // manager, and switching it off is what the plan says.
          await step.apply(
            testContext(work.path, conflictGuardedClient(kube, plan.changes)),
            plan,
          );
          assertEquals(
            (await helmStatus(helm, {
              kubeconfig: cluster.kubeconfig,
              release,
              namespace,
            }))?.status,
            "deployed",
          );
          const live = await kube.get({
            apiVersion: "storage.k8s.io/v1",
            kind: "StorageClass",
            name: sc,
          });
          assertEquals(
            live?.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION],
            "true",
          );
          assertEquals(live?.mountOptions, ["nfsvers=4.1"]);
          assertEquals(live?.parameters, { archiveOnDelete: "true" });
          const was = await kube.get({
            apiVersion: "storage.k8s.io/v1",
            kind: "StorageClass",
            name: other,
          });
          assertEquals(
            was?.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION],
            "false",
          );
        },
      );

      await t.step(
        "verify without a provisioner: the PVC does not bind and the error names its events",
        async () => {
          // Not a short timeout (the event may take longer on a busy machine): the
          // verify is cancelled once the probe PVC's ExternalProvisioning event is
          // there, which is what the failure must name.
          const waiting = storageStep({
            ...options,
            verify: { namespace: probeNs, timeoutSeconds: 300 },
          }, env);
          const cancel = new AbortController();
          const watching = (async () => {
            const deadline = Date.now() + 120_000;
            while (Date.now() < deadline) {
              const events = await kube.list("v1", "Event", {
                namespace: probeNs,
                fieldSelector: "involvedObject.kind=PersistentVolumeClaim",
              });
              if (
                events.some((e) =>
                  (e as { reason?: string }).reason === "ExternalProvisioning"
                )
              ) return;
              await new Promise((r) => setTimeout(r, 250));
            }
            throw new Error("no ExternalProvisioning event within 120 s");
          })().finally(() => cancel.abort());
          const result = await waiting.verify(
            testContext(work.path, kube, {}, cancel.signal),
          );
          await watching;
          const bind = result.checks.find((c) => c.name === "a test PVC binds");
          assertEquals(bind?.ok, false);
          assertMatch(
            bind!.detail!,
            /events of PersistentVolumeClaim storage-probe-\w+\/kfplan-storage-probe-\w+: .*ExternalProvisioning/,
          );
        },
      );

      await t.step(
        "verify: PVC bound, writer pod done, both removed (the test plays the provisioner)",
        async () => {
          const live = await kube.get({
            apiVersion: "storage.k8s.io/v1",
            kind: "StorageClass",
            name: sc,
          });
          console.log(
            `  the test plays the NFS provisioner ${live?.provisioner}: it creates and binds a PersistentVolume per PVC`,
          );
          const stop = playNfsProvisioner(played, {
            storageClass: sc,
            provisioner: String(live?.provisioner),
            server: options.nfs.server,
            path: options.nfs.path,
          });
          try {
            const result = await step.verify(testContext(work.path, kube));
            for (const c of result.checks) {
              assert(c.ok, `${c.name}: ${c.detail}`);
            }
            assert(
              result.checks.some((c) =>
                c.name === "a pod writes /mnt/SUCCESS to the volume"
              ),
            );
            assert(
              result.checks.some((c) =>
                c.name === `${sc} is the only default StorageClass`
              ),
            );
          } finally {
            await stop();
          }
          const pvcs = await kube.list("v1", "PersistentVolumeClaim", {
            namespace: probeNs,
            labelSelector: `${PROBE_LABEL}=storage`,
          });
          assertEquals(
            pvcs.filter((p) => !p.metadata.deletionTimestamp).length,
            0,
          );
        },
      );

      await t.step(
        "an immutable change (reclaimPolicy) is planned as replace with a warning, and applied",
        async () => {
          const changed = storageStep({
            ...options,
            storageClass: { name: sc, reclaimPolicy: "Retain" },
          }, env);
          const plan = await changed.plan(testContext(work.path, kube));
          const replace = plan.changes.find((c) =>
            c.kind === "StorageClass" && c.name === sc
          );
          assertEquals(replace?.action, "replace");
          assertEquals(replace?.diff, [{
            path: "reclaimPolicy",
            before: "Delete",
            after: "Retain",
          }]);
          assertMatch(
            plan.warnings.join("\n"),
            /deleted and recreated.*Existing PersistentVolumes keep their old settings/s,
          );
          await changed.apply(testContext(work.path, kube), plan);
          const live = await kube.get({
            apiVersion: "storage.k8s.io/v1",
            kind: "StorageClass",
            name: sc,
          });
          assertEquals(live?.reclaimPolicy, "Retain");
          const again = await changed.plan(testContext(work.path, kube));
          assertEquals(
            again.changes.find((c) =>
              c.kind === "StorageClass" && c.name === sc
            )?.action,
            "no-op",
          );
        },
      );
    } finally {
      await removeRelease(helm, kube, {
        kubeconfig: cluster.kubeconfig,
        release,
        namespace,
      });
      for (const name of [sc, other]) {
        await kube.delete({
          apiVersion: "storage.k8s.io/v1",
          kind: "StorageClass",
          name,
        }).catch(() => false);
      }
      played.close();
      await cluster.stop();
    }
  },
});
