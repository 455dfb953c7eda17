/**
 * Kubeflow v1.9.1 -> v1.10.2 in place, on a control plane of its own (webhook
 * configurations excluded, as `kubeflow_v1_9_1_test.ts` does): apply v1.9.1, plan
 * v1.10.2 (creates, updates, replaces, deletes and kept objects), apply it in one
 * pass, then compare the set of objects kfplan owns (its inventory, and a LIST of
 * the `part-of` label per kind) with the set a fresh v1.10.2 install owns: the
 * desired objects of a v1.10.2 plan made against no cluster (the same render an
 * empty cluster gets). v1.9.1's data-holding objects are kept and listed. Planning
 * v1.9.1 over it again is refused as a downgrade.
 */

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { applySteps } from "../../lib/engine/executor.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import {
  applySetIdOf,
  memberKey,
  PART_OF_LABEL,
  readInventory,
} from "../../lib/kube/inventory.ts";
import type { KubeflowVersion } from "../../lib/steps/kubeflow/version.ts";
import type { KubeClient } from "../../lib/kube/types.ts";
import { type ObjectRef, refOf } from "../../lib/kube/object_ref.ts";
import { kubeflowStep } from "../../lib/steps/kubeflow/step.ts";
import { startCluster } from "../cluster/harness.ts";
import { nonDefaultOptions, plantedEnv } from "../steps/kubeflow/_fixtures.ts";
import {
  provideStorage,
  startFakeControllers,
  timed,
  WEBHOOK_EXCLUDES,
} from "./_kubeflow.ts";

const DATA_KINDS = new Set(["PersistentVolumeClaim", "PersistentVolume"]);

/**
 * An object's member key as the server places it: cluster-scoped kinds without the
 * namespace kustomize may have set, namespaced ones without one in `default`.
 */
async function placedKey(kube: KubeClient, ref: ObjectRef): Promise<string> {
  const served = await kube.resourceFor(ref.apiVersion, ref.kind);
  const namespace = served?.namespaced === false
    ? undefined
    : ref.namespace ?? "default";
  return memberKey({ ...ref, namespace });
}

Deno.test({
  name:
    "kubeflow upgrade v1.9.1 -> v1.10.2 in place: plan shows every kind of change, one-pass apply, owned set equals a fresh v1.10.2 install's, data kept, downgrade refused",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await timed(
      "upgrade control plane start",
      () => startCluster({}),
    );
    const controllers = startFakeControllers(cluster.kube);
    const work = await Deno.makeTempDir({ prefix: "kfplan-kf-upgrade-" });
    const checkpointDir = `${work}/checkpoints`;
    const workDir = `${work}/work`;
    await Deno.mkdir(workDir, { recursive: true });
    const env = plantedEnv();
    try {
      const kube = cluster.kube;
      await provideStorage(kube);
      const step = (version: KubeflowVersion) =>
        kubeflowStep({
          ...nonDefaultOptions(version),
          ingress: { type: "ClusterIP" },
          exclude: WEBHOOK_EXCLUDES,
          timeoutSeconds: 600,
        }, { source: "kfplan.yaml", prefix: ["kubeflow"], env });
      const run = { kube, checkpointDir, workDir };

      // 1. v1.9.1, as installed today.
      const first = await timed(
        "v1.9.1 apply + verify",
        () => applySteps([step("v1.9.1")], run),
      );
      assertEquals(first.summary.failed, [], JSON.stringify(first.summary));
      const before = await readInventory(kube, "kubeflow");
      assert(before, "v1.9.1 left an inventory");
      const dataBefore = before.entries.filter((e) => DATA_KINDS.has(e.kind));

      // 2. The upgrade plan: every kind of change, counted.
      const plan = await timed(
        "v1.10.2 plan over v1.9.1",
        () => planSteps([step("v1.10.2")], run),
      );
      const kf = plan.document.steps[0];
      assertEquals(kf.error, undefined, `plan error: ${kf.error}`);
      const count = (action: string) =>
        kf.changes.filter((c) => c.action === action).length;
      const counts = {
        create: count("create"),
        update: count("update"),
        replace: count("replace"),
        delete: count("delete"),
        kept: kf.kept?.length ?? 0,
        unchanged: count("no-op"),
      };
      console.log(
        `[count] upgrade plan v1.9.1 -> v1.10.2: ${JSON.stringify(counts)}`,
      );
      assert(counts.create > 0, "v1.10.2 adds objects");
      assert(counts.update > 0, "v1.10.2 changes objects");
      assert(counts.delete > 0, "v1.9.1 objects v1.10.2 lacks are deleted");
      for (const c of kf.changes.filter((c) => c.action === "replace")) {
        assertMatch(c.reason ?? "", /immutable field/);
        console.log(
          `[replace] ${c.kind} ${c.namespace ?? ""}/${c.name}: ${c.reason}`,
        );
      }
      for (const k of kf.kept ?? []) {
        console.log(
          `[kept] ${k.kind} ${k.namespace ?? ""}/${k.name}: ${k.reason}`,
        );
      }

      // 3. One pass.
      const upgraded = await timed(
        "v1.10.2 upgrade apply + verify",
        () => applySteps([step("v1.10.2")], run),
      );
      assertEquals(
        upgraded.summary.failed,
        [],
        JSON.stringify(upgraded.summary),
      );
      assertEquals(upgraded.outputs.kubeflow?.version, "v1.10.2");
      const again = await timed(
        "v1.10.2 re-plan (nothing to do)",
        () => planSteps([step("v1.10.2")], run),
      );
      assertEquals(
        again.document.steps[0].changes.filter((c) => c.action !== "no-op")
          .map((c) => `${c.action} ${c.kind} ${c.namespace}/${c.name}`),
        [],
      );

      // 4. What kfplan owns now equals what a fresh v1.10.2 install owns.
      const fresh = await step("v1.10.2").plan({
        offline: true,
        outputs: {},
        log: { info() {}, warn() {}, debug() {} },
        workDir,
        signal: new AbortController().signal,
      });
      const freshRefs = (fresh.desired ?? []).map((o) => refOf(o));
      const freshKeys = freshRefs.map(memberKey).sort();
      const after = await readInventory(kube, "kubeflow");
      assert(after, "the inventory is still there");
      const owned = after.entries.filter((e) => e.state === "applied")
        .map(memberKey).sort();
      const kept = after.entries.filter((e) => e.state === "kept");
      assertEquals(owned, freshKeys, "inventory members = a fresh install's");
      // The same set as the cluster labels it (LIST by part-of, kind by kind).
      const id = applySetIdOf("kubeflow");
      const kinds = new Map(
        after.entries.map((e) => [`${e.apiVersion} ${e.kind}`, e]),
      );
      const labelled: string[] = [];
      for (const e of kinds.values()) {
        for (
          const o of await kube.list(e.apiVersion, e.kind, {
            labelSelector: `${PART_OF_LABEL}=${id}`,
          })
        ) {
          labelled.push(await placedKey(kube, refOf(o)));
        }
      }
      const keptKeys = await Promise.all(kept.map((e) => placedKey(kube, e)));
      const placedFresh = await Promise.all(
        freshRefs.map((r) => placedKey(kube, r)),
      );
      assertEquals(
        [...new Set(labelled)].filter((k) => !keptKeys.includes(k)).sort(),
        placedFresh.sort(),
        "labelled members = a fresh install's",
      );
      console.log(
        `[count] after upgrade: ${owned.length} objects owned (= fresh v1.10.2), ${kept.length} kept`,
      );

      // 5. v1.9.1's data-holding objects are all still there.
      for (const e of dataBefore) {
        const live = await kube.get(e);
        assert(live, `${e.kind} ${e.namespace}/${e.name} kept`);
        assertEquals(live.metadata.uid, e.uid, `${e.name}: the same object`);
      }
      console.log(
        `[kept] data-holding objects of v1.9.1 still live: ${
          dataBefore.map((e) => `${e.kind} ${e.namespace}/${e.name}`).join(", ")
        }`,
      );

      // 6. v1.9.1 over v1.10.2: refused at plan time, naming both releases.
      const down = await planSteps([step("v1.9.1")], run);
      assertMatch(
        down.document.steps[0].error ?? "",
        /downgrade refused: the cluster runs Kubeflow v1\.10\.\d+ and this plan installs v1\.9\.\d+/,
      );
    } finally {
      await controllers.stop();
      await cluster.stop();
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});
