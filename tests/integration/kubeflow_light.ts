/**
 * A lighter Kubeflow install than `_kubeflow_scenario.ts`, for releases whose full
 * scenario would cost CI minutes without testing more of kfplan: on a control plane
 * of its own, plan, one-pass apply with verify, and a second plan with nothing to do.
 *
 * @module
 */

import { assert, assertEquals } from "../_assert.ts";
import { applySteps } from "../../lib/engine/executor.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { hasChanges } from "../../lib/engine/plan_document.ts";
import type { KubeClient } from "../../lib/kube/types.ts";
import type { KubeflowOptionsInput } from "../../lib/steps/kubeflow/options.ts";
import { kubeflowStep } from "../../lib/steps/kubeflow/step.ts";
import { startCluster } from "../cluster/harness.ts";
import { provideStorage, startFakeControllers, timed } from "./_kubeflow.ts";

/** What {@linkcode lightScenario} measured and saw. */
export interface LightResult {
  /** The first plan's kubeflow entry. */
  plan: PlanStepEntry;
  /** The apply's kubeflow outputs. */
  outputs: Record<string, unknown>;
}

/** The plan document entry of one step, as `planSteps` gives it. */
type PlanStepEntry = Awaited<
  ReturnType<typeof planSteps>
>["document"]["steps"][number];

/**
 * A lighter install than `_kubeflow_scenario.ts`: on a control plane of its own,
 * plan (every rendered object is a create), apply and verify in one pass (webhooks
 * excluded, see {@linkcode WEBHOOK_EXCLUDES}), then plan again (nothing to do).
 * `check` runs against the running cluster before it is stopped.
 */
export async function lightScenario(
  label: string,
  input: KubeflowOptionsInput,
  options: {
    env: Record<string, string>;
    check?: (kube: KubeClient, result: LightResult) => Promise<void>;
  },
): Promise<LightResult> {
  const cluster = await timed(
    `${label} control plane start`,
    () => startCluster({}),
  );
  const controllers = startFakeControllers(cluster.kube);
  const work = await Deno.makeTempDir({ prefix: `kfplan-kf-light-` });
  const checkpointDir = `${work}/checkpoints`;
  const workDir = `${work}/work`;
  await Deno.mkdir(workDir, { recursive: true });
  try {
    const kube = cluster.kube;
    await provideStorage(kube);
    const step = () =>
      kubeflowStep(input, {
        source: "kfplan.yaml",
        prefix: ["kubeflow"],
        env: options.env,
      });
    const first = await timed(
      `${label} plan #1`,
      () => planSteps([step()], { kube, checkpointDir, workDir }),
    );
    const plan = first.document.steps[0];
    assertEquals(plan.error, undefined, `plan error: ${plan.error}`);
    assert(
      plan.changes.every((c) => c.action === "create"),
      "every object is a create on an empty cluster",
    );
    const result = await timed(
      `${label} apply + verify`,
      () => applySteps([step()], { kube, checkpointDir, workDir }),
    );
    assertEquals(result.summary.failed, [], JSON.stringify(result.summary));
    const outputs = result.outputs.kubeflow;
    assertEquals(outputs.applied, plan.changes.length);
    console.log(
      `[count] ${label}: planned ${plan.changes.length}, applied ${outputs.applied} objects`,
    );
    const second = await timed(
      `${label} plan #2`,
      () => planSteps([step()], { kube, checkpointDir, workDir }),
    );
    assertEquals(hasChanges(second.document), false);
    const light = { plan, outputs };
    await options.check?.(kube, light);
    return light;
  } finally {
    await controllers.stop();
    await cluster.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
