import { assertEquals } from "../../_assert.ts";
import {
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
