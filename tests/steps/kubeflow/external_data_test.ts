import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { parseYaml } from "../../../lib/deps.ts";
import { OptionsError, validateOptions } from "../../../lib/engine/options.ts";
import type { KubeObject } from "../../../lib/kube/types.ts";
import {
  applyExternalData,
  EXTERNAL_DATA_DIGEST_ANNOTATION,
} from "../../../lib/steps/kubeflow/external_data.ts";
import {
  type KubeflowOptionsInput,
  kubeflowOptionsSchema,
} from "../../../lib/steps/kubeflow/options.ts";

/** A fork's Pipelines under names of its own: recognition goes by what objects read. */
function deployment(
  name: string,
  image: string,
  env: unknown[],
  extra: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "ml" },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "main", image, env }], ...extra },
      },
    },
  };
}

function fromCm(name: string, key: string) {
  return { configMapKeyRef: { name, key } };
}

function fromSecret(name: string, key: string) {
  return { secretKeyRef: { name, key } };
}

function objects(): KubeObject[] {
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "kfp-settings", namespace: "ml" },
      data: { host: "state-db", port: "3306", db: "runs" },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db-login", namespace: "ml" },
      data: { u: btoa("root"), p: "" },
    },
    deployment("runs-api", "example.org/kfp-api-server:2.5.0", [
      { name: "DBCONFIG_HOST", valueFrom: fromCm("kfp-settings", "host") },
      { name: "DBCONFIG_PORT", valueFrom: fromCm("kfp-settings", "port") },
      { name: "DBCONFIG_DBNAME", valueFrom: fromCm("kfp-settings", "db") },
      { name: "DBCONFIG_USER", valueFrom: fromSecret("db-login", "u") },
      { name: "DBCONFIG_PASSWORD", valueFrom: fromSecret("db-login", "p") },
    ]),
    deployment(
      "state-db",
      "docker.io/library/mariadb:11",
      [{ name: "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", value: "1" }],
      {
        serviceAccountName: "state-db",
        volumes: [{ name: "d", persistentVolumeClaim: { claimName: "state" } }],
      },
    ),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "state-db", namespace: "ml" },
      spec: { selector: { app: "state-db" } },
    },
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "state", namespace: "ml" },
      spec: {},
    },
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "state-db", namespace: "ml" },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "state-db", namespace: "ml" },
      spec: {
        podSelector: {
          matchExpressions: [{
            key: "app",
            operator: "In",
            values: ["state-db"],
          }],
        },
      },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "everything", namespace: "ml" },
      spec: { podSelector: {} },
    },
  ];
}

function options(extra: Partial<KubeflowOptionsInput>) {
  return kubeflowOptionsSchema.parse({
    manifests: "/m",
    oidcClient: { secret: { env: "X" } },
    dex: { keepDefaultUser: true },
    ...extra,
  });
}

const database = {
  host: "db.example.org",
  port: 3307,
  user: "kfp",
  password: { env: "DB_PASSWORD" },
};

Deno.test("pipelines.database: values go where the clients read them; the server behind their host is left out", () => {
  const r = applyExternalData(objects(), {
    options: options({ pipelines: { database } }),
    secrets: { pipelinesDatabasePassword: "s3cret-pw" },
    digest: "abc123",
  });
  const cm = r.objects.find((o) => o.metadata.name === "kfp-settings")!;
  assertEquals(cm.data, {
    host: "db.example.org",
    port: "3307",
    db: "mlpipeline",
  });
  const secret = r.objects.find((o) => o.metadata.name === "db-login")!;
  assertEquals(secret.data, { u: btoa("kfp"), p: btoa("s3cret-pw") });
  assertEquals(
    r.removed.map((x) => `${x.kind}/${x.name}`).sort(),
    [
      "Deployment/state-db",
      "NetworkPolicy/state-db",
      "PersistentVolumeClaim/state",
      "Service/state-db",
      "ServiceAccount/state-db",
    ],
  );
  assert(
    r.objects.some((o) => o.metadata.name === "everything"),
    "a NetworkPolicy selecting every pod stays",
  );
  const api = r.objects.find((o) => o.metadata.name === "runs-api")!;
  assertEquals(
    (api.spec as {
      template: { metadata: { annotations: Record<string, string> } };
    }).template.metadata.annotations[EXTERNAL_DATA_DIGEST_ANNOTATION],
    "abc123",
  );
  assert(
    !JSON.stringify(r.objects.filter((o) => o.kind !== "Secret")).includes(
      "s3cret-pw",
    ),
    "the password is only in the Secret",
  );
  assertEquals(r.changed["pipelines.database"], [
    "ConfigMap ml/kfp-settings: host, port, db",
    "Secret ml/db-login: u, p",
  ]);
  // The input is not modified.
  assertEquals(
    objects().find((o) => o.metadata.name === "kfp-settings")!.data,
    { host: "state-db", port: "3306", db: "runs" },
  );
});

Deno.test("pipelines.database: a Service whose pods run no database image is left in place, with a warning", () => {
  const objs = objects().map((o) =>
    o.metadata.name === "state-db" && o.kind === "Deployment"
      ? deployment("state-db", "example.org/proxy:1", [])
      : o
  );
  const r = applyExternalData(objs, {
    options: options({ pipelines: { database } }),
    secrets: { pipelinesDatabasePassword: "pw" },
    digest: "d",
  });
  assertEquals(r.removed, []);
  assert(r.warnings[0].includes("not MySQL: left in place"), r.warnings[0]);
});

Deno.test("pipelines.database: a render without a Pipelines database client is an error naming what was looked for", () => {
  const error = assertThrows(
    () =>
      applyExternalData(
        objects().filter((o) => o.metadata.name !== "runs-api"),
        {
          options: options({ pipelines: { database } }),
          secrets: { pipelinesDatabasePassword: "pw" },
          digest: "d",
        },
      ),
    OptionsError,
  );
  assert(error.message.includes("pipelines.database"), error.message);
  assert(error.message.includes("DBCONFIG_HOST"), error.message);
});

Deno.test("pipelines.database: a password read from a plain variable is refused, not written there", () => {
  const objs = objects().map((o) =>
    o.metadata.name === "runs-api"
      ? deployment("runs-api", "example.org/kfp-api-server:2.5.0", [
        { name: "DBCONFIG_HOST", value: "state-db" },
        { name: "DBCONFIG_DBNAME", value: "runs" },
        { name: "DBCONFIG_PASSWORD", value: "" },
      ])
      : o
  );
  const error = assertThrows(
    () =>
      applyExternalData(objs, {
        options: options({ pipelines: { database } }),
        secrets: { pipelinesDatabasePassword: "pw-9" },
        digest: "d",
      }),
    OptionsError,
  );
  assert(error.message.includes("pipelines.database.password"), error.message);
  assert(!error.message.includes("pw-9"));
});

Deno.test("katib.database with Katib left out is an error naming both settings", () => {
  const error = assertThrows(
    () =>
      applyExternalData(objects(), {
        options: options({
          components: { exclude: ["katib"] },
          katib: { database: { ...database, user: "katib" } },
        }),
        secrets: { katibDatabasePassword: "pw" },
        digest: "d",
      }),
    OptionsError,
  );
  assert(error.message.includes("katib.database"), error.message);
  assert(error.message.includes("components.exclude"), error.message);
});

Deno.test("the options refuse an endpoint with a scheme and a bad bucket name, naming the fields", () => {
  const r = kubeflowOptionsSchema.safeParse({
    manifests: "/m",
    oidcClient: { secret: { env: "X" } },
    dex: { keepDefaultUser: true },
    pipelines: {
      objectStore: {
        endpoint: "https://s3.example.org",
        bucket: "Bad_Bucket",
        accessKey: { env: "A" },
        secretKey: "inline-secret",
      },
    },
  });
  assert(!r.success);
  const paths = r.error.issues.map((i) => i.path.join("."));
  assertEquals(paths.sort(), [
    "pipelines.objectStore.bucket",
    "pipelines.objectStore.endpoint",
    "pipelines.objectStore.secretKey",
  ]);
});

Deno.test("examples/kubeflow-external-data.yaml validates: both databases and the bucket, secrets as references", async () => {
  const file =
    new URL("../../../examples/kubeflow-external-data.yaml", import.meta.url)
      .pathname;
  const doc = parseYaml(await Deno.readTextFile(file)) as { kubeflow: unknown };
  const o = validateOptions(kubeflowOptionsSchema, doc.kubeflow, {
    source: file,
    prefix: ["kubeflow"],
  });
  assertEquals(o.pipelines?.database?.databases, {
    pipeline: "mlpipeline",
    metadata: "metadb",
    cache: "cachedb",
  });
  assertEquals(o.pipelines?.database?.password, {
    env: "KF_PIPELINES_DB_PASSWORD",
  });
  assertEquals(o.pipelines?.objectStore?.secure, true);
  assertEquals(o.katib?.database?.port, 3306);
  assertEquals(o.katib?.database?.database, "katib");
});

Deno.test("pipelines.objectStore: a fork's API server, Argo config and store under names of their own", () => {
  const keys = fromSecret("store-keys", "id");
  const secretKey = fromSecret("store-keys", "key");
  const objs: KubeObject[] = [
    deployment("runs-api", "example.org/kfp-api-server:2.5.0", [
      { name: "OBJECTSTORECONFIG_BUCKETNAME", value: "runs" },
      { name: "OBJECTSTORECONFIG_ACCESSKEY", valueFrom: keys },
      { name: "OBJECTSTORECONFIG_SECRETACCESSKEY", valueFrom: secretKey },
      { name: "OBJECTSTORECONFIG_HOST", value: "blob" },
    ]),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "store-keys", namespace: "ml" },
      data: { id: btoa("minio"), key: btoa("minio123") },
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "argo-config", namespace: "ml" },
      data: {
        artifactRepository: "s3:\n  endpoint: blob.ml:9000\n  bucket: runs\n" +
          "  keyFormat: a/{{workflow.name}}\n  insecure: true\n" +
          "  accessKeySecret: {name: store-keys, key: id}\n" +
          "  secretKeySecret: {name: store-keys, key: key}\n",
      },
    },
    deployment("blob", "quay.io/minio/minio:RELEASE.2024", [], {
      volumes: [{ name: "d", persistentVolumeClaim: { claimName: "blob" } }],
    }),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "blob", namespace: "ml" },
      spec: { selector: { app: "blob" } },
    },
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "blob", namespace: "ml" },
      spec: {},
    },
  ];
  const r = applyExternalData(objs, {
    options: options({
      pipelines: {
        objectStore: {
          endpoint: "s3.example.org",
          bucket: "kf-runs",
          region: "eu-west-1",
          accessKey: { env: "A" },
          secretKey: { env: "S" },
        },
      },
    }),
    secrets: { objectStoreAccessKey: "AK-1", objectStoreSecretKey: "SK-2" },
    digest: "d",
  });
  assertEquals(
    r.removed.map((x) => `${x.kind}/${x.name}`).sort(),
    ["Deployment/blob", "PersistentVolumeClaim/blob", "Service/blob"],
  );
  const api = r.objects.find((o) => o.metadata.name === "runs-api")!;
  const env = Object.fromEntries(
    (api.spec as {
      template: {
        spec: { containers: { env: { name: string; value?: string }[] }[] };
      };
    }).template.spec.containers[0].env.map((e) => [e.name, e.value]),
  );
  assertEquals(env.OBJECTSTORECONFIG_HOST, "s3.example.org");
  assertEquals(env.OBJECTSTORECONFIG_PORT, "443");
  assertEquals(env.OBJECTSTORECONFIG_SECURE, "true");
  assertEquals(env.OBJECTSTORECONFIG_BUCKETNAME, "kf-runs");
  const repo = parseYaml(
    (r.objects.find((o) => o.metadata.name === "argo-config")!.data as Record<
      string,
      string
    >).artifactRepository,
  );
  assertEquals(repo, {
    s3: {
      endpoint: "s3.example.org",
      bucket: "kf-runs",
      keyFormat: "a/{{workflow.name}}",
      insecure: false,
      region: "eu-west-1",
      accessKeySecret: { name: "store-keys", key: "id" },
      secretKeySecret: { name: "store-keys", key: "key" },
    },
  });
  assertEquals(
    r.objects.find((o) => o.metadata.name === "store-keys")!.data,
    { id: btoa("AK-1"), key: btoa("SK-2") },
  );
});
