import { assertEquals, assertMatch } from "../_assert.ts";
import {
  clusterMismatch,
  describeCluster,
  identifyCluster,
  NO_CLUSTER,
} from "../../lib/engine/cluster.ts";

const a = { server: "https://127.0.0.1:6443", context: "kind-kf", uid: "u-1" };

Deno.test("the kube-system uid decides: a cluster recreated at the same address is another cluster", () => {
  assertEquals(clusterMismatch(a, { ...a }), undefined);
  assertEquals(clusterMismatch(a, { ...a, context: "renamed" }), undefined);
  assertMatch(
    clusterMismatch(a, { ...a, uid: "u-2" }) ?? "",
    /kube-system uid u-1.*u-2.*recreated/,
  );
  assertMatch(
    clusterMismatch(NO_CLUSTER, a) ?? "",
    /belongs to cluster none \(none\)/,
  );
  assertEquals(describeCluster(a), "kind-kf (https://127.0.0.1:6443)");
});

Deno.test("without a client the identity is NO_CLUSTER", async () => {
  assertEquals(await identifyCluster(undefined), NO_CLUSTER);
});
