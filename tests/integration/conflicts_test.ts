/**
 * Field-manager conflicts are the same for every step (issue 9, "Drift"), through the
 * real CLI, engine and control plane. The steps here only plan with the shared
 * building blocks (`planObjects` with `planOptionsOf`) and apply (`applyObjects`):
 * they neither warn about conflicts nor refuse them themselves, the engine does.
 *
 * - A pre-existing object another field manager owns a field of, with another value:
 *   plan names the manager and the field and warns; apply refuses naming them and
 *   changes nothing in the cluster; with `--force-conflicts` plan says taken and
 *   apply takes it. An object kfplan applied and another manager edited since is
 *   drift repair: not blocked, taken back without the flag.
 * - A conflict that shows only at apply (another tool wrote the object after the
 *   plan) is refused on an object kfplan did not create, taken back on one it owns.
 * - A shipped step (the AMD GPU device plugin's DaemonSet) the same way.
 */

import { tempDir } from "../_shared.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { useCluster } from "../cluster/harness.ts";
import { applyCommand } from "../../lib/cli/apply.ts";
import { planCommand } from "../../lib/cli/plan.ts";
import { cliSession } from "./_cli_session.ts";
import { emptyPlan, type Step } from "../../lib/engine/types.ts";
import { digestOf } from "../../lib/engine/digest.ts";
import type { PlanDocument } from "../../lib/engine/plan_document.ts";
import {
  applyObjects,
  planObjects,
  planOptionsOf,
} from "../../lib/kube/apply_set.ts";
import { createKubeClient } from "../../lib/kube/client.ts";
import { readInventory } from "../../lib/kube/inventory.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import {
  amdGpuDaemonSet,
  amdGpuOptionsSchema,
  amdGpuStep,
} from "../../lib/steps/amd_gpu.ts";

/**
 * A custom step owning `objects`, built from the shipped building blocks only;
 * `beforeApply` plays another tool writing between plan and apply.
 */
function customStep(
  id: string,
  objects: KubeObject[],
  beforeApply?: () => Promise<unknown>,
): Step {
  return {
    id,
    title: `custom ${id}`,
    needs: [],
    options: { objects },
    async plan(ctx) {
      const planned = await planObjects(ctx.kube, objects, planOptionsOf(ctx));
      return {
        ...emptyPlan(),
        changes: planned.changes,
        observed: planned.observed,
        desired: objects,
        desiredDigest: digestOf(objects),
      };
    },
    async apply(ctx, plan) {
      await beforeApply?.();
      const result = await applyObjects(ctx.kube!, plan.desired ?? objects, {
        timeoutMs: 60_000,
        signal: ctx.signal,
      });
      return { applied: result.applied.length };
    },
    verify() {
      return Promise.resolve({ checks: [] });
    },
  };
}

function configMap(ns: string, value: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "shared", namespace: ns },
    data: { mode: value },
  };
}

async function setup(prefix: string) {
  const cluster = await useCluster();
  const ns = await cluster.namespace(prefix);
  const work = await tempDir();
  const lock = `kfplan-lock-${ns}`;
  const run = cliSession(cluster, ns, work.path);
  /** A client writing as another tool (`kubectl apply --server-side` and the like). */
  const other = (fieldManager: string) =>
    createKubeClient({ kubeconfig: cluster.kubeconfig, fieldManager });
  return { cluster, ns, work, run, lock, other };
}

async function planJson(
  run: Awaited<ReturnType<typeof setup>>["run"],
  steps: Step[],
  flags: string[] = [],
) {
  const plan = await run(planCommand, steps, ["--json", ...flags]);
  assertEquals(plan.code, 2, plan.err + plan.out);
  return (JSON.parse(plan.out) as PlanDocument).steps[0];
}

Deno.test("conflicts: a custom step's pre-existing object is refused until --force-conflicts; an edited owned one is drift repair", async () => {
  const { cluster, ns, work, run, lock, other } = await setup(
    "kfplan-conflicts",
  );
  await using _work = work;
  const kubectl = other("kubectl");
  const edit = other("kubectl-edit");
  try {
    await kubectl.apply(configMap(ns, "theirs"));
    const ref = {
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: ns,
      name: "shared",
    };
    const before = await cluster.kube.get(ref);
    const steps = [customStep("custom", [configMap(ns, "ours")])];

    const blocked = await planJson(run, steps);
    const change = blocked.changes.find((c) => c.name === "shared")!;
    assertEquals(change.action, "update");
    assertMatch(
      change.reason ?? "",
      /^conflict: data\.mode \(field manager "kubectl"\)/,
    );
    assertMatch(change.reason ?? "", /--force-conflicts/);
    // The engine warns once, though the step itself does not.
    const warnings = blocked.warnings.filter((w) => w.includes("kubectl"));
    assertEquals(warnings.length, 1, blocked.warnings.join("\n"));
    assertMatch(
      warnings[0],
      new RegExp(
        `ConfigMap ${ns}/shared \\(v1\\): data\\.mode \\(field manager "kubectl"\\).*--force-conflicts`,
      ),
    );
    const human = await run(planCommand, steps, []);
    assertMatch(human.out, /data\.mode \(field manager "kubectl"\)/);

    const refused = await run(applyCommand, steps, ["--yes"]);
    assertEquals(refused.code, 1, refused.out + refused.err);
    assertMatch(
      refused.out + refused.err,
      new RegExp(
        `apply refused.*ConfigMap ${ns}/shared \\(v1\\): data\\.mode \\(field manager "kubectl"\\).*--force-conflicts`,
        "s",
      ),
    );
    // Nothing changed: not the object, and no inventory was recorded either.
    const after = await cluster.kube.get(ref);
    assertEquals(after?.data, { mode: "theirs" });
    assertEquals(
      after?.metadata.resourceVersion,
      before?.metadata.resourceVersion,
    );
    assertEquals(
      await readInventory(cluster.kube, "custom", { installation: lock }),
      undefined,
    );

    const forcedPlan = await planJson(run, steps, ["--force-conflicts"]);
    const taken = forcedPlan.changes.find((c) => c.name === "shared")!;
    assertMatch(
      taken.reason ?? "",
      /conflict taken by --force-conflicts: data\.mode \(field manager "kubectl"\)/,
    );
    assert(!forcedPlan.warnings.some((w) => w.includes("kubectl")));
    const forced = await run(applyCommand, steps, [
      "--yes",
      "--force-conflicts",
    ]);
    assertEquals(forced.code, 0, forced.err + forced.out);
    assertEquals((await cluster.kube.get(ref))?.data, { mode: "ours" });

    // kfplan owns it now: another manager's edit is drift, taken back without the flag.
    await edit.apply(configMap(ns, "edited"), { force: true });
    const repair = await planJson(run, steps);
    const drift = repair.changes.find((c) => c.name === "shared")!;
    assertMatch(
      drift.reason ?? "",
      /^drift repair: kfplan applied this object; apply takes back data\.mode \(field manager "kubectl-edit"\)/,
    );
    assert(!repair.warnings.some((w) => w.includes("kubectl-edit")));
    const repaired = await run(applyCommand, steps, ["--yes"]);
    assertEquals(repaired.code, 0, repaired.err + repaired.out);
    assertEquals((await cluster.kube.get(ref))?.data, { mode: "ours" });
  } finally {
    kubectl.close();
    edit.close();
  }
});

Deno.test("conflicts: apply forces only what the plan agreed to, a conflict that shows after the plan included", async () => {
  const { cluster, ns, work, run, other } = await setup("kfplan-conflicts");
  await using _work = work;
  const kubectl = other("kubectl");
  try {
    const ref = {
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: ns,
      name: "shared",
    };
    // Planned as a create; another tool creates the object before kfplan applies.
    const raced = [
      customStep(
        "raced",
        [configMap(ns, "ours")],
        () => kubectl.apply(configMap(ns, "theirs")),
      ),
    ];
    const refused = await run(applyCommand, raced, ["--yes"]);
    assertEquals(refused.code, 1, refused.out + refused.err);
    assertMatch(
      refused.out + refused.err,
      new RegExp(
        `apply refused.*ConfigMap ${ns}/shared \\(v1\\): data\\.mode \\(field manager "kubectl"\\).*--force-conflicts`,
        "s",
      ),
    );
    assertEquals((await cluster.kube.get(ref))?.data, { mode: "theirs" });
    const repeat = await run(applyCommand, raced, ["--yes"]);
    assertEquals(repeat.code, 1, repeat.out + repeat.err);
    assertMatch(repeat.out + repeat.err, /apply refused/);
    assertEquals((await cluster.kube.get(ref))?.data, { mode: "theirs" });

    // An object kfplan owns, edited between plan and apply: drift repair, taken back.
    const name = { ...ref, name: "owned" };
    const owned = (value: string) => ({
      ...configMap(ns, value),
      metadata: { name: "owned", namespace: ns },
    });
    const first = await run(applyCommand, [customStep("owned", [owned("a")])], [
      "--yes",
    ]);
    assertEquals(first.code, 0, first.err + first.out);
    const edited = [
      customStep(
        "owned",
        [owned("b")],
        () => kubectl.apply(owned("theirs"), { force: true }),
      ),
    ];
    const repaired = await run(applyCommand, edited, ["--yes"]);
    assertEquals(repaired.code, 0, repaired.err + repaired.out);
    assertEquals((await cluster.kube.get(name))?.data, { mode: "b" });
  } finally {
    kubectl.close();
  }
});

Deno.test("conflicts: a shipped step (AMD GPU device plugin) plans, refuses and takes them alike", async () => {
  const { cluster, ns, work, run, other } = await setup("kfplan-conflicts");
  await using _work = work;
  const kubectl = other("kubectl");
  try {
    const input = {
      namespace: ns,
      image: "docker.io/rocm/k8s-device-plugin:1.31.0.7",
      // No node has it: the forced apply's verify fails, after the apply.
      nodeSelector: { "kfplan.test/amd-conflicts": ns },
      timeoutSeconds: 1,
    };
    const theirs = amdGpuDaemonSet(
      amdGpuOptionsSchema.parse({
        ...input,
        image: "docker.io/rocm/k8s-device-plugin:1.25.2.8",
      }),
    );
    await kubectl.apply(theirs);
    const ref = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      namespace: ns,
      name: "amdgpu-device-plugin-daemonset",
    };
    const image = async () =>
      ((await cluster.kube.get(ref))?.spec as {
        template: { spec: { containers: { image: string }[] } };
      }).template.spec.containers[0].image;
    const steps = [amdGpuStep(input)];

    const blocked = await planJson(run, steps);
    const change = blocked.changes.find((c) => c.kind === "DaemonSet")!;
    assertMatch(
      change.reason ?? "",
      /containers\[name="amdgpu-dp-cntr"\]\.image.*\(field manager "kubectl"\).*--force-conflicts/,
    );
    assertEquals(
      blocked.warnings.filter((w) => w.includes("--force-conflicts")).length,
      1,
    );
    const refused = await run(applyCommand, steps, ["--yes"]);
    assertEquals(refused.code, 1);
    assertMatch(
      refused.out + refused.err,
      /apply refused.*DaemonSet .*amdgpu-device-plugin-daemonset \(apps\/v1\): .*image.*"kubectl".*--force-conflicts/s,
    );
    assertEquals(await image(), "docker.io/rocm/k8s-device-plugin:1.25.2.8");

    const forcedPlan = await planJson(run, steps, ["--force-conflicts"]);
    assertMatch(
      forcedPlan.changes.find((c) => c.kind === "DaemonSet")?.reason ?? "",
      /conflict taken by --force-conflicts/,
    );
    const forced = await run(applyCommand, steps, [
      "--yes",
      "--force-conflicts",
    ]);
    assert(
      !/apply refused/.test(forced.out + forced.err),
      forced.out + forced.err,
    );
    assertEquals(await image(), "docker.io/rocm/k8s-device-plugin:1.31.0.7");
  } finally {
    kubectl.close();
  }
});
