/**
 * The image mirror's pull secret in profile namespaces, on a control plane of its own
 * with the profile controller played (`sim/controllers/profiles.ts`) under a field
 * manager of its own: the users step applied through the mirror creates the pull
 * Secret in each profile namespace and gives the controller's `default-editor` and
 * `default-viewer` ServiceAccounts `imagePullSecrets`, waiting for the controller to
 * create them, owning that one field and leaving the rest (labels, the controller's
 * managed fields) alone; the accounts are no members of the step's inventory; the
 * registry login is in no plan, checkpoint, event or log; removing a profile deletes
 * its Profile, PodDefault and Secret and nothing else of kfplan's, and its namespace
 * (accounts included) goes with the Profile; dropping the pull secret deletes the
 * Secrets and gives the accounts' field back.
 *
 * A private control plane: the shared one may run other tests' played profile
 * controllers, under kfplan's own field manager, over every Profile.
 */

import { assert, assertEquals } from "../_assert.ts";
import { tempDir } from "../_shared.ts";
import { applyProfileCrds } from "./_profile_crds.ts";
import { stateInCluster } from "./_kubeflow_scenario.ts";
import { applySteps } from "../../lib/engine/executor.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import { serializePlanDocument } from "../../lib/engine/plan_document.ts";
import type { Logger } from "../../lib/engine/types.ts";
import { base64 } from "../../lib/kube/images.ts";
import {
  applySetIdOf,
  PART_OF_LABEL,
  readInventory,
} from "../../lib/kube/inventory.ts";
import { objectName, refOf } from "../../lib/kube/object_ref.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { stepImages, withImageMirror } from "../../lib/steps/image_mirror.ts";
import { PROFILE_SERVICE_ACCOUNTS, usersStep } from "../../lib/steps/users.ts";
import { profileRound } from "../../sim/controllers/profiles.ts";
import { SIMULATED_LABEL } from "../../sim/controllers/_loop.ts";
import { findLeaks, readTree } from "./_kubeflow.ts";
import { playedClient, privateCluster, tag } from "./_played.ts";

const SECRET = "kfplan-registry";
const PASSWORD = `pw-${crypto.randomUUID()}`;
const AUTH = base64(`robot:${PASSWORD}`);
const LOGIN = JSON.stringify({
  auths: { "mirror.test:5000": { auth: AUTH } },
});
const PLANTED = [PASSWORD, AUTH, LOGIN, base64(LOGIN)];
const CONTROLLER_MANAGER = "kfplan-test-controller";

/**
 * The played profile controller behind a client that refuses ServiceAccounts until
 * `gate.open`: the test opens it once kfplan is waiting for them, as a controller
 * that is slow to make them would.
 */
function gatedController(
  kube: KubeClient,
  gate: { open: boolean },
): KubeClient {
  return new Proxy(kube, {
    get(target, prop, receiver) {
      if (prop === "apply") {
        return (object: KubeObject, options?: unknown) =>
          // Held back: nothing is created, the next round tries again.
          object.kind === "ServiceAccount" && !gate.open
            ? Promise.resolve(object)
            : target.apply(object, options as never);
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

interface ManagedEntry {
  manager?: string;
  operation?: string;
  fieldsV1?: Record<string, unknown>;
}

function managed(object: KubeObject | undefined): ManagedEntry[] {
  return (object?.metadata.managedFields ?? []) as ManagedEntry[];
}

Deno.test({
  name:
    "image mirror in profile namespaces: pull Secret and the controller's accounts' imagePullSecrets, nothing else taken, nothing left when a profile goes",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using work = await tempDir("kfplan-images-profiles-");
    const cluster = await privateCluster();
    const kube = cluster.kube;
    const played = playedClient(cluster.kubeconfig);
    const gate = { open: false };
    let playing = true;
    let controller: Promise<void> | undefined;
    const [alice, bob] = [`alice-${tag()}`, `bob-${tag()}`];
    try {
      await applyProfileCrds(kube);
      const controllerKube = gatedController(played, gate);
      controller = (async () => {
        while (playing) {
          await profileRound(controllerKube).catch(() => {});
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      const images = stepImages(
        { registry: "mirror.test:5000", pullSecret: { env: "LOGIN" } },
        { env: { LOGIN } },
      );
      const step = (names: string[], mirror = images) =>
        withImageMirror(
          usersStep({
            profiles: names.map((name) => ({
              name,
              owner: `${name}@example.org`,
            })),
            timeoutSeconds: 120,
          }, { needs: [], source: "kfplan.yaml", prefix: ["users"] }),
          mirror,
        );
      const logLines: string[] = [];
      const events: string[] = [];
      const log: Logger = {
        info: (m) => logLines.push(m),
        warn: (m) => logLines.push(m),
        debug: (m) => logLines.push(m),
      };
      const options = {
        kube,
        checkpointDir: `${work.path}/checkpoints`,
        workDir: `${work.path}/work`,
        log,
        onEvent: (e: unknown) => events.push(JSON.stringify(e)),
      };
      await Deno.mkdir(options.workDir, { recursive: true });
      const account = (namespace: string, name: string) =>
        kube.get({ apiVersion: "v1", kind: "ServiceAccount", namespace, name });
      const secretIn = (namespace: string) =>
        kube.get({ apiVersion: "v1", kind: "Secret", namespace, name: SECRET });

      // 1. Apply while the controller holds the accounts back: kfplan makes the
      // Secrets, then waits for the accounts rather than creating them.
      const applying = applySteps([step([alice, bob])], options);
      let applyDone = false;
      applying.finally(() => applyDone = true).catch(() => {});
      for (const ns of [alice, bob]) {
        await kube.waitFor(
          { apiVersion: "v1", kind: "Secret", namespace: ns, name: SECRET },
          (o) => o ? true : applyDone ? "apply ended first" : "not yet",
          { timeoutMs: 120_000 },
        );
        for (const name of PROFILE_SERVICE_ACCOUNTS) {
          assertEquals(
            await account(ns, name),
            undefined,
            `kfplan did not create ${ns}/${name}`,
          );
        }
      }
      assert(!applyDone, "apply waits for the controller's accounts");
      gate.open = true;
      const first = await applying;
      assert(first.ok, JSON.stringify(first.summary));

      // 2. The Secret and the accounts in each profile namespace.
      for (const ns of [alice, bob]) {
        const secret = await secretIn(ns);
        assertEquals(secret?.type, "kubernetes.io/dockerconfigjson");
        assertEquals(
          (secret?.data as Record<string, string>)[".dockerconfigjson"],
          base64(LOGIN),
        );
        for (const name of PROFILE_SERVICE_ACCOUNTS) {
          const sa = await account(ns, name);
          assertEquals(
            (sa as { imagePullSecrets?: unknown } | undefined)
              ?.imagePullSecrets,
            [{ name: SECRET }],
          );
          // Created by the controller, its labels kept, no inventory label.
          assertEquals(sa?.metadata.labels, { [SIMULATED_LABEL]: "true" });
          const entries = managed(sa);
          assertEquals(
            entries.filter((e) => e.manager === "kfplan"),
            [{
              ...entries.find((e) => e.manager === "kfplan"),
              operation: "Apply",
              fieldsV1: { "f:imagePullSecrets": {} },
            }],
            "kfplan owns imagePullSecrets only",
          );
          const theirs = entries.find((e) => e.manager === CONTROLLER_MANAGER);
          assertEquals(
            theirs?.fieldsV1,
            { "f:metadata": { "f:labels": { [`f:${SIMULATED_LABEL}`]: {} } } },
            "the controller keeps its fields",
          );
          assertEquals(
            entries.map((e) => e.manager).sort(),
            ["kfplan", CONTROLLER_MANAGER],
          );
        }
      }

      // 3. The inventory: Profiles, PodDefaults, Secrets; never the accounts.
      const setId = applySetIdOf("users");
      const inventory = await readInventory(kube, "users");
      const recorded = inventory?.entries.map((e) => objectName(e)).sort();
      const expected = (names: string[]) =>
        names.flatMap((ns) => [
          `PodDefault ${ns}/access-ml-pipeline`,
          `Profile ${ns}`,
          `Secret ${ns}/${SECRET}`,
        ]).sort();
      assertEquals(recorded, expected([alice, bob]));
      const labelled = await kube.list("v1", "ServiceAccount", {
        labelSelector: `${PART_OF_LABEL}=${setId}`,
      });
      assertEquals(labelled.map((o) => objectName(refOf(o))), []);

      // 4. Planned again: nothing to do, the login nowhere in the plan.
      const again = await planSteps([step([alice, bob])], {
        kube,
        checkpointDir: options.checkpointDir,
      });
      const changes = again.document.steps.flatMap((s) => s.changes);
      assertEquals(
        changes.filter((c) => c.action !== "no-op").map((c) => objectName(c)),
        [],
      );
      assertEquals(
        changes.filter((c) => c.kind === "ServiceAccount").length,
        4,
      );
      const planJson = serializePlanDocument(again.document);
      assert(planJson.includes(SECRET), "the Secret itself is planned");

      // 5. Removing bob: exactly his Profile, PodDefault and Secret are deleted.
      const removal = await planSteps([step([alice])], {
        kube,
        checkpointDir: options.checkpointDir,
      });
      assertEquals(
        removal.document.steps.flatMap((s) => s.changes)
          .filter((c) => c.action === "delete").map((c) => objectName(c))
          .sort(),
        expected([bob]),
      );
      const second = await applySteps([step([alice])], options);
      assert(second.ok, JSON.stringify(second.summary));
      assertEquals(
        (await readInventory(kube, "users"))?.entries.map((e) => objectName(e))
          .sort(),
        expected([alice]),
      );
      // kfplan deleted his Profile and Secret. His namespace, with the
      // controller's accounts in it, goes with the Profile through its owner
      // reference: the garbage collector's work, not waited for here (it watches
      // the Profile kind only after its next discovery, up to 30 s).
      assertEquals(await secretIn(bob), undefined);
      assertEquals(
        await kube.get({
          apiVersion: "kubeflow.org/v1",
          kind: "Profile",
          name: bob,
        }),
        undefined,
      );
      for (const name of PROFILE_SERVICE_ACCOUNTS) {
        const sa = await account(alice, name);
        assertEquals(
          (sa as { imagePullSecrets?: unknown } | undefined)?.imagePullSecrets,
          [{ name: SECRET }],
          "alice's accounts untouched",
        );
      }
      assert(await secretIn(alice), "alice's Secret untouched");

      // 6. The mirror without a pull secret: the Secret goes, the accounts' field
      // is given back, the controller's fields stay.
      const noLogin = stepImages({ registry: "mirror.test:5000" });
      const dropped = await planSteps([step([alice], noLogin)], {
        kube,
        checkpointDir: options.checkpointDir,
      });
      assertEquals(
        dropped.document.steps.flatMap((s) => s.changes)
          .filter((c) => c.action !== "no-op")
          .map((c) => `${c.action} ${objectName(c)}`).sort(),
        [
          `delete Secret ${alice}/${SECRET}`,
          `update ServiceAccount ${alice}/default-editor`,
          `update ServiceAccount ${alice}/default-viewer`,
        ],
      );
      const third = await applySteps([step([alice], noLogin)], options);
      assert(third.ok, JSON.stringify(third.summary));
      assertEquals(await secretIn(alice), undefined);
      for (const name of PROFILE_SERVICE_ACCOUNTS) {
        const sa = await account(alice, name);
        assertEquals(
          (sa as { imagePullSecrets?: unknown } | undefined)?.imagePullSecrets,
          undefined,
        );
        assertEquals(sa?.metadata.labels, { [SIMULATED_LABEL]: "true" });
        assertEquals(managed(sa).map((e) => e.manager), [CONTROLLER_MANAGER]);
      }
      const settled = await planSteps([step([alice], noLogin)], {
        kube,
        checkpointDir: options.checkpointDir,
      });
      assertEquals(
        settled.document.steps.flatMap((s) => s.changes)
          .filter((c) => c.action !== "no-op").map((c) => objectName(c)),
        [],
      );

      // 7. The login in no plan, checkpoint, event, log or kfplan state.
      const artifacts: Record<string, string> = {
        "plan-first.json": serializePlanDocument(first.plan),
        "plan-again.json": planJson,
        "plan-removal.json": serializePlanDocument(removal.document),
        "plan-second.json": serializePlanDocument(second.plan),
        "plan-third.json": serializePlanDocument(third.plan),
        "events.jsonl": events.join("\n"),
        "log.txt": logLines.join("\n"),
        ...await readTree(options.checkpointDir),
        ...await readTree(options.workDir),
        ...await stateInCluster(kube),
      };
      assert(
        Object.keys(artifacts).some((k) => k.includes("checkpoints/")),
        "a checkpoint was written",
      );
      assert(
        Object.keys(artifacts).some((k) => k.startsWith("cluster/")),
        "kfplan's state in the cluster was read",
      );
      assertEquals(findLeaks(artifacts, PLANTED), []);
    } finally {
      gate.open = true;
      playing = false;
      await controller;
      played.close();
      await cluster.stop();
    }
  },
});
