/**
 * A destroy run as its own process, for the kill -9 test: reads its settings from
 * argv as JSON, prints every event as a JSON line, and exits with 0 when the destroy
 * succeeded.
 *
 * @module
 */

import { createKubeClient } from "../../lib/kube/client.ts";
import { destroySteps } from "../../lib/engine/destroy.ts";
import { emptyPlan, type Step } from "../../lib/engine/types.ts";

/** What the parent passes. */
export interface ChildSettings {
  kubeconfig: string;
  stateNamespace: string;
  checkpointDir: string;
  lock: string;
  graph: [string, string[]][];
}

function step(id: string, needs: string[]): Step {
  return {
    id,
    title: `step ${id}`,
    needs,
    options: {},
    plan: () => Promise.resolve(emptyPlan()),
    apply: () => Promise.resolve({}),
    verify: () => Promise.resolve({ checks: [] }),
  };
}

async function main(settings: ChildSettings): Promise<number> {
  const kube = createKubeClient({ kubeconfig: settings.kubeconfig });
  const result = await destroySteps(
    settings.graph.map(([id, needs]) => step(id, needs)),
    {
      kube,
      stateNamespace: settings.stateNamespace,
      checkpointDir: settings.checkpointDir,
      lock: { name: settings.lock },
      parallelism: 1,
      onEvent: (e) => console.log(JSON.stringify(e)),
    },
  );
  return result.ok ? 0 : 1;
}

if (import.meta.main) {
  main(JSON.parse(Deno.args[0])).then((code) => Deno.exit(code));
}
