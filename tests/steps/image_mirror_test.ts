/**
 * The image mirror as steps apply it: `mirrorObjects` (rewrite, compiled-in
 * defaults, pull Secrets, scrubbed login), `stepImages` (reading and checking the
 * login), the `images:` schema, and chart values pointed at the mirror (the shared
 * charts' real `values.yaml`, subcharts included).
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../_assert.ts";
import { sharedChart } from "../_shared.ts";
import type { StepContext } from "../../lib/engine/types.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import {
  imagesSchema,
  mirrorChartValues,
  mirrorObjects,
  stepImages,
} from "../../lib/steps/image_mirror.ts";
import { base64 } from "../../lib/kube/images.ts";

function context(images: StepContext["images"], secrets: string[] = []) {
  return {
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: "/tmp",
    signal: new AbortController().signal,
    addSecret: (v: string) => void secrets.push(v),
    images,
  } satisfies StepContext;
}

const certManager: KubeObject = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "cert-manager", namespace: "cert-manager" },
  spec: {
    template: {
      spec: {
        containers: [{
          name: "cert-manager",
          image: "quay.io/jetstack/cert-manager-controller:v1.5.0",
          args: ["--v=2"],
        }],
      },
    },
  },
};

Deno.test("mirrorObjects: without a mirror the objects are returned as they are", async () => {
  const result = await mirrorObjects(context(undefined), [certManager]);
  assertEquals(result.objects, [certManager]);
  assertEquals(result.images, []);
});

Deno.test("mirrorObjects: cert-manager's compiled-in solver image is written out and mirrored", async () => {
  const { objects, images } = await mirrorObjects(
    context({ registry: "m.local:5000" }),
    [certManager],
  );
  const c = (objects[0].spec as {
    template: { spec: { containers: { image: string; args: string[] }[] } };
  }).template.spec.containers[0];
  assertEquals(
    c.image,
    "m.local:5000/quay.io/jetstack/cert-manager-controller:v1.5.0",
  );
  assertEquals(c.args, [
    "--v=2",
    "--acme-http01-solver-image=m.local:5000/quay.io/jetstack/cert-manager-acmesolver:v1.5.0",
  ]);
  assertEquals(images.length, 2);
  const again = await mirrorObjects(
    context({ registry: "m.local:5000" }),
    objects,
  );
  assertEquals(again.objects, objects, "a flag already there is kept");
});

Deno.test("mirrorObjects: the pull Secret per namespace, the login registered as secret", async () => {
  const login = JSON.stringify({
    auths: { "m.local:5000": { auth: base64("robot:hunter2-pw") } },
  });
  const secrets: string[] = [];
  const images = stepImages(
    { registry: "m.local:5000", pullSecret: { env: "LOGIN", name: "regcred" } },
    { env: { LOGIN: login } },
  );
  const { objects } = await mirrorObjects(context(images, secrets), [
    certManager,
  ]);
  assertEquals(
    objects.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`),
    [
      "Deployment cert-manager/cert-manager",
      "Secret cert-manager/regcred",
    ],
  );
  assertEquals(
    (objects[0].spec as { template: { spec: { imagePullSecrets: unknown } } })
      .template.spec.imagePullSecrets,
    [{ name: "regcred" }],
  );
  for (
    const s of [login, base64(login), base64("robot:hunter2-pw"), "hunter2-pw"]
  ) {
    assert(secrets.includes(s), `registered: ${s.slice(0, 12)}`);
  }
});

Deno.test("stepImages: a login that is not a .dockerconfigjson names the field; { name } is attached only", async () => {
  const bad = stepImages(
    { registry: "m.local", pullSecret: { env: "LOGIN" } },
    { env: { LOGIN: "user:password" }, source: "kfplan.yaml" },
  );
  const error = await assertRejects(() =>
    mirrorObjects(context(bad), [certManager])
  );
  assertMatch(
    error.message,
    /kfplan\.yaml: images\.pullSecret: not a \.dockerconfigjson/,
  );
  assert(!error.message.includes("password"));
  const existing = stepImages({
    registry: "m.local",
    pullSecret: { name: "regcred" },
  });
  const { objects } = await mirrorObjects(context(existing), [certManager]);
  assertEquals(objects.map((o) => o.kind), ["Deployment"]);
});

Deno.test("imagesSchema: registry and pullSecret checked with what would be valid", () => {
  const scheme = imagesSchema.safeParse({ registry: "https://r.example.com" });
  assert(!scheme.success);
  assertMatch(scheme.error.issues[0].message, /without a scheme/);
  const inline = imagesSchema.safeParse({
    registry: "r.example.com",
    pullSecret: { value: "x" },
  });
  assert(!inline.success);
  assertMatch(
    inline.error.issues[0].message,
    /\{ env: NAME \} or \{ file: PATH \}/,
  );
  assert(
    imagesSchema.safeParse({
      registry: "r.example.com:5000/kf",
      layout: "path",
    }).success,
  );
});

Deno.test("mirrorChartValues: every image value of the shared charts, subcharts included", async () => {
  const ctx = context({ registry: "m.local:5000" });
  const helm = { path: "helm", version: "v3" };
  const metallb = await mirrorChartValues(ctx, helm, {
    chart: { path: sharedChart("metallb-0.15.3") },
    values: { speaker: { frr: { enabled: false } } },
  }) as Record<string, Record<string, Record<string, unknown>>>;
  assertEquals(
    metallb.controller.image.repository,
    "m.local:5000/quay.io/metallb/controller",
  );
  assertEquals(
    metallb.speaker.image.repository,
    "m.local:5000/quay.io/metallb/speaker",
  );
  assertEquals(metallb.speaker.frr.enabled, false, "the user's values stay");
  const gpu = await mirrorChartValues(ctx, helm, {
    chart: { path: sharedChart("gpu-operator-v26.3.3") },
    values: {},
  }) as Record<string, Record<string, unknown>>;
  assertEquals(gpu.operator.repository, "m.local:5000/nvcr.io/nvidia");
  assertEquals(gpu.driver.repository, "m.local:5000/nvcr.io/nvidia");
  const nfd = gpu["node-feature-discovery"] as {
    image: { repository: string };
  };
  assertEquals(
    nfd.image.repository,
    "m.local:5000/registry.k8s.io/nfd/node-feature-discovery",
  );
  assertEquals(
    Object.keys(gpu).includes("mig"),
    false,
    "only changed values are passed",
  );
});
