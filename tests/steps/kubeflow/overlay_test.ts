import { parseYaml as parse } from "../../../lib/deps.ts";
import { relative, resolve } from "node:path";
import { assert, assertEquals } from "../../_assert.ts";
import { validateOptions } from "../../../lib/engine/options.ts";
import { kubeflowOptionsSchema } from "../../../lib/steps/kubeflow/options.ts";
import {
  renderKustomization,
  renderOauth2ProxyConfig,
  writeOverlay,
} from "../../../lib/steps/kubeflow/overlay.ts";
import {
  prepareOverlay,
  renderKubeflow,
} from "../../../lib/steps/kubeflow/render.ts";
import { nonDefaultOptions, PLANTED, plantedEnv, tree } from "./_fixtures.ts";

function dexDigest(files: Record<string, string>): string {
  return parse(files["patches/dex-deployment.yaml"]).spec.template.metadata
    .annotations["kfplan.dev/dex-config-digest"];
}

Deno.test("the overlay keeps secrets in secret files only and references the checkout relatively", async () => {
  const options = validateOptions(
    kubeflowOptionsSchema,
    nonDefaultOptions("v1.10.2"),
  );
  const { overlay, release } = await prepareOverlay(options, {
    env: plantedEnv(),
  });
  assertEquals(release.version, "v1.10.2");
  const reviewable = JSON.stringify(overlay.files) +
    renderKustomization(overlay, "/tmp/somewhere/overlay");
  for (const v of Object.values(PLANTED)) {
    assert(!reviewable.includes(v), "no secret in reviewable files");
  }
  const secrets = JSON.stringify(overlay.secretFiles);
  assert(
    secrets.includes(PLANTED.clientSecret) &&
      secrets.includes(PLANTED.cookieSecret),
  );
  assert(secrets.includes(PLANTED.githubSecret));
  assert(
    !secrets.includes(PLANTED.alicePassword),
    "passwords are hashed, not stored",
  );
  const k = parse(renderKustomization(overlay, "/tmp/somewhere/overlay"));
  assertEquals(
    k.resources[0],
    relative("/tmp/somewhere/overlay", `${tree("v1.10.2")}/example`),
  );
  // Every setting targets an object by kind, namespace and (generated) name.
  assertEquals(
    k.patches.map((p: { target: Record<string, string> }) =>
      `${p.target.kind} ${p.target.namespace ?? ""}/${p.target.name}`
    ),
    [
      "Deployment kubeflow/centraldashboard",
      "ConfigMap auth/dex",
      "Deployment auth/dex",
      "Deployment auth/dex",
      "Secret auth/dex-passwords",
      "ConfigMap oauth2-proxy/oauth2-proxy",
      "RequestAuthentication istio-system/dex-jwt",
      "Service istio-system/istio-ingressgateway",
    ],
  );
  assertEquals(
    k.configMapGenerator.map((g: { name: string; literals: string[] }) =>
      `${g.name}: ${g.literals.join(" ")}`
    ),
    [
      "centraldashboard-parameters: CD_REGISTRATION_FLOW=true",
      "oauth2-proxy-parameters: FORCE_HTTPS=false",
    ],
  );
  assertEquals(
    k.secretGenerator.map((g: { name: string; behavior?: string }) =>
      `${g.name}:${g.behavior ?? "create"}`
    ),
    [
      "dex-oidc-client:merge",
      "kfplan-dex-connectors:create",
      "oauth2-proxy:merge",
    ],
  );
});

Deno.test("Dex's restart annotation changes when its config or secrets change, and only then", async () => {
  const base = validateOptions(
    kubeflowOptionsSchema,
    nonDefaultOptions("v1.10.2"),
  );
  const a = await prepareOverlay(base, { env: plantedEnv() });
  const same = await prepareOverlay(base, { env: plantedEnv() });
  assertEquals(dexDigest(same.overlay.files), dexDigest(a.overlay.files));
  const otherFlow = await prepareOverlay({
    ...base,
    dashboard: { registrationFlow: false },
  }, { env: plantedEnv() });
  assertEquals(dexDigest(otherFlow.overlay.files), dexDigest(a.overlay.files));
  const newPassword = await prepareOverlay(base, {
    env: { ...plantedEnv(), KF_BOB_PASSWORD: "another-password-9" },
  });
  assert(
    dexDigest(newPassword.overlay.files) !== dexDigest(a.overlay.files),
    "password change restarts Dex",
  );
  const newClientSecret = await prepareOverlay(base, {
    env: { ...plantedEnv(), KF_CLIENT_SECRET: "rotated-secret-1" },
  });
  assert(
    dexDigest(newClientSecret.overlay.files) !== dexDigest(a.overlay.files),
    "client secret change restarts Dex",
  );
});

Deno.test("renderOauth2ProxyConfig replaces only the issuer line", () => {
  const cfg =
    'provider = "oidc"\noidc_issuer_url = "http://old/dex"\n# keep me\n';
  assertEquals(
    renderOauth2ProxyConfig(cfg, "https://new.example.org/dex"),
    'provider = "oidc"\noidc_issuer_url = "https://new.example.org/dex"\n# keep me\n',
  );
});

Deno.test("a checkout and a scratch directory reached through symlinks render, and the overlay points at the checkout", async () => {
  const links = await Deno.makeTempDir({ prefix: "kfplan-symlinks-" });
  try {
    // Nothing big is copied: the checkout and the scratch directory are links, the
    // scratch directory's at another depth than its target (kustomize resolves it).
    await Deno.symlink(tree("v1.9.1"), `${links}/manifests`);
    await Deno.mkdir(`${links}/a/b/real-scratch`, { recursive: true });
    await Deno.symlink(`${links}/a/b/real-scratch`, `${links}/scratch`);
    const options = validateOptions(kubeflowOptionsSchema, {
      ...nonDefaultOptions("v1.9.1"),
      manifests: "manifests",
    });
    const rendered = await renderKubeflow(options, {
      env: plantedEnv(),
      baseDir: links,
      tempDir: `${links}/scratch`,
    });
    assertEquals(rendered.release.version, "v1.9.1");
    assert(rendered.objects.length > 400, `${rendered.objects.length} objects`);
    // Written into the symlinked directory, the kustomization's path to the checkout
    // resolves (as kustomize resolves it, from the real directory) to the checkout.
    await writeOverlay(`${links}/scratch`, rendered.overlay, {
      includeSecrets: false,
    });
    const k = parse(
      await Deno.readTextFile(`${links}/scratch/kustomization.yaml`),
    );
    assertEquals(
      await Deno.realPath(
        resolve(`${links}/a/b/real-scratch`, k.resources[0]),
      ),
      await Deno.realPath(`${tree("v1.9.1")}/example`),
    );
  } finally {
    await Deno.remove(links, { recursive: true });
  }
});
