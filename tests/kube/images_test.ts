/**
 * The image parser and rewriter on real image strings of the shared releases and
 * charts (gathered from their renders with `rewriteImages` and kept here as
 * representative samples), and on objects shaped as those releases ship them.
 */

import { assert, assertEquals } from "../_assert.ts";
import {
  attachPullSecret,
  findImages,
  formatImageReference,
  type ImageMirror,
  looksLikeImage,
  mirrorImage,
  mirrorRegistryProblem,
  mirrorRepository,
  parseImageReference,
  pullSecretObject,
  rewriteDocument,
  rewriteImages,
} from "../../lib/kube/images.ts";
import type { KubeObject } from "../../lib/kube/types.ts";

const MIRROR: ImageMirror = { registry: "mirror.local:5000" };
const DIGEST = "sha256:" + "0e47362d044f8eac84595ed0a9fdf22e" +
  "5dd5a07cc7a5df74e93eb5ad17ad4827";

/** Source as the renders write it -> fully qualified form. */
const REAL_IMAGES: [string, string][] = [
  ["mysql:8.0.29", "docker.io/library/mysql:8.0.29"],
  ["python:3.7", "docker.io/library/python:3.7"],
  ["kserve/agent:v0.15.0", "docker.io/kserve/agent:v0.15.0"],
  ["kserve/art-explainer", "docker.io/kserve/art-explainer"],
  [
    "kserve/huggingfaceserver:v0.15.0-gpu",
    "docker.io/kserve/huggingfaceserver:v0.15.0-gpu",
  ],
  ["tensorflow/serving:2.6.2", "docker.io/tensorflow/serving:2.6.2"],
  [
    "filebrowser/filebrowser:v2.25.0",
    "docker.io/filebrowser/filebrowser:v2.25.0",
  ],
  ["docker.io/seldonio/mlserver:1.5.0", "docker.io/seldonio/mlserver:1.5.0"],
  ["docker.io/istio/proxyv2:1.11.4", "docker.io/istio/proxyv2:1.11.4"],
  [
    "docker.io/kubeflowkatib/suggestion-hyperopt:v0.13.0",
    "docker.io/kubeflowkatib/suggestion-hyperopt:v0.13.0",
  ],
  [
    "docker.io/rocm/k8s-device-plugin:latest",
    "docker.io/rocm/k8s-device-plugin:latest",
  ],
  [
    "gcr.io/ml-pipeline/api-server:1.8.1",
    "gcr.io/ml-pipeline/api-server:1.8.1",
  ],
  [
    "gcr.io/ml-pipeline/minio:RELEASE.2019-08-14T20-37-41Z-license-compliance",
    "gcr.io/ml-pipeline/minio:RELEASE.2019-08-14T20-37-41Z-license-compliance",
  ],
  [
    "gcr.io/ml-pipeline/argoexec:v3.2.3-license-compliance",
    "gcr.io/ml-pipeline/argoexec:v3.2.3-license-compliance",
  ],
  [
    "gcr.io/tfx-oss-public/ml_metadata_store_server:1.14.0",
    "gcr.io/tfx-oss-public/ml_metadata_store_server:1.14.0",
  ],
  [
    "gcr.io/arrikto/kubeflow/oidc-authservice:28c59ef",
    "gcr.io/arrikto/kubeflow/oidc-authservice:28c59ef",
  ],
  ["gcr.io/google-containers/busybox", "gcr.io/google-containers/busybox"],
  ["gcr.io/istio-release/pilot:1.26.1", "gcr.io/istio-release/pilot:1.26.1"],
  [
    `gcr.io/knative-releases/knative.dev/serving/cmd/controller@${DIGEST}`,
    `gcr.io/knative-releases/knative.dev/serving/cmd/controller@${DIGEST}`,
  ],
  [
    "ghcr.io/kubeflow/kfp-api-server:2.5.0",
    "ghcr.io/kubeflow/kfp-api-server:2.5.0",
  ],
  [
    "ghcr.io/kubeflow/kfp-visualization-server",
    "ghcr.io/kubeflow/kfp-visualization-server",
  ],
  [
    "ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-pytorch-cuda-full:v1.10.0",
    "ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-pytorch-cuda-full:v1.10.0",
  ],
  [
    "ghcr.io/kubeflow/training-v1/training-operator:v1-3f15cb8",
    "ghcr.io/kubeflow/training-v1/training-operator:v1-3f15cb8",
  ],
  [
    "public.ecr.aws/j1r0q0g6/training/training-operator:174e8813666951ded505daf334a37f60fd50c18d",
    "public.ecr.aws/j1r0q0g6/training/training-operator:174e8813666951ded505daf334a37f60fd50c18d",
  ],
  [
    "public.ecr.aws/docker/library/python:3.12",
    "public.ecr.aws/docker/library/python:3.12",
  ],
  ["quay.io/argoproj/argoexec:v3.5.14", "quay.io/argoproj/argoexec:v3.5.14"],
  [
    "quay.io/jetstack/cert-manager-acmesolver:v1.16.1",
    "quay.io/jetstack/cert-manager-acmesolver:v1.16.1",
  ],
  ["registry.k8s.io/busybox", "registry.k8s.io/busybox"],
  [
    "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2",
    "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2",
  ],
  [
    "nvcr.io/nvidia/tritonserver:23.05-py3",
    "nvcr.io/nvidia/tritonserver:23.05-py3",
  ],
  [
    "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless",
    "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless",
  ],
  [
    "mcr.microsoft.com/onnxruntime/server",
    "mcr.microsoft.com/onnxruntime/server",
  ],
  ["quay.io/metallb/controller:v0.15.3", "quay.io/metallb/controller:v0.15.3"],
  ["localhost:5000/x", "localhost:5000/x"],
  ["localhost/team/app:1", "localhost/team/app:1"],
  ["index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36"],
  ["busybox", "docker.io/library/busybox"],
  [`busybox:1.36@${DIGEST}`, `docker.io/library/busybox:1.36@${DIGEST}`],
  ["10.0.0.5:5000/ns/app:v2", "10.0.0.5:5000/ns/app:v2"],
];

Deno.test("parseImageReference: real images normalise to their full form", () => {
  for (const [source, full] of REAL_IMAGES) {
    const ref = parseImageReference(source);
    assert(ref, `${source} parses`);
    assertEquals(formatImageReference(ref), full, source);
  }
});

Deno.test("parseImageReference: parts of a reference with a port and a digest", () => {
  assertEquals(parseImageReference(`localhost:5000/x:1@${DIGEST}`), {
    registry: "localhost:5000",
    path: "x",
    tag: "1",
    digest: DIGEST,
  });
  assertEquals(parseImageReference("busybox"), {
    registry: "docker.io",
    path: "library/busybox",
  });
  assertEquals(
    parseImageReference("rocm/k8s-device-plugin")?.path,
    "rocm/k8s-device-plugin",
  );
});

Deno.test("parseImageReference: what is not an image", () => {
  for (
    const text of [
      "",
      "IfNotPresent",
      "Always",
      "has space:1",
      "http://minio-service.kubeflow:9000",
      "UPPER/case:1",
      "a:b:c",
      "x@sha256:short",
      "{{ .Values.image }}",
    ]
  ) {
    assertEquals(parseImageReference(text), undefined, text);
  }
});

Deno.test("mirrorImage: keeps paths, tags and digests; both layouts; idempotent", () => {
  for (const [source, full] of REAL_IMAGES) {
    const mirrored = mirrorImage(source, MIRROR)!;
    assertEquals(mirrored, `mirror.local:5000/${full}`, source);
    assertEquals(mirrorImage(mirrored, MIRROR), mirrored, `${source} again`);
  }
  const path = {
    registry: "harbor.example.com/proxy",
    layout: "path" as const,
  };
  assertEquals(
    mirrorImage("docker.io/library/busybox:1.36", path),
    "harbor.example.com/proxy/library/busybox:1.36",
  );
  assertEquals(
    mirrorImage("gcr.io/ml-pipeline/api-server:2.0.0", path),
    "harbor.example.com/proxy/ml-pipeline/api-server:2.0.0",
  );
  assertEquals(
    mirrorImage(`busybox@${DIGEST}`, path),
    `harbor.example.com/proxy/library/busybox@${DIGEST}`,
  );
  assertEquals(mirrorImage("not an image", MIRROR), undefined);
});

Deno.test("mirrorRepository: repository prefixes (Istio hub, chart repositories)", () => {
  assertEquals(
    mirrorRepository("gcr.io/istio-release", MIRROR),
    "mirror.local:5000/gcr.io/istio-release",
  );
  assertEquals(
    mirrorRepository("rocm", MIRROR),
    "mirror.local:5000/docker.io/rocm",
  );
  assertEquals(
    mirrorRepository("mirror.local:5000/gcr.io/istio-release", MIRROR),
    "mirror.local:5000/gcr.io/istio-release",
  );
});

Deno.test("mirrorRegistryProblem: valid mirrors and clear errors", () => {
  for (
    const ok of [
      "localhost:5000",
      "registry.example.com/mirror",
      "10.0.0.5:5000",
    ]
  ) {
    assertEquals(mirrorRegistryProblem(ok), undefined, ok);
  }
  assert(
    mirrorRegistryProblem("https://registry.example.com")!.includes(
      "without a scheme",
    ),
  );
  assert(
    mirrorRegistryProblem("registry.example.com/Mirror/")!.includes(
      "not a repository path prefix",
    ),
  );
});

Deno.test("looksLikeImage: only unmistakable images outside image fields", () => {
  assert(looksLikeImage("ghcr.io/kubeflow/kfp-frontend"));
  assert(looksLikeImage("quay.io/argoproj/argoexec:v3.5.14"));
  for (
    const text of [
      "serving.kserve.io/v1beta1",
      "sidecar.istio.io/inject",
      "kubeflow/kubeflow",
      "minio-service.kubeflow:9000",
      "ml-pipeline.kubeflow.svc.cluster.local:8888/apis",
      "https://gcr.io/ml-pipeline/api-server:1",
      "busybox:1.36",
    ]
  ) {
    assertEquals(looksLikeImage(text), false, text);
  }
});

function deployment(spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "ml-pipeline", namespace: "kubeflow" },
    spec: { template: { spec } },
  };
}

Deno.test("rewriteImages: containers, init and ephemeral containers, env and flags", () => {
  const input = deployment({
    initContainers: [{ name: "init", image: "busybox:1.36" }],
    containers: [{
      name: "api",
      image: "ghcr.io/kubeflow/kfp-api-server:2.5.0",
      imagePullPolicy: "IfNotPresent",
      args: [
        "--executor-image=quay.io/argoproj/argoexec:v3.5.14",
        "--solver-image",
        "quay.io/jetstack/cert-manager-acmesolver:v1.16.1",
        "--port=8888",
      ],
      env: [
        { name: "V2_DRIVER_IMAGE", value: "ghcr.io/kubeflow/kfp-driver:2.5.0" },
        { name: "FRONTEND_IMAGE", value: "ghcr.io/kubeflow/kfp-frontend" },
        { name: "FRONTEND_TAG", value: "2.5.0" },
        { name: "MINIO_HOST", value: "minio-service.kubeflow" },
      ],
    }],
    ephemeralContainers: [{
      name: "debug",
      image: "docker.io/library/alpine:3",
    }],
  });
  const before = JSON.stringify(input);
  const { objects, images, notRewritable } = rewriteImages([input], MIRROR);
  assertEquals(JSON.stringify(input), before, "input untouched");
  const spec =
    (objects[0].spec as { template: { spec: Record<string, unknown> } })
      .template.spec as {
        initContainers: { image: string }[];
        containers: {
          image: string;
          imagePullPolicy: string;
          args: string[];
          env: { value: string }[];
        }[];
        ephemeralContainers: { image: string }[];
      };
  assertEquals(
    spec.initContainers[0].image,
    "mirror.local:5000/docker.io/library/busybox:1.36",
  );
  assertEquals(
    spec.containers[0].image,
    "mirror.local:5000/ghcr.io/kubeflow/kfp-api-server:2.5.0",
  );
  assertEquals(spec.containers[0].imagePullPolicy, "IfNotPresent");
  assertEquals(spec.containers[0].args, [
    "--executor-image=mirror.local:5000/quay.io/argoproj/argoexec:v3.5.14",
    "--solver-image",
    "mirror.local:5000/quay.io/jetstack/cert-manager-acmesolver:v1.16.1",
    "--port=8888",
  ]);
  assertEquals(spec.containers[0].env.map((e) => e.value), [
    "mirror.local:5000/ghcr.io/kubeflow/kfp-driver:2.5.0",
    "mirror.local:5000/ghcr.io/kubeflow/kfp-frontend",
    "2.5.0",
    "minio-service.kubeflow",
  ]);
  assertEquals(
    spec.ephemeralContainers[0].image,
    "mirror.local:5000/docker.io/library/alpine:3",
  );
  assertEquals(images.length, 7);
  assertEquals(notRewritable, []);
  const again = rewriteImages(objects, MIRROR);
  assertEquals(again.objects, objects, "idempotent");
});

Deno.test("rewriteImages: CronJob, custom resources with containers, singular container", () => {
  const cron: KubeObject = {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: "c", namespace: "n" },
    spec: {
      jobTemplate: {
        spec: {
          template: {
            spec: {
              containers: [{ name: "c", image: "registry.k8s.io/busybox" }],
            },
          },
        },
      },
    },
  };
  const runtime: KubeObject = {
    apiVersion: "serving.kserve.io/v1alpha1",
    kind: "ClusterServingRuntime",
    metadata: { name: "kserve-sklearnserver" },
    spec: {
      containers: [{
        name: "kserve-container",
        image: "kserve/sklearnserver:v0.15.0",
      }],
      workerSpec: {
        containers: [{
          name: "w",
          image: "kserve/huggingfaceserver:v0.15.0-gpu",
        }],
      },
    },
  };
  const storage: KubeObject = {
    apiVersion: "serving.kserve.io/v1alpha1",
    kind: "ClusterStorageContainer",
    metadata: { name: "default" },
    spec: {
      container: {
        name: "storage-initializer",
        image: "kserve/storage-initializer:v0.15.0",
      },
    },
  };
  const crd: KubeObject = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "x" },
    spec: { versions: [{ schema: { image: "busybox" } }] },
  };
  const { objects, images } = rewriteImages(
    [cron, runtime, storage, crd],
    MIRROR,
  );
  assertEquals(images.map((i) => i.mirror), [
    "mirror.local:5000/registry.k8s.io/busybox",
    "mirror.local:5000/docker.io/kserve/sklearnserver:v0.15.0",
    "mirror.local:5000/docker.io/kserve/huggingfaceserver:v0.15.0-gpu",
    "mirror.local:5000/docker.io/kserve/storage-initializer:v0.15.0",
  ]);
  assertEquals(
    images[0].where,
    "CronJob n/c spec.jobTemplate.spec.template.spec.containers[0].image",
  );
  assertEquals(objects[3], crd, "CRD schemas are not images");
});

function configMap(name: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "kubeflow" },
    data,
  };
}

Deno.test("rewriteImages: images named only in ConfigMaps, rewritten in their text", () => {
  const spawner = `# notebook images
spawnerFormDefaults:
  image:
    # the default
    value: ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-scipy:v1.10.0
    options:
    - ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-scipy:v1.10.0
    - ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-pytorch-full:v1.10.0
    readOnly: false
  imageGroupOne:
    value: ghcr.io/kubeflow/kubeflow/notebook-servers/codeserver-python:v1.10.0
    options: [ghcr.io/kubeflow/kubeflow/notebook-servers/codeserver-python:v1.10.0]
  imagePullPolicy:
    value: IfNotPresent
`;
  const kserve = `{
    "storageInitializer": {"image": "kserve/storage-initializer:v0.15.0", "memoryRequest": "100Mi"},
    "explainers": {"art": {"image": "kserve/art-explainer", "defaultImageVersion": "latest"}},
    "ingress": {"localGateway": "knative-serving/knative-local-gateway"}
  }`;
  const katib = `runtime:
  suggestions:
  - algorithmName: random
    image: ghcr.io/kubeflow/katib/suggestion-hyperopt:v0.18.0
  metricsCollectors:
  - kind: StdOut
    image: ghcr.io/kubeflow/katib/file-metrics-collector:v0.18.0
`;
  const istio = JSON.stringify({
    global: {
      hub: "gcr.io/istio-release",
      tag: "1.26.1",
      proxy: { image: "proxyv2" },
    },
    pilot: { hub: "", image: "pilot" },
  });
  const input = [
    configMap("jupyter-web-app-config-abc", {
      "spawner_ui_config.yaml": spawner,
    }),
    configMap("inferenceservice-config", { "storageInitializer": kserve }),
    configMap("katib-config", { "katib-config.yaml": katib }),
    configMap("istio-sidecar-injector", { values: istio }),
    configMap("pipeline-install-config", {
      cacheImage: "registry.k8s.io/busybox",
      appName: "pipeline",
    }),
    configMap("config-deployment", {
      "queue-sidecar-image":
        `gcr.io/knative-releases/knative.dev/serving/cmd/queue@${DIGEST}`,
      _example: "# queue-sidecar-image: gcr.io/example/queue:1\n",
    }),
  ];
  const { objects, notRewritable } = rewriteImages(input, MIRROR);
  const data = objects.map((o) => o.data as Record<string, string>);
  const newSpawner = data[0]["spawner_ui_config.yaml"];
  assertEquals(
    newSpawner,
    spawner.replaceAll("ghcr.io/", "mirror.local:5000/ghcr.io/"),
    "only the images change; comments and layout stay",
  );
  const newKserve = JSON.parse(data[1].storageInitializer);
  assertEquals(
    newKserve.storageInitializer.image,
    "mirror.local:5000/docker.io/kserve/storage-initializer:v0.15.0",
  );
  assertEquals(
    newKserve.explainers.art.image,
    "mirror.local:5000/docker.io/kserve/art-explainer",
  );
  assertEquals(newKserve.explainers.art.defaultImageVersion, "latest");
  assertEquals(
    newKserve.ingress.localGateway,
    "knative-serving/knative-local-gateway",
  );
  assertEquals(
    data[2]["katib-config.yaml"],
    katib.replaceAll("ghcr.io/", "mirror.local:5000/ghcr.io/"),
  );
  const newIstio = JSON.parse(data[3].values);
  assertEquals(newIstio.global.hub, "mirror.local:5000/gcr.io/istio-release");
  assertEquals(newIstio.global.proxy.image, "proxyv2");
  assertEquals(data[4], {
    cacheImage: "mirror.local:5000/registry.k8s.io/busybox",
    appName: "pipeline",
  });
  assertEquals(
    data[5]["queue-sidecar-image"],
    `mirror.local:5000/gcr.io/knative-releases/knative.dev/serving/cmd/queue@${DIGEST}`,
  );
  assertEquals(
    data[5]._example,
    "# queue-sidecar-image: gcr.io/example/queue:1\n",
  );
  assertEquals(notRewritable, []);
  const found = findImages(input).images.map((i) => i.source);
  assert(
    found.includes("gcr.io/istio-release/proxyv2:1.26.1"),
    "the sidecar image is listed",
  );
  assert(
    found.includes("gcr.io/istio-release/pilot:1.26.1"),
    "a bare image beside global uses its hub",
  );
});

Deno.test("rewriteImages: scripts and templates are reported, never edited", () => {
  const sync = `import os
VISUALIZATION_SERVER_IMAGE = os.environ.get("VISUALIZATION_SERVER_IMAGE", "ghcr.io/kubeflow/kfp-visualization-server")
print(f"{VISUALIZATION_SERVER_IMAGE}:{TAG}")
# docs at https://github.com/kubeflow/pipelines and sidecar.istio.io/inject
`;
  const input = [
    configMap("kubeflow-pipelines-profile-controller-code", {
      "sync.py": sync,
    }),
    deployment({
      containers: [{ name: "t", image: "{{ .Values.image }}" }, {
        name: "u",
        image: "$(REGISTRY)/app:1",
      }],
    }),
  ];
  const { objects, notRewritable } = rewriteImages(input, MIRROR);
  assertEquals((objects[0].data as Record<string, string>)["sync.py"], sync);
  assertEquals(notRewritable.map((n) => n.value), [
    "ghcr.io/kubeflow/kfp-visualization-server",
    "$(REGISTRY)/app:1",
  ]);
  assert(notRewritable[0].reason.includes("neither JSON nor YAML"));
  assertEquals(
    notRewritable[0].where,
    'ConfigMap kubeflow/kubeflow-pipelines-profile-controller-code data["sync.py"]',
  );
  assert(notRewritable[1].reason.startsWith("templated"));
});

Deno.test("rewriteImages: the GPU operator's ClusterPolicy and split Helm-style references", () => {
  const policy: KubeObject = {
    apiVersion: "nvidia.com/v1",
    kind: "ClusterPolicy",
    metadata: { name: "cluster-policy" },
    spec: {
      driver: {
        repository: "nvcr.io/nvidia",
        image: "driver",
        version: "580.126.20",
        imagePullPolicy: "IfNotPresent",
      },
      toolkit: {
        repository: "nvcr.io/nvidia/k8s",
        image: "container-toolkit",
        version: "v1.19.1",
      },
      vgpuManager: { enabled: false, repository: "", image: "vgpu-manager" },
      validator: {
        repository: "nvcr.io/nvidia/cloud-native",
        image: "gpu-operator-validator",
        version: "v26.3.3",
      },
    },
  };
  const { objects, images, notRewritable } = rewriteImages([policy], MIRROR);
  const spec = objects[0].spec as Record<string, Record<string, unknown>>;
  assertEquals(spec.driver.repository, "mirror.local:5000/nvcr.io/nvidia");
  assertEquals(spec.driver.image, "driver");
  assertEquals(spec.driver.version, "580.126.20");
  assertEquals(spec.toolkit.repository, "mirror.local:5000/nvcr.io/nvidia/k8s");
  assertEquals(images.map((i) => i.source), [
    "nvcr.io/nvidia/driver:580.126.20",
    "nvcr.io/nvidia/k8s/container-toolkit:v1.19.1",
    "nvcr.io/nvidia/cloud-native/gpu-operator-validator:v26.3.3",
  ]);
  assertEquals(spec.vgpuManager.image, "vgpu-manager");
  assertEquals(notRewritable.map((n) => n.where), [
    "ClusterPolicy cluster-policy spec.vgpuManager.image",
  ]);
  const values = rewriteDocument({
    controller: {
      image: { repository: "quay.io/metallb/controller", tag: "v0.15.3" },
    },
    bitnami: {
      image: {
        registry: "docker.io",
        repository: "bitnami/kubectl",
        tag: "1.33",
      },
    },
  }, MIRROR).value as Record<string, { image: Record<string, string> }>;
  assertEquals(values.controller.image, {
    repository: "mirror.local:5000/quay.io/metallb/controller",
    tag: "v0.15.3",
  });
  assertEquals(values.bitnami.image, {
    registry: "mirror.local:5000",
    repository: "docker.io/bitnami/kubectl",
    tag: "1.33",
  });
});

Deno.test("attachPullSecret: pod specs of every workload kind, ClusterPolicy components", () => {
  const cron: KubeObject = {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: "c", namespace: "jobs" },
    spec: { jobTemplate: { spec: { template: { spec: { containers: [] } } } } },
  };
  const dep = deployment({
    containers: [],
    imagePullSecrets: [{ name: "other" }],
  });
  const policy: KubeObject = {
    apiVersion: "nvidia.com/v1",
    kind: "ClusterPolicy",
    metadata: { name: "p" },
    spec: {
      driver: { repository: "nvcr.io/nvidia", image: "driver" },
      mig: { strategy: "single" },
    },
  };
  const cm = configMap("x", {});
  const { objects, namespaces } = attachPullSecret(
    [cron, dep, policy, cm],
    "kfplan-registry",
  );
  const cronSpec = (objects[0].spec as Record<
    string,
    Record<string, Record<string, Record<string, Record<string, unknown>>>>
  >)
    .jobTemplate.spec.template.spec;
  assertEquals(cronSpec.imagePullSecrets, [{ name: "kfplan-registry" }]);
  const depSpec =
    (objects[1].spec as { template: { spec: { imagePullSecrets: unknown } } })
      .template.spec;
  assertEquals(depSpec.imagePullSecrets, [{ name: "other" }, {
    name: "kfplan-registry",
  }]);
  const policySpec = objects[2].spec as Record<string, Record<string, unknown>>;
  assertEquals(policySpec.driver.imagePullSecrets, ["kfplan-registry"]);
  assertEquals(policySpec.mig.imagePullSecrets, undefined);
  assertEquals(objects[3], cm);
  assertEquals(namespaces, ["jobs", "kubeflow"]);
  assertEquals(
    attachPullSecret(objects, "kfplan-registry").objects,
    objects,
    "idempotent",
  );
  const secret = pullSecretObject(
    "kfplan-registry",
    "jobs",
    '{"auths":{"m":{"auth":"é"}}}',
  );
  assertEquals(secret.type, "kubernetes.io/dockerconfigjson");
  const decoded = new TextDecoder().decode(
    Uint8Array.from(
      atob((secret.data as Record<string, string>)[".dockerconfigjson"]),
      (c) => c.charCodeAt(0),
    ),
  );
  assertEquals(decoded, '{"auths":{"m":{"auth":"é"}}}');
});
