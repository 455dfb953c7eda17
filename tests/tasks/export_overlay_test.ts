import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { main } from "../../tasks/export_overlay.ts";
import { kustomizeBuild } from "../../lib/tools/kustomize.ts";
import { PLANTED, plantedEnv, tree } from "../steps/kubeflow/_fixtures.ts";

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
    const kustomization = await Deno.readTextFile(`${out}/kustomization.yaml`);
    assertMatch(kustomization, /resources:\n\s+- \.\.\/.*v1\.9\.1\/example/);
    assertMatch(kustomization, /CD_REGISTRATION_FLOW=true/);
    assertEquals(
      await Deno.readTextFile(`${out}/.gitignore`).then((t) =>
        t.includes("secrets/*.env")
      ),
      true,
    );
    const files: string[] = [];
    for await (const e of Deno.readDir(`${out}/secrets`)) files.push(e.name);
    assertEquals(files, ["README.md"]);
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
