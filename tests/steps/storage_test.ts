import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { OptionsError, validateOptions } from "../../lib/engine/options.ts";
import {
  immutableChanges,
  otherDefaults,
  storageOptionsSchema,
  storageStep,
  storageValues,
} from "../../lib/steps/storage.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import { objectKey, refOf } from "../../lib/kube/object_ref.ts";
import { sharedChart, tempDir } from "../_shared.ts";

Deno.test("storage: NFS server missing or malformed names the field", () => {
  const missing = throws(
    () =>
      storageStep({ nfs: { path: "/x" } } as never, { prefix: ["storage"] }),
    OptionsError,
  );
  assertEquals(missing.message, "storage.nfs.server: required (string)");
  const bad = throws(
    () =>
      storageStep({ nfs: { server: "nfs server", path: "/x" } }, {
        prefix: ["storage"],
      }),
    OptionsError,
  );
  assertMatch(
    bad.message,
    /storage\.nfs\.server: use the NFS server's hostname or IP/,
  );
  const policy = throws(
    () =>
      storageStep(
        {
          nfs: { server: "10.0.0.2", path: "/x" },
          storageClass: { reclaimPolicy: "Recycle" },
        } as never,
        { prefix: ["storage"] },
      ),
    OptionsError,
  );
  assertMatch(
    policy.message,
    /storage\.storageClass\.reclaimPolicy: use "Delete" or "Retain"/,
  );
});

Deno.test("storage: chart values carry class, reclaim, archive and mount settings", () => {
  const o = validateOptions(storageOptionsSchema, {
    nfs: {
      server: "nfs.example.com",
      path: "/srv/nfs",
      mountOptions: ["nfsvers=4.1", "hard"],
    },
    storageClass: {
      name: "kf",
      reclaimPolicy: "Retain",
      archiveOnDelete: false,
      onDelete: "retain",
      pathPattern: "${.PVC.namespace}/${.PVC.name}",
    },
  });
  assertEquals(storageValues(o), {
    nfs: {
      server: "nfs.example.com",
      path: "/srv/nfs",
      mountOptions: ["nfsvers=4.1", "hard"],
    },
    storageClass: {
      create: true,
      name: "kf",
      defaultClass: true,
      reclaimPolicy: "Retain",
      archiveOnDelete: false,
      onDelete: "retain",
      pathPattern: "${.PVC.namespace}/${.PVC.name}",
      volumeBindingMode: "Immediate",
      allowVolumeExpansion: true,
    },
  });
});

Deno.test("storage: immutable fields and other defaults are detected", () => {
  const sc = (
    name: string,
    extra: Record<string, unknown>,
    annotations: Record<string, string> = {},
  ) =>
    ({
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name, annotations },
      provisioner: "p",
      ...extra,
    }) as KubeObject;
  const live = sc("kf", { parameters: { archiveOnDelete: "true" } });
  assertEquals(
    immutableChanges(
      live,
      sc("kf", {
        parameters: { archiveOnDelete: "true" },
        reclaimPolicy: "Delete",
      }),
    ),
    [],
  );
  assertEquals(
    immutableChanges(
      live,
      sc("kf", { parameters: { archiveOnDelete: "false" } }),
    ),
    [
      {
        path: "parameters",
        before: { archiveOnDelete: "true" },
        after: { archiveOnDelete: "false" },
      },
    ],
  );
  const classes = [
    sc("kf", {}, { "storageclass.kubernetes.io/is-default-class": "true" }),
    sc("standard", {}, {
      "storageclass.kubernetes.io/is-default-class": "true",
    }),
    sc("old", {}, {
      "storageclass.beta.kubernetes.io/is-default-class": "true",
    }),
    sc("plain", {}),
  ];
  assertEquals(otherDefaults(classes, "kf").map((c) => c.metadata.name), [
    "standard",
    "old",
  ]);
});

Deno.test("storage: the offline plan's desired objects are the namespace, then the release's manifest", async () => {
  await using work = await tempDir("kfplan-storage-unit-");
  const step = storageStep({
    chart: { path: sharedChart("nfs-subdir-external-provisioner-4.0.18") },
    nfs: { server: "192.0.2.10", path: "/export" },
    storageClass: { name: "nfs-client" },
  });
  const plan = await step.plan({
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: work.path,
    signal: new AbortController().signal,
  });
  const desired = plan.desired ?? [];
  assertEquals(desired[0]?.kind, "Namespace");
  assertEquals(desired[0]?.metadata.name, "nfs-provisioner");
  assertEquals(
    desired.filter((o) => o.kind === "StorageClass").map((o) =>
      o.metadata.name
    ),
    ["nfs-client"],
  );
  assertEquals(desired.some((o) => o.kind === "Deployment"), true);
  // Every desired object is planned, in the plan's own words.
  const planned = new Set(plan.changes.map((c) => objectKey(c)));
  assertEquals(desired.filter((o) => !planned.has(objectKey(refOf(o)))), []);
});
