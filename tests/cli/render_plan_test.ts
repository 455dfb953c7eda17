import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
} from "../_assert.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import {
  renderPlan,
  summaryLine,
  useColor,
} from "../../lib/cli/render_plan.ts";
import type { ResourceChange } from "../../lib/engine/types.ts";
import { testStep } from "../engine/_steps.ts";

const changes: ResourceChange[] = [
  {
    apiVersion: "v1",
    kind: "Namespace",
    name: "kubeflow",
    action: "create",
    diff: [],
  },
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    namespace: "kubeflow",
    name: "web",
    action: "update",
    diff: [{ path: "spec.replicas", before: 1, after: 3 }],
  },
  {
    apiVersion: "v1",
    kind: "Service",
    namespace: "istio-system",
    name: "gw",
    action: "replace",
    reason: "spec.clusterIP is immutable",
    diff: [{ path: "spec.clusterIP", before: "10.0.0.1", after: "None" }],
  },
  {
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: "kubeflow",
    name: "old",
    action: "delete",
    diff: [],
  },
  {
    apiVersion: "v1",
    kind: "Secret",
    namespace: "auth",
    name: "dex",
    action: "update",
    diff: [{
      path: "data.password",
      before: "b2xkLXNlY3JldA==",
      after: "bmV3LXNlY3JldA==",
    }],
  },
  {
    apiVersion: "kubeflow.org/v1",
    kind: "Profile",
    name: "alice",
    action: "create",
    diff: [],
    knownAfterApply: true,
  },
];

Deno.test("renderPlan reads like Terraform", async () => {
  const { document } = await planSteps([
    testStep("app", {
      plan: {
        changes,
        findings: [{
          check: "inotify.max_user_watches",
          severity: "warning",
          target: "node-1",
          seen: "8192",
          fix: "sysctl -w fs.inotify.max_user_watches=1048576",
        }],
        warnings: ["this restarts the ingress gateway"],
        unknowns: ["LoadBalancer address of istio-ingressgateway"],
      },
    }),
  ], { offlineReason: "no kubeconfig" });
  const text = renderPlan(document);
  assertMatch(text, /Planned OFFLINE \(no kubeconfig\)/);
  assertMatch(text, /\+ v1 Namespace kubeflow/);
  assertMatch(
    text,
    /~ apps\/v1 Deployment kubeflow\/web\n\s+~ spec\.replicas: 1 -> 3/,
  );
  assertMatch(
    text,
    /-\/\+ v1 Service istio-system\/gw\n\s+# spec\.clusterIP is immutable/,
  );
  assertMatch(text, /- v1 ConfigMap kubeflow\/old/);
  assertMatch(
    text,
    /~ data\.password: \(sensitive, hmac:[0-9a-f]{8}\) -> \(sensitive, hmac:[0-9a-f]{8}\)/,
  );
  assertNotMatch(text, /bmV3|b2xk/);
  assertMatch(text, /Profile alice \(known after apply\)/);
  assertMatch(
    text,
    /\[warning\] inotify\.max_user_watches \(node-1\): 8192\n\s+fix: sysctl/,
  );
  assertMatch(text, /Warning: this restarts the ingress gateway/);
  assertMatch(text, /\(known after apply\) LoadBalancer address/);
  assertMatch(
    text,
    /Plan: 2 to create, 2 to update, 1 to replace, 1 to delete\./,
  );
  assert(!text.includes("\x1b["), "no colours unless asked");
  assert(renderPlan(document, { color: true }).includes("\x1b[32m"));
});

Deno.test("no changes says so", async () => {
  const { document } = await planSteps([testStep("a")], { offlineReason: "x" });
  assertEquals(
    summaryLine(document),
    "No changes. The cluster matches the configuration.",
  );
});

Deno.test("large create lists are grouped by kind, one name each, no bodies", async () => {
  const many: ResourceChange[] = Array.from({ length: 60 }, (_, i) => ({
    apiVersion: i % 2 ? "v1" : "apps/v1",
    kind: i % 2 ? "ConfigMap" : "Deployment",
    namespace: "kubeflow",
    name: `obj-${i}`,
    action: "create",
    diff: [],
  }));
  const { document } = await planSteps([
    testStep("kf", { plan: { changes: many } }),
  ]);
  const text = renderPlan(document);
  assertMatch(text, /60 objects to create, by kind:/);
  assertMatch(
    text,
    /\+ apps\/v1 Deployment \(30\): kubeflow\/obj-0, kubeflow\/obj-2/,
  );
  assert(text.split("\n").length < 40, "grouped output stays short");
  assert(text.includes("kubeflow/obj-59"));
});

Deno.test("useColor honours the terminal and NO_COLOR", () => {
  const env = (v?: string) => ({
    get: (k: string) => (k === "NO_COLOR" ? v : undefined),
  });
  assertEquals(useColor(true, env()), true);
  assertEquals(useColor(false, env()), false);
  assertEquals(useColor(true, env("1")), false);
});

Deno.test("kept objects are listed per step with their reason and counted in the summary", async () => {
  const { document } = await planSteps([
    testStep("users", {
      plan: {
        changes: [{
          apiVersion: "kubeflow.org/v1alpha1",
          kind: "PodDefault",
          namespace: "bob",
          name: "access-ml-pipeline",
          action: "delete",
          diff: [],
          reason: "not rendered by this configuration",
        }],
        kept: [{
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          namespace: "bob",
          name: "workspace",
          reason:
            "holds data (PersistentVolumeClaim); --allow-data-loss deletes it",
        }],
      },
    }),
  ], { offlineReason: "x" });
  const text = renderPlan(document);
  assertMatch(
    text,
    /- kubeflow\.org\/v1alpha1 PodDefault bob\/access-ml-pipeline\n\s+# not rendered by this configuration/,
  );
  assertMatch(
    text,
    /kept \(holds data\): v1 PersistentVolumeClaim bob\/workspace — holds data \(PersistentVolumeClaim\); --allow-data-loss deletes it/,
  );
  assertEquals(
    summaryLine(document),
    "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete, 1 kept.",
  );
  assertEquals(document.summary.kept, 1);
  assertEquals(document.steps[0].kept?.map((k) => k.name), ["workspace"]);

  const onlyKept = await planSteps([
    testStep("users", {
      plan: {
        kept: [{
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          namespace: "bob",
          name: "workspace",
          reason: "holds data",
        }],
      },
    }),
  ], { offlineReason: "x" });
  assertEquals(
    summaryLine(onlyKept.document),
    "No changes. The cluster matches the configuration. 1 object no longer rendered is kept (see above).",
  );
});

Deno.test("kept objects are labelled by the reason planPrune gave", async () => {
  // The reason texts as lib/kube/prune.ts words them.
  const kept = [
    [
      "ConfigMap",
      "marked",
      "carries helm.sh/resource-policy: keep; remove the marker to let kfplan delete it",
    ],
    [
      "Secret",
      "recreated",
      "changed owner: the live object has uid b, not the recorded a (it was re-created by someone else); delete it by hand if it is not needed",
    ],
    [
      "PersistentVolumeClaim",
      "workspace",
      "holds data (PersistentVolumeClaim); --allow-data-loss deletes it",
    ],
    ["Service", "odd", "kept for a reason render_plan does not know"],
  ] as const;
  const { document } = await planSteps([
    testStep("users", {
      plan: {
        kept: kept.map(([kind, name, reason]) => ({
          apiVersion: "v1",
          kind,
          namespace: "bob",
          name,
          reason,
        })),
      },
    }),
  ], { offlineReason: "x" });
  const text = renderPlan(document);
  assertMatch(
    text,
    /kept \(keep marker\): v1 ConfigMap bob\/marked — carries helm\.sh\/resource-policy: keep;/,
  );
  assertMatch(
    text,
    /kept \(changed owner\): v1 Secret bob\/recreated — changed owner: the live object has uid b/,
  );
  assertMatch(
    text,
    /kept \(holds data\): v1 PersistentVolumeClaim bob\/workspace — holds data/,
  );
  assertMatch(text, /kept: v1 Service bob\/odd — kept for a reason/);
  assertEquals(text.match(/kept \(holds data\)/g)?.length, 1);
  assertEquals(
    summaryLine(document),
    "No changes. The cluster matches the configuration. 4 objects no longer rendered are kept (see above).",
  );
});
