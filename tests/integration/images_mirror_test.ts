/**
 * The image mirror end to end:
 * - the full example (`examples/kfplan.yaml` plus `images:`) planned with the real
 *   kustomize and helm: no planned object of any step names a registry other than
 *   the mirror (checked by a scan of its own, not the rewriter's), images named only
 *   in ConfigMaps are on the mirror too, what is left is listed with its reason, and
 *   the registry login appears nowhere in the JSON plan;
 * - on the real control plane: a step applied through the mirror creates the pull
 *   Secret and pods that use it.
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import { useCluster } from "../cluster/harness.ts";
import { testContext } from "./_played.ts";
import { parseConfig } from "../../lib/config/load.ts";
import { stepsFromConfig } from "../../plans/mod.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { serializePlanDocument } from "../../lib/engine/plan_document.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import { amdGpuStep } from "../../lib/steps/amd_gpu.ts";
import { stepImages, withImageMirror } from "../../lib/steps/image_mirror.ts";
import { base64, parseImageReference } from "../../lib/kube/images.ts";

const EXAMPLES = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../examples",
);
const MIRROR = "mirror.test:5000/kf";
const PASSWORD = `pw-${crypto.randomUUID()}`;
const AUTH = base64(`robot:${PASSWORD}`);
const DOCKER_CONFIG = JSON.stringify({
  auths: { "mirror.test:5000": { auth: AUTH } },
});

/** Registry hosts image references start with, in any text. */
const REGISTRY_TOKEN =
  /(?<![\w./:-])((?:docker\.io|gcr\.io|ghcr\.io|quay\.io|registry\.k8s\.io|k8s\.gcr\.io|nvcr\.io|public\.ecr\.aws|mcr\.microsoft\.com)\/[\w./@:-]+)/g;
/** References on the mirror, in any text. */
const ON_MIRROR = new RegExp(
  `${MIRROR.replace(/[.]/g, "\\.")}/([\\w./@:-]+)`,
  "g",
);
/** `image:` entries in embedded YAML or JSON. */
const IMAGE_ENTRY = /"?image"?\s*:\s*"?([^\s",{}]+)"?(?=[\s,}]|$)/g;

/** Every string under an `image` key of an object, with its path (the scan of its own). */
function imageFields(value: unknown, path: string, out: [string, string][]) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => imageFields(v, `${path}[${i}]`, out));
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "image" && typeof v === "string") out.push([`${path}.${k}`, v]);
      else imageFields(v, `${path}.${k}`, out);
    }
  }
}

Deno.test({
  name:
    "image mirror: the full example plans with every image on the mirror, the login nowhere in the plan",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using work = await tempDir("kfplan-images-");
    const text = await Deno.readTextFile(join(EXAMPLES, "kfplan.yaml"));
    const loaded = parseConfig(
      `${text}\nimages:\n  registry: ${MIRROR}\n  pullSecret: { env: KFPLAN_TEST_DOCKERCONFIG }\n`,
      join(EXAMPLES, "kfplan.yaml"),
    );
    const steps = stepsFromConfig(loaded, {
      env: { ...Deno.env.toObject(), KFPLAN_TEST_DOCKERCONFIG: DOCKER_CONFIG },
    });
    const { document, plans, scrubber } = await planSteps(steps, {
      offlineReason: "test: offline plan",
      workDir: work.path,
    });
    assertEquals(
      document.steps.filter((s) => s.error).map((s) => `${s.id}: ${s.error}`),
      [],
    );

    const offending: string[] = [];
    const leftWithReason: { step: string; value: string; reason: string }[] =
      [];
    const inContainers = new Set<string>();
    const inConfigMaps = new Set<string>();
    for (const step of document.steps) {
      const plan = plans.get(step.id)!;
      for (const w of plan.warnings) {
        const m = w.match(/^image mirror: (\S+) in .* not rewritten: (.+)$/);
        if (m) {
          leftWithReason.push({ step: step.id, value: m[1], reason: m[2] });
        }
      }
      for (const o of plan.desired ?? []) {
        if (o.kind === "CustomResourceDefinition" || o.kind === "Secret") {
          continue;
        }
        const where = `${step.id}: ${o.kind} ${
          o.metadata.namespace ?? ""
        }/${o.metadata.name}`;
        if (o.kind === "ConfigMap") {
          for (const [key, value] of Object.entries(o.data ?? {})) {
            // Knative's and KServe's `_example` keys are documentation their
            // controllers never read.
            if (key === "_example") continue;
            const data = String(value);
            for (const m of data.matchAll(ON_MIRROR)) inConfigMaps.add(m[1]);
            // The lookbehind skips tokens behind the mirror's prefix.
            for (const m of data.matchAll(REGISTRY_TOKEN)) {
              if (!leftWithReason.some((l) => l.value === m[1])) {
                offending.push(`${where} data.${key}: ${m[1]}`);
              }
            }
            const hubOnMirror = data.includes(`"hub": "${MIRROR}/`) ||
              data.includes(`hub: ${MIRROR}/`);
            for (const m of data.matchAll(IMAGE_ENTRY)) {
              const image = m[1];
              if (image.startsWith(`${MIRROR}/`) || image.includes("{{")) {
                continue;
              }
              if (!image.includes("/") && hubOnMirror) continue;
              if (!parseImageReference(image)) continue;
              if (!leftWithReason.some((l) => l.value === image)) {
                offending.push(`${where} data.${key} image: ${image}`);
              }
            }
          }
          continue;
        }
        const fields: [string, string][] = [];
        imageFields(o, "", fields);
        for (const [path, image] of fields) {
          if (image.startsWith(`${MIRROR}/`)) {
            if (o.kind !== "ClusterPolicy") {
              inContainers.add(image.slice(MIRROR.length + 1));
            }
            continue;
          }
          if (o.kind === "ClusterPolicy") {
            // Split references: the repository beside the image carries the mirror.
            continue;
          }
          offending.push(`${where} ${path}: ${image}`);
        }
        for (const m of JSON.stringify(o).matchAll(REGISTRY_TOKEN)) {
          offending.push(`${where} (any field): ${m[1]}`);
        }
      }
    }
    assertEquals(offending, [], "every image of every step is on the mirror");

    // The GPU operator's ClusterPolicy: every component's repository on the mirror.
    const policy = plans.get("gpu-operator")!.desired!.find((o) =>
      o.kind === "ClusterPolicy"
    )!;
    const repositories = Object.values(
      policy.spec as Record<string, { repository?: string }>,
    )
      .map((c) => c?.repository).filter((r): r is string =>
        typeof r === "string"
      );
    assert(repositories.length >= 10, `${repositories.length} repositories`);
    assertEquals(repositories.filter((r) => !r.startsWith(`${MIRROR}/`)), []);

    // Images only ConfigMaps name (notebook images, KServe runtimes, Katib's
    // suggestions) are on the mirror; what is left has its reason.
    const onlyInConfigMaps = [...inConfigMaps].filter((i) =>
      !inContainers.has(i)
    );
    assert(
      onlyInConfigMaps.some((i) => i.includes("notebook-servers/jupyter")),
      `notebook images: ${onlyInConfigMaps.join(", ")}`,
    );
    assert(onlyInConfigMaps.some((i) => i.includes("katib/suggestion-")));
    // Left: sync.py's defaults (the env vars that override them are on the
    // mirror), an init container of Istio's `grpc-simple` injection template, and
    // the GPU operator's vGPU manager, which names no repository until one is set.
    assertEquals(leftWithReason.map((l) => `${l.step} ${l.value}`).sort(), [
      "gpu-operator vgpu-manager",
      "kubeflow busybox:1.28",
      "kubeflow ghcr.io/kubeflow/kfp-frontend",
      "kubeflow ghcr.io/kubeflow/kfp-visualization-server",
    ]);
    for (const l of leftWithReason) {
      assert(
        l.reason.includes(
          l.step === "kubeflow"
            ? "neither JSON nor YAML"
            : "an image without its repository",
        ),
        l.reason,
      );
    }

    // The pull secret: one per namespace that runs pods, attached to the pod specs.
    const kubeflow = plans.get("kubeflow")!.desired!;
    const secretNamespaces = kubeflow.filter((o) =>
      o.kind === "Secret" && o.metadata.name === "kfplan-registry"
    ).map((o) => o.metadata.namespace);
    const podNamespaces = new Set(
      kubeflow.filter((o) =>
        ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"]
          .includes(o.kind)
      ).map((o) => o.metadata.namespace),
    );
    assertEquals(new Set(secretNamespaces), podNamespaces);
    const ml = kubeflow.find((o) =>
      o.kind === "Deployment" && o.metadata.name === "ml-pipeline"
    ) as KubeObject & {
      spec: { template: { spec: { imagePullSecrets: unknown } } };
    };
    assertEquals(ml.spec.template.spec.imagePullSecrets, [{
      name: "kfplan-registry",
    }]);

    const json = serializePlanDocument(document);
    for (
      const secret of [PASSWORD, AUTH, DOCKER_CONFIG, base64(DOCKER_CONFIG)]
    ) {
      assert(
        !json.includes(secret),
        "the registry login is not in the JSON plan",
      );
      assertEquals(scrubber.scrub(`x${secret}x`), "x(sensitive)x");
    }
    assert(json.includes("kfplan-registry"), "the Secret itself is planned");
  },
});

Deno.test({
  name:
    "image mirror: applied on the control plane, pods pull through the Secret kfplan made",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using work = await tempDir("kfplan-images-apply-");
    const cluster = await useCluster();
    const kube = cluster.kube;
    const ns = await cluster.namespace("images-mirror");
    const images = stepImages(
      { registry: "localhost:5000", pullSecret: { env: "KFPLAN_TEST_LOGIN" } },
      { env: { KFPLAN_TEST_LOGIN: DOCKER_CONFIG } },
    );
    const step = withImageMirror(
      amdGpuStep({
        namespace: ns,
        image: "rocm/k8s-device-plugin:1.31.0.7",
        nodeSelector: { "kfplan.test/none": "none" },
      }),
      images,
    );
    const plan = await step.plan(testContext(work.path, kube));
    assertEquals(
      plan.changes.map((c) => `${c.action} ${c.kind}/${c.name}`).sort(),
      [
        "create DaemonSet/amdgpu-device-plugin-daemonset",
        "create Secret/kfplan-registry",
      ],
    );
    await step.apply(testContext(work.path, kube), plan);
    const ds = await kube.get({
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      namespace: ns,
      name: "amdgpu-device-plugin-daemonset",
    }) as KubeObject & {
      spec: {
        template: {
          spec: {
            containers: { image: string }[];
            imagePullSecrets: { name: string }[];
          };
        };
      };
    };
    assertEquals(
      ds.spec.template.spec.containers[0].image,
      "localhost:5000/docker.io/rocm/k8s-device-plugin:1.31.0.7",
    );
    assertEquals(ds.spec.template.spec.imagePullSecrets, [{
      name: "kfplan-registry",
    }]);
    const secret = await kube.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: ns,
      name: "kfplan-registry",
    });
    assertEquals(secret?.type, "kubernetes.io/dockerconfigjson");
    assertEquals(
      (secret?.data as Record<string, string>)[".dockerconfigjson"],
      base64(DOCKER_CONFIG),
    );
    const again = await step.plan(testContext(work.path, kube));
    assertEquals(again.changes.map((c) => c.action), ["no-op", "no-op"]);
  },
});
