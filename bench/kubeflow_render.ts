/**
 * Render time of the Kubeflow step per release: version detection, overlay
 * generation, bcrypt (two users, cost 12) and the real `kustomize build`, offline.
 *
 *     deno run -A bench/kubeflow_render.ts [--runs 3] [--versions v1.10.2,v1.9.1]
 *
 * Prints the median wall time and the rendered object count per release. The
 * plan/apply/re-plan times on the test control plane are printed by the integration
 * tests (`deno test -A tests/integration/kubeflow_v1_10_2_test.ts`, lines `[timing]`).
 *
 * @module
 */

import { minimist } from "../lib/deps.ts";
import { validateOptions } from "../lib/engine/options.ts";
import { kubeflowOptionsSchema } from "../lib/steps/kubeflow/options.ts";
import { renderKubeflow } from "../lib/steps/kubeflow/render.ts";
import type { KubeflowVersion } from "../lib/steps/kubeflow/version.ts";
import {
  nonDefaultOptions,
  plantedEnv,
} from "../tests/steps/kubeflow/_fixtures.ts";

async function main(args: string[]): Promise<number> {
  const flags = minimist(args, { string: ["runs", "versions"] });
  const runs = Number(flags.runs ?? 3);
  const versions = String(flags.versions ?? "v1.10.2,v1.9.1,v1.6.1,v1.5.0")
    .split(",") as KubeflowVersion[];
  for (const version of versions) {
    const options = validateOptions(
      kubeflowOptionsSchema,
      nonDefaultOptions(version),
    );
    const times: number[] = [];
    let count = 0;
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      const rendered = await renderKubeflow(options, { env: plantedEnv() });
      times.push(performance.now() - start);
      count = rendered.objects.length;
    }
    times.sort((a, b) => a - b);
    console.log(
      `${version}: ${count} objects, render median ${
        (times[Math.floor(runs / 2)] / 1000).toFixed(2)
      } s over ${runs} runs`,
    );
  }
  return 0;
}

if (import.meta.main) main(Deno.args).then(Deno.exit);
