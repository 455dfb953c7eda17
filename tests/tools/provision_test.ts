// Tool provisioning against a loopback mirror serving archives built from the test
// run's own kustomize: nothing here reaches outside the machine.
import { assert, assertEquals, assertMatch, rejects } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import {
  ChecksumMismatchError,
  PINNED_TOOL_SHA256,
  PINNED_TOOL_VERSIONS,
  ProvisionError,
  provisionTool,
  toolCachePath,
} from "../../lib/tools/provision.ts";
import { describeTools } from "../../lib/tools/describe_tools.ts";
import {
  findKustomize,
  kustomizeBuild,
  KustomizeError,
} from "../../lib/tools/kustomize.ts";
import {
  closedPort,
  releaseArchive,
  script,
  serveMirror,
  toolBinDir,
} from "./_mirror.ts";

/** An environment with nothing but the given PATH, an empty HOME and an empty cache. */
function freshEnv(
  root: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: "/usr/bin:/bin",
    HOME: `${root}/home`,
    KFPLAN_CACHE: `${root}/cache`,
    ...extra,
  };
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

Deno.test("the pinned versions are those of tests/cluster/versions.env, each with a pinned linux/amd64 sha256", async () => {
  const text = await Deno.readTextFile(
    new URL("../cluster/versions.env", import.meta.url),
  );
  const pinned = (name: string) =>
    new RegExp(`^${name}=(\\S+)$`, "m").exec(text)?.[1];
  assertEquals(PINNED_TOOL_VERSIONS.kustomize, pinned("KUSTOMIZE_VERSION"));
  assertEquals(PINNED_TOOL_VERSIONS.helm, pinned("HELM_VERSION"));
  for (
    const file of [
      `kustomize_${PINNED_TOOL_VERSIONS.kustomize}_linux_amd64.tar.gz`,
      `helm-${PINNED_TOOL_VERSIONS.helm}-linux-amd64.tar.gz`,
    ]
  ) assertMatch(PINNED_TOOL_SHA256[file] ?? "", /^[0-9a-f]{64}$/);
});

Deno.test("a download from the mirror is verified, cached by version and used; a second call makes no request", async () => {
  await using work = await tempDir("kfplan-provision-");
  const archive = await releaseArchive(
    "kustomize",
    `${await toolBinDir()}/kustomize`,
    work.path,
  );
  await using mirror = serveMirror({ [archive.file]: archive.bytes });
  const env = freshEnv(work.path, { KFPLAN_TOOLS_MIRROR: `${mirror.url}/` });
  const lines: string[] = [];
  const options = {
    env,
    checksums: { [archive.file]: archive.sha256 },
    progress: (line: string) => lines.push(line),
  };
  const first = await provisionTool("kustomize", options);
  const cached = `${work.path}/cache/tools/kustomize-v5.7.1/kustomize`;
  assertEquals(toolCachePath("kustomize", { env }), cached);
  assertEquals(
    { path: first.path, version: first.version, way: first.way },
    { path: cached, version: "v5.7.1", way: "download" },
  );
  assertEquals(first.attempts.map((a) => [a.way, a.result]), [
    ["cache", "skipped"],
    ["download", "used"],
  ]);
  assertEquals(mirror.requests, [`/${archive.file}`]);
  assertMatch(
    lines[0],
    /kustomize v5\.7\.1 not found; downloading http:\/\/127/,
  );
  // Only the finished tool is left: no temporary directory, no archive.
  assertEquals(await entries(`${work.path}/cache/tools`), [
    "kustomize-v5.7.1",
  ]);
  assertEquals(await entries(`${work.path}/cache/tools/kustomize-v5.7.1`), [
    "kustomize",
  ]);

  const again = await provisionTool("kustomize", options);
  assertEquals([again.path, again.way], [cached, "cache"]);
  // findKustomize finds nothing on PATH and gets the cached copy, without a request.
  const found = await findKustomize({ env, provision: options });
  assertEquals(found, { path: cached, version: "v5.7.1" });
  assertEquals(mirror.requests.length, 1);

  // The provided kustomize renders.
  await Deno.writeTextFile(
    `${work.path}/kustomization.yaml`,
    "resources: [ns.yaml]\n",
  );
  await Deno.writeTextFile(
    `${work.path}/ns.yaml`,
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: provided}\n",
  );
  const objects = await kustomizeBuild(work.path, { kustomize: found });
  assertEquals(objects.map((o) => o.metadata?.name), ["provided"]);
});

Deno.test("a checksum mismatch is refused naming the URL and both digests, and nothing is cached", async () => {
  await using work = await tempDir("kfplan-provision-");
  const archive = await releaseArchive(
    "kustomize",
    `${await toolBinDir()}/kustomize`,
    work.path,
  );
  await using mirror = serveMirror({ [archive.file]: archive.bytes });
  const env = freshEnv(work.path, { KFPLAN_TOOLS_MIRROR: mirror.url });
  const wrong = "0".repeat(64);
  const options = {
    env,
    checksums: { [archive.file]: wrong },
    progress: () => {},
  };
  const error = await rejects(
    () => provisionTool("kustomize", options),
    ChecksumMismatchError,
  );
  assertEquals(
    error.message,
    `checksum mismatch for ${mirror.url}/${archive.file}: expected sha256 ${wrong}, ` +
      `got ${archive.sha256}; refused, nothing was cached`,
  );
  assertEquals(await entries(`${work.path}/cache/tools`), []);
  // Through findKustomize: the same refusal, not a fallback to another way.
  const viaFind = await rejects(
    () => findKustomize({ env, provision: options }),
    KustomizeError,
  );
  assertMatch(viaFind.message, /kustomize not found .*checksum mismatch for/);
  assertEquals(await entries(`${work.path}/cache/tools`), []);
});

Deno.test("an unreachable mirror falls through to go install, then to kubectl kustomize", async () => {
  await using work = await tempDir("kfplan-provision-");
  const fake = `${work.path}/fake-bin`;
  // A kubectl >= 1.27 (it embeds kustomize v5); no go on PATH yet.
  await script(
    `${fake}/kubectl`,
    'echo "Client Version: v1.33.13"; echo "Kustomize Version: v5.6.0"',
  );
  const port = closedPort();
  const env = freshEnv(work.path, {
    PATH: `${fake}:/usr/bin:/bin`,
    KFPLAN_TOOLS_MIRROR: `http://127.0.0.1:${port}`,
  });
  const options = {
    env,
    checksums: { [`kustomize_v5.7.1_linux_amd64.tar.gz`]: "0".repeat(64) },
    platform: { os: "linux", arch: "amd64" },
    progress: () => {},
  };
  const viaKubectl = await provisionTool("kustomize", options);
  assertEquals(
    viaKubectl.attempts.map((a) => [a.way, a.result]),
    [
      ["cache", "skipped"],
      ["download", "failed"],
      ["go install", "skipped"],
      ["kubectl kustomize", "used"],
    ],
  );
  assertMatch(
    viaKubectl.attempts[1].detail,
    new RegExp(`127\\.0\\.0\\.1:${port}`),
  );
  assertEquals(viaKubectl.attempts[2].detail, "go is not on PATH");
  assertEquals(
    {
      path: viaKubectl.path,
      version: viaKubectl.version,
      args: viaKubectl.args,
    },
    { path: `${fake}/kubectl`, version: "v5.6.0", args: ["kustomize"] },
  );
  assertEquals(await entries(`${work.path}/cache/tools`), []);

  // With go on PATH, go install comes before kubectl, with build.sh's module and flags.
  await script(
    `${fake}/go`,
    `echo "$*|GOBIN=$GOBIN|GOTOOLCHAIN=$GOTOOLCHAIN|CGO_ENABLED=$CGO_ENABLED|GOFLAGS=$GOFLAGS|GOPROXY=$GOPROXY" >> "${work.path}/go.log"
case "$1" in
  env) echo "${work.path}/modcache"; echo "https://proxy.golang.org,direct" ;;
  install) printf '#!/bin/sh\\necho v5.7.1\\n' > "$GOBIN/kustomize"; chmod 755 "$GOBIN/kustomize" ;;
esac`,
  );
  const viaGo = await provisionTool("kustomize", options);
  assertEquals(viaGo.attempts.map((a) => [a.way, a.result]), [
    ["cache", "skipped"],
    ["download", "failed"],
    ["go install", "used"],
  ]);
  assertEquals(
    viaGo.path,
    `${work.path}/cache/tools/kustomize-v5.7.1/kustomize`,
  );
  const log = (await Deno.readTextFile(`${work.path}/go.log`)).trim().split(
    "\n",
  );
  assertEquals(log.length, 2);
  assertMatch(log[0], /^env GOMODCACHE GOPROXY\|/);
  const [args, gobin, ...vars] = log[1].split("|");
  assertEquals(
    args,
    "install -trimpath -ldflags -s -w -X sigs.k8s.io/kustomize/api/provenance.version=v5.7.1 " +
      "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1",
  );
  assert(
    gobin.startsWith(`GOBIN=${work.path}/cache/tools/.kustomize-v5.7.1.tmp-`),
  );
  assertEquals(vars, [
    "GOTOOLCHAIN=local",
    "CGO_ENABLED=0",
    "GOFLAGS=-mod=mod",
    `GOPROXY=file://${work.path}/modcache/cache/download,https://proxy.golang.org,direct`,
  ]);
  assertEquals(await entries(`${work.path}/cache/tools`), [
    "kustomize-v5.7.1",
  ]);
});

Deno.test("with no way left the error lists each way and how to do it by hand", async () => {
  await using work = await tempDir("kfplan-provision-");
  const env = freshEnv(work.path, {
    PATH: `${work.path}/empty`,
    KFPLAN_TOOLS_DOWNLOAD: "0",
  });
  const helm = await rejects(
    () => provisionTool("helm", { env, progress: () => {} }),
    ProvisionError,
  );
  assertEquals(helm.attempts.map((a) => [a.way, a.result]), [
    ["cache", "skipped"],
    ["download", "skipped"],
    ["go install", "skipped"],
  ]);
  assertMatch(
    helm.message,
    /download: skipped: downloads are turned off \(KFPLAN_TOOLS_DOWNLOAD=0\)/,
  );
  assertMatch(helm.message, /https:\/\/get\.helm\.sh\/helm-v3\.19\.5-/);
  assertMatch(
    helm.message,
    /go install -trimpath -ldflags '-s -w -X helm\.sh\/helm\/v3\/internal\/version\.version=v3\.19\.5' helm\.sh\/helm\/v3\/cmd\/helm@v3\.19\.5/,
  );
  // A platform without a pinned checksum skips the download, saying so.
  const kustomize = await rejects(
    () =>
      provisionTool("kustomize", {
        env: { ...env, KFPLAN_TOOLS_DOWNLOAD: "1" },
        platform: { os: "darwin", arch: "arm64" },
        progress: () => {},
      }),
    ProvisionError,
  );
  assertEquals(kustomize.attempts.map((a) => [a.way, a.result]), [
    ["cache", "skipped"],
    ["download", "skipped"],
    ["go install", "skipped"],
    ["kubectl kustomize", "skipped"],
  ]);
  assertMatch(
    kustomize.message,
    /no pinned sha256 for kustomize_v5\.7\.1_darwin_arm64\.tar\.gz/,
  );
  assertMatch(
    kustomize.message,
    /https:\/\/github\.com\/kubernetes-sigs\/kustomize\/releases\/download\/kustomize%2Fv5\.7\.1\/kustomize_v5\.7\.1_darwin_arm64\.tar\.gz/,
  );
  assertMatch(kustomize.message, /kubectl >= 1\.27/);
  // An old kubectl is not used.
  await script(
    `${work.path}/empty/kubectl`,
    'echo "Client Version: v1.26.3"; echo "Kustomize Version: v4.5.7"',
  );
  const old = await rejects(
    () => provisionTool("kustomize", { env, progress: () => {} }),
    ProvisionError,
  );
  assertMatch(old.message, /kubectl kustomize: skipped: .* older than 1\.27/);
  assertEquals(await entries(`${work.path}/cache/tools`), []);
});

Deno.test("a kubectl-provided kustomize renders with `kubectl kustomize DIR`", async () => {
  await using work = await tempDir("kfplan-provision-");
  const kubectl = await script(
    `${work.path}/kubectl`,
    'echo "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: via-$1}"; echo "$2" > "$0.dir"',
  );
  const objects = await kustomizeBuild(`${work.path}/overlay`, {
    kustomize: { path: kubectl, version: "v5.6.0", args: ["kustomize"] },
  });
  assertEquals(objects.map((o) => o.metadata?.name), ["via-kustomize"]);
  assertEquals(
    (await Deno.readTextFile(`${kubectl}.dir`)).trim(),
    `${work.path}/overlay`,
  );
});

Deno.test("describeTools names each tool's version and where it came from", async () => {
  await using work = await tempDir("kfplan-provision-");
  const kustomize = await script(`${work.path}/bin/kustomize`, "echo v5.7.1");
  const helm = await script(`${work.path}/helm`, "echo v3.19.5+gabc");
  const provided = await script(
    `${work.path}/cache/tools/kustomize-v5.7.1/kustomize`,
    "echo v5.7.1",
  );
  const env = freshEnv(work.path, {
    PATH: `${work.path}/bin`,
    KFPLAN_HELM: helm,
    HOME: work.path,
  });
  assertEquals(await describeTools({ env }), [
    `kustomize 5.7.1 (PATH ~/bin/kustomize)`,
    `helm 3.19.5 (KFPLAN_HELM ~/helm)`,
  ]);
  await Deno.remove(kustomize);
  assertEquals(await describeTools({ env: { ...env, KFPLAN_HELM: "" } }), [
    `kustomize 5.7.1 (provisioned, ~/cache/tools/kustomize-v5.7.1/kustomize)`,
    "helm unavailable (see the step errors)",
  ]);
  assert(provided.length > 0);
});
