import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { ManifestError, parseManifests } from "../../lib/tools/manifests.ts";

Deno.test("parseManifests flattens Lists, skips empty documents, rejects non-objects", () => {
  const objects = parseManifests(
    "---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n---\n" +
      "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
  );
  assertEquals(objects.map((o) => `${o.kind}/${o.metadata.name}`), [
    "ConfigMap/a",
    "Namespace/b",
  ]);
  const err = throws(
    () => parseManifests("kind: Thing\n", "x.yaml"),
    ManifestError,
  );
  assertMatch(err.message, /x\.yaml: document 0 is not a Kubernetes object/);
});

Deno.test("parseManifests names the source and document of invalid YAML", () => {
  const err = throws(
    () =>
      parseManifests(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: [\n",
        "helm template x",
      ),
    ManifestError,
  );
  assertMatch(err.message, /^helm template x: document 1: /);
});
