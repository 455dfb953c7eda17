import { assertEquals, assertMatch, assertRejects } from "../../_assert.ts";
import {
  detectVersion,
  KUBEFLOW_VERSIONS,
  kubernetesMinor,
  ManifestsTreeError,
  releaseInfo,
} from "../../../lib/steps/kubeflow/version.ts";
import { tree } from "./_fixtures.ts";

Deno.test("detectVersion recognises all four release trees from layout and content", async () => {
  for (const version of KUBEFLOW_VERSIONS) {
    const detected = await detectVersion(tree(version));
    assertEquals(detected.version, version, `tree ${version}`);
  }
  const v10 = await detectVersion(tree("v1.10.2"));
  assertEquals(v10.evidence.includes("applications/ present"), true);
  const v5 = await detectVersion(tree("v1.5.0"));
  assertEquals(v5.evidence.includes("common/oidc-authservice present"), true);
});

Deno.test("detectVersion rejects a directory that is not a manifests checkout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const err = await assertRejects(
      () => detectVersion(dir),
      ManifestsTreeError,
    );
    assertMatch(err.message, /example\/kustomization\.yaml is missing/);
    await Deno.mkdir(`${dir}/example`);
    await Deno.writeTextFile(
      `${dir}/example/kustomization.yaml`,
      "resources: []\n",
    );
    await Deno.mkdir(`${dir}/apps`);
    const unknown = await assertRejects(
      () => detectVersion(dir),
      ManifestsTreeError,
    );
    assertMatch(
      unknown.message,
      /matches no known kubeflow\/manifests release.*apps\/ present/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("releaseInfo knows auth stacks and supported Kubernetes ranges", () => {
  assertEquals(releaseInfo("v1.5.0").auth, "oidc-authservice");
  assertEquals(releaseInfo("v1.10.2").auth, "oauth2-proxy");
  assertEquals(releaseInfo("v1.10.2").kubernetes, { min: 29, max: 33 });
  assertEquals(releaseInfo("v1.10.2").appsDir, "applications");
  assertEquals(kubernetesMinor("33+"), 33);
});
