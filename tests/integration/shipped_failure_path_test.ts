/**
 * The shipped steps' failure path, as the README tells a new user: `apply --yes` of
 * `examples/kfplan.yaml` on a kwok control plane where nothing provisions NFS
 * volumes. Storage fails naming the probe PVC's events, Kubeflow and the users are
 * not started, the GPU branch runs alongside and is done; the run exits 1. Once the
 * provisioner runs, the next apply starts only what failed or did not start
 * (storage, kubeflow, users) and skips the GPU branch, verified with a plan that has
 * no changes.
 *
 * The configuration is the example with absolute paths, shorter timeouts and the
 * webhook configurations left out of Kubeflow (kwok pods serve no webhooks, see
 * `_kubeflow.ts`). What runs no controller on kwok is played through the API, and the
 * test says so: MetalLB's webhook and address assignment, the GPU operator and device
 * plugin, Kubeflow's profile controller, and (second run only) the NFS provisioner.
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseYaml, stringifyYaml } from "../../lib/deps.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { SHARED_DIR, tempDir } from "../_shared.ts";
import { startCluster } from "../cluster/harness.ts";
import { startWebhookServer } from "../cluster/webhook.ts";
import { applyCommand } from "../../lib/cli/apply.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import {
  type Composition,
  displayPath,
  type SessionOptions,
} from "../../lib/cli/session.ts";
import { loadConfig } from "../../lib/config/load.ts";
import { stepsFromConfig } from "../../plans/mod.ts";
import type { KubeClient } from "../../lib/kube/types.ts";
import { PROBE_LABEL } from "../../lib/steps/probe.ts";
import { WEBHOOK_SERVICE } from "../../lib/steps/metallb.ts";
import { WEBHOOK_EXCLUDES } from "./_kubeflow.ts";
import {
  METALLB_NAMESPACE,
  playDevicePlugin,
  type Played,
  playedClient,
  playGpuOperator,
  playLoadBalancer,
  playMetallbWebhook,
  playNfsProvisioner,
} from "./_played.ts";

const EXAMPLE = fileURLToPath(
  new URL("../../examples/kfplan.yaml", import.meta.url),
);
const GPU_NAMESPACE = "gpu-operator";
/** An address of the example's MetalLB pool. */
const POOL_ADDRESS = "192.168.10.241";

/** Example secrets, from the environment the README exports (never Deno.env here). */
const ENV = {
  KF_OIDC_CLIENT_SECRET: crypto.randomUUID().replaceAll("-", ""),
  KF_COOKIE_SECRET: crypto.randomUUID().replaceAll("-", ""),
  KF_ALICE_PASSWORD: "change-me-please",
  KF_GITHUB_CLIENT_SECRET: "from-your-github-app",
};

type Config = Record<string, Record<string, unknown>>;

/** The example with absolute paths, short timeouts and no Kubeflow webhooks. */
async function exampleConfig(dir: string): Promise<string> {
  const config = parseYaml(await Deno.readTextFile(EXAMPLE)) as Config;
  const base = dirname(EXAMPLE);
  const absolute = (path: string) =>
    path.startsWith("../../shared/")
      ? join(SHARED_DIR, path.slice("../../shared/".length))
      : join(base, path);
  const chart = (section: Record<string, unknown>) => {
    const c = section.chart as { path: string };
    c.path = absolute(c.path);
  };
  chart(config.storage);
  config.storage.verify = { timeoutSeconds: 45 };
  chart(config.metallb);
  config.metallb.readyTimeoutSeconds = 180;
  config.metallb.verify = { timeoutSeconds: 120 };
  config.kubeflow.manifests = absolute(config.kubeflow.manifests as string);
  config.kubeflow.exclude = [
    ...(config.kubeflow.exclude as unknown[]),
    ...WEBHOOK_EXCLUDES,
  ];
  config.kubeflow.timeoutSeconds = 300;
  config.users.timeoutSeconds = 180;
  const gpu = config.gpu as Record<string, Record<string, unknown>>;
  for (const host of (gpu.hostChecks.hosts as { fixture: string }[])) {
    host.fixture = absolute(host.fixture);
  }
  chart(gpu.operator);
  gpu.operator.timeoutSeconds = 180;
  gpu.timeSlicing.verify = { timeoutSeconds: 180 };
  const path = join(dir, "kfplan.yaml");
  await Deno.writeTextFile(path, stringifyYaml(config));
  return path;
}

/** Kubeflow's profile controller, played: a namespace per Profile. */
function playProfileController(kube: KubeClient): Played {
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const served = await kube.resourceFor("kubeflow.org/v1", "Profile");
        // Discovery is cached: look again next round for a CRD that appears later.
        if (!served) kube.invalidateDiscovery();
        else {
          for (const p of await kube.list("kubeflow.org/v1", "Profile")) {
            const ref = {
              apiVersion: "v1",
              kind: "Namespace",
              name: p.metadata.name,
            };
            if (await kube.get(ref)) continue;
            const owner = (p.spec as { owner?: { name?: string } })?.owner
              ?.name ?? "";
            await kube.apply({
              apiVersion: "v1",
              kind: "Namespace",
              metadata: {
                name: p.metadata.name,
                annotations: { owner },
                labels: { "app.kubernetes.io/part-of": "kubeflow-profile" },
              },
            });
          }
        }
      } catch { /* the API may be busy during the big apply: next round */ }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return {
    history: [],
    async stop() {
      running = false;
      await done;
    },
  };
}

interface RunEvent {
  type: string;
  id?: string;
  reason?: string;
  error?: string;
}

/** Runs `apply --yes --json` and returns its exit code and events. */
async function apply(
  session: () => SessionOptions & { io: ReturnType<typeof capturedIO> },
  args: string[],
): Promise<{ code: number; events: RunEvent[]; stderr: string }> {
  const options = session();
  const code = await applyCommand([...args, "--yes", "--json"], options);
  const events = options.io.stdout().trim().split("\n").filter((l) =>
    l.startsWith("{")
  ).map((l) => JSON.parse(l) as RunEvent);
  return { code, events, stderr: options.io.stderr() };
}

function ids(events: RunEvent[], type: string): string[] {
  return events.filter((e) => e.type === type).map((e) => e.id!).sort();
}

Deno.test({
  name:
    "shipped example on the test cluster: storage fails without a provisioner, the next apply runs only what failed or did not start",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using work = await tempDir("kfplan-failure-path-");
    const configPath = await exampleConfig(work.path);
    const checkpoint = join(work.path, "checkpoints");
    // A cluster of its own: the example makes nfs-client the default class and
    // installs cluster-wide charts.
    const cluster = await startCluster({});
    const kube = cluster.kube;
    const played = playedClient(cluster.kubeconfig);
    const server = await startWebhookServer({
      namespace: METALLB_NAMESPACE,
      name: WEBHOOK_SERVICE,
    }, { kubeconfig: cluster.kubeconfig, handler: () => ({ allowed: true }) });
    console.log(
      "  the test plays MetalLB's webhook and addresses, the GPU operator and device plugin, and Kubeflow's profile controller; no NFS provisioner yet",
    );
    const controllers: Played[] = [
      {
        stop: playMetallbWebhook(played, server, { open: true }),
        history: [],
      },
      {
        stop: playLoadBalancer(played, {
          label: `${PROBE_LABEL}=metallb`,
          address: POOL_ADDRESS,
        }),
        history: [],
      },
      {
        stop: playLoadBalancer(played, {
          label: "app=istio-ingressgateway",
          address: POOL_ADDRESS,
        }),
        history: [],
      },
      playGpuOperator(played, { namespace: GPU_NAMESPACE }),
      playDevicePlugin(played, { namespace: GPU_NAMESPACE }),
      playProfileController(played),
    ];
    const session = () => {
      const io = capturedIO();
      return {
        io,
        compose: async (path: string | undefined): Promise<Composition> => {
          const loaded = await loadConfig(path);
          return {
            steps: stepsFromConfig(loaded, { env: ENV }),
            config: {
              path: displayPath(loaded.path),
              digest: loaded.digest,
              dir: loaded.dir,
            },
            parallelism: loaded.config.cluster?.parallelism,
          };
        },
        connect: () => Promise.resolve({ kube }),
      };
    };
    const args = ["--config", configPath, "--checkpoint", checkpoint];
    try {
      const first = await apply(session, args);
      assertEquals(first.code, 1, first.stderr);
      assertEquals(ids(first.events, "step-failed"), ["storage"]);
      const storage = first.events.find((e) => e.type === "step-failed")!;
      assertMatch(
        storage.error ?? "",
        /events of PersistentVolumeClaim default\/kfplan-storage-probe-\w+: .*ExternalProvisioning/,
      );
      assertEquals(ids(first.events, "step-not-started"), [
        "kubeflow",
        "users",
      ]);
      assertEquals(ids(first.events, "step-done"), [
        "gpu-operator",
        "metallb",
        "nvidia-toolkit",
        "time-slicing",
      ]);

      const live = await kube.get({
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        name: "nfs-client",
      });
      console.log(
        `  the test now plays the NFS provisioner ${live?.provisioner}`,
      );
      controllers.push({
        stop: playNfsProvisioner(played, {
          storageClass: "nfs-client",
          provisioner: String(live?.provisioner),
          server: "192.168.10.5",
          path: "/srv/nfs/kubeflow",
        }),
        history: [],
      });
      const second = await apply(session, args);
      assertEquals(
        second.code,
        0,
        JSON.stringify(
          second.events.filter((e) => e.type === "step-failed"),
        ) + second.stderr,
      );
      // Verified with a fresh plan that has no changes: skipped.
      assertEquals(ids(second.events, "step-skipped"), [
        "gpu-operator",
        "nvidia-toolkit",
        "time-slicing",
      ]);
      // What failed or did not start runs now. MetalLB runs again too: the played
      // webhook took its Service's selector away, a change its fresh plan shows.
      assertEquals(ids(second.events, "step-start"), [
        "kubeflow",
        "metallb",
        "storage",
        "users",
      ]);
      assert(
        second.events.some((e) =>
          e.type === "step-skipped" && /verified/.test(e.reason ?? "")
        ),
      );
    } finally {
      for (const c of controllers) await c.stop();
      await server.close();
      played.close();
      await cluster.stop();
    }
  },
});
