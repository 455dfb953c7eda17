import { assertEquals, assertMatch, assertThrows } from "../../_assert.ts";
import { OptionsError } from "../../../lib/engine/options.ts";
import type { KubeObject } from "../../../lib/kube/types.ts";
import {
  componentOf,
  findComponents,
  selectComponents,
} from "../../../lib/steps/kubeflow/components.ts";

function crd(group: string, plural: string, kind: string): KubeObject {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${group}` },
    spec: { group, names: { kind }, versions: [{ name: "v1", served: true }] },
  };
}

function obj(
  apiVersion: string,
  kind: string,
  name: string,
  namespace?: string,
): KubeObject {
  return {
    apiVersion,
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}) },
  };
}

const OBJECTS: KubeObject[] = [
  crd("serving.knative.dev", "services", "Service"),
  obj("apps/v1", "Deployment", "activator", "knative-serving"),
  crd("serving.kserve.io", "clusterservingruntimes", "ClusterServingRuntime"),
  obj("serving.kserve.io/v1", "ClusterServingRuntime", "sklearn"),
  obj("apps/v1", "Deployment", "kserve-controller-manager", "kubeflow"),
  crd("cert-manager.io", "certificates", "Certificate"),
  obj("apps/v1", "Deployment", "cert-manager", "cert-manager"),
  obj("cert-manager.io/v1", "Certificate", "webhook-cert", "kubeflow"),
  {
    ...obj(
      "cert-manager.io/v1",
      "ClusterIssuer",
      "kubeflow-self-signing-issuer",
    ),
    metadata: {
      name: "kubeflow-self-signing-issuer",
      labels: { "app.kubernetes.io/component": "cert-manager" },
    },
  },
  crd("networking.istio.io", "gateways", "Gateway"),
  obj("apps/v1", "Deployment", "istiod", "istio-system"),
  obj("networking.istio.io/v1", "Gateway", "kubeflow-gateway", "kubeflow"),
  obj("apps/v1", "Deployment", "centraldashboard", "kubeflow"),
  crd("kubeflow.org", "experiments", "Experiment"),
  obj("kubeflow.org/v1", "Profile", "someone"),
];

Deno.test("components are recognized from groups, namespaces and names; the platform's own objects belong to none", () => {
  assertEquals(
    OBJECTS.map((o) => componentOf(o) ?? "-"),
    [
      "knative",
      "knative",
      "kserve",
      "kserve",
      "kserve",
      "cert-manager",
      "cert-manager",
      "-",
      "-",
      "istio",
      "istio",
      "-",
      "-",
      "katib",
      "-",
    ],
  );
  assertEquals(findComponents(OBJECTS).map((c) => `${c.id}:${c.objects}`), [
    "knative:2",
    "kserve:3",
    "katib:1",
    "istio:2",
    "cert-manager:2",
  ]);
});

Deno.test("selectComponents leaves components out, refuses a needed one alone, and lists external CRDs the rest uses", () => {
  const both = selectComponents(OBJECTS, {
    exclude: ["knative", "kserve"],
    external: ["cert-manager"],
  });
  assertEquals(both.leftOut, { knative: 2, kserve: 3, "cert-manager": 2 });
  assertEquals(both.objects.length, OBJECTS.length - 7);
  assertEquals(
    [...both.externalCrds].map(([k, v]) => [k, [...v]]),
    [["certificates.cert-manager.io", ["cert-manager.io/v1"]]],
  );
  // Profiles share Katib's group and version but not its kind: Katib may leave.
  assertEquals(
    selectComponents(OBJECTS, { exclude: ["katib"], external: [] }).leftOut,
    { katib: 1 },
  );
  const alone = assertThrows(
    () => selectComponents(OBJECTS, { exclude: ["knative"], external: [] }),
    OptionsError,
  );
  assertMatch(
    alone.message,
    /knative cannot be left out alone: kserve needs it/,
  );
  const used = assertThrows(
    () =>
      selectComponents(OBJECTS, { exclude: ["cert-manager"], external: [] }),
    OptionsError,
  );
  assertMatch(
    used.message,
    /cert-manager cannot be left out alone: the platform needs it \(Certificate kubeflow\/webhook-cert use its API\)/,
  );
  const absent = assertThrows(
    () => selectComponents(OBJECTS, { exclude: ["spark"], external: [] }),
    OptionsError,
  );
  assertMatch(
    absent.message,
    /components\.exclude: spark is not in the rendered tree/,
  );
});
