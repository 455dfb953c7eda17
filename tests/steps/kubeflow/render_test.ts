import { parseYaml as parse } from "../../../lib/deps.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../../_assert.ts";
import { OptionsError, validateOptions } from "../../../lib/engine/options.ts";
import type { KubeObject } from "../../../lib/kube/types.ts";
import { crossCheckAuth } from "../../../lib/steps/kubeflow/checks.ts";
import { kubeflowOptionsSchema } from "../../../lib/steps/kubeflow/options.ts";
import { DEX_CONFIG_DIGEST_ANNOTATION } from "../../../lib/steps/kubeflow/overlay.ts";
import {
  dropAggregatedRules,
  normaliseSecret,
  renderKubeflow,
} from "../../../lib/steps/kubeflow/render.ts";
import { nonDefaultOptions, PLANTED, plantedEnv, tree } from "./_fixtures.ts";
import { tempDir } from "../../_shared.ts";
import { findKustomize } from "../../../lib/tools/kustomize.ts";
import { kfplanCacheDir } from "../../../lib/tools/find_binary.ts";
import { writeTinyRelease } from "./_tiny_release.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

function find(
  objects: KubeObject[],
  kind: string,
  ns: string,
  name: string | RegExp,
): Any {
  return objects.find((o) =>
    o.kind === kind && o.metadata.namespace === ns &&
    (typeof name === "string"
      ? o.metadata.name === name
      : name.test(o.metadata.name))
  );
}

function nonSecretText(objects: KubeObject[]): string {
  return JSON.stringify(objects.filter((o) => o.kind !== "Secret"));
}

Deno.test("v1.10.2 renders with the settings applied through the overlay, checkout untouched", async () => {
  const before = await Deno.readTextFile(
    `${tree("v1.10.2")}/common/dex/overlays/oauth2-proxy/config-map.yaml`,
  );
  const options = validateOptions(
    kubeflowOptionsSchema,
    nonDefaultOptions("v1.10.2"),
  );
  const r = await renderKubeflow(options, { env: plantedEnv() });
  assertEquals(r.release.version, "v1.10.2");
  assert(r.objects.length > 600, `got ${r.objects.length} objects`);
  const dash = find(r.objects, "Deployment", "kubeflow", "centraldashboard");
  const env = dash.spec.template.spec.containers[0].env.find((e: Any) =>
    e.name === "REGISTRATION_FLOW"
  );
  assertEquals(env.value, "true");
  assertEquals(
    find(r.objects, "ConfigMap", "kubeflow", "centraldashboard-parameters").data
      .CD_REGISTRATION_FLOW,
    "true",
  );
  assertEquals(
    find(r.objects, "Service", "istio-system", "istio-ingressgateway").spec
      .type,
    "LoadBalancer",
  );
  const dex = parse(
    find(r.objects, "ConfigMap", "auth", "dex").data["config.yaml"],
  );
  assertEquals(dex.staticPasswords.map((p: Any) => p.email), [
    "alice@example.org",
    "bob@example.org",
  ]);
  assertEquals(dex.connectors[0].type, "github");
  const dexDeploy = find(r.objects, "Deployment", "auth", "dex");
  assertMatch(
    dexDeploy.spec.template.metadata.annotations[DEX_CONFIG_DIGEST_ANNOTATION],
    /^[0-9a-f]{12}$/,
  );
  assertEquals(
    dexDeploy.spec.template.spec.containers[0].envFrom.map((e: Any) =>
      e.secretRef.name
    ),
    ["dex-oidc-client", "dex-passwords", "kfplan-dex-connectors"],
  );
  // The default user's published hash is gone from Secret dex-passwords.
  assertEquals(
    find(r.objects, "Secret", "auth", "dex-passwords").data ?? {},
    {},
  );
  const proxySecret = find(
    r.objects,
    "Secret",
    "oauth2-proxy",
    /^oauth2-proxy-/,
  );
  assertEquals(atob(proxySecret.data["client-secret"]), PLANTED.clientSecret);
  assertEquals(atob(proxySecret.data["cookie-secret"]), PLANTED.cookieSecret);
  assertEquals(crossCheckAuth(r.objects, "oauth2-proxy"), []);
  assert(
    r.warnings.some((w) =>
      w.startsWith(
        "Profile kubeflow-user-example-com is owned by user@example.com",
      )
    ),
    "the orphaned example Profile is pointed out",
  );
  // Secrets live only in Secret objects; nothing else carries them.
  const text = nonSecretText(r.objects);
  for (const value of Object.values(PLANTED)) {
    assert(!text.includes(value), `planted value leaked outside Secrets`);
  }
  assert(
    !r.objects.some((o) => "stringData" in o),
    "stringData normalised to data",
  );
  const after = await Deno.readTextFile(
    `${tree("v1.10.2")}/common/dex/overlays/oauth2-proxy/config-map.yaml`,
  );
  assertEquals(after, before);
});

Deno.test("v1.6.1 renders oidc-authservice settings and excludes objects with a reason", async () => {
  const input = nonDefaultOptions("v1.6.1");
  input.dex!.issuer = "https://kubeflow.example.org/dex";
  input.exclude = [{
    kind: "MutatingWebhookConfiguration",
    reason: "no webhook servers on this cluster",
  }];
  input.ingress = { type: "NodePort" };
  const options = validateOptions(kubeflowOptionsSchema, input);
  const r = await renderKubeflow(options, { env: plantedEnv() });
  assertEquals(r.release.auth, "oidc-authservice");
  const params =
    find(r.objects, "ConfigMap", "istio-system", "oidc-authservice-parameters")
      .data;
  assertEquals(params.OIDC_PROVIDER, "https://kubeflow.example.org/dex");
  assertEquals(params.REDIRECT_URL, "/login/oidc");
  const dex = parse(
    find(r.objects, "ConfigMap", "auth", "dex").data["config.yaml"],
  );
  assertEquals(dex.issuer, "https://kubeflow.example.org/dex");
  assertEquals(dex.staticClients[0].redirectURIs, ["/login/oidc"]);
  assertEquals(
    r.objects.filter((o) => o.kind === "MutatingWebhookConfiguration").length,
    0,
  );
  assert(r.excluded.length >= 5, `excluded ${r.excluded.length}`);
  assertEquals(r.excluded[0].reason, "no webhook servers on this cluster");
  assertEquals(
    find(r.objects, "Service", "istio-system", "istio-ingressgateway").spec
      .type,
    "NodePort",
  );
  assertEquals(crossCheckAuth(r.objects, "oidc-authservice"), []);
});

Deno.test("renderKubeflow refuses a path that is not a checkout before running kustomize", async () => {
  const options = validateOptions(kubeflowOptionsSchema, {
    ...nonDefaultOptions("v1.10.2"),
    manifests: "/nonexistent/x",
  });
  const err = await assertRejects(
    () =>
      renderKubeflow(options, {
        env: plantedEnv(),
        prefix: ["kubeflow"],
        source: "kfplan.yaml",
      }),
    OptionsError,
  );
  assertMatch(
    err.message,
    /kfplan\.yaml: kubeflow\.manifests: \/nonexistent\/x does not exist/,
  );
});

Deno.test("renderKubeflow names kubeflow.manifests for a tree that renders nothing it recognizes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const options = validateOptions(kubeflowOptionsSchema, {
      ...nonDefaultOptions("v1.10.2"),
      manifests: dir,
    });
    // No example/ at all, then an example/ that renders nothing.
    const missing = await assertRejects(
      () =>
        renderKubeflow(options, {
          env: plantedEnv(),
          prefix: ["kubeflow"],
          source: "kfplan.yaml",
        }),
      OptionsError,
    );
    assertMatch(
      missing.message,
      /^kfplan\.yaml: kubeflow\.manifests: .*example has no kustomization\.yaml/,
    );
    await Deno.mkdir(`${dir}/example`);
    await Deno.writeTextFile(`${dir}/example/kustomization.yaml`, "");
    const empty = await assertRejects(
      () =>
        renderKubeflow(options, {
          env: plantedEnv(),
          prefix: ["kubeflow"],
          source: "kfplan.yaml",
        }),
      OptionsError,
    );
    assertMatch(
      empty.message,
      /^kfplan\.yaml: kubeflow\.manifests: kustomize could not render .*example: .*kustomization\.yaml is empty/,
    );
    await Deno.writeTextFile(
      `${dir}/example/kustomization.yaml`,
      "resources: [cm.yaml]\n",
    );
    await Deno.writeTextFile(
      `${dir}/example/cm.yaml`,
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x, namespace: y }\n",
    );
    const err = await assertRejects(
      () =>
        renderKubeflow(options, {
          env: plantedEnv(),
          prefix: ["kubeflow"],
          source: "kfplan.yaml",
        }),
      OptionsError,
    );
    assertEquals(
      err.message,
      `kfplan.yaml: kubeflow.manifests: ${dir}/example renders nothing kfplan recognizes as Kubeflow ` +
        "(no Kubeflow component images, no Dex, no auth proxy)",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("normaliseSecret moves stringData into base64 data", () => {
  const s = normaliseSecret({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s" },
    stringData: { a: "é1" },
    data: { b: "Yg==" },
  });
  assertEquals(s.data, { b: "Yg==", a: "w6kx" });
  assert(!("stringData" in s));
});

Deno.test("dropAggregatedRules leaves aggregated ClusterRoles' rules to the aggregation controller", () => {
  const aggregated = dropAggregatedRules({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "kubeflow-admin" },
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { a: "true" } }] },
    rules: [],
  });
  assert(!("rules" in aggregated));
  const plain = dropAggregatedRules({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "x" },
    rules: [{ verbs: ["get"] }],
  });
  assertEquals(plain.rules, [{ verbs: ["get"] }]);
});

Deno.test("unset secrets fail the render, except offline where placeholders are used and named", async () => {
  const options = validateOptions(
    kubeflowOptionsSchema,
    nonDefaultOptions("v1.9.1"),
  );
  const env = { ...plantedEnv(), KF_CLIENT_SECRET: "" };
  const error = await assertRejects(
    () => renderKubeflow(options, { env, prefix: ["kubeflow"] }),
    OptionsError,
  );
  assertMatch(
    error.message,
    /kubeflow\.oidcClient\.secret: .*KF_CLIENT_SECRET/,
  );

  const seen: string[] = [];
  const r = await renderKubeflow(options, {
    env,
    placeholderSecrets: true,
    onSecret: (value) => seen.push(value),
  });
  // Every secret read is handed to the engine's scrubber.
  assert(
    seen.includes(PLANTED.alicePassword) && seen.includes(PLANTED.cookieSecret),
  );
  const warning = r.warnings.find((w) => w.includes("placeholders"));
  assert(warning, `no placeholder warning in ${JSON.stringify(r.warnings)}`);
  assertMatch(warning, /oidcClient\.secret \(env KF_CLIENT_SECRET\)/);
  assert(
    !warning.includes("KF_ALICE_PASSWORD"),
    "only unset secrets are named",
  );
  // The set secrets are still used as given.
  assert(!nonSecretText(r.objects).includes(PLANTED.alicePassword));
});

Deno.test("a release kfplan has never seen, under names of its own, renders with the settings and a table warning", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTinyRelease(dir);
    const options = validateOptions(kubeflowOptionsSchema, {
      ...nonDefaultOptions("v1.10.2"),
      manifests: dir,
      entry: "deploy",
      version: "v1.12.0",
      ingress: { type: "ClusterIP" },
    });
    const r = await renderKubeflow(options, { env: plantedEnv() });
    assertEquals(r.release.version, "v1.12.0");
    assertEquals(r.release.auth, "oauth2-proxy");
    assertEquals(r.release.kubernetes, undefined);
    assert(
      r.warnings.some((w) =>
        w.startsWith("Kubeflow v1.12 is not in kfplan's release table")
      ),
      r.warnings.join("\n"),
    );
    const dex = parse(
      find(r.objects, "ConfigMap", "identity", "login-cfg").data["config.yaml"],
    );
    assertEquals(dex.staticPasswords.map((p: Any) => p.email), [
      "alice@example.org",
      "bob@example.org",
    ]);
    assertEquals(
      atob(
        find(r.objects, "Secret", "gate", "proxy-secret").data["client-secret"],
      ),
      PLANTED.clientSecret,
    );
    assertEquals(
      find(r.objects, "ConfigMap", "ui", "dash-params").data
        .CD_REGISTRATION_FLOW,
      "true",
    );
    const dash = find(r.objects, "Deployment", "ui", "dash");
    assertEquals(dash.spec.template.spec.containers[0].env[0].value, "true");
    // No ingress gateway in this tree: asking for a LoadBalancer is refused by name.
    const err = await assertRejects(
      () =>
        renderKubeflow({
          ...options,
          ingress: { ...options.ingress, type: "LoadBalancer" },
        }, {
          env: plantedEnv(),
          prefix: ["kubeflow"],
        }),
      OptionsError,
    );
    assertMatch(
      err.message,
      /kubeflow\.ingress\.type: the rendered tree has no ingress gateway Service/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unchanged checkout and settings render without kustomize, from a sealed cache", async () => {
  await using work = await tempDir("kfplan-kf-render-cache-");
  const real = await findKustomize();
  const log = `${work.path}/builds`;
  const wrapper = `${work.path}/kustomize`;
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh\necho "$1" >> ${log}\nexec ${real.path} "$@"\n`,
    { mode: 0o755 },
  );
  const options = validateOptions(
    kubeflowOptionsSchema,
    nonDefaultOptions("v1.9.1"),
  );
  const key = crypto.getRandomValues(new Uint8Array(32));
  const render = (renderCacheKey: Uint8Array) =>
    renderKubeflow(options, {
      env: plantedEnv(),
      kustomize: { path: wrapper, version: real.version },
      renderCacheKey,
    });
  const builds = async () =>
    (await Deno.readTextFile(log).catch(() => "")).split("\n")
      .filter((l) => l === "build").length;
  const first = await render(key);
  const before = await builds();
  const second = await render(key);
  assertEquals(await builds(), before, "no kustomize build the second time");
  assertEquals(second.objects, first.objects);
  // The cache (the user's own, as a plan uses it) holds the client secret only sealed.
  const renders = `${kfplanCacheDir()}/renders`;
  for await (const f of Deno.readDir(renders)) {
    if (!f.name.endsWith(".yaml")) continue;
    const text = await Deno.readTextFile(`${renders}/${f.name}`);
    assertEquals(text.includes(PLANTED.clientSecret), false, f.name);
  }
  // Another installation's key cannot use it.
  await render(crypto.getRandomValues(new Uint8Array(32)));
  assertEquals(await builds(), before + 1);
});
