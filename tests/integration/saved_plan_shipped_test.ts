/**
 * Saved plans through the shipped storage and MetalLB steps, while played controllers
 * keep writing status: `plan --out` then `apply PLAN.json` succeeds although status
 * changed in between (status is not drift); after a hand edit to a chart's object
 * (kubectl-style, under another field manager) a plan saved before the edit is refused
 * naming that object.
 *
 * On a control plane of its own (a default StorageClass and MetalLB are cluster-wide).
 * The test plays, and says so: the NFS provisioner, MetalLB's webhook backend and
 * address assignment, and a status write to the MetalLB controller Deployment between
 * plan and apply, as the Deployment controller does.
 */

import { join } from "node:path";
import { assertEquals, assertMatch } from "../_assert.ts";
import { sharedChart, tempDir } from "../_shared.ts";
import { startWebhookServer } from "../cluster/webhook.ts";
import { applyCommand } from "../../lib/cli/apply.ts";
import { planCommand } from "../../lib/cli/plan.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { Composition, SessionOptions } from "../../lib/cli/session.ts";
import { createKubeClient } from "../../lib/kube/client.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import type { Step } from "../../lib/engine/types.ts";
import { metallbStep, WEBHOOK_SERVICE } from "../../lib/steps/metallb.ts";
import { storageStep } from "../../lib/steps/storage.ts";
import { PROBE_LABEL } from "../../lib/steps/probe.ts";
import { findHelm } from "../../lib/tools/helm.ts";
import {
  METALLB_NAMESPACE,
  playedClient,
  playLoadBalancer,
  playMetallbWebhook,
  playNfsProvisioner,
  privateCluster,
  removeRelease,
} from "./_played.ts";

const CONTROLLER = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  namespace: METALLB_NAMESPACE,
  name: "metallb-controller",
};

Deno.test({
  name:
    "saved plans through the storage and MetalLB steps: applied despite status writes, refused after a hand edit naming the object",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await using work = await tempDir("kfplan-saved-shipped-");
    const cluster = await privateCluster();
    const kube = cluster.kube;
    const played = playedClient(cluster.kubeconfig);
    // A person with kubectl: a field manager of their own.
    const kubectl = createKubeClient({
      kubeconfig: cluster.kubeconfig,
      fieldManager: "kubectl-edit",
    });
    const helm = await findHelm();
    const env = { kubeconfig: cluster.kubeconfig, helm };
    const steps: Step[] = [
      storageStep({
        chart: { path: sharedChart("nfs-subdir-external-provisioner-4.0.18") },
        namespace: "nfs-provisioner",
        nfs: { server: "192.168.10.5", path: "/srv/nfs/kubeflow" },
        storageClass: { name: "nfs-client" },
        verify: { timeoutSeconds: 120 },
      }, { ...env, source: "kfplan.yaml", prefix: ["storage"] }),
      metallbStep({
        chart: { path: sharedChart("metallb-0.15.3") },
        pools: [{ name: "default", addresses: ["192.168.10.240/28"] }],
        readyTimeoutSeconds: 180,
        verify: { timeoutSeconds: 120 },
      }, { ...env, source: "kfplan.yaml", prefix: ["metallb"] }),
    ];
    const server = await startWebhookServer({
      namespace: METALLB_NAMESPACE,
      name: WEBHOOK_SERVICE,
    }, { kubeconfig: cluster.kubeconfig, handler: () => ({ allowed: true }) });
    console.log(
      "  the test plays the NFS provisioner, MetalLB's webhook backend and LoadBalancer addresses",
    );
    const stops = [
      playMetallbWebhook(played, server, { open: true }),
      playLoadBalancer(played, {
        label: `${PROBE_LABEL}=metallb`,
        address: "192.168.10.241",
      }),
      playNfsProvisioner(played, {
        storageClass: "nfs-client",
        // The chart names it after the release (the storage step's default).
        provisioner: "cluster.local/nfs-subdir-external-provisioner",
        server: "192.168.10.5",
        path: "/srv/nfs/kubeflow",
      }),
    ];
    const checkpoint = join(work.path, "checkpoints");
    const session = (): SessionOptions & {
      io: ReturnType<typeof capturedIO>;
    } => ({
      io: capturedIO(),
      compose: (): Promise<Composition> => Promise.resolve({ steps }),
      connect: () => Promise.resolve({ kube }),
    });
    const plan = async (file: string) => {
      const s = session();
      const code = await planCommand(
        ["--checkpoint", checkpoint, "--out", file],
        s,
      );
      return { code, out: s.io.stdout(), err: s.io.stderr() };
    };
    const apply = async (file: string) => {
      const s = session();
      const code = await applyCommand([file, "--checkpoint", checkpoint], s);
      return { code, out: s.io.stdout(), err: s.io.stderr() };
    };
    try {
      await t.step(
        "plan --out, then apply PLAN.json installs both",
        async () => {
          const file = join(work.path, "first.json");
          const planned = await plan(file);
          assertEquals(planned.code, 2, planned.err);
          const applied = await apply(file);
          assertEquals(applied.code, 0, applied.err + applied.out);
        },
      );

      await t.step(
        "status written between plan and apply is not drift: the saved plan applies",
        async () => {
          const file = join(work.path, "status.json");
          const planned = await plan(file);
          // 2: the played webhook took the webhook Service's selector away.
          assertEquals(planned.code, 2, planned.err + planned.out);
          const before = await kube.get(CONTROLLER);
          // As the Deployment controller would: a status-only write (no generation).
          await played.apply({
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: {
              name: CONTROLLER.name,
              namespace: CONTROLLER.namespace,
            },
            status: {
              conditions: [{
                type: "Progressing",
                status: "True",
                reason: "NewReplicaSetAvailable",
                message: "status written by the played controller",
                lastUpdateTime: new Date().toISOString().replace(
                  /\.\d+Z$/,
                  "Z",
                ),
                lastTransitionTime: new Date().toISOString().replace(
                  /\.\d+Z$/,
                  "Z",
                ),
              }],
            },
          }, { subresource: "status" });
          const after = await kube.get(CONTROLLER);
          assertEquals(after?.metadata.generation, before?.metadata.generation);
          assertEquals(
            after?.metadata.resourceVersion !==
              before?.metadata.resourceVersion,
            true,
          );
          // The plan did read the Deployment, at a resourceVersion that is now old.
          const saved = JSON.parse(await Deno.readTextFile(file)) as {
            steps: {
              observed?: {
                kind: string;
                namespace?: string;
                name: string;
                resourceVersion?: string;
                generation?: number;
              }[];
            }[];
          };
          const seen = saved.steps.flatMap((s) => s.observed ?? []).find((o) =>
            o.kind === "Deployment" && o.namespace === CONTROLLER.namespace &&
            o.name === CONTROLLER.name
          );
          assertEquals(
            seen?.resourceVersion !== undefined &&
              seen.resourceVersion !== after?.metadata.resourceVersion,
            true,
            `plan saw ${seen?.resourceVersion}, live ${after?.metadata.resourceVersion}`,
          );
          const applied = await apply(file);
          assertEquals(applied.code, 0, applied.err + applied.out);
        },
      );

      await t.step(
        "a hand edit to the MetalLB controller's replicas: the plan saved before is refused naming it",
        async () => {
          const file = join(work.path, "before-edit.json");
          await plan(file);
          await kubectl.apply({
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: {
              name: CONTROLLER.name,
              namespace: CONTROLLER.namespace,
            },
            spec: { replicas: 2 },
          } as KubeObject);
          const refused = await apply(file);
          assertEquals(refused.code, 1, refused.out);
          assertMatch(
            refused.err,
            /Deployment metallb-system\/metallb-controller changed since the plan/,
          );
        },
      );

      await t.step(
        "a hand edit to a label only: the plan saved before is refused naming it",
        async () => {
          const file = join(work.path, "before-label.json");
          await plan(file);
          await kubectl.apply({
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: {
              name: CONTROLLER.name,
              namespace: CONTROLLER.namespace,
              labels: { "edited-by": "hand" },
            },
          } as KubeObject);
          const refused = await apply(file);
          assertEquals(refused.code, 1, refused.out);
          assertMatch(
            refused.err,
            /Deployment metallb-system\/metallb-controller changed since the plan/,
          );
        },
      );
    } finally {
      for (const stop of stops) await stop();
      for (
        const [release, namespace] of [
          ["metallb", METALLB_NAMESPACE],
          ["nfs-subdir-external-provisioner", "nfs-provisioner"],
        ]
      ) {
        await removeRelease(helm, kube, {
          kubeconfig: cluster.kubeconfig,
          release,
          namespace,
        });
      }
      await server.close();
      kubectl.close();
      played.close();
      await cluster.stop();
    }
  },
});
