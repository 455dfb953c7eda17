import { assert, assertEquals, assertMatch } from "../_assert.ts";
import {
  crdEstablished,
  daemonSetRolledOut,
  deploymentAvailable,
  endpointsReady,
  loadBalancerAddress,
  loadBalancerAssigned,
  pvcBound,
  readinessCheck,
  statefulSetReady,
} from "../../lib/kube/wait.ts";
import type { KubeObject } from "../../lib/kube/types.ts";

function o(
  kind: string,
  extra: Record<string, unknown>,
  apiVersion = "apps/v1",
): KubeObject {
  return { apiVersion, kind, metadata: { name: "x", generation: 2 }, ...extra };
}

const available = { type: "Available", status: "True" };

Deno.test("deploymentAvailable follows kubectl rollout status", () => {
  const spec = { replicas: 2 };
  assertEquals(deploymentAvailable(undefined), "does not exist");
  assertMatch(
    String(
      deploymentAvailable(
        o("Deployment", { spec, status: { observedGeneration: 1 } }),
      ),
    ),
    /not observed generation 2/,
  );
  assertMatch(
    String(deploymentAvailable(o("Deployment", {
      spec,
      status: {
        observedGeneration: 2,
        updatedReplicas: 1,
        replicas: 2,
        availableReplicas: 1,
      },
    }))),
    /rollout in progress: 1\/2 available/,
  );
  assertMatch(
    String(deploymentAvailable(o("Deployment", {
      spec,
      status: {
        observedGeneration: 2,
        updatedReplicas: 2,
        replicas: 3,
        availableReplicas: 2,
      },
    }))),
    /old replicas/,
  );
  assertMatch(
    String(deploymentAvailable(o("Deployment", {
      spec,
      status: {
        observedGeneration: 2,
        updatedReplicas: 2,
        replicas: 2,
        availableReplicas: 2,
        conditions: [{
          type: "Available",
          status: "False",
          reason: "MinimumReplicasUnavailable",
        }],
      },
    }))),
    /Available=False \(MinimumReplicasUnavailable\)/,
  );
  assertEquals(
    deploymentAvailable(o("Deployment", {
      spec,
      status: {
        observedGeneration: 2,
        updatedReplicas: 2,
        replicas: 2,
        availableReplicas: 2,
        conditions: [available],
      },
    })),
    true,
  );
});

Deno.test("statefulSet, daemonSet, CRD, PVC and LoadBalancer checks", () => {
  assertMatch(
    String(
      statefulSetReady(
        o("StatefulSet", {
          spec: { replicas: 3 },
          status: { observedGeneration: 2, readyReplicas: 1 },
        }),
      ),
    ),
    /1\/3 ready/,
  );
  assertMatch(
    String(statefulSetReady(o("StatefulSet", {
      spec: { replicas: 1 },
      status: {
        observedGeneration: 2,
        readyReplicas: 1,
        currentRevision: "a",
        updateRevision: "b",
      },
    }))),
    /rolling update to b/,
  );
  assertEquals(
    statefulSetReady(o("StatefulSet", {
      spec: { replicas: 1 },
      status: {
        observedGeneration: 2,
        readyReplicas: 1,
        currentRevision: "b",
        updateRevision: "b",
      },
    })),
    true,
  );
  assertMatch(
    String(daemonSetRolledOut(o("DaemonSet", {
      status: {
        observedGeneration: 2,
        desiredNumberScheduled: 3,
        updatedNumberScheduled: 3,
        numberAvailable: 2,
      },
    }))),
    /2\/3 available/,
  );
  assertEquals(
    daemonSetRolledOut(o("DaemonSet", {
      status: {
        observedGeneration: 2,
        desiredNumberScheduled: 3,
        updatedNumberScheduled: 3,
        numberAvailable: 3,
      },
    })),
    true,
  );
  const crd = (status: string) =>
    o("CustomResourceDefinition", {
      status: {
        conditions: [{ type: "Established", status, reason: "Installing" }],
      },
    }, "apiextensions.k8s.io/v1");
  assertEquals(crdEstablished(crd("True")), true);
  assertEquals(crdEstablished(crd("False")), "Established=False (Installing)");
  assertEquals(
    pvcBound(
      o("PersistentVolumeClaim", { status: { phase: "Pending" } }, "v1"),
    ),
    "phase Pending",
  );
  assertEquals(
    pvcBound(o("PersistentVolumeClaim", { status: { phase: "Bound" } }, "v1")),
    true,
  );
  const lb = o("Service", {
    spec: { type: "LoadBalancer" },
    status: { loadBalancer: { ingress: [{ ip: "10.0.0.5" }] } },
  }, "v1");
  assertEquals(loadBalancerAssigned(lb), true);
  assertEquals(loadBalancerAddress(lb), "10.0.0.5");
  assertMatch(
    String(loadBalancerAssigned(o("Service", { status: {} }, "v1"))),
    /no load balancer/,
  );
});

Deno.test("endpointsReady needs one ready address", () => {
  assertEquals(endpointsReady([]), "no EndpointSlices");
  const slice = (endpoints: unknown[]) =>
    o("EndpointSlice", { endpoints }, "discovery.k8s.io/v1");
  assertEquals(endpointsReady([slice([])]), "EndpointSlices list no endpoints");
  assertEquals(
    endpointsReady([
      slice([{ addresses: ["10.0.0.1"], conditions: { ready: false } }]),
    ]),
    "none of 1 endpoints ready",
  );
  assertEquals(
    endpointsReady([
      slice([{ addresses: ["10.0.0.1"], conditions: { ready: true } }]),
    ]),
    true,
  );
});

Deno.test("readinessCheck picks the rule by kind", () => {
  assertEquals(
    readinessCheck({ apiVersion: "apps/v1", kind: "Deployment" }),
    deploymentAvailable,
  );
  assertEquals(
    readinessCheck({ apiVersion: "v1", kind: "ConfigMap" }),
    undefined,
  );
  assertEquals(
    readinessCheck({
      apiVersion: "v1",
      kind: "Service",
      spec: { type: "ClusterIP" },
    }),
    undefined,
  );
  assert(
    readinessCheck({
      apiVersion: "v1",
      kind: "Service",
      spec: { type: "LoadBalancer" },
    }),
  );
});
