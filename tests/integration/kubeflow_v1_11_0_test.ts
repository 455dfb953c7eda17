/**
 * Kubeflow v1.11.0, whose `example/` fetches remote resources while rendering (argo-
 * workflows' manifests as git remote bases at v3.7.3, jobset's release manifests over
 * HTTPS), end to end through the path a user with network takes:
 * `deno task vendor` fetches each remote resource (git clone, HTTP GET) into a vendor
 * directory, then the step plans, applies and verifies from it, offline.
 *
 * What the test plays: GitHub. `../shared/remote-bases` holds exactly what those URLs
 * serve; the test makes a git repository of argo-workflows' tree tagged v3.7.3 (served
 * as a file:// URL through git's `url.<base>.insteadOf`) and serves jobset's file with
 * an HTTP server on 127.0.0.1.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { main as vendorMain } from "../../tasks/vendor.ts";
import {
  nonDefaultOptions,
  plantedEnv,
  REMOTE_BASES,
} from "../steps/kubeflow/_fixtures.ts";
import { WEBHOOK_EXCLUDES } from "./_kubeflow.ts";
import { lightScenario } from "./kubeflow_light.ts";
import { tree } from "../steps/kubeflow/_fixtures.ts";

async function git(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("git", {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: {
      GIT_AUTHOR_NAME: "kfplan test",
      GIT_AUTHOR_EMAIL: "test@example.org",
      GIT_COMMITTER_NAME: "kfplan test",
      GIT_COMMITTER_EMAIL: "test@example.org",
    },
  }).output();
  if (!out.success) {
    throw new Error(
      `git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

async function files(dir: string, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) {
      for (const [k, v] of await files(path, `${prefix}${e.name}/`)) {
        out.set(k, v);
      }
    } else out.set(`${prefix}${e.name}`, await Deno.readTextFile(path));
  }
  return out;
}

Deno.test({
  name:
    "kubeflow v1.11.0: deno task vendor fetches its remote resources (git and HTTPS, on loopback), then plan, apply and verify render from the vendor directory",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "kfplan-kf-v1.11-" });
    const argo = `${REMOTE_BASES}/github.com/argoproj/argo-workflows@v3.7.3`;
    const jobset =
      "kubernetes-sigs/jobset/releases/download/v0.10.1/manifests.yaml";
    const requests: string[] = [];
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const path = decodeURIComponent(new URL(req.url).pathname);
        requests.push(path);
        try {
          return new Response(
            await Deno.readFile(`${REMOTE_BASES}/github.com${path}`),
          );
        } catch {
          return new Response("not found", { status: 404 });
        }
      },
    );
    try {
      // GitHub's argo-workflows repository at tag v3.7.3, as a local repository.
      const repo = `${work}/git/argoproj/argo-workflows`;
      await Deno.mkdir(repo, { recursive: true });
      await new Deno.Command("cp", { args: ["-R", `${argo}/.`, repo] })
        .output();
      await git(["init", "--quiet"], repo);
      await git(["add", "-A"], repo);
      await git(["commit", "--quiet", "-m", "v3.7.3"], repo);
      await git(["tag", "v3.7.3"], repo);

      const vendorDir = `${work}/vendor`;
      const code = await vendorMain([
        "--manifests",
        tree("v1.11.0"),
        "--out",
        vendorDir,
        "--git-mirror",
        `https://github.com/=file://${work}/git/`,
        "--http-mirror",
        `https://github.com/=http://127.0.0.1:${server.addr.port}/`,
      ]);
      assertEquals(code, 0);
      assertEquals(requests, [`/${jobset}`]);
      // The vendor directory holds exactly what the URLs serve.
      assertEquals(
        await Deno.readTextFile(`${vendorDir}/github.com/${jobset}`),
        await Deno.readTextFile(`${REMOTE_BASES}/github.com/${jobset}`),
      );
      assertEquals(
        await files(`${vendorDir}/github.com/argoproj/argo-workflows@v3.7.3`),
        await files(argo),
      );
      // Vendoring again fetches nothing.
      assertEquals(
        await vendorMain([
          "--manifests",
          tree("v1.11.0"),
          "--out",
          vendorDir,
        ]),
        0,
      );
      assertEquals(requests.length, 1);

      const input = {
        ...nonDefaultOptions("v1.11.0"),
        vendor: vendorDir,
        exclude: WEBHOOK_EXCLUDES,
        timeoutSeconds: 600,
      };
      await lightScenario("v1.11.0", input, {
        env: plantedEnv(),
        check: async (kube, { plan, outputs }) => {
          assertEquals(outputs.version, "v1.11.0");
          const fromVendor = plan.facts?.fromVendor as string[];
          assertEquals(fromVendor.length, 4);
          assert(
            fromVendor.includes(`https://github.com/${jobset}`),
            fromVendor.join(", "),
          );
          assert(
            plan.warnings.some((w) =>
              w.startsWith("version says v1.11.0; Kubeflow's component images")
            ),
            "the plan says the notebook components are v1.10.0's",
          );
          // Objects from both kinds of remote resource reached the cluster.
          for (
            const name of [
              "workflows.argoproj.io",
              "jobsets.jobset.x-k8s.io",
            ]
          ) {
            assert(
              await kube.get({
                apiVersion: "apiextensions.k8s.io/v1",
                kind: "CustomResourceDefinition",
                name,
              }),
              `CRD ${name}`,
            );
          }
        },
      });
    } finally {
      await server.shutdown();
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});
