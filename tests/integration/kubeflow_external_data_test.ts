/**
 * Kubeflow with its state outside the cluster, planned against real servers on
 * loopback: a private MariaDB (Debian's package) and the S3-compatible test server
 * (gofakes3 behind Signature V4 verification). Two shared releases: v1.5.0, whose
 * Pipelines ship MinIO, and v1.11.0, which ships SeaweedFS (rendered from the
 * vendored remote bases). The plans run offline (no cluster): the external data
 * settings and their checks do not need one, and the desired objects are what the
 * plan would apply.
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import { withExternalData } from "../../lib/steps/kubeflow/external_data.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import { parseYaml } from "../../lib/deps.ts";
import type { KubeflowOptionsInput } from "../../lib/steps/kubeflow/options.ts";
import { kubeflowStep } from "../../lib/steps/kubeflow/step.ts";
import {
  nonDefaultOptions,
  PLANTED,
  plantedEnv,
} from "../steps/kubeflow/_fixtures.ts";
import { startMariaDb, startS3Server } from "../cluster/data_servers.ts";
import { findLeaks, timed } from "./_kubeflow.ts";

/** Secret values that must reach the cluster only as Secrets. */
const DATA_SECRETS = {
  KF_KFP_DB_PASSWORD: "PLANTED-kfp-db-pw-5e1a",
  KF_KATIB_DB_PASSWORD: "PLANTED-katib-db-pw-77c0",
  KF_S3_ACCESS_KEY: "PLANTED-s3-access-2b9f",
  KF_S3_SECRET_KEY: "PLANTED-s3-secret-c4d8",
};

function find(
  objects: KubeObject[],
  kind: string,
  name: string,
): KubeObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

function env(
  objects: KubeObject[],
  deployment: string,
  name: string,
): { value?: string; valueFrom?: unknown } | undefined {
  const d = find(objects, "Deployment", deployment);
  const containers = (d?.spec as {
    template: {
      spec: { containers: { env?: { name: string; value?: string }[] }[] };
    };
  }).template.spec.containers;
  return containers.flatMap((c) => c.env ?? []).find((e) => e.name === name);
}

function secretValue(
  objects: KubeObject[],
  name: string,
  key: string,
): string | undefined {
  const data = find(objects, "Secret", name)?.data as
    | Record<string, string>
    | undefined;
  return data?.[key] === undefined ? undefined : atob(data[key]);
}

Deno.test({
  name:
    "kubeflow external data: v1.5.0 (MinIO) and v1.11.0 (SeaweedFS) plan against a real MariaDB and S3 server; " +
    "the in-cluster servers are left out, the components point at the external ones, secrets stay in Secrets",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await using db = await startMariaDb();
    await db.sql(`
      CREATE DATABASE mlpipeline; CREATE DATABASE katib;
      CREATE USER 'kfp'@'127.0.0.1' IDENTIFIED BY '${DATA_SECRETS.KF_KFP_DB_PASSWORD}';
      GRANT ALL ON mlpipeline.* TO 'kfp'@'127.0.0.1';
      GRANT ALL ON \`kfp\\_%\`.* TO 'kfp'@'127.0.0.1';
      CREATE USER 'katib'@'127.0.0.1' IDENTIFIED BY '${DATA_SECRETS.KF_KATIB_DB_PASSWORD}';
      GRANT ALL ON katib.* TO 'katib'@'127.0.0.1';`);
    await using s3 = await startS3Server({
      identities: [{
        accessKey: DATA_SECRETS.KF_S3_ACCESS_KEY,
        secretKey: DATA_SECRETS.KF_S3_SECRET_KEY,
      }],
      buckets: ["kf-artifacts"],
    });
    const external = {
      pipelines: {
        database: {
          host: db.host,
          port: db.port,
          user: "kfp",
          password: { env: "KF_KFP_DB_PASSWORD" },
          databases: { metadata: "kfp_metadb", cache: "kfp_cachedb" },
        },
        objectStore: {
          endpoint: s3.endpoint,
          bucket: "kf-artifacts",
          accessKey: { env: "KF_S3_ACCESS_KEY" },
          secretKey: { env: "KF_S3_SECRET_KEY" },
          secure: false,
        },
      },
      katib: {
        database: {
          host: db.host,
          port: db.port,
          user: "katib",
          password: { env: "KF_KATIB_DB_PASSWORD" },
        },
      },
    };
    const allEnv = { ...plantedEnv(), ...DATA_SECRETS };
    const work = await Deno.makeTempDir({ prefix: "kfplan-kf-data-" });
    const planned = new Map<string, KubeObject[]>();

    async function plan(input: KubeflowOptionsInput, label: string) {
      const logs: string[] = [];
      const log = {
        info: (m: string) => logs.push(m),
        warn: (m: string) => logs.push(m),
        debug: (m: string) => logs.push(m),
      };
      const result = await timed(label, () =>
        planSteps([
          kubeflowStep(input, {
            source: "kfplan.yaml",
            prefix: ["kubeflow"],
            env: allEnv,
          }),
        ], { workDir: work, log }));
      return { result, logs };
    }

    try {
      for (
        const [version, store] of [
          ["v1.5.0", "minio"],
          ["v1.11.0", "seaweedfs"],
        ] as const
      ) {
        await t.step(`${version} (${store})`, async () => {
          const { result, logs } = await plan(
            { ...nonDefaultOptions(version), ...external },
            `${version} plan with external data`,
          );
          const entry = result.document.steps[0];
          assertEquals(entry.error, undefined, `plan error: ${entry.error}`);
          const objects = result.plans.get("kubeflow")!.desired!;
          planned.set(version, objects);

          // The in-cluster servers are not in the desired state.
          for (
            const [kind, name] of [
              ["Deployment", "mysql"],
              ["PersistentVolumeClaim", "mysql-pv-claim"],
              ["Service", "mysql"],
              ["Deployment", "katib-mysql"],
              ["PersistentVolumeClaim", "katib-mysql"],
              ["Service", "minio-service"],
              ["Deployment", store],
            ]
          ) {
            assertEquals(
              find(objects, kind, name),
              undefined,
              `${kind} ${name}`,
            );
          }
          assert(
            !objects.some((o) =>
              ["Deployment", "StatefulSet"].includes(o.kind) &&
              /(^|\/)(mysql|minio|seaweedfs)[:@]/.test(JSON.stringify(o))
            ),
            "no workload runs a MySQL, MinIO or SeaweedFS image",
          );
          // The components point at the external servers.
          const install = find(objects, "ConfigMap", "pipeline-install-config")
            ?.data as Record<string, string>;
          assertEquals(install.dbHost, db.host);
          assertEquals(install.dbPort, String(db.port));
          assertEquals(install.pipelineDb, "mlpipeline");
          assertEquals(install.mlmdDb, "kfp_metadb");
          assertEquals(install.cacheDb, "kfp_cachedb");
          assertEquals(install.bucketName, "kf-artifacts");
          if (version === "v1.11.0") {
            assertEquals(install.mysqlHost, db.host);
            assertEquals(install.mysqlPort, String(db.port));
          }
          assertEquals(secretValue(objects, "mysql-secret", "username"), "kfp");
          assertEquals(
            secretValue(objects, "mysql-secret", "password"),
            DATA_SECRETS.KF_KFP_DB_PASSWORD,
          );
          const [host, port] = s3.endpoint.split(":");
          assertEquals(
            env(objects, "ml-pipeline", "OBJECTSTORECONFIG_HOST")?.value,
            host,
          );
          assertEquals(
            env(objects, "ml-pipeline", "OBJECTSTORECONFIG_PORT")?.value,
            port,
          );
          assertEquals(
            env(objects, "ml-pipeline", "OBJECTSTORECONFIG_SECURE")?.value,
            "false",
          );
          const repo = parseYaml(
            (find(objects, "ConfigMap", "workflow-controller-configmap")
              ?.data as Record<string, string>).artifactRepository,
          ) as { s3: Record<string, unknown> };
          assertEquals(repo.s3.endpoint, s3.endpoint);
          assertEquals(repo.s3.bucket, "kf-artifacts");
          assertEquals(repo.s3.insecure, true);
          assertEquals(
            secretValue(objects, "mlpipeline-minio-artifact", "secretkey"),
            DATA_SECRETS.KF_S3_SECRET_KEY,
          );
          assertEquals(
            env(objects, "ml-pipeline-ui", "MINIO_HOST")?.value,
            host,
          );
          assertEquals(
            env(objects, "katib-db-manager", "KATIB_MYSQL_DB_HOST")?.value,
            db.host,
          );
          assertEquals(
            env(objects, "katib-db-manager", "KATIB_MYSQL_DB_PORT")?.value,
            String(db.port),
          );
          assertEquals(
            secretValue(objects, "katib-mysql-secrets", "MYSQL_ROOT_PASSWORD"),
            DATA_SECRETS.KF_KATIB_DB_PASSWORD,
          );
          if (version === "v1.11.0") {
            const code = (objects.find((o) =>
              o.kind === "ConfigMap" &&
              o.metadata.name.startsWith(
                "kubeflow-pipelines-profile-controller-code",
              )
            )?.data as Record<string, string>)["sync.py"];
            assert(code.includes(`"endpoint": "${s3.endpoint}"`), "sync.py");
            assert(!code.includes("minio-service.kubeflow:9000"), "sync.py");
          }
          // The checks ran against the servers: what they found is in the plan.
          const seen = entry.findings.map((f) => f.seen).join("\n");
          assert(seen.includes("accepted user kfp"), seen);
          assert(seen.includes("accepted user katib"), seen);
          assert(
            seen.includes("kfp_metadb does not exist yet; kfp may create it"),
            seen,
          );
          assert(seen.includes("can list and write"), seen);
          const facts = entry.facts as {
            externalData: { leftOut: string[] };
          };
          assert(
            facts.externalData.leftOut.includes(
              `pipelines.objectStore: Deployment kubeflow/${store}`,
            ),
            facts.externalData.leftOut.join(", "),
          );
          // Secret values only in Secrets: nowhere in the plan document or the
          // logs, and in no desired object but a Secret.
          const planted = [
            ...Object.values(DATA_SECRETS),
            ...Object.values(PLANTED),
          ];
          assertEquals(
            findLeaks({
              "plan.json": JSON.stringify(result.document),
              logs: logs.join("\n"),
            }, Object.values(DATA_SECRETS)),
            [],
          );
          assertEquals(
            findLeaks(
              Object.fromEntries(
                objects.filter((o) => o.kind !== "Secret").map((o) => [
                  `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`,
                  JSON.stringify(o),
                ]),
              ),
              planted,
            ),
            [],
          );
        });
      }

      // The failing cases go through the same step code (the settings applied to
      // v1.5.0's planned objects, then the plan-time checks), without rendering again.
      const options = kubeflowStep(
        { ...nonDefaultOptions("v1.5.0"), ...external },
        { env: allEnv },
      ).options;
      const checked = (o: typeof options) =>
        withExternalData(planned.get("v1.5.0")!, o, {
          env: allEnv,
          prefix: ["kubeflow"],
          source: "kfplan.yaml",
          check: true,
        });
      const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const closedPort = (closed.addr as Deno.NetAddr).port;
      closed.close();

      await t.step(
        "a wrong database password: an error naming the field",
        async () => {
          const error = await assertRejects(
            () =>
              checked({
                ...options,
                pipelines: {
                  ...options.pipelines,
                  database: {
                    ...options.pipelines!.database!,
                    password: { env: "KF_S3_SECRET_KEY" },
                  },
                },
              }),
            OptionsError,
          );
          assert(
            error.message.includes("kubeflow.pipelines.database.password"),
            error.message,
          );
          assert(!error.message.includes(DATA_SECRETS.KF_S3_SECRET_KEY));
        },
      );

      await t.step(
        "a missing bucket: an error naming the field; a closed database port only a warning",
        async () => {
          const error = await assertRejects(
            () =>
              checked({
                ...options,
                pipelines: {
                  database: {
                    ...options.pipelines!.database!,
                    port: closedPort,
                  },
                  objectStore: {
                    ...options.pipelines!.objectStore!,
                    bucket: "no-such-bucket",
                  },
                },
              }),
            OptionsError,
          );
          assert(
            error.message.includes("kubeflow.pipelines.objectStore.bucket"),
            error.message,
          );
          assert(!error.message.includes("pipelines.database"), error.message);
          const ok = await checked({
            ...options,
            pipelines: {
              ...options.pipelines,
              database: { ...options.pipelines!.database!, port: closedPort },
            },
          });
          assert(
            ok.findings.some((f) =>
              f.check === "kubeflow.pipelines.database" &&
              f.severity === "warning" && f.seen.includes("not reachable")
            ),
            JSON.stringify(ok.findings),
          );
        },
      );

      await t.step(
        "a missing database the user may not create: an error naming it",
        async () => {
          const error = await assertRejects(
            () =>
              checked({
                ...options,
                katib: {
                  database: { ...options.katib!.database!, database: "katib2" },
                },
              }),
            OptionsError,
          );
          assert(
            error.message.includes(
              "kubeflow.katib.database.databases.database",
            ),
            error.message,
          );
        },
      );
    } finally {
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});
