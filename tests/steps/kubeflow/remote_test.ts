import { join } from "node:path";
import { assertEquals, assertMatch } from "../../_assert.ts";
import {
  findRemoteResources,
  parseRemote,
  remoteHelp,
  vendoredCopy,
} from "../../../lib/steps/kubeflow/remote.ts";

Deno.test("parseRemote tells git remote bases from files and lays them out by URL", () => {
  const git = parseRemote(
    "https://github.com/argoproj/argo-workflows/manifests/base/crds/minimal?ref=v3.7.3",
  );
  assertEquals(git.type, "git");
  assertEquals(git.git?.repo, "https://github.com/argoproj/argo-workflows");
  assertEquals(git.git?.path, "manifests/base/crds/minimal");
  assertEquals(
    git.vendorPath,
    "github.com/argoproj/argo-workflows@v3.7.3/manifests/base/crds/minimal",
  );
  const slashes = parseRemote(
    "https://github.com/kubernetes-sigs/lws//config/default?ref=v0.7.0",
  );
  assertEquals(slashes.git?.repoPath, "kubernetes-sigs/lws");
  assertEquals(slashes.git?.path, "config/default");
  const file = parseRemote(
    "https://github.com/kubernetes-sigs/jobset/releases/download/v0.10.1/manifests.yaml",
  );
  assertEquals(file.type, "file");
  assertEquals(
    file.vendorPath,
    "github.com/kubernetes-sigs/jobset/releases/download/v0.10.1/manifests.yaml",
  );
});

Deno.test("remote resources are found from the entry only, and a vendored copy rewrites them without touching the tree", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tree = join(dir, "tree");
    await Deno.mkdir(join(tree, "example"), { recursive: true });
    await Deno.mkdir(join(tree, "app"), { recursive: true });
    await Deno.mkdir(join(tree, "unused"), { recursive: true });
    const url = "https://example.org/rel/v1/manifests.yaml";
    await Deno.writeTextFile(
      join(tree, "example/kustomization.yaml"),
      "resources:\n- ../app\n",
    );
    const app = `resources:\n- ${url}\n`;
    await Deno.writeTextFile(join(tree, "app/kustomization.yaml"), app);
    await Deno.writeTextFile(
      join(tree, "unused/kustomization.yaml"),
      "resources:\n- https://example.org/other.yaml\n",
    );
    const remotes = await findRemoteResources(tree, join(tree, "example"));
    assertEquals(remotes.map((r) => [r.url, r.kustomization]), [
      [url, "app/kustomization.yaml"],
    ]);
    const vendor = join(dir, "vendor");
    await Deno.mkdir(join(vendor, "example.org/rel/v1"), { recursive: true });
    await Deno.writeTextFile(
      join(vendor, "example.org/rel/v1/manifests.yaml"),
      "",
    );
    const copy = await vendoredCopy(tree, join(tree, "example"), {
      vendorDir: vendor,
      remotes,
      into: join(dir, "scratch"),
    });
    assertEquals(copy.fromVendor, [url]);
    assertEquals(copy.entry, join(dir, "scratch/tree/example"));
    assertMatch(
      await Deno.readTextFile(join(copy.root, "app/kustomization.yaml")),
      /- \.\.\/\.\.\/\.\.\/vendor\/example\.org\/rel\/v1\/manifests\.yaml/,
    );
    assertEquals(
      await Deno.readTextFile(join(tree, "app/kustomization.yaml")),
      app,
    );
    assertMatch(
      remoteHelp(remotes, undefined, new Set()),
      /fetches 1 remote resource.*\n {2}- https:\/\/example\.org\/rel\/v1\/manifests\.yaml \(file over HTTPS, in app\/kustomization\.yaml\)\n.*deno task vendor/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
