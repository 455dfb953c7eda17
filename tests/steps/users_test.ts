import { assertEquals, assertMatch, assertThrows } from "../_assert.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import type { StepContext } from "../../lib/engine/types.ts";
import {
  accessMlPipelinePodDefault,
  profileObject,
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
