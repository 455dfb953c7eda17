import { assert, assertEquals } from "../../_assert.ts";
import { stringifyYaml } from "../../../lib/deps.ts";
import type { KubeObject } from "../../../lib/kube/types.ts";
import { kustomizeBuild } from "../../../lib/tools/kustomize.ts";
import {
  comparable,
  describeDiff,
  diffObjects,
  jsonPatchOps,
  type PostRenderLayer,
  postRenderLayer,
  withFollowUpPatches,
} from "../../../lib/steps/kubeflow/post_render_layer.ts";

Deno.test("jsonPatchOps compares maps key by key and replaces lists whole", () => {
  assertEquals(
    jsonPatchOps(
      { a: 1, b: { c: [1, 2], d: "x" }, "e/f": 1 },
      { b: { c: [2], d: "x", g: null }, h: 2, "e/f": 3 },
    ),
    [
      { op: "remove", path: "/a" },
      { op: "replace", path: "/b/c", value: [2] },
      { op: "add", path: "/b/g", value: null },
      { op: "replace", path: "/e~1f", value: 3 },
      { op: "add", path: "/h", value: 2 },
    ],
  );
  assertEquals(jsonPatchOps({ a: [1] }, { a: [1] }), []);
});

Deno.test("comparable reads Secrets as the API server stores them", () => {
  const s = comparable({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s" },
    stringData: { a: "hi" },
    data: { b: "aGVs\nbG8=" },
  });
  assertEquals(s.data, { a: "aGk=", b: "aGVsbG8=" });
  assertEquals(s.type, "Opaque");
});

function secret(
  name: string,
  data: Record<string, string>,
  extra: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: "ns", ...extra },
    data: Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, btoa(v)]),
    ),
  } as KubeObject;
}

const BASE: KubeObject[] = [
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "db", namespace: "ns" },
    spec: { template: { spec: { containers: [{ name: "c", image: "db" }] } } },
  },
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "app", namespace: "ns" },
    spec: {
      template: {
        spec: {
          containers: [{
            name: "c",
            image: "docker.io/app:1",
            env: [{ name: "A", value: "1" }, { name: "B", value: "2" }],
          }],
        },
      },
    },
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "agg.example" },
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { a: "b" } }] },
    rules: [],
  },
  secret("creds", { user: "root", password: "" }, { labels: { x: "y" } }),
];

const USER: KubeObject = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "user", namespace: "ns" },
  spec: {
    template: {
      spec: {
        containers: [{ name: "c", image: "u" }],
        volumes: [{ name: "v", configMap: { name: "cfg" } }],
      },
    },
  },
};

const DESIRED: KubeObject[] = [
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "app", namespace: "ns" },
    spec: {
      template: {
        spec: {
          containers: [{
            name: "c",
            image: "mirror.example/docker.io/app:1",
            // B dropped: a strategic merge would keep it.
            env: [{ name: "A", value: "db.example" }],
          }],
          imagePullSecrets: [{ name: "pull" }],
        },
      },
    },
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "agg.example" },
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { a: "b" } }] },
  },
  secret("creds", { user: "kfp", password: "line1\nline2" }, {
    labels: { x: "y" },
  }),
  {
    ...secret("pull", { ".dockerconfigjson": '{"auths":{}}' }, {
      labels: { "app.kubernetes.io/managed-by": "kfplan" },
    }),
    type: "kubernetes.io/dockerconfigjson",
  },
  {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "added", namespace: "ns" },
    data: { k: "v" },
  },
];

async function writeLayer(dir: string, layer: PostRenderLayer): Promise<void> {
  const files: [string, Uint8Array][] = [
    [
      "kustomization.yaml",
      new TextEncoder().encode(stringifyYaml(layer.kustomization)),
    ],
    ...Object.entries(layer.files).map(([p, c]) =>
      [p, new TextEncoder().encode(c)] as [string, Uint8Array]
    ),
    ...Object.entries(layer.secretFiles),
  ];
  for (const [p, c] of files) {
    const full = `${dir}/${p}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(full, c);
  }
}

Deno.test("the layer built with the real kustomize turns the base into the desired objects", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/base`);
    await Deno.writeTextFile(
      `${dir}/base/kustomization.yaml`,
      "resources: [objects.yaml, user.yaml]\n" +
        "configMapGenerator: [{ name: cfg, namespace: ns, literals: [a=1] }]\n",
    );
    // A workload mounting the generated ConfigMap, which kustomize renames.
    await Deno.writeTextFile(
      `${dir}/base/user.yaml`,
      stringifyYaml(USER),
    );
    await Deno.writeTextFile(
      `${dir}/base/objects.yaml`,
      BASE.map((o) => stringifyYaml(o)).join("---\n"),
    );
    const base = await kustomizeBuild(`${dir}/base`, {
      loadRestrictorNone: true,
    });
    const cfg = base.find((o) => o.kind === "ConfigMap")!;
    assert(/^cfg-[a-z0-9]{10}$/.test(cfg.metadata.name));
    // Changed under its generated name: a patch one layer up would rehash it.
    const user = base.find((o) => o.metadata.name === "user")!;
    const desired = [...DESIRED, { ...cfg, data: { a: "2" } }, user];
    const diff = diffObjects(base, desired);
    assertEquals(diff.removed.map((o) => o.metadata.name), ["db"]);
    assertEquals(diff.added.map((o) => o.metadata.name).sort(), [
      "added",
      "pull",
    ]);
    const layer = postRenderLayer(diff, { resources: ["base"] });
    // Secret values only in the secret files.
    for (const text of Object.values(layer.files)) {
      assert(!text.includes("line1") && !text.includes("auths"));
    }
    assert(!JSON.stringify(layer.kustomization).includes("line1"));
    await writeLayer(dir, layer);
    let built = await kustomizeBuild(dir, { loadRestrictorNone: true });
    let left = diffObjects(built, desired);
    // Replacing the generated ConfigMap makes kustomize point the mount back at
    // the name it was generated under: the follow-up patch sets it again.
    assertEquals(describeDiff(left), [
      "Deployment ns/user: differs at /spec/template/spec/volumes",
    ]);
    await writeLayer(dir, withFollowUpPatches(layer, left));
    built = await kustomizeBuild(dir, { loadRestrictorNone: true });
    left = diffObjects(built, desired);
    assertEquals(describeDiff(left), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("describeDiff names each object and where it differs", () => {
  assertEquals(
    describeDiff(diffObjects(BASE.slice(0, 2), DESIRED.slice(0, 1))),
    [
      "Deployment ns/db: built but not planned by kfplan",
      "Deployment ns/app: differs at /spec/template/spec/containers, /spec/template/spec/imagePullSecrets",
    ],
  );
});
