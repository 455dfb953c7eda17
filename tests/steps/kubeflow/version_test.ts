import { assert, assertEquals, assertMatch } from "../../_assert.ts";
import {
  compareVersions,
  DowngradeError,
  kubernetesMinor,
  RELEASE_FACTS,
  releaseInfo,
} from "../../../lib/steps/kubeflow/version.ts";

Deno.test("releaseInfo reads the release table by line, for any patch release", () => {
  assertEquals(releaseInfo("v1.10.2").kubernetes, { min: 29, max: 33 });
  assertEquals(releaseInfo("v1.10.0").line, "v1.10");
  assertEquals(releaseInfo("v1.10.7").kubernetes, { min: 29, max: 33 });
  assertEquals(releaseInfo("v1.11.0-rc.1").kubernetes, { min: 34 });
  assertEquals(releaseInfo("v1.7.0").source, RELEASE_FACTS["v1.7"].source);
  assertEquals(kubernetesMinor("33+"), 33);
});

Deno.test("an unlisted release line has no Kubernetes range (the plan warns, it does not refuse)", () => {
  const info = releaseInfo("v1.12.0");
  assertEquals(info.line, "v1.12");
  assertEquals(info.kubernetes, undefined);
  for (const [line, facts] of Object.entries(RELEASE_FACTS)) {
    assertEquals(/^v1\.\d+$/.test(line), true, line);
    assertEquals(facts.source.length > 10, true, `${line} names its source`);
  }
});

Deno.test("compareVersions orders releases numerically, a pre-release before its release", () => {
  assert(compareVersions("v1.9.1", "v1.10.2")! < 0);
  assert(compareVersions("v1.10.0", "v1.9.1")! > 0);
  assertEquals(compareVersions("v1.10.0", "1.10.0"), 0);
  assert(compareVersions("v1.10.0-rc.1", "v1.10.0")! < 0);
  assert(compareVersions("v1.10", "v1.10.1")! < 0);
  assertEquals(compareVersions("latest", "v1.10.0"), undefined);
});

Deno.test("DowngradeError names both versions and how to proceed", () => {
  const e = new DowngradeError("v1.10.0", "v1.9.1");
  assertMatch(e.message, /runs Kubeflow v1\.10\.0 .* installs v1\.9\.1/);
  assertMatch(e.message, /allowDowngrade: true.*--allow-downgrade/);
});
