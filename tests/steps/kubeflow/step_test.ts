import { assert, assertEquals } from "../../_assert.ts";
import type { StepContext } from "../../../lib/engine/types.ts";
import { objectKey, refOf } from "../../../lib/kube/object_ref.ts";
import { renderKubeflow } from "../../../lib/steps/kubeflow/render.ts";
import {
  kubeflowStep,
  renderedDigest,
} from "../../../lib/steps/kubeflow/step.ts";
import { nonDefaultOptions, plantedEnv } from "./_fixtures.ts";

function offlineContext(workDir: string): StepContext {
  return {
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir,
    signal: new AbortController().signal,
  };
}

Deno.test("offline plan: desired holds exactly the rendered objects the plan shows and its digest covers", async () => {
  const workDir = await Deno.makeTempDir({ prefix: "kfplan-kf-step-" });
  try {
    const step = kubeflowStep(nonDefaultOptions("v1.9.1"), {
      env: plantedEnv(),
    });
    const plan = await step.plan(offlineContext(workDir));
    const desired = plan.desired ?? [];
    const rendered = await renderKubeflow(step.options, {
      env: plantedEnv(),
      tempDir: workDir,
    });
    assertEquals(desired.length, rendered.objects.length);
    assertEquals(plan.facts?.objects, desired.length);
    assertEquals(
      desired.map((o) => objectKey(refOf(o))).sort(),
      plan.changes.map((c) => objectKey(c)).sort(),
    );
    assertEquals(
      plan.desiredDigest,
      renderedDigest({ ...rendered, objects: desired }),
    );
    assert(
      desired.some((o) =>
        o.kind === "Deployment" && o.metadata.name === "centraldashboard"
      ),
    );
    // Rendering removes its scratch directory; nothing of it stays in workDir.
    assertEquals(await Array.fromAsync(Deno.readDir(workDir)), []);
  } finally {
    await Deno.remove(workDir, { recursive: true });
  }
});

Deno.test("the desired digest does not depend on the objects' order", async () => {
  const rendered = await renderKubeflow(
    (kubeflowStep(nonDefaultOptions("v1.9.1"), { env: plantedEnv() })).options,
    { env: plantedEnv() },
  );
  const reversed = { ...rendered, objects: [...rendered.objects].reverse() };
  assertEquals(renderedDigest(reversed), renderedDigest(rendered));
  const fewer = { ...rendered, objects: rendered.objects.slice(1) };
  assert(renderedDigest(fewer) !== renderedDigest(rendered));
});
