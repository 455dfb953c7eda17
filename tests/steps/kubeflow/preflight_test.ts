import { assertEquals, assertMatch } from "../../_assert.ts";
import type { KubeObject } from "../../../lib/kube/types.ts";
import {
  crdServedVersions,
  needsStorage,
  PreflightError,
  uncreatedNamespaces,
  unservedApiFindings,
} from "../../../lib/steps/kubeflow/preflight.ts";

function obj(
  apiVersion: string,
  kind: string,
  name: string,
  namespace?: string,
  extra = {},
): KubeObject {
  return {
    apiVersion,
    kind,
    metadata: { name, ...(namespace ? { namespace } : {}) },
    ...extra,
  };
}

const SERVED = new Set([
  "v1",
  "apps/v1",
  "policy/v1",
  "autoscaling/v2",
  "apiextensions.k8s.io/v1",
]);

Deno.test("unservedApiFindings lists each object on a removed API with the release that removed it", () => {
  const objects = [
    obj("policy/v1beta1", "PodDisruptionBudget", "pdb", "kubeflow"),
    obj(
      "autoscaling/v2beta2",
      "HorizontalPodAutoscaler",
      "hpa",
      "knative-serving",
    ),
    obj(
      "apiextensions.k8s.io/v1beta1",
      "CustomResourceDefinition",
      "old.example.com",
    ),
    obj("apps/v1", "Deployment", "fine", "kubeflow"),
    obj(
      "apiextensions.k8s.io/v1",
      "CustomResourceDefinition",
      "things.example.com",
      undefined,
      {
        spec: {
          group: "example.com",
          versions: [{ name: "v1", served: true }],
        },
      },
    ),
    obj("example.com/v1", "Thing", "t", "kubeflow"),
    obj("cert-manager.io/v1alpha2", "Issuer", "old-issuer", "kubeflow"),
  ];
  const findings = unservedApiFindings(objects, {
    served: SERVED,
    serverVersion: "v1.33.13",
  });
  assertEquals(findings.map((f) => f.target), [
    "policy/v1beta1 PodDisruptionBudget kubeflow/pdb",
    "autoscaling/v2beta2 HorizontalPodAutoscaler knative-serving/hpa",
    "apiextensions.k8s.io/v1beta1 CustomResourceDefinition old.example.com",
    "cert-manager.io/v1alpha2 Issuer kubeflow/old-issuer",
  ]);
  assertMatch(findings[0].seen, /removed in Kubernetes 1\.25/);
  assertMatch(findings[1].seen, /removed in Kubernetes 1\.26/);
  assertMatch(findings[2].seen, /removed in Kubernetes 1\.22/);
  assertMatch(findings[3].seen, /served neither by the server .* nor by a CRD/);
  assertEquals(findings.every((f) => f.severity === "error"), true);
  const err = new PreflightError(findings, "v1.6.1");
  assertMatch(
    err.message,
    /kubeflow v1\.6\.1: 4 preflight error\(s\), nothing was written/,
  );
  assertEquals(crdServedVersions(objects).has("example.com/v1"), true);
});

Deno.test("uncreatedNamespaces ignores system namespaces and created ones", () => {
  const missing = uncreatedNamespaces([
    obj("v1", "Namespace", "kubeflow"),
    obj("v1", "ConfigMap", "a", "kubeflow"),
    obj("v1", "ConfigMap", "b", "kube-system"),
    obj("v1", "ConfigMap", "c", "elsewhere"),
  ]);
  assertEquals([...missing], [["elsewhere", ["ConfigMap c"]]]);
  assertEquals(
    needsStorage([obj("v1", "PersistentVolumeClaim", "p", "kubeflow")]),
    true,
  );
  assertEquals(
    needsStorage([obj("apps/v1", "Deployment", "d", "kubeflow")]),
    false,
  );
});
