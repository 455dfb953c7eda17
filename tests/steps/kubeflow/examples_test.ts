import { parseYaml as parse } from "../../../lib/deps.ts";
import { assertEquals, assertMatch } from "../../_assert.ts";
import { kubeflowPlatformSteps } from "../../../plans/platform.ts";
import { validateOptions } from "../../../lib/engine/options.ts";
import { kubeflowOptionsSchema } from "../../../lib/steps/kubeflow/options.ts";
import { detectVersion } from "../../../lib/steps/kubeflow/render.ts";

const EXAMPLES = new URL("../../../examples/", import.meta.url);

for (
  const version of [
    "v1.11.0",
    "v1.10.2",
    "v1.9.1",
    "v1.7.0",
    "v1.6.1",
    "v1.5.0",
  ]
) {
  Deno.test(`examples/kubeflow-${version}.yaml validates and names the tree it says`, async () => {
    const file = new URL(`kubeflow-${version}.yaml`, EXAMPLES).pathname;
    const doc = parse(await Deno.readTextFile(file));
    const options = validateOptions(kubeflowOptionsSchema, doc.kubeflow, {
      source: file,
      prefix: ["kubeflow"],
    });
    assertEquals(options.version, version);
    const dir = new URL(".", `file://${file}`).pathname;
    const detected = await detectVersion(`${dir}${options.manifests}`, {
      vendor: options.vendor ? `${dir}${options.vendor}` : undefined,
    });
    // v1.11.0 packages v1.10.0's notebook components (the plan says so).
    assertEquals(
      detected.version,
      version === "v1.11.0" ? "v1.10" : version.replace(/\.\d+$/, ""),
    );
    const steps = kubeflowPlatformSteps(doc, { source: file, baseDir: dir });
    assertEquals(
      steps.map((s) => s.id),
      doc.users ? ["kubeflow", "users"] : ["kubeflow"],
    );
    if (version === "v1.5.0" || version === "v1.6.1" || version === "v1.7.0") {
      assertMatch(
        await Deno.readTextFile(file),
        /REFUSES it before writing anything/,
      );
    }
  });
}
