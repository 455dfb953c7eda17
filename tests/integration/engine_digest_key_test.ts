import { assertEquals, assertNotEquals } from "../_assert.ts";
import { startCluster } from "../cluster/harness.ts";
import { applySteps } from "../../lib/engine/executor.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import {
  DIGEST_KEY_NAME,
  DIGEST_KEY_NAMESPACE,
  loadDigestKey,
} from "../../lib/engine/secret_digest.ts";
import { configMapStep } from "./_configmap_step.ts";

Deno.test("the first apply stores the digest key in the cluster; a second machine then digests the same", async () => {
  // A private control plane: the key is cluster-wide state.
  const cluster = await startCluster({ nodes: [] });
  const laptop = await Deno.makeTempDir();
  const ci = await Deno.makeTempDir();
  try {
    const ns = await cluster.namespace("kfplan-key");
    const steps = [
      configMapStep("one", { namespace: ns, name: "one", data: { a: "1" } }),
    ];
    const before = await loadDigestKey(cluster.kube, { stateDir: laptop });
    assertEquals(before.source, "local");
    const ciBefore = await loadDigestKey(cluster.kube, { stateDir: ci });
    assertNotEquals(
      before.digester.digest("db-password"),
      ciBefore.digester.digest("db-password"),
    );
    // Planning writes nothing to the cluster.
    await planSteps(steps, { kube: cluster.kube, checkpointDir: laptop });
    const ref = {
      apiVersion: "v1",
      kind: "Secret",
      namespace: DIGEST_KEY_NAMESPACE,
      name: DIGEST_KEY_NAME,
    };
    assertEquals(await cluster.kube.get(ref), undefined);

    const result = await applySteps(steps, {
      kube: cluster.kube,
      checkpointDir: laptop,
    });
    assertEquals(result.ok, true);
    const after = await loadDigestKey(cluster.kube, { stateDir: ci });
    assertEquals(after.source, "cluster");
    assertEquals(
      after.digester.digest("db-password"),
      before.digester.digest("db-password"),
    );
    // The plan the laptop made and the one CI makes now carry the same digests.
    const a = await planSteps(steps, {
      kube: cluster.kube,
      checkpointDir: laptop,
    });
    const b = await planSteps(steps, { kube: cluster.kube, checkpointDir: ci });
    assertEquals(
      a.document.steps[0].desired_digest,
      b.document.steps[0].desired_digest,
    );
  } finally {
    await cluster.stop();
    await Deno.remove(laptop, { recursive: true });
    await Deno.remove(ci, { recursive: true });
  }
});
