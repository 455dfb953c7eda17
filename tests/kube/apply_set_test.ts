import { assertEquals, assertMatch, assertThrows } from "../_assert.ts";
import {
  appliedBy,
  ConflictError,
  conflictWarnings,
  crdDefinedKinds,
  describeConflicts,
  fieldConflictsOf,
  groupOf,
  immutableFieldsOf,
  orderObjects,
  phaseOf,
  planObjects,
  refuseBlockedConflicts,
  webhookBackends,
} from "../../lib/kube/apply_set.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import { KubeApiError } from "../../lib/kube/errors.ts";

function obj(
  apiVersion: string,
  kind: string,
  name: string,
  extra: Record<string, unknown> = {},
): KubeObject {
  return { apiVersion, kind, metadata: { name, namespace: "ns" }, ...extra };
}

const crd: KubeObject = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "notebooks.kubeflow.org" },
  spec: {
    group: "kubeflow.org",
    names: { kind: "Notebook", plural: "notebooks" },
    versions: [{ name: "v1", served: true }, {
      name: "v1alpha1",
      served: false,
    }],
    conversion: {
      strategy: "Webhook",
      webhook: {
        clientConfig: {
          service: { namespace: "kubeflow", name: "nb-webhook" },
        },
      },
    },
  },
};

Deno.test("phaseOf puts each kind in its phase", () => {
  const cases: [string, string, string][] = [
    ["v1", "Namespace", "namespaces-and-crds"],
    [
      "apiextensions.k8s.io/v1",
      "CustomResourceDefinition",
      "namespaces-and-crds",
    ],
    ["rbac.authorization.k8s.io/v1", "ClusterRole", "cluster-config"],
    ["v1", "ServiceAccount", "cluster-config"],
    ["v1", "Secret", "cluster-config"],
    ["v1", "Service", "cluster-config"],
    ["storage.k8s.io/v1", "StorageClass", "cluster-config"],
    ["apps/v1", "Deployment", "workloads"],
    ["batch/v1", "Job", "workloads"],
    [
      "admissionregistration.k8s.io/v1",
      "ValidatingWebhookConfiguration",
      "webhooks",
    ],
    ["apiregistration.k8s.io/v1", "APIService", "webhooks"],
    ["kubeflow.org/v1", "Profile", "custom-resources"],
    ["cert-manager.io/v1", "Issuer", "custom-resources"],
    ["networking.istio.io/v1", "Gateway", "custom-resources"],
  ];
  for (const [apiVersion, kind, phase] of cases) {
    assertEquals(phaseOf({ apiVersion, kind }), phase, `${apiVersion} ${kind}`);
  }
  assertEquals(groupOf("v1"), "");
  assertEquals(groupOf("apps/v1"), "apps");
});

Deno.test("orderObjects orders phases and kinds, stable within a kind", () => {
  const input = [
    obj("kubeflow.org/v1", "Notebook", "nb"),
    obj(
      "admissionregistration.k8s.io/v1",
      "MutatingWebhookConfiguration",
      "mw",
    ),
    obj("apps/v1", "Deployment", "d2"),
    obj("rbac.authorization.k8s.io/v1", "RoleBinding", "rb"),
    obj("v1", "Service", "svc"),
    obj("apps/v1", "Deployment", "d1"),
    obj("v1", "ServiceAccount", "sa"),
    crd,
    obj("v1", "Namespace", "ns"),
    obj("v1", "ConfigMap", "cm"),
    obj("example.com/v1", "Widget", "w"),
  ];
  const phases = orderObjects(input);
  assertEquals(
    phases.map((p) => [p.name, p.objects.map((o) => o.metadata.name)]),
    [
      ["namespaces-and-crds", ["ns", "notebooks.kubeflow.org"]],
      ["cluster-config", ["sa", "cm", "rb", "svc"]],
      ["workloads", ["d2", "d1"]],
      ["webhooks", ["mw"]],
      ["custom-resources", ["nb", "w"]],
    ],
  );
  assertEquals(orderObjects([]).map((p) => p.objects.length), [0, 0, 0, 0, 0]);
});

Deno.test("crdDefinedKinds lists served versions only", () => {
  assertEquals([...crdDefinedKinds([crd, obj("v1", "ConfigMap", "x")])], [[
    "kubeflow.org/v1/Notebook",
    "notebooks.kubeflow.org",
  ]]);
});

Deno.test("webhookBackends collects webhook, APIService and conversion services once", () => {
  const vwc = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: "v" },
    webhooks: [
      {
        clientConfig: {
          service: { namespace: "kubeflow", name: "nb-webhook" },
        },
      },
      { clientConfig: { url: "https://example.com" } },
      {
        clientConfig: {
          service: { namespace: "cert-manager", name: "cm-webhook" },
        },
      },
    ],
  };
  const apiService = {
    apiVersion: "apiregistration.k8s.io/v1",
    kind: "APIService",
    metadata: { name: "v1beta1.metrics.k8s.io" },
    spec: { service: { namespace: "kube-system", name: "metrics-server" } },
  };
  assertEquals(webhookBackends([vwc, apiService, crd]), [
    { namespace: "kubeflow", name: "nb-webhook" },
    { namespace: "cert-manager", name: "cm-webhook" },
    { namespace: "kube-system", name: "metrics-server" },
  ]);
});

Deno.test("planObjects offline plans every object as a create, in apply order", async () => {
  const plan = await planObjects(undefined, [
    obj("kubeflow.org/v1", "Notebook", "nb"),
    crd,
    obj("v1", "ConfigMap", "cm"),
  ], {});
  assertEquals(plan.changes, [
    {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      name: "notebooks.kubeflow.org",
      action: "create",
      diff: [],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: "ns",
      name: "cm",
      action: "create",
      diff: [],
    },
    {
      apiVersion: "kubeflow.org/v1",
      kind: "Notebook",
      namespace: "ns",
      name: "nb",
      action: "create",
      diff: [],
    },
  ]);
  assertEquals(plan.observed, []);
  assertMatch(JSON.stringify(plan), /^\{"changes"/);
});

Deno.test("immutableFieldsOf reads the fields of a 422 'field is immutable', nothing else", () => {
  const selector = new KubeApiError(422, "invalid", {
    operation: "apply",
    apiStatus: {
      message:
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: ...: field is immutable',
      details: {
        causes: [{
          reason: "FieldValueInvalid",
          message: "Invalid value: ...: field is immutable",
          field: "spec.selector",
        }],
      },
    },
  });
  assertEquals(immutableFieldsOf(selector), ["spec.selector"]);
  const other = new KubeApiError(422, "invalid", {
    operation: "apply",
    apiStatus: { message: "spec.replicas: must be greater than or equal to 0" },
  });
  assertEquals(immutableFieldsOf(other), undefined);
  assertEquals(immutableFieldsOf(new Error("field is immutable")), undefined);
});

Deno.test("fieldConflictsOf groups a 409's fields by manager", () => {
  const conflict = new KubeApiError(409, "conflict", {
    operation: "apply",
    apiStatus: {
      reason: "Conflict",
      message: "Apply failed with 2 conflicts",
      details: {
        causes: [
          {
            reason: "FieldManagerConflict",
            message: 'conflict with "kubectl" using apps/v1',
            field: ".spec.replicas",
          },
          {
            reason: "FieldManagerConflict",
            message: 'conflict with "helm" using apps/v1',
            field: ".metadata.labels.tier",
          },
        ],
      },
    },
  });
  const conflicts = fieldConflictsOf(conflict)!;
  assertEquals(conflicts, [
    { manager: "kubectl", fields: ["spec.replicas"] },
    { manager: "helm", fields: ["metadata.labels.tier"] },
  ]);
  assertEquals(
    describeConflicts(conflicts),
    'spec.replicas (field manager "kubectl"); metadata.labels.tier (field manager "helm")',
  );
  assertEquals(
    fieldConflictsOf(
      new KubeApiError(409, "exists", {
        operation: "create",
        apiStatus: { reason: "AlreadyExists" },
      }),
    ),
    undefined,
  );
});

Deno.test("appliedBy needs an Apply entry of the manager; blocked conflicts refuse apply and warn", () => {
  const live = obj("v1", "ConfigMap", "cm", {});
  live.metadata.managedFields = [
    { manager: "kfplan", operation: "Update" },
    { manager: "helm", operation: "Apply" },
  ];
  assertEquals(appliedBy(live, "kfplan"), false);
  assertEquals(appliedBy(live, "helm"), true);
  assertEquals(appliedBy(undefined, "kfplan"), false);

  const blocked = {
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: "ns",
    name: "cm",
    action: "update" as const,
    diff: [],
    conflicts: [{ manager: "helm", fields: ["data.mode"] }],
    blocked: true,
  };
  refuseBlockedConflicts([{ ...blocked, blocked: false }]);
  assertEquals(conflictWarnings([{ ...blocked, blocked: false }]), []);
  const e = assertThrows(
    () => refuseBlockedConflicts([blocked]),
    ConflictError,
  );
  assertMatch(
    e.message,
    /ConfigMap ns\/cm.*data\.mode.*"helm".*--force-conflicts/,
  );
  assertMatch(conflictWarnings([blocked])[0], /--force-conflicts/);
});
