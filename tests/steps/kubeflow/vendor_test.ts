import { join } from "node:path";
import { assertEquals, assertMatch, assertRejects } from "../../_assert.ts";
import { VendorError, vendorTree } from "../../../lib/steps/kubeflow/vendor.ts";

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stderr: "piped",
    env: {
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.org",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.org",
    },
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

Deno.test("vendorTree clones git remote bases at their ref and fetches files, through mirrors, into a by-URL layout", async () => {
  const dir = await Deno.makeTempDir();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) =>
      new URL(req.url).pathname === "/org/rel/v1/all.yaml"
        ? new Response("kind: List\n")
        : new Response("no", { status: 404 }),
  );
  try {
    const repo = join(dir, "git/org/base");
    await Deno.mkdir(join(repo, "deploy"), { recursive: true });
    await Deno.writeTextFile(
      join(repo, "deploy/kustomization.yaml"),
      "resources: []\n",
    );
    await run("git", ["init", "--quiet"], repo);
    await run("git", ["add", "-A"], repo);
    await run("git", ["commit", "--quiet", "-m", "x"], repo);
    await run("git", ["tag", "v2"], repo);
    const tree = join(dir, "tree");
    await Deno.mkdir(join(tree, "example"), { recursive: true });
    await Deno.writeTextFile(
      join(tree, "example/kustomization.yaml"),
      "resources:\n- https://example.org/org/base/deploy?ref=v2\n- https://example.org/org/rel/v1/all.yaml\n",
    );
    const options = {
      out: join(dir, "vendor"),
      gitMirrors: [{
        prefix: "https://example.org/",
        replacement: `file://${dir}/git/`,
      }],
      httpMirrors: [{
        prefix: "https://example.org/",
        replacement: `http://127.0.0.1:${server.addr.port}/`,
      }],
    };
    const done = await vendorTree(tree, options);
    assertEquals(done.map((d) => `${d.status} ${d.path}`), [
      "fetched example.org/org/base@v2/deploy",
      "fetched example.org/org/rel/v1/all.yaml",
    ]);
    assertEquals(
      await Deno.readTextFile(
        join(dir, "vendor/example.org/org/base@v2/deploy/kustomization.yaml"),
      ),
      "resources: []\n",
    );
    assertEquals(
      (await vendorTree(tree, options)).map((d) => d.status),
      ["present", "present"],
    );
    await Deno.writeTextFile(
      join(tree, "example/kustomization.yaml"),
      "resources:\n- https://example.org/org/rel/v9/missing.yaml\n",
    );
    const err = await assertRejects(
      () => vendorTree(tree, options),
      VendorError,
    );
    assertMatch(
      err.message,
      /^https:\/\/example\.org\/org\/rel\/v9\/missing\.yaml: .* answered 404/,
    );
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
