import { assert, assertEquals } from "../_assert.ts";
import {
  diffValues,
  isIgnoredPath,
  jsonEqual,
  objectFieldDiff,
  ownsPath,
  REDACTED,
  redactObject,
  setsPath,
} from "../../lib/kube/diff.ts";
import type { KubeObject } from "../../lib/kube/types.ts";

Deno.test("diffValues reports leaves with dotted and indexed paths", () => {
  assertEquals(
    diffValues(
      {
        spec: { replicas: 1, ports: [{ port: 80 }], keep: "x" },
        data: { "a.yaml": "1" },
      },
      {
        spec: { replicas: 2, ports: [{ port: 8080 }], keep: "x" },
        data: { "a.yaml": "2" },
      },
    ),
    [
      { path: 'data["a.yaml"]', before: "1", after: "2" },
      { path: "spec.ports[0].port", before: 80, after: 8080 },
      { path: "spec.replicas", before: 1, after: 2 },
    ],
  );
});

Deno.test("diffValues descends into maps that appear or disappear, keeps lists whole", () => {
  assertEquals(
    diffValues({ a: 1 }, { a: 1, labels: { x: "1", y: "2" }, args: ["--v"] }),
    [
      { path: "args", after: ["--v"] },
      { path: "labels.x", after: "1" },
      { path: "labels.y", after: "2" },
    ],
  );
  assertEquals(diffValues({ list: [1, 2, 3] }, { list: [1, 2] }), [
    { path: "list[2]", before: 3 },
  ]);
  assertEquals(diffValues({ a: { b: 1 } }, { a: { b: 1 } }), []);
});

Deno.test("server bookkeeping is ignored", () => {
  const live = {
    metadata: {
      name: "x",
      resourceVersion: "1",
      generation: 1,
      uid: "u",
      managedFields: [1],
    },
    status: { phase: "A" },
  };
  const after = {
    metadata: {
      name: "x",
      resourceVersion: "2",
      generation: 2,
      uid: "u",
      managedFields: [2],
    },
    status: { phase: "B" },
  };
  assertEquals(diffValues(live, after), []);
  assert(isIgnoredPath(["metadata", "creationTimestamp"]));
  assert(!isIgnoredPath(["metadata", "labels"]));
  assert(!isIgnoredPath(["spec", "status"]));
});

Deno.test("jsonEqual ignores key order and undefined members", () => {
  assert(
    jsonEqual({ a: 1, b: [1, { c: 2 }] }, {
      b: [1, { c: 2 }],
      a: 1,
      d: undefined,
    }),
  );
  assert(!jsonEqual([1, 2], [2, 1]));
  assert(!jsonEqual({ a: 1 }, { a: "1" }));
});

Deno.test("setsPath follows the desired object, lists and scalars set as a whole", () => {
  const desired = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "x" },
    spec: {
      replicas: 2,
      template: { spec: { containers: [{ name: "c", image: "i" }] } },
    },
  };
  assert(setsPath(desired, ["spec", "replicas"]));
  assert(
    setsPath(desired, ["spec", "template", "spec", "containers", 0, "image"]),
  );
  assert(
    !setsPath(desired, [
      "spec",
      "template",
      "spec",
      "containers",
      0,
      "resources",
    ]),
  );
  assert(!setsPath(desired, ["metadata", "annotations", "x"]));
  // An item the desired list no longer has (removed from an atomic list).
  assert(setsPath(desired, ["spec", "template", "spec", "containers", 1]));
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s" },
    stringData: { p: "x" },
  };
  assert(setsPath(secret, ["data", "p"]));
  assert(!setsPath(secret, ["data", "q"]));
});

function managed(fieldsV1: Record<string, unknown>, manager = "kfplan") {
  return [{ manager, operation: "Apply", fieldsV1 }];
}

Deno.test("ownsPath reads FieldsV1 including keyed list items", () => {
  const live: KubeObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "x",
      managedFields: managed({
        "f:metadata": { "f:labels": { "f:team": {} } },
        "f:spec": {
          "f:template": {
            "f:spec": {
              "f:containers": { 'k:{"name":"c"}': { ".": {}, "f:env": {} } },
            },
          },
        },
      }),
    },
    spec: {
      template: {
        spec: { containers: [{ name: "other" }, { name: "c", env: [] }] },
      },
    },
  };
  assert(ownsPath(live, ["metadata", "labels", "team"], { manager: "kfplan" }));
  assert(!ownsPath(live, ["metadata", "labels", "team"], { manager: "helm" }));
  assert(
    ownsPath(live, ["spec", "template", "spec", "containers", 1, "env"], {
      manager: "kfplan",
    }),
  );
  assert(
    !ownsPath(live, ["spec", "template", "spec", "containers", 0, "env"], {
      manager: "kfplan",
    }),
  );
  assert(
    !ownsPath(live, ["metadata", "labels", "other"], { manager: "kfplan" }),
  );
});

Deno.test("objectFieldDiff keeps fields we set or removed, drops controller noise", () => {
  const desired: KubeObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c" },
    data: { a: "2" },
  };
  const live: KubeObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "c",
      managedFields: managed({ "f:data": { "f:a": {}, "f:old": {} } }),
    },
    data: { a: "1", old: "x", foreign: "y" },
  };
  const dryRun: KubeObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", annotations: { "controller/touched": "now" } },
    data: { a: "2", foreign: "z" },
  };
  assertEquals(
    objectFieldDiff(live, dryRun, { desired, manager: "kfplan" }),
    [
      { path: "data.a", before: "1", after: "2" },
      { path: "data.old", before: "x" },
    ],
  );
});

Deno.test("Secret diffs and objects are redacted without any digest of the value", () => {
  const desired: KubeObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s" },
    stringData: { password: "new-pass" },
  };
  const live: KubeObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: "s",
      annotations: {
        "kubectl.kubernetes.io/last-applied-configuration": '{"data":"old"}',
      },
    },
    data: { password: btoa("old-pass") },
  };
  const dryRun: KubeObject = { ...live, data: { password: btoa("new-pass") } };
  const diff = objectFieldDiff(live, dryRun, {
    desired,
    manager: "kfplan",
  });
  assertEquals(diff, [{
    path: "data.password",
    sensitive: true,
    before: REDACTED,
    after: REDACTED,
  }]);
  const redacted = redactObject(live);
  assertEquals(redacted.data, { password: REDACTED });
  assert(!JSON.stringify(redacted).includes(btoa("old-pass")));
  assertEquals(redacted.metadata.annotations, {});
  assertEquals(
    live.data,
    { password: btoa("old-pass") },
    "the input is not modified",
  );
  const cm = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c" },
    data: { a: "1" },
  };
  assertEquals(redactObject(cm), cm);
});
