import { assert, assertEquals, assertMatch, rejects } from "../_assert.ts";
import { sharedChart, tempDir } from "../_shared.ts";
import {
  findHelm,
  HelmError,
  helmTemplate,
  helmTemplateSources,
  isCrdsDirSource,
  isHook,
  parseHelmVersion,
} from "../../lib/tools/helm.ts";
import { parseManifests } from "../../lib/tools/manifests.ts";

const NFS = sharedChart("nfs-subdir-external-provisioner-4.0.18");

Deno.test("helm version output is parsed", () => {
  assertEquals(parseHelmVersion("v3.19.5+g1234567\n"), "v3.19.5");
  assertEquals(parseHelmVersion("v3.19.5"), "v3.19.5");
  assertEquals(parseHelmVersion("nope"), undefined);
});

Deno.test("findHelm: a bad KFPLAN_HELM or an empty PATH explains how to get helm", async () => {
  const bad = await rejects(
    () => findHelm({ env: { KFPLAN_HELM: "/nonexistent/helm" } }),
    HelmError,
  );
  assertMatch(
    bad.message,
    /KFPLAN_HELM=\/nonexistent\/helm is not an executable file; .*go install helm\.sh\/helm\/v3\/cmd\/helm@v3\.19\.5/,
  );
  const none = await rejects(
    () => findHelm({ env: { PATH: "/nonexistent", HOME: "/nonexistent" } }),
    HelmError,
  );
  assertMatch(
    none.message,
    /helm not found \(looked at KFPLAN_HELM, PATH and ~\/\.cache\/kfplan\/bin\/\*\/\)/,
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/helm`, "#!/bin/sh\necho v2.17.0\n");
    await Deno.chmod(`${dir}/helm`, 0o755);
    const old = await rejects(
      () => findHelm({ env: { KFPLAN_HELM: `${dir}/helm` } }),
      HelmError,
    );
    assertMatch(
      old.message,
      /helm v3\.8 or newer \(v3\.x\) is required; found only .*\(v2\.17\.0\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("helm template renders a real chart for a Kubernetes version, values from a typed object", async () => {
  const helm = await findHelm();
  const objects = await helmTemplate(helm, {
    release: "nfs",
    namespace: "storage",
    chart: { path: NFS },
    values: {
      nfs: { server: "10.0.0.2", path: "/export" },
      storageClass: { name: "kf", defaultClass: true },
    },
    kubeVersion: "v1.33.13",
  });
  const sc = objects.find((o) => o.kind === "StorageClass");
  assertEquals(sc?.metadata.name, "kf");
  assertEquals(
    sc?.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"],
    "true",
  );
  const deploy = objects.find((o) => o.kind === "Deployment");
  assertMatch(JSON.stringify(deploy), /"server":"10\.0\.0\.2"/);
  const tooOld = await rejects(
    () =>
      helmTemplate(helm, {
        release: "nfs",
        namespace: "s",
        chart: { path: NFS },
        kubeVersion: "v1.8.0",
      }),
    HelmError,
  );
  assertMatch(tooOld.message, /helm template nfs .*failed.*kubeVersion/s);
});

Deno.test("helm hooks are recognised in parsed chart output", () => {
  const objects = parseManifests(`---
# Source: x
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: upgrade-crd
  annotations: {"helm.sh/hook": pre-upgrade}
`);
  assertEquals(objects.map((o) => o.metadata.name), ["a", "upgrade-crd"]);
  assert(isHook(objects[1]));
  assert(!isHook(objects[0]));
});

Deno.test("helm template from a repository reference: an unreachable repo says how to use a local chart", async () => {
  const helm = await findHelm();
  const e = await rejects(
    () =>
      helmTemplate(helm, {
        release: "metallb",
        namespace: "metallb-system",
        chart: {
          repo: "http://127.0.0.1:1/charts",
          chart: "metallb",
          version: "0.15.3",
        },
        kubeVersion: "v1.33.13",
      }),
    HelmError,
  );
  assertMatch(
    e.message,
    /helm template metallb metallb --repo http:\/\/127\.0\.0\.1:1\/charts --version 0\.15\.3/,
  );
  assertMatch(
    e.message,
    /chart repository is unreachable.*chart: \{ path: \.\.\. \}/,
  );
});

Deno.test("crds/ files of a chart and its subcharts are told from templates that define CRDs", () => {
  assertEquals(
    isCrdsDirSource("gpu-operator/crds/nvidia.com_nvidiadrivers.yaml"),
    true,
  );
  assertEquals(
    isCrdsDirSource(
      "gpu-operator/charts/node-feature-discovery/crds/nfd-api-crds.yaml",
    ),
    true,
  );
  assertEquals(
    isCrdsDirSource(
      "gpu-operator/charts/node-feature-discovery/templates/topologyupdater-crds.yaml",
    ),
    false,
  );
  assertEquals(
    isCrdsDirSource("metallb/charts/crds/templates/crds.yaml"),
    false,
  );
  assertEquals(isCrdsDirSource("metallb/templates/crds/x.yaml"), false);
});

Deno.test("helm template keeps each object's source file, a multi-document crds/ file included", async () => {
  const helm = await findHelm();
  const templated = await helmTemplateSources(helm, {
    release: "gpu",
    namespace: "gpu-operator",
    chart: { path: sharedChart("gpu-operator-v26.3.3") },
    kubeVersion: "v1.33.0",
  });
  const crds = templated.filter((t) => isCrdsDirSource(t.source));
  const names = crds.map((t) => t.object.metadata.name);
  assert(names.includes("clusterpolicies.nvidia.com"), names.join(", "));
  // nfd-api-crds.yaml holds several CRDs under one `# Source:` comment.
  assert(
    crds.filter((t) => t.source.endsWith("/nfd-api-crds.yaml")).length > 1,
    "every document of a multi-document crds/ file keeps its source",
  );
  assert(crds.every((t) => t.object.kind === "CustomResourceDefinition"));
  assert(
    templated.some((t) =>
      t.object.kind === "Deployment" && /\/templates\//.test(t.source)
    ),
  );
});

Deno.test("helm template with a cache renders an unchanged chart once, and never stores Secrets", async () => {
  await using work = await tempDir("kfplan-helm-cache-");
  const chart = `${work.path}/chart`;
  await Deno.mkdir(`${chart}/templates`, { recursive: true });
  await Deno.writeTextFile(
    `${chart}/Chart.yaml`,
    "apiVersion: v2\nname: tiny\nversion: 0.1.0\n",
  );
  await Deno.writeTextFile(
    `${chart}/templates/cm.yaml`,
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tiny}\ndata: {a: {{ .Values.a | quote }}}\n",
  );
  const real = await findHelm();
  const log = `${work.path}/runs`;
  const wrapper = `${work.path}/helm`;
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh\necho "$1" >> ${log}\nexec ${real.path} "$@"\n`,
    { mode: 0o755 },
  );
  const helm = { path: wrapper, version: real.version };
  const args = {
    release: "tiny",
    namespace: "default",
    chart: { path: chart },
    values: { a: "1" },
    kubeVersion: "v1.33.0",
    workDir: work.path,
    cache: { dir: `${work.path}/cache` },
  };
  const first = await helmTemplateSources(helm, args);
  const second = await helmTemplateSources(helm, args);
  assertEquals(second, first);
  const runs = async () =>
    (await Deno.readTextFile(log)).trim().split("\n").length;
  assertEquals(await runs(), 1);
  await helmTemplateSources(helm, { ...args, values: { a: "2" } });
  assertEquals(await runs(), 2);
  await Deno.writeTextFile(
    `${chart}/templates/secret.yaml`,
    "apiVersion: v1\nkind: Secret\nmetadata: {name: tiny}\nstringData: {p: {{ .Values.a | quote }}}\n",
  );
  await helmTemplateSources(helm, args);
  await helmTemplateSources(helm, args);
  assertEquals(await runs(), 4, "a render holding a Secret is not stored");
});
