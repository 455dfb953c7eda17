/**
 * Removing a profile from `users.profiles`, a pool from `metallb.pools` or a
 * connector from `dex.connectors` removes exactly what it created, through the
 * shipped steps and the engine's inventory: the plan's deletes are those objects
 * and nothing else, and afterwards the set of members in the cluster is the old set
 * minus them.
 */
import { assert, assertEquals } from "../_assert.ts";
import { sharedChart, tempDir } from "../_shared.ts";
import { useCluster } from "../cluster/harness.ts";
import { applyProfileCrds } from "./_profile_crds.ts";
import { startWebhookServer } from "../cluster/webhook.ts";
import { applySteps } from "../../lib/engine/executor.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import {
  applySetIdOf,
  memberKey,
  PART_OF_LABEL,
  readInventory,
} from "../../lib/kube/inventory.ts";
import { objectName, refOf } from "../../lib/kube/object_ref.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { usersStep } from "../../lib/steps/users.ts";
import { metallbStep, WEBHOOK_SERVICE } from "../../lib/steps/metallb.ts";
import { findHelm } from "../../lib/tools/helm.ts";
import { renderDexConfig } from "../../lib/steps/kubeflow/dex.ts";
import { renderKubeflow } from "../../lib/steps/kubeflow/render.ts";
import { kubeflowOptionsSchema } from "../../lib/steps/kubeflow/options.ts";
import { validateOptions } from "../../lib/engine/options.ts";
import { canonicalJson } from "../../lib/engine/digest.ts";
import { parseYaml } from "../../lib/deps.ts";
import { nonDefaultOptions, plantedEnv } from "../steps/kubeflow/_fixtures.ts";
import { writeTinyRelease } from "../steps/kubeflow/_tiny_release.ts";
import { profileRound } from "../../sim/controllers/profiles.ts";
import {
  METALLB_NAMESPACE,
  playedClient,
  playMetallbWebhook,
  privateCluster,
} from "./_played.ts";

function suffix(): string {
  return crypto.randomUUID().slice(0, 6);
}

/** The members of a step's set in the cluster, found by their label (kubectl's way). */
async function members(
  kube: KubeClient,
  setId: string,
  kinds: [string, string][],
): Promise<string[]> {
  const found: string[] = [];
  for (const [apiVersion, kind] of kinds) {
    for (
      const o of await kube.list(apiVersion, kind, {
        labelSelector: `${PART_OF_LABEL}=${setId}`,
      })
    ) {
      if (!o.metadata.deletionTimestamp) found.push(objectName(refOf(o)));
    }
  }
  return found.sort();
}

function deletesOf(
  document: Awaited<ReturnType<typeof planSteps>>["document"],
): string[] {
  return document.steps.flatMap((s) => s.changes)
    .filter((c) => c.action === "delete")
    .map((c) => objectName(c))
    .sort();
}

Deno.test({
  name:
    "removing a profile from users.profiles removes its Profile and PodDefault, nothing else",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { kube } = await useCluster();
    await using work = await tempDir();
    const id = `users-${suffix()}`;
    const stateNamespace = `kfplan-rm-${suffix()}`;
    const [alice, bob] = [`alice-${suffix()}`, `bob-${suffix()}`];
    await applyProfileCrds(kube);
    // The profile controller, played: a namespace for each Profile.
    let playing = true;
    const controller = (async () => {
      while (playing) {
        await profileRound(kube).catch(() => {});
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    const step = (names: string[]) =>
      usersStep({
        profiles: names.map((name) => ({
          name,
          owner: `${name}@example.org`,
        })),
        timeoutSeconds: 60,
      }, { id, needs: [], source: "kfplan.yaml", prefix: ["users"] });
    const options = {
      kube,
      stateNamespace,
      checkpointDir: work.path,
      lock: { name: `kfplan-lock-${id}` },
    };
    // This run's inventories: its state namespace and its lock's installation.
    const scope = {
      namespace: stateNamespace,
      installation: options.lock.name,
    };
    const setId = applySetIdOf(id, scope);
    const kinds: [string, string][] = [
      ["kubeflow.org/v1", "Profile"],
      ["kubeflow.org/v1alpha1", "PodDefault"],
    ];
    try {
      const first = await applySteps([step([alice, bob])], options);
      assert(first.ok, JSON.stringify(first.summary));
      const before = await members(kube, setId, kinds);
      assertEquals(before, [
        `PodDefault ${alice}/access-ml-pipeline`,
        `PodDefault ${bob}/access-ml-pipeline`,
        `Profile ${alice}`,
        `Profile ${bob}`,
      ]);
      const aliceUid = (await kube.get({
        apiVersion: "kubeflow.org/v1",
        kind: "Profile",
        name: alice,
      }))?.metadata.uid;

      const { document } = await planSteps([step([alice])], {
        kube,
        stateNamespace,
        checkpointDir: work.path,
        lock: options.lock,
      });
      const bobs = [`PodDefault ${bob}/access-ml-pipeline`, `Profile ${bob}`];
      assertEquals(deletesOf(document), bobs);
      assertEquals(document.summary.kept, 0);

      const second = await applySteps([step([alice])], options);
      assert(second.ok, JSON.stringify(second.summary));
      assertEquals(
        await members(kube, setId, kinds),
        before.filter((m) => !bobs.includes(m)),
      );
      assertEquals(
        (await kube.get({
          apiVersion: "kubeflow.org/v1",
          kind: "Profile",
          name: alice,
        }))?.metadata.uid,
        aliceUid,
        "alice's Profile untouched",
      );
      const inventory = await readInventory(kube, id, scope);
      assertEquals(
        inventory?.entries.map((e) => objectName(e)).sort(),
        before.filter((m) => !bobs.includes(m)),
      );
    } finally {
      playing = false;
      await controller;
      for (const name of [alice, bob]) {
        await kube.delete({
          apiVersion: "kubeflow.org/v1",
          kind: "Profile",
          name,
        }).catch(() => {});
      }
      await kube.delete({
        apiVersion: "v1",
        kind: "Namespace",
        name: stateNamespace,
      }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "removing a pool from metallb.pools removes its IPAddressPool, nothing else",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using work = await tempDir("kfplan-rm-metallb-");
    const cluster = await privateCluster();
    const kube = cluster.kube;
    const played = playedClient(cluster.kubeconfig);
    const helm = await findHelm();
    const server = await startWebhookServer({
      namespace: METALLB_NAMESPACE,
      name: WEBHOOK_SERVICE,
    }, { kubeconfig: cluster.kubeconfig, handler: () => ({ allowed: true }) });
    const stop = playMetallbWebhook(played, server, { open: true });
    const step = (pools: { name: string; addresses: string[] }[]) =>
      metallbStep({
        chart: { path: sharedChart("metallb-0.15.3") },
        pools,
        readyTimeoutSeconds: 120,
        verify: { loadBalancer: false },
      }, {
        kubeconfig: cluster.kubeconfig,
        helm,
        source: "kfplan.yaml",
        prefix: ["metallb"],
      });
    const a = { name: "a", addresses: ["192.168.10.240/29"] };
    const b = { name: "b", addresses: ["192.168.10.248/29"] };
    const options = { kube, checkpointDir: work.path };
    const setId = applySetIdOf("metallb");
    const kinds: [string, string][] = [
      ["metallb.io/v1beta1", "IPAddressPool"],
      ["metallb.io/v1beta1", "L2Advertisement"],
      ["apps/v1", "Deployment"],
      ["apps/v1", "DaemonSet"],
      ["v1", "Service"],
      ["v1", "ServiceAccount"],
      ["v1", "Secret"],
      ["v1", "ConfigMap"],
      ["rbac.authorization.k8s.io/v1", "ClusterRole"],
      ["rbac.authorization.k8s.io/v1", "Role"],
      ["apiextensions.k8s.io/v1", "CustomResourceDefinition"],
      ["admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"],
    ];
    try {
      const first = await applySteps([step([a, b])], options);
      assert(first.ok, JSON.stringify(first.summary));
      const before = await members(kube, setId, kinds);
      assert(
        before.includes(`IPAddressPool ${METALLB_NAMESPACE}/b`),
        before.join(),
      );
      assert(
        before.includes(`Deployment ${METALLB_NAMESPACE}/metallb-controller`),
      );
      const recorded = await readInventory(kube, "metallb");
      const recordedKeys = new Set(recorded?.entries.map(memberKey));
      const poolB = memberKey({
        apiVersion: "metallb.io/v1beta1",
        kind: "IPAddressPool",
        namespace: METALLB_NAMESPACE,
        name: "b",
      });
      assert(recordedKeys.has(poolB));

      const { document } = await planSteps([step([a])], {
        kube,
        checkpointDir: work.path,
      });
      const gone = [`IPAddressPool ${METALLB_NAMESPACE}/b`];
      assertEquals(deletesOf(document), gone);

      const second = await applySteps([step([a])], options);
      assert(second.ok, JSON.stringify(second.summary));
      assertEquals(
        await members(kube, setId, kinds),
        before.filter((m) => !gone.includes(m)),
      );
      const after = await readInventory(kube, "metallb");
      recordedKeys.delete(poolB);
      assertEquals(
        after?.entries.map(memberKey).sort(),
        [...recordedKeys].sort(),
      );
    } finally {
      await stop();
      played.close();
      await server.close();
      await cluster.stop();
    }
  },
});

Deno.test("removing a connector from dex.connectors: an entry of Dex's config and a key of its Secret, and with the last one the Secret itself", async () => {
  // A connector is no object of its own: it is an entry of `connectors` in Dex's
  // config and a key (its client secret) in Secret kfplan-dex-connectors.
  const github = {
    type: "github",
    id: "github",
    name: "GitHub",
    config: { clientID: "a", clientSecret: "s1", redirectURI: "https://x/cb" },
  };
  const gitlab = {
    type: "gitlab",
    id: "gitlab",
    name: "GitLab",
    config: { clientID: "b", clientSecret: "s2", redirectURI: "https://x/cb" },
  };
  const dexConfig = (connectors: typeof github[]) =>
    renderDexConfig({
      baseConfig: "issuer: http://dex\n",
      dex: {
        issuer: "http://dex.auth.svc.cluster.local:5556/dex",
        connectors,
        staticUsers: [],
        keepDefaultUser: false,
      } as never,
      users: [],
      connectorSecrets: Object.fromEntries(
        connectors.map((c) => [c.id, c.config.clientSecret]),
      ),
      redirectURIs: ["/oauth2/callback"],
    });
  const two = await dexConfig([github, gitlab]);
  const one = await dexConfig([github]);
  const { connectors: twoConnectors, ...twoRest } = parseYaml(two.config);
  const { connectors: oneConnectors, ...oneRest } = parseYaml(one.config);
  assertEquals(oneRest, twoRest, "nothing else in the config changes");
  assertEquals(twoConnectors.map((c: { id: string }) => c.id), [
    "github",
    "gitlab",
  ]);
  assertEquals(oneConnectors, [twoConnectors[0]]);
  assertEquals(Object.keys(two.connectorEnv).length, 2);
  assertEquals(
    one.connectorEnv,
    Object.fromEntries(
      Object.entries(two.connectorEnv).filter(([k]) => /GITHUB/.test(k)),
    ),
  );

  // The whole render with the only connector and without it (a tiny release tree,
  // as render_test's unseen release): the objects that differ are Dex's config and
  // Deployment, and the one object that goes is the connectors Secret, which the
  // engine's prune deletes like any object a render drops (engine_prune_test).
  await using tree = await tempDir("kfplan-rm-dex-");
  await writeTinyRelease(tree.path);
  const options = (connectors: unknown[]) => {
    const input = nonDefaultOptions("v1.10.2");
    return validateOptions(kubeflowOptionsSchema, {
      ...input,
      manifests: tree.path,
      entry: "deploy",
      version: "v1.12.0",
      ingress: { type: "ClusterIP" },
      dex: { ...input.dex, connectors },
    });
  };
  const withOne = await renderKubeflow(
    options([nonDefaultOptions("v1.10.2").dex!.connectors![0]]),
    { env: plantedEnv() },
  );
  const withNone = await renderKubeflow(options([]), { env: plantedEnv() });
  const byRef = (objects: KubeObject[]) =>
    new Map(objects.map((o) => [memberKey(refOf(o)), o]));
  const before = byRef(withOne.objects);
  const after = byRef(withNone.objects);
  const gone = [...before.keys()].filter((k) => !after.has(k));
  assertEquals(gone, [" Secret identity/kfplan-dex-connectors"]);
  assertEquals([...after.keys()].filter((k) => !before.has(k)), []);
  const changed = [...after.entries()]
    .filter(([k, o]) => canonicalJson(o) !== canonicalJson(before.get(k)))
    .map(([, o]) => objectName(refOf(o)))
    .sort();
  assertEquals(changed, [
    "ConfigMap identity/login-cfg",
    "Deployment identity/login",
  ]);
  const config = (objects: Map<string, KubeObject>) =>
    parseYaml(
      (objects.get(" ConfigMap identity/login-cfg")?.data as Record<
        string,
        string
      >)[
        "config.yaml"
      ],
    );
  assertEquals(config(before).connectors.map((c: { id: string }) => c.id), [
    "github",
  ]);
  assertEquals(config(after).connectors, undefined);
});
