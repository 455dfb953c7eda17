/**
 * `destroy` on a control plane of its own: the shipped storage and MetalLB steps
 * (real charts through helm, their controllers played by `sim/`) plus a small step
 * owning a namespace, a ConfigMap and a PVC of the storage class, applied by the
 * engine; then destroyed. The CLI refuses without `--yes` when stdin is not a
 * terminal; destroy uninstalls both Helm releases, deletes everything owned but the
 * PVC (and the namespace that holds it), which it keeps and lists; a second destroy
 * has nothing to do; `--allow-data-loss` then deletes the PVC and its namespace.
 */

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { sharedChart, tempDir } from "../_shared.ts";
import { startSimulation } from "../../sim/mod.ts";
import { privateCluster } from "./_played.ts";
import { applySteps } from "../../lib/engine/executor.ts";
import { destroySteps } from "../../lib/engine/destroy.ts";
import type { RunEvent } from "../../lib/engine/events.ts";
import { emptyPlan, type Step } from "../../lib/engine/types.ts";
import { destroyCommand } from "../../lib/cli/destroy.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import { planObjects } from "../../lib/kube/apply_set.ts";
import {
  listInventories,
  PART_OF_LABEL,
  readInventory,
} from "../../lib/kube/inventory.ts";
import { refOf } from "../../lib/kube/object_ref.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { storageStep } from "../../lib/steps/storage.ts";
import { metallbStep } from "../../lib/steps/metallb.ts";
import { findHelm, helmStatus } from "../../lib/tools/helm.ts";

const STORAGE_CLASS = "nfs-destroy";

/** A step owning a namespace with a ConfigMap and a PVC of the storage class. */
function appStep(): Step {
  const ns = "destroy-app";
  const objects: KubeObject[] = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: ns },
      data: { a: "1" },
    },
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "data", namespace: ns },
      spec: {
        accessModes: ["ReadWriteMany"],
        resources: { requests: { storage: "1Gi" } },
        storageClassName: STORAGE_CLASS,
      },
    },
  ];
  return {
    id: "app",
    title: "An application with data",
    needs: ["storage"],
    options: {},
    async plan(ctx) {
      const planned = await planObjects(ctx.kube!, objects, {
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
      for (const o of plan.desired ?? objects) await ctx.kube!.apply(o);
      return {};
    },
    async verify(ctx) {
      const checks = [];
      for (const o of objects) {
        checks.push({
          name: `${o.kind} ${o.metadata.name}`,
          ok: !!await ctx.kube!.get(refOf(o)),
        });
      }
      return { checks };
    },
  };
}

function composition(kubeconfig: string): Step[] {
  return [
    storageStep({
      chart: { path: sharedChart("nfs-subdir-external-provisioner-4.0.18") },
      nfs: { server: "192.0.2.10", path: "/export/kubeflow" },
      storageClass: { name: STORAGE_CLASS },
    }, { kubeconfig }),
    metallbStep({
      chart: { path: sharedChart("metallb-0.15.3") },
      pools: [{ name: "pool", addresses: ["192.168.250.10-192.168.250.20"] }],
    }, { kubeconfig }),
    appStep(),
  ];
}

/** Every object still carrying an ApplySet member label, among what the steps owned. */
async function ownedLeft(
  kube: KubeClient,
  refs: {
    apiVersion: string;
    kind: string;
    namespace?: string;
    name: string;
  }[],
): Promise<string[]> {
  const left: string[] = [];
  for (const ref of refs) {
    const live = await kube.get(ref);
    if (live?.metadata.labels?.[PART_OF_LABEL]) {
      left.push(`${ref.kind} ${ref.namespace ?? ""}/${ref.name}`);
    }
  }
  return left.sort();
}

Deno.test({
  name:
    "destroy: refuses without a terminal, uninstalls releases, keeps the PVC, a second run is a no-op, --allow-data-loss finishes",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await using work = await tempDir("kfplan-destroy-");
    const cluster = await privateCluster();
    const sim = await startSimulation(cluster.kubeconfig, {
      hostIp: cluster.hostIp ?? "127.0.0.1",
    });
    const { kube, kubeconfig } = cluster;
    const helm = await findHelm();
    const steps = composition(kubeconfig);
    const checkpointDir = `${work.path}/state`;
    try {
      const applied = await applySteps(steps, { kube, checkpointDir });
      assert(applied.ok, JSON.stringify(applied.summary));
      const inventories = await listInventories(kube);
      assertEquals(
        inventories.map((i) => i.step).sort(),
        ["app", "metallb", "storage"],
      );
      const owned = inventories.flatMap((i) => i.entries);

      await t.step(
        "the CLI refuses without --yes when stdin is not a terminal",
        async () => {
          const io = capturedIO({ stdinIsTerminal: false });
          const code = await destroyCommand(["--checkpoint", checkpointDir], {
            io,
            compose: () => Promise.resolve({ steps }),
            connect: () => Promise.resolve({ kube }),
          });
          assertEquals(code, 1);
          assertMatch(io.stderr(), /refusing to destroy without confirmation/);
          // The plan came first, and nothing was deleted.
          assertMatch(io.stdout(), /- .*ConfigMap destroy-app\/settings/);
          assertEquals((await listInventories(kube)).length, 3);
        },
      );

      await t.step(
        "destroy: releases uninstalled, all but the PVC and its namespace gone",
        async () => {
          const events: RunEvent[] = [];
          const started = performance.now();
          const result = await destroySteps(steps, {
            kube,
            checkpointDir,
            confirm: () => Promise.resolve(true),
            onEvent: (e) => events.push(e),
          });
          console.log(
            `[timing] destroy of storage + metallb + app: ${
              ((performance.now() - started) / 1000).toFixed(1)
            } s`,
          );
          assert(result.ok, JSON.stringify(result.summary));
          assertEquals(result.outcome, "destroyed");
          // Dependents first: app before storage.
          const starts = events.flatMap((e) =>
            e.type === "step-start" ? [e.id] : []
          );
          assert(
            starts.indexOf("app") < starts.indexOf("storage"),
            starts.join(","),
          );
          for (
            const [release, namespace] of [
              ["nfs-subdir-external-provisioner", "nfs-provisioner"],
              ["metallb", "metallb-system"],
            ]
          ) {
            assertEquals(
              await helmStatus(helm, { kubeconfig, release, namespace }),
              undefined,
              `${release} uninstalled`,
            );
          }
          assertEquals(
            result.kept.map((k) => `${k.kind} ${k.name}`).sort(),
            ["Namespace destroy-app", "PersistentVolumeClaim data"],
          );
          for (const k of result.kept) {
            assertMatch(k.reason, /--allow-data-loss/);
          }
          assertEquals(result.remaining, []);
          assertEquals(
            await ownedLeft(kube, owned),
            [
              "Namespace /destroy-app",
              "PersistentVolumeClaim destroy-app/data",
            ],
          );
          const app = await readInventory(kube, "app");
          assertEquals(app?.entries.map((e) => e.state), ["kept", "kept"]);
          assertEquals(await readInventory(kube, "storage"), undefined);
          assertEquals(await readInventory(kube, "metallb"), undefined);
        },
      );

      await t.step("a second destroy has nothing to do", async () => {
        const result = await destroySteps(steps, {
          kube,
          checkpointDir,
          confirm: () => {
            throw new Error("nothing to confirm");
          },
        });
        assertEquals(result.outcome, "nothing-to-do");
        assertEquals(result.plan.summary.delete, 0);
        assertEquals(result.kept.length, 2);
      });

      await t.step(
        "--allow-data-loss deletes the PVC and its namespace",
        async () => {
          const io = capturedIO();
          const code = await destroyCommand([
            "--yes",
            "--allow-data-loss",
            "--checkpoint",
            checkpointDir,
          ], {
            io,
            compose: () => Promise.resolve({ steps }),
            connect: () => Promise.resolve({ kube }),
          });
          assertEquals(code, 0, io.stdout() + io.stderr());
          assertEquals(await ownedLeft(kube, owned), []);
          assertEquals(await listInventories(kube), []);
        },
      );
    } finally {
      await sim.stop();
      await cluster.stop();
    }
  },
});
