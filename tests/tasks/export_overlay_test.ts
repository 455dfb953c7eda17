import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { main } from "../../tasks/export_overlay.ts";
import { kustomizeBuild } from "../../lib/tools/kustomize.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import {
  findRemoteResources,
  vendoredCopy,
} from "../../lib/steps/kubeflow/remote.ts";
import { stepsFromConfig } from "../../plans/mod.ts";
import {
  PLANTED,
  plantedEnv,
  REMOTE_BASES,
  tree,
} from "../steps/kubeflow/_fixtures.ts";

async function withEnv<T>(
  env: Record<string, string>,
  fn: () => Promise<T>,
): Promise<T> {
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(env)) Deno.env.delete(k);
  }
}

Deno.test("export-overlay writes a reviewable overlay without secrets, and a buildable one with them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = `${dir}/kfplan.yaml`;
    await Deno.writeTextFile(
      config,
      [
        "kubeflow:",
        `  manifests: ${tree("v1.9.1")}`,
        "  oidcClient: { secret: { env: KF_CLIENT_SECRET } }",
        "  oauth2Proxy: { cookieSecret: { env: KF_COOKIE_SECRET } }",
        "  dex:",
        "    staticUsers: [{ email: alice@example.org, password: { env: KF_ALICE_PASSWORD } }]",
        "  dashboard: { registrationFlow: true }",
        "  exclude: [{ kind: MutatingWebhookConfiguration, reason: not wanted }]",
        "",
      ].join("\n"),
    );
    const out = `${dir}/overlay`;
    const code = await withEnv(
      plantedEnv(),
      () => main(["--config", config, "--out", out]),
    );
    assertEquals(code, 0);
    const kustomization = await Deno.readTextFile(
      `${out}/settings/kustomization.yaml`,
    );
    assertMatch(
      kustomization,
      /resources:\n\s+- \.\.\/\.\.\/.*v1\.9\.1\/example/,
    );
    assertMatch(kustomization, /CD_REGISTRATION_FLOW=true/);
    assertEquals(
      await Deno.readTextFile(`${out}/.gitignore`).then((t) =>
        t.includes("secrets/*\n")
      ),
      true,
    );
    const files: string[] = [];
    for await (const e of Deno.readDir(`${out}/secrets`)) files.push(e.name);
    assertEquals(files, ["README.md"]);
    assertMatch(
      await Deno.readTextFile(`${out}/secrets/README.md`),
      /oauth2-proxy\.env: /,
    );
    for (const [name, text] of Object.entries(await readAll(out))) {
      for (const v of Object.values(PLANTED)) {
        assert(!text.includes(v), `${name} holds a planted secret`);
      }
    }

    const code2 = await withEnv(
      plantedEnv(),
      () => main(["--config", config, "--out", out, "--include-secrets"]),
    );
    assertEquals(code2, 0);
    assertEquals(
      (await Deno.stat(`${out}/secrets/oauth2-proxy.env`)).mode! & 0o777,
      0o600,
    );
    const objects = await kustomizeBuild(out, { loadRestrictorNone: true });
    assertEquals(
      objects.filter((o) => o.kind === "MutatingWebhookConfiguration").length,
      0,
    );
    const cm = objects.find((o) =>
      o.kind === "ConfigMap" &&
      o.metadata.name === "centraldashboard-parameters"
    );
    assertEquals(
      (cm?.data as Record<string, string>).CD_REGISTRATION_FLOW,
      "true",
    );

    const bad = await withEnv(
      {},
      () => main(["--config", config, "--out", `${dir}/x`]),
    );
    assertEquals(bad, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function readAll(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) Object.assign(out, await readAll(p));
    else out[p] = await Deno.readTextFile(p);
  }
  return out;
}

/** Secret values of the external data and mirror settings. */
const DATA_SECRETS = {
  KF_KFP_DB_PASSWORD: "PLANTED-kfp-db-pw-export-3c1d",
  KF_KATIB_DB_PASSWORD: "PLANTED-katib-db-pw-export-9e2a",
  KF_S3_ACCESS_KEY: "PLANTED-s3-access-export-41bb",
  KF_S3_SECRET_KEY: "PLANTED-s3-secret-export-d07f",
  KF_PULL_LOGIN: JSON.stringify({
    auths: {
      "registry.example.com:5000": { auth: btoa("PLANTED-pull:login-8d2e") },
    },
  }),
};

/**
 * A configuration with every setting kfplan applies after `kustomize build`: external
 * database and object store (servers on a closed loopback port: offline plans only
 * warn that they are unreachable), the image mirror with a pull login, and `exclude`.
 */
function externalConfig(manifests: string, version: string): string {
  return [
    "images:",
    "  registry: registry.example.com:5000/kubeflow",
    "  pullSecret: { env: KF_PULL_LOGIN }",
    "kubeflow:",
    `  manifests: ${manifests}`,
    `  version: ${version}`,
    "  oidcClient: { secret: { env: KF_CLIENT_SECRET } }",
    "  oauth2Proxy: { cookieSecret: { env: KF_COOKIE_SECRET } }",
    "  dex:",
    "    staticUsers: [{ email: alice@example.org, password: { env: KF_ALICE_PASSWORD } }]",
    "  dashboard: { registrationFlow: true }",
    "  exclude: [{ kind: MutatingWebhookConfiguration, reason: not wanted }]",
    "  pipelines:",
    "    database: { host: 127.0.0.1, port: 9, user: kfp, password: { env: KF_KFP_DB_PASSWORD } }",
    "    objectStore:",
    '      { endpoint: "127.0.0.1:9", bucket: kf-artifacts, secure: false,',
    "        accessKey: { env: KF_S3_ACCESS_KEY }, secretKey: { env: KF_S3_SECRET_KEY } }",
    "  katib:",
    "    database: { host: 127.0.0.1, port: 9, user: katib, password: { env: KF_KATIB_DB_PASSWORD } }",
    "",
  ].join("\n");
}

/** Identity as the test reads it: apiVersion, kind, namespace, name. */
function idOf(o: KubeObject): string {
  return `${o.apiVersion} ${o.kind} ${
    o.metadata.namespace ?? ""
  }/${o.metadata.name}`;
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value).sort().flatMap((k) => {
        const v = (value as Record<string, unknown>)[k];
        return v === undefined ? [] : [[k, sorted(v)]];
      }),
    );
  }
  return value;
}

/**
 * An object as the API server would store it: Secret `stringData` as base64 `data`
 * (line breaks kustomize folds into long values dropped), type `Opaque` by default;
 * the engine's inventory label (`applyset.kubernetes.io/part-of`) is kfplan's own
 * bookkeeping, not part of the manifests.
 */
function normalized(o: KubeObject): string {
  const copy = structuredClone(o) as KubeObject & {
    stringData?: Record<string, string>;
    data?: Record<string, string>;
    type?: string;
  };
  const labels = copy.metadata.labels;
  if (labels) {
    delete labels["applyset.kubernetes.io/part-of"];
    if (Object.keys(labels).length === 0) delete copy.metadata.labels;
  }
  if (copy.kind === "Secret") {
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(copy.data ?? {})) {
      data[k] = v.replace(/\s+/g, "");
    }
    for (const [k, v] of Object.entries(copy.stringData ?? {})) {
      const bytes = new TextEncoder().encode(v);
      data[k] = btoa(String.fromCharCode(...bytes));
    }
    delete copy.stringData;
    // An empty map is no map to the API server.
    if (Object.keys(data).length > 0) copy.data = data;
    else delete copy.data;
    copy.type ??= "Opaque";
  }
  return JSON.stringify(sorted(copy));
}

Deno.test({
  name:
    "export-overlay with external database, object store and image mirror builds to exactly " +
    "the Kubeflow step's offline plan: v1.10.2 (MinIO) and v1.11.0 (SeaweedFS)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const env = { ...plantedEnv(), ...DATA_SECRETS };
    for (
      const [version, store] of [
        ["v1.10.2", "minio"],
        ["v1.11.0", "seaweedfs"],
      ] as const
    ) {
      await t.step(version, async () => {
        const dir = await Deno.makeTempDir({ prefix: "kfplan-export-test-" });
        try {
          // v1.11.0 fetches remote bases: render it from a checkout whose remote
          // bases point at the vendored copies, as one kept offline would.
          let manifests: string = tree(version);
          if (version === "v1.11.0") {
            const entry = `${manifests}/example`;
            const copy = await vendoredCopy(manifests, entry, {
              vendorDir: REMOTE_BASES,
              remotes: await findRemoteResources(manifests, entry),
              into: dir,
            });
            manifests = copy.root;
          }
          const config = `${dir}/kfplan.yaml`;
          await Deno.writeTextFile(config, externalConfig(manifests, version));
          const out = `${dir}/out`;
          const code = await withEnv(
            env,
            () => main(["--config", config, "--out", out, "--include-secrets"]),
          );
          assertEquals(code, 0, "export-overlay exit code");

          // What plain kustomize builds from the exported directory.
          const built = await kustomizeBuild(out, { loadRestrictorNone: true });
          // What kfplan's Kubeflow step plans (offline) for the same file.
          const steps = stepsFromConfig(await loadConfig(config), { env });
          const work = `${dir}/plan`;
          await Deno.mkdir(work);
          const { document, plans } = await planSteps(steps, {
            offlineReason: "test",
            workDir: work,
          });
          assertEquals(document.steps[0].error, undefined);
          const desired = plans.get("kubeflow")!.desired!;
          assert(
            !desired.some((o) =>
              o.kind === "Deployment" && o.metadata.name === "mysql"
            ),
            "the plan leaves the in-cluster MySQL out",
          );
          assert(
            !desired.some((o) =>
              o.kind === "Deployment" && o.metadata.name === store
            ),
            `the plan leaves the in-cluster ${store} out`,
          );
          assert(
            desired.some((o) =>
              o.kind === "Secret" && o.metadata.name === "kfplan-registry"
            ),
            "the plan adds the pull Secret",
          );

          const wanted = new Map(desired.map((o) => [idOf(o), normalized(o)]));
          const got = new Map(built.map((o) => [idOf(o), normalized(o)]));
          const missing = [...wanted.keys()].filter((k) => !got.has(k));
          const extra = [...got.keys()].filter((k) => !wanted.has(k));
          assertEquals(
            { missing, extra },
            { missing: [], extra: [] },
            "objects by (apiVersion, kind, namespace, name)",
          );
          const differing = [...wanted].filter(([k, v]) => got.get(k) !== v)
            .map(([k]) => k);
          assertEquals(differing, [], "objects whose contents differ");

          // Secret values only under secrets/ (kept out of Git).
          const values = [
            ...Object.values(PLANTED),
            ...Object.values(DATA_SECRETS),
            btoa(DATA_SECRETS.KF_PULL_LOGIN),
          ];
          for (const [name, text] of Object.entries(await readAll(out))) {
            if (name.startsWith(`${out}/secrets/`)) continue;
            for (const v of values) {
              assert(!text.includes(v), `${name} holds a secret value`);
            }
          }
          assertMatch(
            await Deno.readTextFile(`${out}/.gitignore`),
            /^secrets\/\*$/m,
          );
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      });
    }
  },
});
