/**
 * Kubeflow's state outside the cluster: Pipelines and Katib on an external
 * MySQL-compatible database, Pipelines' artifacts in an external S3-compatible
 * bucket (`kubeflow.pipelines.database`, `kubeflow.katib.database`,
 * `kubeflow.pipelines.objectStore`).
 *
 * Everything is recognized from the rendered objects, never from file paths:
 * - **database clients** are the workloads whose containers read the database
 *   through the environment variables each component is written against (the
 *   Pipelines API server's `DBCONFIG_*`, ML Metadata's `MYSQL_HOST`/`MYSQL_DATABASE`,
 *   the cache server's `DBCONFIG_HOST_NAME`/`DBCONFIG_DB_NAME`, Katib's
 *   `katib-db-manager` with `DB_PASSWORD`). Each value is set where that variable
 *   takes it from: the ConfigMap key (`pipeline-install-config`'s `dbHost`,
 *   `mysqlHost`, ...) or Secret key (`mysql-secret`, `katib-mysql-secrets`) it
 *   references, else the variable itself. So a release that reads `mysqlHost` as
 *   well as `dbHost` (v1.9 on) gets both, and one that adds another key gets it too;
 * - **the in-cluster server** is what the clients' current host names: the Service
 *   of that name (`mysql`, `katib-mysql`, `minio-service`), the workloads it selects
 *   (they must run a database or object-store image: MySQL, MariaDB, MinIO,
 *   SeaweedFS), and what serves only them: their PersistentVolumeClaims,
 *   ServiceAccounts, Secrets and ConfigMaps, other Services selecting them, and
 *   the AuthorizationPolicies, NetworkPolicies and DestinationRules aimed at them.
 *   These leave the desired state;
 * - **the object store's users**: the API server's `OBJECTSTORECONFIG_*`, Argo's
 *   `artifactRepository.s3` in the ConfigMap that holds it, the Pipelines UI's
 *   `MINIO_*`, the profile controller's S3 endpoint variables and the per-profile
 *   artifact code it runs (`sync.py`, where it names the in-cluster endpoint), the
 *   artifact credentials Secret all of them read, and the `kfp-launcher`
 *   ConfigMap's `defaultPipelineRoot`.
 *
 * Secret values go only into Secrets' `data`. Workloads whose settings changed get
 * a pod-template annotation with a salted digest of the settings, so they restart
 * when the settings change (the ConfigMaps they read keep their names).
 *
 * @module
 */

import { resolve } from "node:path";
import { OptionsError } from "../../engine/options.ts";
import {
  describeSecretRef,
  readSecret,
  saltedSecretDigest,
} from "./secrets.ts";
import type { KubeObject } from "../../kube/types.ts";
import { objectName, type ObjectRef, refOf } from "../../kube/object_ref.ts";
import { parseYaml, stringifyYaml } from "../../deps.ts";
import type { Finding } from "../../engine/types.ts";
import { checkMysql, type MysqlTarget } from "../../tools/mysql_check.ts";
import { checkS3 } from "../../tools/s3_check.ts";
import type {
  katibDatabaseSchema,
  KubeflowOptions,
  objectStoreSchema,
  pipelinesDatabaseSchema,
  SecretRef,
} from "./options.ts";
import type { z } from "../../deps.ts";

/** Annotation on the pod templates of workloads whose external-data settings kfplan set. */
export const EXTERNAL_DATA_DIGEST_ANNOTATION =
  "kfplan.dev/external-data-digest";

/** Validated `kubeflow.pipelines.database`. */
export type PipelinesDatabase = z.output<typeof pipelinesDatabaseSchema>;
/** Validated `kubeflow.katib.database`. */
export type KatibDatabase = z.output<typeof katibDatabaseSchema>;
/** Validated `kubeflow.pipelines.objectStore`. */
export type ObjectStore = z.output<typeof objectStoreSchema>;

/** The secret values the settings need, read from their references. */
export interface ExternalDataSecrets {
  /** `kubeflow.pipelines.database.password`. */
  pipelinesDatabasePassword?: string;
  /** `kubeflow.katib.database.password`. */
  katibDatabasePassword?: string;
  /** `kubeflow.pipelines.objectStore.accessKey`. */
  objectStoreAccessKey?: string;
  /** `kubeflow.pipelines.objectStore.secretKey`. */
  objectStoreSecretKey?: string;
}

/** Input of {@linkcode applyExternalData}. */
export interface ExternalDataInput {
  /** The validated step options (`pipelines`, `katib`, `components`). */
  options: KubeflowOptions;
  /** Secret values (plaintext, in memory only). */
  secrets: ExternalDataSecrets;
  /** Value of {@linkcode EXTERNAL_DATA_DIGEST_ANNOTATION} (a salted digest of the settings). */
  digest: string;
}

/** An object the settings left out of the desired state, and why. */
export interface RemovedObject extends ObjectRef {
  /** The setting, e.g. `pipelines.database`. */
  setting: string;
  /** Why it goes, e.g. `in-cluster MySQL (Service kubeflow/mysql)`. */
  reason: string;
}

/** What {@linkcode applyExternalData} did. */
export interface ExternalDataResult {
  /** The objects with the settings applied and the in-cluster servers left out. */
  objects: KubeObject[];
  /** Objects left out. */
  removed: RemovedObject[];
  /** Per setting, the objects changed and how (`ConfigMap kubeflow/pipeline-install-config: dbHost, dbPort`). */
  changed: Record<string, string[]>;
  /** Things the plan reader should know (never secret). */
  warnings: string[];
  /** What was recognized, for the plan's info findings. */
  facts: string[];
}

/** Workload kinds whose pod templates are searched. */
const WORKLOADS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string };
    fieldRef?: unknown;
  };
}

interface Container {
  name: string;
  image?: string;
  env?: EnvVar[];
  envFrom?: {
    configMapRef?: { name: string };
    secretRef?: { name: string };
  }[];
  volumeMounts?: unknown[];
}

interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  serviceAccountName?: string;
  volumes?: {
    persistentVolumeClaim?: { claimName: string };
    configMap?: { name: string };
    secret?: { secretName: string };
    projected?: {
      sources?: {
        configMap?: { name: string };
        secret?: { name: string };
      }[];
    };
  }[];
}

function podTemplate(
  o: KubeObject,
): { metadata?: Record<string, unknown>; spec?: PodSpec } | undefined {
  if (!WORKLOADS.has(o.kind)) return undefined;
  return (o.spec as {
    template?: { metadata?: Record<string, unknown>; spec?: PodSpec };
  })
    ?.template;
}

function containersOf(o: KubeObject): Container[] {
  const spec = podTemplate(o)?.spec;
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
}

function podLabels(o: KubeObject): Record<string, string> {
  return (podTemplate(o)?.metadata?.labels ?? {}) as Record<string, string>;
}

function describe(o: ObjectRef): string {
  return objectName(o);
}

function toBase64(text: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

function fromBase64(text: string): string {
  return new TextDecoder().decode(
    Uint8Array.from(atob(text), (c) => c.charCodeAt(0)),
  );
}

/** The working state of one application of the settings. */
class Edit {
  readonly objects: KubeObject[];
  readonly removed: RemovedObject[] = [];
  readonly changed: Record<string, string[]> = {};
  readonly warnings: string[] = [];
  readonly facts: string[] = [];
  readonly issues: { path: string; message: string }[] = [];
  /** Workloads whose settings changed (restart annotation). */
  readonly touched = new Set<KubeObject>();
  /** `kind/ns/name#key` -> [value, setting] already assigned, to catch conflicts. */
  readonly assigned = new Map<string, [string, string]>();
  readonly changes = new Map<string, Set<string>>();

  constructor(objects: KubeObject[]) {
    this.objects = structuredClone(objects);
  }

  find(
    kind: string,
    namespace: string | undefined,
    name: string,
  ): KubeObject | undefined {
    return this.objects.find((o) =>
      o.kind === kind && o.metadata.name === name &&
      (o.metadata.namespace ?? undefined) === namespace
    );
  }

  note(setting: string, o: ObjectRef, what: string): void {
    const key = `${setting}\0${describe(o)}`;
    const set = this.changes.get(key) ?? new Set<string>();
    set.add(what);
    this.changes.set(key, set);
  }

  fail(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  /**
   * Sets what a container's variable resolves to: the ConfigMap or Secret key it
   * references, else the variable's own value (added when absent). Returns false
   * when a secret would have to go into a plain variable.
   */
  setEnv(
    setting: string,
    workload: KubeObject,
    container: Container,
    name: string,
    value: string,
    secret = false,
  ): boolean {
    const env = container.env ??= [];
    const entry = env.find((e) => e.name === name);
    const ns = workload.metadata.namespace;
    const cm = entry?.valueFrom?.configMapKeyRef;
    const sec = entry?.valueFrom?.secretKeyRef;
    if (cm || sec) {
      const kind = cm ? "ConfigMap" : "Secret";
      const ref = (cm ?? sec)!;
      const target = this.find(kind, ns, ref.name);
      if (!target) {
        this.fail(
          setting,
          `${
            describe(refOf(workload))
          } reads ${name} from ${kind} ${ns}/${ref.name}, which the render does not have`,
        );
        return true;
      }
      if (kind === "ConfigMap" && secret) {
        this.fail(
          setting,
          `${
            describe(refOf(workload))
          } reads ${name} from ConfigMap ${ns}/${ref.name}: kfplan puts secrets only in Secrets`,
        );
        return true;
      }
      const key = `${kind}/${ns}/${ref.name}#${ref.key}`;
      const prior = this.assigned.get(key);
      if (prior && prior[0] !== value) {
        this.fail(
          setting,
          `${kind} ${ns}/${ref.name} key ${ref.key} is read as ${name} by ${workload.metadata.name} ` +
            `and as another setting of ${
              prior[1]
            }; they would need different values`,
        );
        return true;
      }
      this.assigned.set(key, [value, setting]);
      if (kind === "ConfigMap") {
        const data = (target.data ??= {}) as Record<string, string>;
        data[ref.key] = value;
      } else {
        const data = (target.data ??= {}) as Record<string, string>;
        data[ref.key] = toBase64(value);
      }
      this.note(setting, refOf(target), ref.key);
      this.touched.add(workload);
      return true;
    }
    if (secret) return false;
    if (entry) {
      delete entry.valueFrom;
      entry.value = value;
    } else env.push({ name, value });
    this.note(setting, refOf(workload), `${container.name} env ${name}`);
    this.touched.add(workload);
    return true;
  }

  /** What a variable resolves to in the render (its literal or referenced ConfigMap value). */
  envValue(
    workload: KubeObject,
    container: Container,
    name: string,
  ): string | undefined {
    const entry = container.env?.find((e) => e.name === name);
    if (!entry) return undefined;
    if (entry.value !== undefined) return entry.value;
    const cm = entry.valueFrom?.configMapKeyRef;
    if (cm) {
      const target = this.find(
        "ConfigMap",
        workload.metadata.namespace,
        cm.name,
      );
      return (target?.data as Record<string, string> | undefined)?.[cm.key];
    }
    const sec = entry.valueFrom?.secretKeyRef;
    if (sec) {
      const target = this.find("Secret", workload.metadata.namespace, sec.name);
      const raw = (target?.data as Record<string, string> | undefined)
        ?.[sec.key];
      return raw === undefined ? undefined : fromBase64(raw);
    }
    return undefined;
  }

  remove(o: KubeObject, setting: string, reason: string): void {
    const i = this.objects.indexOf(o);
    if (i < 0) return;
    this.objects.splice(i, 1);
    this.removed.push({ ...refOf(o), setting, reason });
  }

  result(): ExternalDataResult {
    const gone = new Set(this.removed.map((r) => describe(r)));
    for (const [key, whats] of this.changes) {
      const [setting, object] = key.split("\0");
      // An object that was set and then left out (the store's own pods) is no change.
      if (gone.has(object)) continue;
      (this.changed[setting] ??= []).push(
        `${object}: ${[...whats].join(", ")}`,
      );
    }
    return {
      objects: this.objects,
      removed: this.removed,
      changed: this.changed,
      warnings: this.warnings,
      facts: this.facts,
    };
  }
}

/** Matches a label selector (`matchLabels` and `matchExpressions`) against labels. */
function selects(
  selector: {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  } | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return false;
  const ml = Object.entries(selector.matchLabels ?? {});
  const me = selector.matchExpressions ?? [];
  if (ml.length === 0 && me.length === 0) return false;
  return ml.every(([k, v]) => labels[k] === v) && me.every((e) => {
    const has = e.key in labels;
    switch (e.operator) {
      case "In":
        return has && (e.values ?? []).includes(labels[e.key]);
      case "NotIn":
        return !has || !(e.values ?? []).includes(labels[e.key]);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        return false;
    }
  });
}

/** A Service's name and namespace from a host as clients write it (`mysql`, `minio-service.kubeflow:9000`). */
function serviceOfHost(
  host: string,
  defaultNamespace: string | undefined,
): { name: string; namespace: string | undefined } {
  const bare = host.replace(/:\d+$/, "");
  const parts = bare.split(".");
  const inCluster = parts.length === 1 || parts.length === 2 ||
    /\.svc(\.cluster\.local)?$/.test(bare);
  return inCluster
    ? { name: parts[0], namespace: parts[1] ?? defaultNamespace }
    : { name: "", namespace: undefined };
}

/** Names of ConfigMaps and Secrets a workload's pods read. */
function configRefs(o: KubeObject): Set<string> {
  const refs = new Set<string>();
  const spec = podTemplate(o)?.spec;
  for (const c of containersOf(o)) {
    for (const e of c.env ?? []) {
      const cm = e.valueFrom?.configMapKeyRef?.name;
      const sec = e.valueFrom?.secretKeyRef?.name;
      if (cm) refs.add(`ConfigMap/${cm}`);
      if (sec) refs.add(`Secret/${sec}`);
    }
    for (const f of c.envFrom ?? []) {
      if (f.configMapRef) refs.add(`ConfigMap/${f.configMapRef.name}`);
      if (f.secretRef) refs.add(`Secret/${f.secretRef.name}`);
    }
  }
  for (const v of spec?.volumes ?? []) {
    if (v.configMap) refs.add(`ConfigMap/${v.configMap.name}`);
    if (v.secret) refs.add(`Secret/${v.secret.secretName}`);
    for (const s of v.projected?.sources ?? []) {
      if (s.configMap) refs.add(`ConfigMap/${s.configMap.name}`);
      if (s.secret) refs.add(`Secret/${s.secret.name}`);
    }
  }
  return refs;
}

/**
 * Leaves an in-cluster server out: the Service a client's host names, the workloads
 * it selects (which must run an image matching `image`), and what serves only them.
 */
function removeServer(
  edit: Edit,
  setting: string,
  host: string,
  namespace: string | undefined,
  server: { what: string; image: RegExp },
): void {
  const { name, namespace: ns } = serviceOfHost(host, namespace);
  if (
    edit.removed.some((r) =>
      r.kind === "Service" && r.name === name && r.namespace === ns
    )
  ) return;
  const service = name ? edit.find("Service", ns, name) : undefined;
  if (!service) {
    edit.facts.push(
      `${setting}: no in-cluster ${server.what} to leave out (the clients' host ${host} is no Service in the render)`,
    );
    return;
  }
  const selector = (service.spec as { selector?: Record<string, string> })
    ?.selector ?? {};
  const workloads = Object.keys(selector).length === 0
    ? []
    : edit.objects.filter(
      (o) =>
        WORKLOADS.has(o.kind) && o.metadata.namespace === ns &&
        Object.entries(selector).every(([k, v]) => podLabels(o)[k] === v),
    );
  const images = workloads.flatMap((w) =>
    containersOf(w).map((c) => c.image ?? "")
  );
  if (workloads.length === 0 || !images.some((i) => server.image.test(i))) {
    edit.warnings.push(
      `${setting}: Service ${ns}/${name} (the clients' host ${host}) selects ${
        workloads.length
          ? workloads.map((w) => describe(refOf(w))).join(", ")
          : "no workload"
      } running ${
        images.join(", ") || "nothing"
      }, not ${server.what}: left in place`,
    );
    return;
  }
  const storeImage = images.find((i) => server.image.test(i))!;
  const reason =
    `in-cluster ${server.what} (${storeImage}) behind Service ${ns}/${name}`;
  const kept = edit.objects.filter((o) =>
    WORKLOADS.has(o.kind) && !workloads.includes(o)
  );
  const keptLabels = kept.map(podLabels);
  const onlyRemoved = (sel: Parameters<typeof selects>[0]) =>
    workloads.some((w) => selects(sel, podLabels(w))) &&
    !keptLabels.some((l) => selects(sel, l));
  const services = edit.objects.filter((o) => {
    if (o.kind !== "Service" || o.metadata.namespace !== ns) return false;
    const sel = (o.spec as { selector?: Record<string, string> })?.selector;
    return o === service ||
      (sel !== undefined && onlyRemoved({ matchLabels: sel }));
  });
  const hosts = new Set(
    services.flatMap((s) => {
      const n = s.metadata.name;
      return [
        n,
        `${n}.${ns}`,
        `${n}.${ns}.svc`,
        `${n}.${ns}.svc.cluster.local`,
      ];
    }),
  );
  const keptRefs = new Set(kept.flatMap((w) => [...configRefs(w)]));
  const claims = new Set<string>();
  const accounts = new Set<string>();
  const configs = new Set<string>();
  for (const w of workloads) {
    const spec = podTemplate(w)?.spec;
    for (const v of spec?.volumes ?? []) {
      if (v.persistentVolumeClaim) {
        claims.add(v.persistentVolumeClaim.claimName);
      }
    }
    if (spec?.serviceAccountName) accounts.add(spec.serviceAccountName);
    for (const r of configRefs(w)) if (!keptRefs.has(r)) configs.add(r);
  }
  for (const w of kept) {
    const spec = podTemplate(w)?.spec;
    for (const v of spec?.volumes ?? []) {
      if (v.persistentVolumeClaim) {
        claims.delete(v.persistentVolumeClaim.claimName);
      }
    }
    if (spec?.serviceAccountName) accounts.delete(spec.serviceAccountName);
  }
  const goes = edit.objects.filter((o) => {
    if (workloads.includes(o) || services.includes(o)) return true;
    if (o.metadata.namespace !== ns) return false;
    const spec = o.spec as Record<string, unknown> | undefined;
    switch (o.kind) {
      case "PersistentVolumeClaim":
        return claims.has(o.metadata.name);
      case "ServiceAccount":
        return accounts.has(o.metadata.name);
      case "ConfigMap":
      case "Secret":
        return configs.has(`${o.kind}/${o.metadata.name}`);
      case "AuthorizationPolicy":
        return onlyRemoved(spec?.selector as Parameters<typeof selects>[0]);
      case "NetworkPolicy":
        return onlyRemoved(spec?.podSelector as Parameters<typeof selects>[0]);
      case "DestinationRule":
        return hosts.has(String(spec?.host ?? ""));
      default:
        return false;
    }
  });
  for (const o of goes) edit.remove(o, setting, reason);
  edit.facts.push(
    `${setting}: left out the ${reason}: ${
      goes.map((o) => describe(refOf(o))).join(", ")
    }`,
  );
}

/** Database roles of the variables Pipelines' components read. */
const PIPELINES_DB_ENV = {
  host: [
    "DBCONFIG_HOST",
    "DBCONFIG_MYSQLCONFIG_HOST",
    "DBCONFIG_HOST_NAME",
    "MYSQL_HOST",
  ],
  port: ["DBCONFIG_PORT", "DBCONFIG_MYSQLCONFIG_PORT", "MYSQL_PORT"],
  user: ["DBCONFIG_USER", "DBCONFIG_MYSQLCONFIG_USER"],
  password: ["DBCONFIG_PASSWORD", "DBCONFIG_MYSQLCONFIG_PASSWORD"],
  pipeline: ["DBCONFIG_DBNAME", "DBCONFIG_MYSQLCONFIG_DBNAME"],
  cache: ["DBCONFIG_DB_NAME"],
  metadata: ["MYSQL_DATABASE"],
} as const;

/** A Pipelines database client is a container reading a host and a database name from these. */
function isPipelinesDbClient(c: Container): boolean {
  const names = new Set((c.env ?? []).map((e) => e.name));
  const has = (list: readonly string[]) => list.some((n) => names.has(n));
  return has(PIPELINES_DB_ENV.host) &&
    (has(PIPELINES_DB_ENV.pipeline) || has(PIPELINES_DB_ENV.cache) ||
      has(PIPELINES_DB_ENV.metadata)) &&
    // Katib reads KATIB_MYSQL_*; a MySQL server image reads MYSQL_* for itself.
    !/mysql|mariadb/.test((c.image ?? "").split("/").pop() ?? "");
}

function applyPipelinesDatabase(
  edit: Edit,
  db: PipelinesDatabase,
  password: string,
): void {
  const setting = "pipelines.database";
  const clients = edit.objects.flatMap((o) =>
    containersOf(o).filter(isPipelinesDbClient).map((c) => ({ o, c }))
  );
  if (clients.length === 0) {
    edit.fail(
      setting,
      "the rendered tree has no Pipelines database client: looked for workloads whose containers read " +
        `a host (${PIPELINES_DB_ENV.host.join(", ")}) and a database name ` +
        `(${
          [
            ...PIPELINES_DB_ENV.pipeline,
            ...PIPELINES_DB_ENV.cache,
            ...PIPELINES_DB_ENV.metadata,
          ].join(", ")
        })`,
    );
    return;
  }
  const oldHosts = new Set<string>();
  for (const { o, c } of clients) {
    for (const name of PIPELINES_DB_ENV.host) {
      const old = edit.envValue(o, c, name);
      if (old !== undefined) {
        oldHosts.add(`${old}\0${o.metadata.namespace ?? ""}`);
      }
    }
  }
  const extra = db.tls
    ? JSON.stringify({ tls: db.tls.skipVerify ? "skip-verify" : "true" })
    : undefined;
  for (const { o, c } of clients) {
    const names = new Set((c.env ?? []).map((e) => e.name));
    const set = (
      role: keyof typeof PIPELINES_DB_ENV,
      value: string,
      secret = false,
    ) => {
      for (const name of PIPELINES_DB_ENV[role]) {
        if (!names.has(name)) continue;
        if (!edit.setEnv(setting, o, c, name, value, secret)) {
          edit.fail(
            `${setting}.password`,
            `${
              describe(refOf(o))
            } container ${c.name} has ${name} as a plain value: ` +
              "kfplan puts the password only in a Secret, and this variable reads none",
          );
        }
      }
    };
    set("host", db.host);
    set("port", String(db.port));
    set("user", db.user);
    set("password", password, true);
    set("pipeline", db.databases.pipeline);
    set("cache", db.databases.cache);
    set("metadata", db.databases.metadata);
    if (extra && names.has("DBCONFIG_DBNAME")) {
      // The API server passes ExtraParams to the Go MySQL driver's DSN.
      for (
        const name of [
          "DBCONFIG_EXTRAPARAMS",
          "DBCONFIG_MYSQLCONFIG_EXTRAPARAMS",
        ]
      ) {
        edit.setEnv(setting, o, c, name, extra);
      }
    }
  }
  if (db.tls) {
    edit.warnings.push(
      "pipelines.database.tls: the API server connects with TLS (ExtraParams); ML Metadata and the cache " +
        "server have no TLS setting kfplan knows of: the server must also accept their plain connections",
    );
  }
  edit.facts.push(
    `pipelines.database: clients ${
      [...new Set(clients.map(({ o }) => describe(refOf(o))))].join(", ")
    }`,
  );
  for (const key of oldHosts) {
    const [host, ns] = key.split("\0");
    if (host === db.host) continue;
    removeServer(edit, setting, host, ns || undefined, {
      what: "MySQL",
      image: /(^|\/)(mysql|mariadb|percona)[^/]*$/,
    });
  }
}

/** Katib's DB manager: the container running a `katib-db-manager` image. */
function applyKatibDatabase(
  edit: Edit,
  db: KatibDatabase,
  password: string,
): void {
  const setting = "katib.database";
  const managers = edit.objects.flatMap((o) =>
    containersOf(o).filter((c) => /katib-db-manager/.test(c.image ?? "")).map((
      c,
    ) => ({ o, c }))
  );
  if (managers.length === 0) {
    edit.fail(
      setting,
      "the rendered tree has no Katib DB manager: looked for a workload running a katib-db-manager image" +
        (edit.objects.some((o) => /katib/.test(o.metadata.name))
          ? ""
          : " (is Katib left out?)"),
    );
    return;
  }
  for (const { o, c } of managers) {
    // Katib's defaults when KATIB_MYSQL_DB_HOST is unset (Katib source): katib-mysql.
    const oldHost = edit.envValue(o, c, "KATIB_MYSQL_DB_HOST") ?? "katib-mysql";
    const names = new Set((c.env ?? []).map((e) => e.name));
    if (
      !names.has("DB_PASSWORD") ||
      !edit.setEnv(setting, o, c, "DB_PASSWORD", password, true)
    ) {
      edit.fail(
        `${setting}.password`,
        `${
          describe(refOf(o))
        } container ${c.name} reads DB_PASSWORD from no Secret: kfplan puts the password only in a Secret`,
      );
    }
    edit.setEnv(setting, o, c, "DB_NAME", "mysql");
    edit.setEnv(setting, o, c, "DB_USER", db.user);
    edit.setEnv(setting, o, c, "KATIB_MYSQL_DB_HOST", db.host);
    edit.setEnv(setting, o, c, "KATIB_MYSQL_DB_PORT", String(db.port));
    edit.setEnv(setting, o, c, "KATIB_MYSQL_DB_DATABASE", db.database);
    edit.facts.push(`katib.database: client ${describe(refOf(o))}`);
    if (oldHost !== db.host) {
      removeServer(edit, setting, oldHost, o.metadata.namespace, {
        what: "MySQL",
        image: /(^|\/)(mysql|mariadb|percona)[^/]*$/,
      });
    }
  }
  if (db.tls) {
    edit.warnings.push(
      "katib.database.tls: Katib's DB manager has no TLS setting kfplan knows of; the server must accept its plain connections",
    );
  }
}

/** Names of the ConfigMaps a workload mounts as volumes. */
function podMounts(o: KubeObject): string[] {
  return (podTemplate(o)?.spec?.volumes ?? []).flatMap((v) =>
    v.configMap ? [v.configMap.name] : []
  );
}

/** `[major, minor]` of an image tag such as `2.5.0` or `2.0.0-alpha.7`. */
function imageVersion(image: string): [number, number] | undefined {
  const m = image.match(/:v?(\d+)\.(\d+)/);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function atLeast(
  v: [number, number] | undefined,
  min: [number, number],
): boolean {
  return v !== undefined &&
    (v[0] > min[0] || (v[0] === min[0] && v[1] >= min[1]));
}

/** Object-store images the releases ship. */
const STORE_IMAGE = /(^|\/)(minio|seaweedfs)[^/]*$/;

function applyObjectStore(
  edit: Edit,
  store: ObjectStore,
  accessKey: string,
  secretKey: string,
): void {
  const setting = "pipelines.objectStore";
  const [host, portText] = store.endpoint.split(":");
  const port = portText ?? (store.secure ? "443" : "80");
  const url = `${store.secure ? "https" : "http"}://${store.endpoint}`;
  const oldEndpoints = new Set<string>();

  // The API server: OBJECTSTORECONFIG_*.
  const apiServers = edit.objects.flatMap((o) =>
    containersOf(o).filter((c) =>
      (c.env ?? []).some((e) =>
        e.name === "OBJECTSTORECONFIG_BUCKETNAME" ||
        e.name === "OBJECTSTORECONFIG_ACCESSKEY"
      )
    ).map((c) => ({ o, c }))
  );
  if (apiServers.length === 0) {
    edit.fail(
      setting,
      "the rendered tree has no Pipelines API server using an object store: looked for a workload whose " +
        "container reads OBJECTSTORECONFIG_BUCKETNAME or OBJECTSTORECONFIG_ACCESSKEY",
    );
  }
  for (const { o, c } of apiServers) {
    const oldHost = edit.envValue(o, c, "OBJECTSTORECONFIG_HOST");
    if (oldHost) oldEndpoints.add(`${oldHost}\0${o.metadata.namespace ?? ""}`);
    // Unset, the API server's default is the minio-service Service (KFP source).
    else oldEndpoints.add(`minio-service\0${o.metadata.namespace ?? ""}`);
    edit.setEnv(setting, o, c, "OBJECTSTORECONFIG_HOST", host);
    edit.setEnv(setting, o, c, "OBJECTSTORECONFIG_PORT", port);
    edit.setEnv(setting, o, c, "OBJECTSTORECONFIG_REGION", store.region);
    edit.setEnv(
      setting,
      o,
      c,
      "OBJECTSTORECONFIG_SECURE",
      String(store.secure),
    );
    edit.setEnv(setting, o, c, "OBJECTSTORECONFIG_BUCKETNAME", store.bucket);
    for (
      const [name, value] of [
        ["OBJECTSTORECONFIG_ACCESSKEY", accessKey],
        ["OBJECTSTORECONFIG_SECRETACCESSKEY", secretKey],
      ]
    ) {
      if (!edit.setEnv(setting, o, c, name, value, true)) {
        edit.fail(
          setting,
          `${
            describe(refOf(o))
          } container ${c.name} has ${name} as a plain value: kfplan puts keys only in a Secret`,
        );
      }
    }
  }

  // Argo's artifact repository.
  const repos = edit.objects.filter((o) => {
    const text = (o.data as Record<string, string> | undefined)
      ?.artifactRepository;
    return o.kind === "ConfigMap" && typeof text === "string" &&
      /\bs3:/.test(text);
  });
  if (repos.length === 0) {
    edit.fail(
      setting,
      "the rendered tree has no Argo artifact repository: looked for a ConfigMap whose artifactRepository key has s3 " +
        "(workflow-controller-configmap)",
    );
  }
  for (const cm of repos) {
    const data = cm.data as Record<string, string>;
    const repo = (parseYaml(data.artifactRepository) ?? {}) as {
      s3?: Record<string, unknown>;
    };
    const s3 = repo.s3 ?? {};
    if (typeof s3.endpoint === "string") {
      oldEndpoints.add(`${s3.endpoint}\0${cm.metadata.namespace ?? ""}`);
    }
    s3.endpoint = store.endpoint;
    s3.bucket = store.bucket;
    s3.insecure = !store.secure;
    s3.region = store.region;
    data.artifactRepository = stringifyYaml(repo, { lineWidth: 0 });
    edit.note(
      setting,
      refOf(cm),
      "artifactRepository.s3 endpoint, bucket, insecure, region",
    );
    for (
      const [field, value] of [["accessKeySecret", accessKey], [
        "secretKeySecret",
        secretKey,
      ]] as const
    ) {
      const ref = s3[field] as { name?: string; key?: string } | undefined;
      if (!ref?.name || !ref.key) continue;
      const secret = edit.find("Secret", cm.metadata.namespace, ref.name);
      if (!secret) {
        edit.fail(
          setting,
          `ConfigMap ${
            objectName(refOf(cm))
          } names Secret ${ref.name} for ${field}, which the render does not have`,
        );
        continue;
      }
      ((secret.data ??= {}) as Record<string, string>)[ref.key] = toBase64(
        value,
      );
      edit.note(setting, refOf(secret), ref.key);
    }
  }

  const codes = edit.objects.filter((o) =>
    o.kind === "ConfigMap" &&
    typeof (o.data as Record<string, string> | undefined)?.["sync.py"] ===
      "string"
  );
  // The UI reads artifacts itself: MINIO_HOST.MINIO_NAMESPACE unless the namespace is empty.
  for (const o of edit.objects) {
    for (const c of containersOf(o)) {
      const names = new Set((c.env ?? []).map((e) => e.name));
      if (!names.has("MINIO_ACCESS_KEY") && !names.has("MINIO_HOST")) continue;
      // The store itself reads its keys from the same variables.
      if (STORE_IMAGE.test(c.image ?? "")) continue;
      if (codes.some((cm) => podMounts(o).includes(cm.metadata.name))) continue;
      edit.setEnv(setting, o, c, "MINIO_HOST", host);
      edit.setEnv(setting, o, c, "MINIO_PORT", port);
      edit.setEnv(setting, o, c, "MINIO_SSL", String(store.secure));
      edit.setEnv(setting, o, c, "MINIO_NAMESPACE", "");
      if (names.has("AWS_REGION")) {
        edit.setEnv(setting, o, c, "AWS_REGION", store.region);
      }
      for (
        const [name, value] of [["MINIO_ACCESS_KEY", accessKey], [
          "MINIO_SECRET_KEY",
          secretKey,
        ]]
      ) {
        if (names.has(name)) edit.setEnv(setting, o, c, name, value, true);
      }
      if (names.has("ARTIFACTS_SERVICE_PROXY_ENABLED")) {
        // The per-profile artifact proxies read the in-cluster store's Service.
        edit.setEnv(setting, o, c, "ARTIFACTS_SERVICE_PROXY_ENABLED", "false");
      }
    }
  }

  // The profile controller: the Deployment mounting the ConfigMap with sync.py.
  for (const o of edit.objects) {
    if (!codes.some((cm) => podMounts(o).includes(cm.metadata.name))) continue;
    for (const c of containersOf(o)) {
      const names = new Set((c.env ?? []).map((e) => e.name));
      for (
        const [name, value] of [
          ["MINIO_ACCESS_KEY", accessKey],
          ["MINIO_SECRET_KEY", secretKey],
          ["AWS_ACCESS_KEY_ID", accessKey],
          ["AWS_SECRET_ACCESS_KEY", secretKey],
        ]
      ) {
        if (names.has(name)) edit.setEnv(setting, o, c, name, value, true);
      }
      if (names.has("S3_ENDPOINT_URL")) {
        edit.setEnv(setting, o, c, "S3_ENDPOINT_URL", url);
      }
      if (names.has("AWS_REGION")) {
        edit.setEnv(setting, o, c, "AWS_REGION", store.region);
      }
      if (names.has("AWS_ENDPOINT_URL")) {
        edit.setEnv(setting, o, c, "AWS_ENDPOINT_URL", url);
        edit.warnings.push(
          `pipelines.objectStore: ${
            describe(refOf(o))
          } creates per-profile keys through SeaweedFS's IAM API ` +
            `(AWS_ENDPOINT_URL, now ${url}); an S3 service without that API fails new profiles' credentials: ` +
            "create each profile's mlpipeline-minio-artifact Secret yourself, and the controller reuses it",
        );
      }
    }
  }
  for (const cm of codes) {
    const data = cm.data as Record<string, string>;
    let code = data["sync.py"];
    const before = code;
    for (const key of oldEndpoints) {
      const [endpoint, ns] = key.split("\0");
      for (
        const form of new Set([
          endpoint,
          endpoint.includes(".") ? endpoint : `${endpoint}.${ns}:9000`,
        ])
      ) {
        code = code.replaceAll(`"${form}"`, JSON.stringify(store.endpoint));
      }
    }
    if (code !== before) {
      code = code.replace(
        /("insecure":\s*)(True|False)/g,
        `$1${store.secure ? "False" : "True"}`,
      )
        .replace(
          /^S3_BUCKET_NAME = '[^']*'$/m,
          `S3_BUCKET_NAME = '${store.bucket}'`,
        );
      data["sync.py"] = code;
      edit.note(
        setting,
        refOf(cm),
        "sync.py: per-profile artifact repository endpoint, bucket, insecure",
      );
      if (code.includes("minio://")) {
        edit.warnings.push(
          `pipelines.objectStore: ${
            describe(refOf(cm))
          } gives each profile a minio:// pipeline root, which ` +
            "KFP's v2 launcher resolves to the in-cluster minio-service: v2 pipelines in profiles need a " +
            "pipeline root on the external bucket (set it per pipeline or per profile's kfp-launcher)",
        );
      }
    }
  }

  // v2 pipelines' default root in the kubeflow namespace's launcher config; KFP 2.2
  // and later also read the S3 endpoint and credentials from its `providers`.
  const credentials = apiServers.flatMap(({ c }) => {
    const ak = c.env?.find((e) => e.name === "OBJECTSTORECONFIG_ACCESSKEY")
      ?.valueFrom?.secretKeyRef;
    const sk = c.env?.find((e) =>
      e.name === "OBJECTSTORECONFIG_SECRETACCESSKEY"
    )?.valueFrom?.secretKeyRef;
    return ak && sk && ak.name === sk.name
      ? [{ secretName: ak.name, accessKeyKey: ak.key, secretKeyKey: sk.key }]
      : [];
  })[0];
  const providers = apiServers.some(({ c }) =>
    atLeast(imageVersion(c.image ?? ""), [2, 2])
  );
  for (const o of edit.objects) {
    const data = o.data as Record<string, string> | undefined;
    if (
      o.kind !== "ConfigMap" || o.metadata.name !== "kfp-launcher" || !data ||
      !("defaultPipelineRoot" in data)
    ) {
      continue;
    }
    data.defaultPipelineRoot = `s3://${store.bucket}/v2/artifacts`;
    edit.note(setting, refOf(o), "defaultPipelineRoot");
    if (providers && credentials) {
      data.providers = stringifyYaml({
        s3: {
          default: {
            endpoint: store.endpoint,
            disableSSL: !store.secure,
            region: store.region,
            forcePathStyle: true,
            credentials: { fromEnv: false, secretRef: credentials },
          },
        },
      }, { lineWidth: 0 });
      edit.note(setting, refOf(o), "providers.s3.default");
    }
  }

  for (const key of oldEndpoints) {
    const [endpoint, ns] = key.split("\0");
    if (endpoint === store.endpoint) continue;
    removeServer(edit, setting, endpoint, ns || undefined, {
      what: "object store",
      image: STORE_IMAGE,
    });
  }
}

/**
 * Applies `kubeflow.pipelines` and `kubeflow.katib` to the rendered objects: the
 * components read the external servers and the in-cluster ones are left out.
 * Throws {@linkcode OptionsError} naming the setting when the render lacks an
 * object the setting needs, and what was looked for.
 *
 * @example
 * ```ts
 * const { objects, removed, changed } = applyExternalData(rendered.objects, {
 *   options, secrets: { pipelinesDatabasePassword: "..." }, digest: "3f2a...",
 * });
 * ```
 */
export function applyExternalData(
  objects: KubeObject[],
  input: ExternalDataInput,
): ExternalDataResult {
  const o = input.options;
  const edit = new Edit(objects);
  if (o.katib?.database && o.components.exclude.includes("katib")) {
    edit.fail(
      "katib.database",
      "Katib is left out (components.exclude): drop katib.database or keep Katib",
    );
  }
  const s = input.secrets;
  if (o.pipelines?.database) {
    applyPipelinesDatabase(
      edit,
      o.pipelines.database,
      s.pipelinesDatabasePassword ?? "",
    );
  }
  if (o.katib?.database && !o.components.exclude.includes("katib")) {
    applyKatibDatabase(edit, o.katib.database, s.katibDatabasePassword ?? "");
  }
  if (o.pipelines?.objectStore) {
    applyObjectStore(
      edit,
      o.pipelines.objectStore,
      s.objectStoreAccessKey ?? "",
      s.objectStoreSecretKey ?? "",
    );
  }
  if (edit.issues.length > 0) throw new OptionsError(edit.issues);
  for (const w of edit.touched) {
    if (!edit.objects.includes(w)) continue;
    const template = podTemplate(w)!;
    const meta = (template.metadata ??= {}) as {
      annotations?: Record<string, string>;
    };
    (meta.annotations ??= {})[EXTERNAL_DATA_DIGEST_ANNOTATION] = input.digest;
  }
  return edit.result();
}

/** How a step reads the settings' secrets. */
export interface ExternalDataSecretReader {
  /** The secret's value; `field` is relative to the step options (`pipelines.database.password`). */
  read(ref: SecretRef, field: string): Promise<string>;
}

/** Reads every secret the `pipelines` and `katib` settings reference. */
export async function readExternalDataSecrets(
  options: KubeflowOptions,
  reader: ExternalDataSecretReader,
): Promise<ExternalDataSecrets> {
  const secrets: ExternalDataSecrets = {};
  const db = options.pipelines?.database;
  const store = options.pipelines?.objectStore;
  const katib = options.katib?.database;
  if (db) {
    secrets.pipelinesDatabasePassword = await reader.read(
      db.password,
      "pipelines.database.password",
    );
  }
  if (katib) {
    secrets.katibDatabasePassword = await reader.read(
      katib.password,
      "katib.database.password",
    );
  }
  if (store) {
    secrets.objectStoreAccessKey = await reader.read(
      store.accessKey,
      "pipelines.objectStore.accessKey",
    );
    secrets.objectStoreSecretKey = await reader.read(
      store.secretKey,
      "pipelines.objectStore.secretKey",
    );
  }
  return secrets;
}

/** Options for {@linkcode checkExternalData}. */
export interface CheckExternalDataOptions {
  /** Bound of each connection and request; default 5000 ms. */
  timeoutMs?: number;
  /** Reads a `tls.ca` file (relative paths resolved by the caller); default `Deno.readTextFile`. */
  readFile?: (path: string) => Promise<string>;
}

/** What {@linkcode checkExternalData} found. */
export interface ExternalDataCheck {
  /** Reachability and what was found, for the plan (`info` and `warning`). */
  findings: Finding[];
  /** Settings the servers refused, by option path relative to the step options. */
  issues: { path: string; message: string }[];
}

/** One server check's outcome, as both checkers report it. */
interface ServerCheck {
  reachable: boolean;
  detail?: string;
  problems: { field: string; message: string }[];
  facts: string[];
}

function report(
  out: ExternalDataCheck,
  field: string,
  target: string,
  r: ServerCheck,
): void {
  if (!r.reachable) {
    out.findings.push({
      check: `kubeflow.${field}`,
      severity: "warning",
      target,
      seen:
        `${field} (${target}) is not reachable from this machine (${r.detail}); not checked`,
      fix:
        "plan from a machine that reaches it to check the credentials, or make sure the cluster reaches it",
    });
    return;
  }
  for (const p of r.problems) {
    out.issues.push({ path: `${field}.${p.field}`, message: p.message });
  }
  for (const seen of r.facts) {
    out.findings.push({
      check: `kubeflow.${field}`,
      severity: "info",
      target,
      seen,
    });
  }
}

/**
 * Checks the external servers from the planning machine: each database (connect,
 * authenticate, databases present or creatable) and the bucket (exists, the keys
 * list and write it). A refusal is an issue naming the field; an unreachable
 * server is a warning finding (the cluster may reach what this machine cannot).
 *
 * @example
 * ```ts
 * const { findings, issues } = await checkExternalData(options, secrets);
 * if (issues.length) throw new OptionsError(issues);
 * ```
 */
export async function checkExternalData(
  options: KubeflowOptions,
  secrets: ExternalDataSecrets,
  checkOptions: CheckExternalDataOptions = {},
): Promise<ExternalDataCheck> {
  const out: ExternalDataCheck = { findings: [], issues: [] };
  const timeoutMs = checkOptions.timeoutMs ?? 5000;
  const readFile = checkOptions.readFile ?? Deno.readTextFile;
  const databases: {
    field: string;
    target: MysqlTarget;
    tls?: { ca?: string; skipVerify: boolean };
  }[] = [];
  const db = options.pipelines?.database;
  if (db) {
    databases.push({
      field: "pipelines.database",
      target: {
        host: db.host,
        port: db.port,
        user: db.user,
        password: secrets.pipelinesDatabasePassword ?? "",
        databases: db.databases,
      },
      tls: db.tls,
    });
  }
  const katib = options.katib?.database;
  if (katib) {
    databases.push({
      field: "katib.database",
      target: {
        host: katib.host,
        port: katib.port,
        user: katib.user,
        password: secrets.katibDatabasePassword ?? "",
        databases: { database: katib.database },
      },
      tls: katib.tls,
    });
  }
  const checks: Promise<void>[] = databases.map(
    async ({ field, target, tls }) => {
      if (tls) {
        target.tls = {
          skipVerify: tls.skipVerify,
          ...(tls.ca ? { ca: await readFile(tls.ca) } : {}),
        };
      }
      const r = await checkMysql(target, { timeoutMs });
      report(out, field, `${target.host}:${target.port}`, r);
    },
  );
  const store = options.pipelines?.objectStore;
  if (store) {
    checks.push((async () => {
      const r = await checkS3({
        endpoint: store.endpoint,
        secure: store.secure,
        region: store.region,
        bucket: store.bucket,
        accessKey: secrets.objectStoreAccessKey ?? "",
        secretKey: secrets.objectStoreSecretKey ?? "",
      }, { timeoutMs });
      report(out, "pipelines.objectStore", store.endpoint, r);
    })());
  }
  await Promise.all(checks);
  return out;
}

/** Options for {@linkcode withExternalData}. */
export interface WithExternalDataOptions {
  /** Environment for `{ env }` secrets; default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /** Directory relative `{ file }` paths are resolved against. */
  baseDir?: string;
  /** Config file named in errors. */
  source?: string;
  /** Path of the step options in the config file, e.g. `["kubeflow"]`. */
  prefix?: string[];
  /** Use a placeholder for an unset secret (offline plans) instead of failing. */
  placeholders?: boolean;
  /** Receives every secret value read, so the engine scrubs it from all output. */
  onSecret?: (value: string) => void;
  /** Check the servers from this machine (plan time). */
  check?: boolean;
  /** Bound of each server check; default 5000 ms. */
  timeoutMs?: number;
}

/** What {@linkcode withExternalData} did. */
export interface ExternalDataOutcome {
  /** The objects to plan: settings applied, in-cluster servers left out. */
  objects: KubeObject[];
  /** What changed and what was left out; absent without settings. */
  result?: ExternalDataResult;
  /** Server checks (info, and warnings for unreachable servers). */
  findings: Finding[];
  /** For the plan reader (never secret). */
  warnings: string[];
}

/**
 * Reads the settings' secrets, applies the settings to the rendered objects and,
 * with `check`, checks the servers. Errors (a setting the render cannot carry, a
 * refused password, a missing bucket) are {@linkcode OptionsError}s whose paths
 * carry `prefix`.
 *
 * @example
 * ```ts
 * const out = await withExternalData(rendered.objects, options, { check: true, prefix: ["kubeflow"] });
 * ```
 */
export async function withExternalData(
  objects: KubeObject[],
  options: KubeflowOptions,
  o: WithExternalDataOptions = {},
): Promise<ExternalDataOutcome> {
  if (
    !options.pipelines?.database && !options.pipelines?.objectStore &&
    !options.katib?.database
  ) {
    return { objects, findings: [], warnings: [] };
  }
  const prefix = (o.prefix ?? []).join(".");
  const path = (p: string) => prefix ? `${prefix}.${p}` : p;
  const base = o.baseDir ?? Deno.cwd();
  const missing: string[] = [];
  const secrets = await readExternalDataSecrets(options, {
    async read(ref, field) {
      try {
        const value = await readSecret(
          "file" in ref ? { file: resolve(base, ref.file) } : ref,
          { field: path(field), env: o.env, source: o.source },
        );
        o.onSecret?.(value);
        return value;
      } catch (error) {
        if (!o.placeholders || !(error instanceof OptionsError)) throw error;
        missing.push(`${path(field)} (${describeSecretRef(ref)})`);
        return `kfplan-placeholder-${field}`;
      }
    },
  });
  const digest = await saltedSecretDigest(
    JSON.stringify([options.pipelines, options.katib, secrets]),
    "external-data",
  );
  let result: ExternalDataResult;
  try {
    result = applyExternalData(objects, { options, secrets, digest });
  } catch (error) {
    if (!(error instanceof OptionsError)) throw error;
    throw new OptionsError(
      error.issues.map((i) => ({ path: path(i.path), message: i.message })),
      o.source,
    );
  }
  const warnings = [...result.warnings];
  const findings: Finding[] = result.facts.map((seen) => ({
    check: "kubeflow.external-data",
    severity: "info" as const,
    seen,
  }));
  if (missing.length > 0) {
    warnings.push(
      `external data secrets not set, planned with placeholders and not checked: ${
        missing.join(", ")
      }`,
    );
  } else if (o.check) {
    const checked = await checkExternalData(options, secrets, {
      timeoutMs: o.timeoutMs,
      readFile: (p) => Deno.readTextFile(resolve(base, p)),
    });
    if (checked.issues.length > 0) {
      throw new OptionsError(
        checked.issues.map((i) => ({ path: path(i.path), message: i.message })),
        o.source,
      );
    }
    findings.push(...checked.findings);
  }
  return { objects: result.objects, result, findings, warnings };
}
