import { assert, assertEquals } from "../../_assert.ts";
import {
  readRecognition,
  recognitionKey,
  writeRecognition,
} from "../../../lib/steps/kubeflow/cache.ts";

Deno.test("the recognition cache key changes with any file of the tree, and entries round-trip", async () => {
  const dir = await Deno.makeTempDir();
  const cache = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.yaml`, "a");
    const input = { root: dir, entry: `${dir}`, kustomize: "k v5" };
    const k1 = await recognitionKey(input);
    assertEquals(await recognitionKey(input), k1);
    await Deno.writeTextFile(`${dir}/a.yaml`, "ab");
    const k2 = await recognitionKey(input);
    assert(k2 !== k1, "a changed file is a new key");
    assert(
      (await recognitionKey({ ...input, kustomize: "k v6" })) !== k2,
      "another kustomize is a new key",
    );
    const env = { KFPLAN_CACHE: cache };
    assertEquals(await readRecognition(k2, env), undefined);
    await writeRecognition(k2, { facts: ["x"] }, env);
    assertEquals(await readRecognition(k2, env), { facts: ["x"] });
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(cache, { recursive: true });
  }
});
