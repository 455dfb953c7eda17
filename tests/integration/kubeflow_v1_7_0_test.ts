/**
 * Kubeflow v1.7.0 (oidc-authservice, Istio 1.16) on Kubernetes 1.33: its one removed
 * API, an autoscaling/v2beta2 HorizontalPodAutoscaler, is refused at plan time before
 * any write; with `exclude` leaving that object out, it plans, applies and verifies
 * (a lighter scenario: see `kubeflow_light.ts`; KServe left out with
 * `components.exclude`, see below).
 */
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { kubeflowStep } from "../../lib/steps/kubeflow/step.ts";
import { useCluster } from "../cluster/harness.ts";
import { nonDefaultOptions, plantedEnv } from "../steps/kubeflow/_fixtures.ts";
import { WEBHOOK_EXCLUDES } from "./_kubeflow.ts";
import { lightScenario } from "./kubeflow_light.ts";

Deno.test({
  name:
    "kubeflow v1.7.0 on Kubernetes 1.33: the v2beta2 HPA is refused at plan time, naming the object",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { kube } = await useCluster();
    const step = kubeflowStep(nonDefaultOptions("v1.7.0"), {
      source: "kfplan.yaml",
      prefix: ["kubeflow"],
      env: plantedEnv(),
    });
    const { document } = await planSteps([step], { kube });
    const entry = document.steps[0];
    assertEquals(entry.action, "error");
    const removed = (entry.error ?? "").split("\n").filter((l) =>
      /was removed in Kubernetes/.test(l)
    );
    assertEquals(removed.length, 1, entry.error);
    assertMatch(
      removed[0],
      /autoscaling\/v2beta2 HorizontalPodAutoscaler \S+: autoscaling\/v2beta2 was removed in Kubernetes 1\.26/,
    );
    assertEquals(entry.changes, []);
  },
});

Deno.test({
  name:
    "kubeflow v1.7.0 with the HPA excluded: recognized as oidc-authservice, plan, one-pass apply, verify, clean re-plan",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const input = {
      ...nonDefaultOptions("v1.7.0"),
      exclude: [
        ...WEBHOOK_EXCLUDES,
        {
          kind: "HorizontalPodAutoscaler",
          namespace: "knative-serving",
          name: "webhook",
          reason: "autoscaling/v2beta2 is not served since Kubernetes 1.26",
        },
      ],
      // KServe's InferenceService CRD has a conversion webhook whose caBundle
      // cert-manager's cainjector fills in; nothing does on this test cluster, so
      // the CRD would never be Established. KServe is left out as a component.
      components: { exclude: ["kserve" as const], external: [] },
      timeoutSeconds: 600,
    };
    await lightScenario("v1.7.0", input, {
      env: plantedEnv(),
      check: async (kube, { plan, outputs }) => {
        assertEquals(plan.facts?.auth, "oidc-authservice");
        assertEquals(
          (plan.facts?.componentsLeftOut as Record<string, number>).kserve > 0,
          true,
        );
        assert(
          plan.warnings.some((w) =>
            w.startsWith("excluded 1 object(s) (autoscaling/v2beta2")
          ),
          plan.warnings.join("\n"),
        );
        assertEquals(outputs.version, "v1.7.0");
        const params = await kube.get({
          apiVersion: "v1",
          kind: "ConfigMap",
          namespace: "istio-system",
          name: "oidc-authservice-parameters",
        });
        const data = params?.data as Record<string, string>;
        assertEquals(
          data.OIDC_PROVIDER,
          "http://dex.auth.svc.cluster.local:5556/dex",
        );
        // v1.7's authservice has no REDIRECT_URL: none is added.
        assertEquals(data.REDIRECT_URL, undefined);
      },
    });
  },
});
