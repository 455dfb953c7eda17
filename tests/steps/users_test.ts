import { assert, assertEquals, assertMatch, assertThrows } from "../_assert.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import type { StepContext } from "../../lib/engine/types.ts";
import { base64 } from "../../lib/kube/images.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import { stepImages, withImageMirror } from "../../lib/steps/image_mirror.ts";
import {
  accessMlPipelinePodDefault,
  PROFILE_SERVICE_ACCOUNTS,
  profileObject,
  serviceAccountPullChange,
  serviceAccountPullPatch,
  serviceAccountPullRelease,
  usersObjects,
  usersStep,
} from "../../lib/steps/users.ts";

Deno.test("profileObject maps the quota to resourceQuotaSpec.hard, GPUs included", () => {
  const p = profileObject({
    name: "alice",
    owner: "alice@example.org",
    accessMlPipeline: true,
    resourceQuota: {
      cpu: "8",
      memory: "32Gi",
      pvcs: 5,
      storage: "100Gi",
      gpus: 2,
    },
  });
  assertEquals(p, {
    apiVersion: "kubeflow.org/v1",
    kind: "Profile",
    metadata: { name: "alice" },
    spec: {
      owner: { kind: "User", name: "alice@example.org" },
      resourceQuotaSpec: {
        hard: {
          cpu: "8",
          memory: "32Gi",
          persistentvolumeclaims: "5",
          "requests.storage": "100Gi",
          "requests.nvidia.com/gpu": "2",
        },
      },
    },
  });
});

Deno.test("the access-ml-pipeline PodDefault has the documented shape", () => {
  const pd = accessMlPipelinePodDefault("alice") as unknown as {
    metadata: unknown;
    spec: Record<string, unknown>;
  };
  assertEquals(pd.metadata, { name: "access-ml-pipeline", namespace: "alice" });
  assertEquals(pd.spec.selector, {
    matchLabels: { "access-ml-pipeline": "true" },
  });
  assertEquals(pd.spec.env, [{
    name: "KF_PIPELINES_SA_TOKEN_PATH",
    value: "/var/run/secrets/kubeflow/pipelines/token",
  }]);
  assertEquals(pd.spec.volumeMounts, [{
    mountPath: "/var/run/secrets/kubeflow/pipelines",
    name: "volume-kf-pipeline-token",
    readOnly: true,
  }]);
  assertEquals((pd.spec.volumes as Record<string, unknown>[])[0].projected, {
    sources: [{
      serviceAccountToken: {
        path: "token",
        expirationSeconds: 7200,
        audience: "pipelines.kubeflow.org",
      },
    }],
  });
});

Deno.test("users options are validated naming the field", () => {
  const bad = (options: unknown) =>
    assertThrows(
      () =>
        usersStep(options as never, {
          source: "kfplan.yaml",
          prefix: ["users"],
        }),
      OptionsError,
    ).message;
  assertMatch(
    bad({ profiles: [{ name: "Alice", owner: "alice@example.org" }] }),
    /users\.profiles\[0\]\.name: a DNS label/,
  );
  assertMatch(
    bad({ profiles: [{ name: "a", owner: "not-an-email" }] }),
    /users\.profiles\[0\]\.owner: the owner's email/,
  );
  assertMatch(
    bad({
      profiles: [{
        name: "a",
        owner: "a@x.org",
        resourceQuota: { cpu: "lots" },
      }],
    }),
    /users\.profiles\[0\]\.resourceQuota\.cpu: a Kubernetes quantity/,
  );
  assertMatch(
    bad({
      profiles: [{ name: "a", owner: "a@x.org", resourceQuota: { gpu: 1 } }],
    }),
    /users\.profiles\[0\]\.resourceQuota: unknown field "gpu"/,
  );
  assertMatch(
    bad({
      profiles: [{ name: "a", owner: "a@x.org" }, {
        name: "a",
        owner: "b@x.org",
      }],
    }),
    /users\.profiles\[1\]\.name: duplicate profile a/,
  );
});

Deno.test("offline plan: Profiles and PodDefaults are created, PodDefaults known after apply", async () => {
  const step = usersStep({
    profiles: [{ name: "alice", owner: "alice@example.org" }, {
      name: "bob",
      owner: "bob@example.org",
      accessMlPipeline: false,
    }],
  });
  const ctx: StepContext = {
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: "/tmp",
    signal: new AbortController().signal,
  };
  const plan = await step.plan(ctx);
  assertEquals(
    plan.changes.map((c) =>
      `${c.action} ${c.kind} ${c.namespace ?? ""}/${c.name} ${
        c.knownAfterApply ?? false
      }`
    ),
    [
      "create Profile /alice false",
      "create Profile /bob false",
      "create PodDefault alice/access-ml-pipeline true",
    ],
  );
  assertEquals(step.needs, ["kubeflow"]);
  assertEquals(usersObjects(step.options).podDefaults.length, 1);
});

Deno.test("offline plan: desired holds every Profile and PodDefault apply makes so", async () => {
  const step = usersStep({
    profiles: [{ name: "alice", owner: "alice@example.org" }, {
      name: "bob",
      owner: "bob@example.org",
      accessMlPipeline: false,
    }],
  });
  const plan = await step.plan({
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: "/tmp",
    signal: new AbortController().signal,
  });
  const { profiles, podDefaults } = usersObjects(step.options);
  assertEquals(plan.desired, [...profiles, ...podDefaults]);
});

const LOGIN = JSON.stringify({
  auths: { "mirror.test:5000": { auth: base64("robot:pw-users-unit-test") } },
});

function offlineContext(secrets: string[] = []): StepContext {
  return {
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: "/tmp",
    signal: new AbortController().signal,
    addSecret: (v) => secrets.push(v),
  };
}

Deno.test("usersObjects with a pull secret: the Secret and the two accounts' imagePullSecrets in each profile namespace", () => {
  const step = usersStep({
    profiles: [{ name: "alice", owner: "alice@example.org" }, {
      name: "bob",
      owner: "bob@example.org",
      accessMlPipeline: false,
    }],
  });
  const made = usersObjects(step.options, {
    pullSecret: { name: "regcred", dockerConfigJson: LOGIN },
  });
  assertEquals(made.pullSecrets.map((s) => s.metadata.namespace), [
    "alice",
    "bob",
  ]);
  for (const s of made.pullSecrets) {
    assertEquals(s.metadata.name, "regcred");
    assertEquals(s.type, "kubernetes.io/dockerconfigjson");
    assertEquals(s.data, { ".dockerconfigjson": base64(LOGIN) });
  }
  assertEquals(PROFILE_SERVICE_ACCOUNTS, ["default-editor", "default-viewer"]);
  // Nothing but imagePullSecrets: server-side apply then owns only that field.
  assertEquals(
    made.serviceAccounts,
    [
      ["alice", "default-editor"],
      ["alice", "default-viewer"],
      ["bob", "default-editor"],
      ["bob", "default-viewer"],
    ].map(([namespace, name]) => ({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name, namespace },
      imagePullSecrets: [{ name: "regcred" }],
    })),
  );

  // `{ name }` of a Secret the user made: attached, not created.
  const named = usersObjects(step.options, { pullSecret: { name: "mine" } });
  assertEquals(named.pullSecrets, []);
  assertEquals(named.serviceAccounts.length, 4);
  // No mirror: neither.
  const plain = usersObjects(step.options);
  assertEquals([plain.pullSecrets, plain.serviceAccounts], [[], []]);
});

Deno.test("serviceAccountPullChange: known after apply, no-op, an update of imagePullSecrets only, blocked by another manager's list", () => {
  const patch = serviceAccountPullPatch({
    namespace: "alice",
    name: "default-editor",
  }, "regcred");
  const absent = serviceAccountPullChange(patch, undefined);
  assertEquals(
    [absent.action, absent.knownAfterApply, absent.diff],
    ["update", true, []],
  );
  assertMatch(absent.reason!, /profile controller/);

  const live = (fields: Record<string, unknown>): KubeObject => ({
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: {
      name: "default-editor",
      namespace: "alice",
      labels: { app: "x" },
      managedFields: [{
        manager: "manager",
        operation: "Update",
        fieldsV1: { "f:metadata": { "f:labels": {} } },
      }, ...(fields.managedFields as unknown[] ?? [])],
    },
    ...(fields.imagePullSecrets
      ? { imagePullSecrets: fields.imagePullSecrets }
      : {}),
  });
  const fresh = serviceAccountPullChange(patch, live({}));
  assertEquals(fresh.action, "update");
  assertEquals(fresh.diff, [{
    path: "imagePullSecrets",
    after: [{ name: "regcred" }],
  }]);
  assertEquals([fresh.blocked, fresh.conflicts], [undefined, undefined]);

  const done = serviceAccountPullChange(
    patch,
    live({ imagePullSecrets: [{ name: "regcred" }] }),
  );
  assertEquals([done.action, done.diff], ["no-op", []]);

  // kfplan's own earlier list (another Secret name): replaced, no conflict.
  const renamed = serviceAccountPullChange(
    patch,
    live({
      imagePullSecrets: [{ name: "old" }],
      managedFields: [{
        manager: "kfplan",
        operation: "Apply",
        fieldsV1: { "f:imagePullSecrets": {} },
      }],
    }),
  );
  assertEquals(renamed.diff[0].before, [{ name: "old" }]);
  assertEquals([renamed.blocked, renamed.conflicts], [undefined, undefined]);

  // Somebody's own list: apply would replace it, so the plan says who owns it.
  const theirs = live({
    imagePullSecrets: [{ name: "team-registry" }],
    managedFields: [{
      manager: "kubectl-edit",
      operation: "Update",
      fieldsV1: { "f:imagePullSecrets": {} },
    }],
  });
  const blocked = serviceAccountPullChange(patch, theirs);
  assertEquals(blocked.blocked, true);
  assertEquals(blocked.conflicts, [{
    manager: "kubectl-edit",
    fields: ["imagePullSecrets"],
  }]);
  assertMatch(blocked.reason!, /--force-conflicts/);
  const forced = serviceAccountPullChange(patch, theirs, {
    forceConflicts: true,
  });
  assertEquals([forced.action, forced.blocked], ["update", undefined]);
  assertEquals(forced.conflicts?.length, 1);
  // kfplan applied the account before: taking its field back is drift repair.
  const drifted = serviceAccountPullChange(
    patch,
    live({
      imagePullSecrets: [{ name: "team-registry" }],
      managedFields: [{
        manager: "kfplan",
        operation: "Apply",
        fieldsV1: { "f:metadata": { "f:annotations": {} } },
      }, {
        manager: "kubectl-edit",
        operation: "Update",
        fieldsV1: { "f:imagePullSecrets": {} },
      }],
    }),
  );
  assertEquals([drifted.blocked, drifted.conflicts?.length], [undefined, 1]);
  assertMatch(drifted.reason!, /^drift repair/);
});

Deno.test("offline plan with the mirror's pull secret: Secrets and account patches known after apply, the accounts only patched, the login registered and nowhere in the plan", async () => {
  const step = withImageMirror(
    usersStep({
      profiles: [{ name: "alice", owner: "alice@example.org" }, {
        name: "bob",
        owner: "bob@example.org",
        accessMlPipeline: false,
      }],
    }),
    stepImages({ registry: "mirror.test:5000", pullSecret: { env: "LOGIN" } }, {
      env: { LOGIN },
    }),
  );
  const secrets: string[] = [];
  const plan = await step.plan(offlineContext(secrets));
  assertEquals(
    plan.changes.map((c) =>
      `${c.action} ${c.kind} ${c.namespace ?? ""}/${c.name} ${
        c.knownAfterApply ?? false
      }`
    ),
    [
      "create Profile /alice false",
      "create Profile /bob false",
      "create PodDefault alice/access-ml-pipeline true",
      "create Secret alice/kfplan-registry true",
      "create Secret bob/kfplan-registry true",
      "update ServiceAccount alice/default-editor true",
      "update ServiceAccount alice/default-viewer true",
      "update ServiceAccount bob/default-editor true",
      "update ServiceAccount bob/default-viewer true",
    ],
  );
  assertEquals(
    plan.patched?.map((r) => `${r.kind} ${r.namespace}/${r.name}`),
    [
      "ServiceAccount alice/default-editor",
      "ServiceAccount alice/default-viewer",
      "ServiceAccount bob/default-editor",
      "ServiceAccount bob/default-viewer",
    ],
  );
  assertEquals(
    plan.desired?.filter((o) => o.kind === "Secret").length,
    2,
  );
  assertEquals(plan.unknowns, ["profile namespaces: alice, bob"]);
  assertEquals(plan.facts?.pullSecret, "kfplan-registry");
  assert(secrets.includes(LOGIN), "the login is registered as secret");
  assert(secrets.includes(base64(LOGIN)));
  assert(secrets.includes("pw-users-unit-test"));
  // What the JSON plan is made of (desired stays in memory).
  const { desired: _d, ...shown } = plan;
  const text = JSON.stringify(shown);
  for (const s of secrets) assert(!text.includes(s), "no login in the plan");
});

Deno.test("serviceAccountPullRelease: only what kfplan set is given back, by applying the account with no field", () => {
  const account = (managedFields: unknown[]): KubeObject => ({
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: "default-viewer", namespace: "bob", managedFields },
    imagePullSecrets: [{ name: "regcred" }],
  });
  const controller = {
    manager: "manager",
    operation: "Update",
    fieldsV1: { "f:metadata": { "f:ownerReferences": {} } },
  };
  const kfplan = {
    manager: "kfplan",
    operation: "Apply",
    fieldsV1: { "f:imagePullSecrets": {} },
  };
  assertEquals(serviceAccountPullRelease(account([controller])), undefined);
  const release = serviceAccountPullRelease(account([controller, kfplan]));
  assertEquals(release?.patch, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: "default-viewer", namespace: "bob" },
  });
  assertEquals(release?.change.action, "update");
  assertEquals(release?.change.diff, [{
    path: "imagePullSecrets",
    before: [{ name: "regcred" }],
  }]);
  // Another manager set the same list: it stays, only kfplan's ownership goes.
  const shared = serviceAccountPullRelease(
    account([kfplan, { ...kfplan, manager: "kubectl", operation: "Update" }]),
  );
  assertEquals(shared?.change.diff, []);
  assertMatch(shared!.change.reason!, /kept/);
});
