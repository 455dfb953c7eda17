import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../_assert.ts";
import {
  findKustomize,
  kustomizeBuild,
  KustomizeError,
  parseKustomizeVersion,
} from "../../lib/tools/kustomize.ts";

Deno.test("parseKustomizeVersion reads the formats kustomize releases print", () => {
  assertEquals(parseKustomizeVersion("v5.7.1\n"), "v5.7.1");
  assertEquals(
    parseKustomizeVersion(
      "{Version:kustomize/v4.5.7 GitCommit:abc BuildDate:x}",
    ),
    "v4.5.7",
  );
  assertEquals(parseKustomizeVersion("5.4.3"), "v5.4.3");
  assertEquals(parseKustomizeVersion("(devel)"), undefined);
});

async function fakeBinary(dir: string, version: string): Promise<string> {
  const path = `${dir}/kustomize`;
  await Deno.writeTextFile(path, `#!/bin/sh\necho '${version}'\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("findKustomize refuses a kustomize older than 5 and says how to get one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await fakeBinary(
      dir,
      "{Version:kustomize/v4.5.7 GitCommit:x}",
    );
    const err = await assertRejects(
      () => findKustomize({ env: { KFPLAN_KUSTOMIZE: path, PATH: "" } }),
      KustomizeError,
    );
    assertMatch(err.message, /v4\.5\.7/);
    assertMatch(
      err.message,
      /go install sigs\.k8s\.io\/kustomize\/kustomize\/v5@v5\.7\.1/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findKustomize reports a missing kustomize with install instructions", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const err = await assertRejects(
      () => findKustomize({ env: { PATH: dir, HOME: dir } }),
      KustomizeError,
    );
    assertMatch(err.message, /not found/);
    assertMatch(err.message, /go install/);
    const bad = await assertRejects(
      () =>
        findKustomize({ env: { KFPLAN_KUSTOMIZE: `${dir}/nope`, PATH: "" } }),
      KustomizeError,
    );
    assertMatch(bad.message, /KFPLAN_KUSTOMIZE=.*nope is not an executable/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findKustomize finds a v5 binary on PATH", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await fakeBinary(dir, "v5.7.1");
    const k = await findKustomize({
      env: { PATH: `/nonexistent:${dir}`, HOME: dir },
    });
    assertEquals(k, { path, version: "v5.7.1" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kustomizeBuild runs the real kustomize and returns parsed objects", async () => {
  const kustomize = await findKustomize();
  assertMatch(kustomize.version, /^v[5-9]\./);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/kustomization.yaml`,
      "namespace: demo\nconfigMapGenerator:\n- name: params\n  literals: [A=1]\nresources: [ns.yaml]\n",
    );
    await Deno.writeTextFile(
      `${dir}/ns.yaml`,
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n",
    );
    const objects = await kustomizeBuild(dir, { kustomize });
    const cm = objects.find((o) => o.kind === "ConfigMap");
    assert(cm, "generated ConfigMap present");
    assertMatch(cm.metadata.name, /^params-[a-z0-9]{10}$/);
    assertEquals(cm.metadata.namespace, "demo");
    assertEquals((cm as unknown as { data: Record<string, string> }).data, {
      A: "1",
    });

    await Deno.writeTextFile(
      `${dir}/kustomization.yaml`,
      "resources: [missing.yaml]\n",
    );
    const err = await assertRejects(
      () => kustomizeBuild(dir, { kustomize }),
      KustomizeError,
    );
    assertMatch(err.message, /missing\.yaml/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
