import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { parseConfig } from "../../lib/config/load.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import { stepsFromConfig } from "../../plans/mod.ts";
import { SHARED_DIR, sharedChart } from "../_shared.ts";

Deno.test("stepsFromConfig orders the platform: prerequisites, Kubeflow after them, GPU apart", () => {
  const loaded = parseConfig(
    `storage:
  chart: { path: ${sharedChart("nfs-subdir-external-provisioner-4.0.18")} }
  nfs: { server: 192.168.10.5, path: /srv/nfs }
metallb:
  chart: { path: ${sharedChart("metallb-0.15.3")} }
  pools: [{ name: default, addresses: [192.168.10.240-192.168.10.250] }]
kubeflow:
  manifests: ${SHARED_DIR}/kubeflow-manifests/v1.10.2
  oidcClient: { secret: { env: KF_OIDC_CLIENT_SECRET } }
  oauth2Proxy: { cookieSecret: { env: KF_COOKIE_SECRET } }
  dex:
    staticUsers: [{ email: alice@example.com, password: { env: KF_ALICE_PASSWORD } }]
users:
  profiles: [{ name: alice, owner: alice@example.com }]
gpu:
  operator:
    chart: { path: ${sharedChart("gpu-operator-v26.3.3")} }
  timeSlicing:
    timeSlicing: { resources: [{ name: nvidia.com/gpu, replicas: 4 }] }
`,
    "/etc/kfplan/kfplan.yaml",
  );
  const steps = stepsFromConfig(loaded);
  assertEquals(
    steps.map((s) => [s.id, s.needs]),
    [
      ["storage", []],
      ["metallb", []],
      ["kubeflow", ["storage", "metallb"]],
      ["users", ["kubeflow"]],
      ["gpu-operator", []],
      ["time-slicing", ["gpu-operator"]],
    ],
  );
});

Deno.test("stepsFromConfig reports the problems of every section at once, naming the file", () => {
  const loaded = parseConfig(
    `storage:
  nfs: { path: /srv/nfs }
metallb:
  pools: [{ name: a, addresses: ["10.0.0.5-10.0.0.1"] }]
users:
  profiles: [{ name: Alice, owner: alice@example.com }]
`,
    "/etc/kfplan/kfplan.yaml",
  );
  const error = throws(() => stepsFromConfig(loaded), OptionsError);
  assertEquals(error.source, "/etc/kfplan/kfplan.yaml");
  assertEquals(error.issues.map((i) => i.path.split(".")[0]), [
    "storage",
    "metallb",
    "users",
  ]);
  assertMatch(error.message, /storage\.nfs\.server: required/);
});

Deno.test("a section that is not a mapping is refused when loading, before any step is built", () => {
  const error = throws(
    () =>
      parseConfig(
        "storage: [nfs]\ngpu:\n  amd: 3\nusers: alice\n",
        "/etc/kfplan/kfplan.yaml",
      ),
    OptionsError,
  );
  assertEquals(error.issues.map((i) => [i.path, i.message]), [
    ["storage", "must be a mapping of settings"],
    ["gpu.amd", "must be a mapping of settings"],
    ["users", "must be a mapping of settings"],
  ]);
});
