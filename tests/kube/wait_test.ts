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

Deno.test("readiness rules read fields of the wrong type as absent instead of throwing", () => {
  // A status written by a buggy controller or a hand edit: conditions as a mapping,
  // counts as strings. The rule must report it as not ready, not throw.
  assertEquals(
    deploymentAvailable(o("Deployment", {
      spec: { replicas: 1 },
      status: {
        observedGeneration: 2,
        updatedReplicas: 1,
        replicas: 1,
        availableReplicas: 1,
        conditions: { Available: "True" },
      },
    })),
    "no Available condition yet; 1/1 available, 1 updated, 1 total",
  );
  assertEquals(
    daemonSetRolledOut(o("DaemonSet", {
      status: {
        observedGeneration: 2,
        desiredNumberScheduled: 2,
        updatedNumberScheduled: "2",
        numberAvailable: 2,
      },
    })),
    "0/2 updated, 2/2 available",
  );
  assertEquals(
    crdEstablished(o("CustomResourceDefinition", {
      status: { conditions: [{ type: "Established" }, "True"] },
    }, "apiextensions.k8s.io/v1")),
    "no Established condition yet",
  );
  assertEquals(
    pvcBound(o("PersistentVolumeClaim", { status: { phase: 1 } }, "v1")),
    "phase unknown",
  );
  assertMatch(
    String(deploymentAvailable(o("Deployment", { status: "Available" }))),
    /not observed generation 2 yet \(observed none\)/,
  );
});

Deno.test("LoadBalancer address: the first ingress entry with an ip or a hostname", () => {
  const lb = (ingress: unknown) =>
    o("Service", { status: { loadBalancer: { ingress } } }, "v1");
  assertEquals(
    loadBalancerAddress(lb([{ ip: "" }, { hostname: "lb.example.com" }])),
    "lb.example.com",
  );
  assertEquals(
    loadBalancerAssigned(lb([{ ip: "" }])),
    "no load balancer ingress address assigned yet",
  );
  assertEquals(loadBalancerAddress(lb("10.0.0.5")), undefined);
  assertEquals(loadBalancerAddress(undefined), undefined);
});

Deno.test("an endpoint without a ready condition counts as ready, as the API documents", () => {
  const slice = o("EndpointSlice", {
    endpoints: [{ addresses: ["10.0.0.1"] }],
  }, "discovery.k8s.io/v1");
  assertEquals(endpointsReady([slice]), true);
  assertEquals(
    endpointsReady([o("EndpointSlice", {
      endpoints: [{ addresses: "10.0.0.1", conditions: { ready: true } }],
    }, "discovery.k8s.io/v1")]),
    "none of 1 endpoints ready",
  );
});
