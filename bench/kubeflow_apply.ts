/**
 * Apply of a saved plan of the v1.9.1 settings on a fresh test control plane, the way
 * `deno task plan --out PLAN.json && deno task apply PLAN.json` runs it: the time to
 * plan, the time to apply the saved plan (check + apply + verify), and how often
 * `kustomize build` ran in each (counted through a wrapper first on PATH).
 *
 *     deno run -A bench/kubeflow_apply.ts [--version v1.9.1]
 *
 * The script uses only APIs that existed before the engine consolidation
 * (`planSteps`, `applySteps` with `savedPlan`), so the same file measures an older
 * checkout for a before/after comparison.
 *
 * @module
 */

import { minimist } from "../lib/deps.ts";
import { applySteps } from "../lib/engine/executor.ts";
import { planSteps } from "../lib/engine/planner.ts";
import { kubeflowStep } from "../lib/steps/kubeflow/step.ts";
import type { KubeflowVersion } from "../lib/steps/kubeflow/version.ts";
import { binDir, startCluster } from "../tests/cluster/harness.ts";
import {
  provideStorage,
  startFakeControllers,
  WEBHOOK_EXCLUDES,
} from "../tests/integration/_kubeflow.ts";
import {
  nonDefaultOptions,
  plantedEnv,
} from "../tests/steps/kubeflow/_fixtures.ts";

async function countingKustomize(dir: string, log: string): Promise<void> {
  const real = `${await binDir()}/kustomize`;
  await Deno.writeTextFile(
    `${dir}/kustomize`,
    `#!/bin/sh\necho "$1" >> ${log}\nexec ${real} "$@"\n`,
    { mode: 0o755 },
  );
}

async function runs(log: string): Promise<number> {
  const text = await Deno.readTextFile(log).catch(() => "");
  return text.split("\n").filter((l) => l === "build").length;
}

async function main(args: string[]): Promise<number> {
  const flags = minimist(args, { string: ["version"] });
  const version = String(flags.version ?? "v1.9.1") as KubeflowVersion;
  const work = await Deno.makeTempDir({ prefix: "kfplan-bench-apply-" });
  const wrapper = `${work}/bin`;
  await Deno.mkdir(wrapper);
  const log = `${work}/kustomize.log`;
  await countingKustomize(wrapper, log);
  Deno.env.set("PATH", `${wrapper}:${await binDir()}:${Deno.env.get("PATH")}`);
  const cluster = await startCluster({});
  const controllers = startFakeControllers(cluster.kube);
  try {
    await provideStorage(cluster.kube);
    const step = () =>
      kubeflowStep({
        ...nonDefaultOptions(version),
        exclude: WEBHOOK_EXCLUDES,
        timeoutSeconds: 600,
      }, { source: "kfplan.yaml", prefix: ["kubeflow"], env: plantedEnv() });
    const checkpointDir = `${work}/state`;
    let t = performance.now();
    const { document } = await planSteps([step()], {
      kube: cluster.kube,
      checkpointDir,
    });
    const planS = (performance.now() - t) / 1000;
    const planRuns = await runs(log);
    t = performance.now();
    const result = await applySteps([step()], {
      kube: cluster.kube,
      checkpointDir,
      savedPlan: document,
    });
    const applyS = (performance.now() - t) / 1000;
    if (!result.ok) throw new Error(JSON.stringify(result.summary));
    const objects = document.steps[0].changes.length;
    console.log(
      `${version}: ${objects} objects; plan ${
        planS.toFixed(1)
      } s; apply PLAN.json ${
        applyS.toFixed(1)
      } s; kustomize builds: ${planRuns} in plan, ${
        (await runs(log)) - planRuns
      } in apply`,
    );
    return 0;
  } finally {
    await controllers.stop();
    await cluster.stop();
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) main(Deno.args).then(Deno.exit);
