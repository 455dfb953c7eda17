import { assertEquals, assertMatch, rejects, throws } from "../_assert.ts";
import { freePort } from "../_shared.ts";
import {
  connect,
  createKubeClient,
  kubeconfigPaths,
  loadKubeConfig,
} from "../../lib/kube/client.ts";

const config = (server: string, contexts: string[]) =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server } }],
    users: [{ name: "u", user: { token: "t" } }],
    contexts: contexts.map((name) => ({
      name,
      context: { cluster: "c", user: "u", namespace: "team" },
    })),
    "current-context": contexts[0],
  });

Deno.test("no kubeconfig at all means offline, with the reason", async () => {
  const home = await Deno.makeTempDir();
  try {
    const env = { HOME: home };
    assertEquals(kubeconfigPaths({ env }), []);
    assertEquals(await connect({ env }), {
      offline:
        "no kubeconfig (KUBECONFIG is not set and ~/.kube/config does not exist)",
    });
    throws(() => createKubeClient({ env }), Error, "no kubeconfig");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("KUBECONFIG lists are merged and --context is honoured", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/a`,
      config("https://a.example:6443", ["first", "second"]),
    );
    const env = { KUBECONFIG: `${dir}/missing:${dir}/a`, HOME: dir };
    assertEquals(kubeconfigPaths({ env }), [`${dir}/a`]);
    assertEquals(loadKubeConfig({ env })?.getCurrentContext(), "first");
    assertEquals(
      loadKubeConfig({ env, context: "second" })?.getCurrentContext(),
      "second",
    );
    const kube = createKubeClient({ env, context: "second" });
    assertEquals([kube.context, kube.server], [
      "second",
      "https://a.example:6443",
    ]);
    kube.close();
    const e = throws(() => loadKubeConfig({ env, context: "third" }), Error);
    assertMatch(
      e.message,
      /context "third" does not exist .*contexts: first, second/,
    );
    throws(
      () => loadKubeConfig({ kubeconfig: `${dir}/nope` }),
      Error,
      "does not exist",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreachable server is offline within the timeout", async () => {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  try {
    await Deno.writeTextFile(
      `${dir}/k`,
      config(`https://127.0.0.1:${port}`, ["dev"]),
    );
    const result = await connect({ kubeconfig: `${dir}/k`, timeoutMs: 2000 });
    assertMatch(
      "offline" in result ? result.offline : "online",
      new RegExp(
        `context "dev" \\(https://127\\.0\\.0\\.1:${port}\\) is unreachable`,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("objects without a name are rejected before any request", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/k`,
      config("https://127.0.0.1:1", ["dev"]),
    );
    const kube = createKubeClient({ kubeconfig: `${dir}/k` });
    const e = await rejects(
      () =>
        kube.apply({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: {} as { name: string },
        }),
      Error,
    );
    assertMatch(
      e.message,
      /apply: object needs apiVersion, kind and metadata.name/,
    );
    kube.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
