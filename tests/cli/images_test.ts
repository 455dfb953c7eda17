/**
 * `deno task images`: the `source -> mirror` lines and `--json`, on a configuration
 * with the NFS provisioner chart (a real `helm template` of the shared chart) and
 * the AMD device plugin.
 */

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { sharedChart, tempDir } from "../_shared.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import { type ImageListing, imagesCommand } from "../../lib/cli/images.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { stepsFromConfig } from "../../plans/mod.ts";

function config(images: string): string {
  return `storage:
  chart:
    path: ${sharedChart("nfs-subdir-external-provisioner-4.0.18")}
  nfs: { server: 10.0.0.2, path: /srv/nfs }
gpu:
  amd:
    image: rocm/k8s-device-plugin:1.31.0.7
${images}`;
}

const MIRRORED = `images:
  registry: localhost:5000/mirror
  pullSecret: { env: KFPLAN_TEST_UNSET_DOCKERCONFIG }
`;

Deno.test("images: one `source -> mirror` line per image, sorted", async () => {
  await using work = await tempDir("kfplan-images-cli-");
  const file = `${work.path}/kfplan.yaml`;
  await Deno.writeTextFile(file, config(MIRRORED));
  const io = capturedIO();
  // The pull secret is not read: listing images needs no registry login.
  const code = await imagesCommand(["--config", file], { io, env: {} });
  assertEquals(code, 0, io.stderr());
  const lines = io.stdout().trimEnd().split("\n");
  assertEquals(lines, [
    "docker.io/rocm/k8s-device-plugin:1.31.0.7 -> localhost:5000/mirror/docker.io/rocm/k8s-device-plugin:1.31.0.7",
    "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2 -> localhost:5000/mirror/registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2",
  ]);
  assertMatch(
    io.stderr(),
    /^2 images -> localhost:5000\/mirror \(layout host\); 0 not rewritable\n$/,
  );
});

Deno.test("images --json: the listing as a document, with the steps of each image", async () => {
  await using work = await tempDir("kfplan-images-cli-");
  const file = `${work.path}/kfplan.yaml`;
  await Deno.writeTextFile(
    file,
    config(`images:\n  registry: harbor.example.com/proxy\n  layout: path\n`),
  );
  const io = capturedIO();
  const code = await imagesCommand(["--config", file, "--json"], { io });
  assertEquals(code, 0, io.stderr());
  const listing = JSON.parse(io.stdout()) as ImageListing;
  assertEquals(listing.registry, "harbor.example.com/proxy");
  assertEquals(listing.layout, "path");
  assertEquals(listing.images, [
    {
      source: "docker.io/rocm/k8s-device-plugin:1.31.0.7",
      mirror: "harbor.example.com/proxy/rocm/k8s-device-plugin:1.31.0.7",
      steps: ["amd-gpu"],
    },
    {
      source:
        "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2",
      mirror:
        "harbor.example.com/proxy/sig-storage/nfs-subdir-external-provisioner:v4.0.2",
      steps: ["storage"],
    },
  ]);
  assertEquals(listing.notRewritable, []);
  assertEquals(io.stderr(), "");
});

Deno.test("images: without images.registry the sources alone; a bad registry names the field", async () => {
  await using work = await tempDir("kfplan-images-cli-");
  const file = `${work.path}/kfplan.yaml`;
  await Deno.writeTextFile(file, config(""));
  const io = capturedIO();
  assertEquals(await imagesCommand(["--config", file], { io }), 0);
  assertEquals(
    io.stdout(),
    [
      "docker.io/rocm/k8s-device-plugin:1.31.0.7\n",
      "registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2\n",
    ].join(""),
  );
  assertMatch(io.stderr(), /no images\.registry in .*sources only/);

  await Deno.writeTextFile(
    file,
    config("images:\n  registry: https://registry.example.com\n"),
  );
  const bad = capturedIO();
  assertEquals(await imagesCommand(["--config", file], { io: bad }), 1);
  assertMatch(bad.stderr(), /images\.registry/);
  assertMatch(bad.stderr(), /without a scheme/);
  assertEquals(bad.stdout(), "");
});

Deno.test("deno task images runs as a task (tasks/images.ts)", async () => {
  await using work = await tempDir("kfplan-images-cli-");
  const file = `${work.path}/kfplan.yaml`;
  await Deno.writeTextFile(file, config(MIRRORED));
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../tasks/images.ts", import.meta.url).pathname,
      "--config",
      file,
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  const listing = JSON.parse(new TextDecoder().decode(out.stdout));
  assert(Array.isArray(listing.images) && listing.images.length === 2);
  assertMatch(listing.images[0].mirror, /^localhost:5000\/mirror\//);
});

Deno.test("examples/kfplan-mirror.yaml is the full example plus images:, every step built", async () => {
  const mirror = await loadConfig(
    new URL("../../examples/kfplan-mirror.yaml", import.meta.url).pathname,
  );
  const full = await loadConfig(
    new URL("../../examples/kfplan.yaml", import.meta.url).pathname,
  );
  const { images, ...rest } = mirror.config;
  assertEquals(images, {
    registry: "registry.example.com:5000/kubeflow",
    pullSecret: { env: "KF_REGISTRY_DOCKERCONFIG" },
  });
  assertEquals(rest, full.config);
  assertEquals(
    stepsFromConfig(mirror).map((s) => s.id),
    stepsFromConfig(full).map((s) => s.id),
  );
});
