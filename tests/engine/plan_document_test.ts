import { SecretDigester } from "../../lib/engine/secret_digest.ts";
import { assert, assertEquals, assertMatch, throws } from "../_assert.ts";
import {
  hasChanges,
  parsePlanDocument,
  PlanFormatError,
  serializePlanDocument,
} from "../../lib/engine/plan_document.ts";
import { planSteps } from "../../lib/engine/planner.ts";
import type { Step } from "../../lib/engine/types.ts";
import { testStep } from "./_steps.ts";

function stepsWithJitter(seed: number): Step[] {
  // Steps finish in a different order each run and build their objects with keys in a
  // different order; the document must not care.
  const delay = (id: number) =>
    new Promise((r) => setTimeout(r, (seed * 7 + id * 3) % 5));
  const base = [
    testStep("ns", {
      options: seed % 2
        ? { b: 1, a: { y: 2, x: 1 } }
        : { a: { x: 1, y: 2 }, b: 1 },
      plan: {
        changes: [{
          apiVersion: "v1",
          kind: "Namespace",
          name: "kubeflow",
          action: "create",
          diff: [],
        }],
        observed: seed % 2
          ? [{ apiVersion: "v1", kind: "Namespace", name: "z" }, {
            apiVersion: "v1",
            kind: "Namespace",
            name: "a",
            resourceVersion: "5",
            uid: "u1",
          }]
          : [{
            uid: "u1",
            resourceVersion: "5",
            name: "a",
            kind: "Namespace",
            apiVersion: "v1",
          }, { name: "z", kind: "Namespace", apiVersion: "v1" }],
      },
    }),
    testStep("web", {
      needs: ["ns"],
      sensitive: ["password"],
      options: { password: "a-long-secret-1", replicas: 3 },
      plan: {
        changes: [{
          apiVersion: "apps/v1",
          kind: "Deployment",
          namespace: "kubeflow",
          name: "web",
          action: "update",
          diff: [{ path: "spec.replicas", before: 1, after: 3 }],
        }],
        desiredDigest: "sha256:abc",
      },
    }),
    testStep("tools", {
      planError:
        "kustomize not found; install it from https://kubectl.docs.kubernetes.io",
    }),
  ];
  return base.map((s, i) => ({
    ...s,
    plan: async (ctx) => (await delay(i), s.plan(ctx)),
  }));
}

Deno.test("the same inputs give byte-identical JSON apart from created_at", async () => {
  const texts: string[] = [];
  // One installation: one digest key (see secret_digest.ts).
  const digester = new SecretDigester(new Uint8Array(32).fill(3));
  for (const seed of [1, 2, 3]) {
    const { document } = await planSteps(stepsWithJitter(seed), {
      offlineReason: "test",
      digester,
      config: { path: "kfplan.yaml", digest: `sha256:${"0".repeat(64)}` },
    });
    texts.push(serializePlanDocument(document));
  }
  const strip = (t: string) =>
    t.replace(/"created_at": "[^"]+"/, '"created_at": "X"');
  assertEquals(strip(texts[1]), strip(texts[0]));
  assertEquals(strip(texts[2]), strip(texts[0]));
  // Exactly one timestamp.
  assertEquals(texts[0].match(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/g)?.length, 1);
  assert(!texts[0].includes("a-long-secret-1"));
});

Deno.test("a plan document round-trips through parsePlanDocument", async () => {
  const { document } = await planSteps(stepsWithJitter(1), {
    offlineReason: "test",
  });
  const parsed = parsePlanDocument(serializePlanDocument(document));
  assertEquals(serializePlanDocument(parsed), serializePlanDocument(document));
  assert(hasChanges(parsed));
  assertEquals(parsed.summary.errors, 1);
  assertEquals(parsed.cluster, { offline: true, reason: "test" });
});

Deno.test("parsePlanDocument names the file and the bad field", async () => {
  const { document } = await planSteps(stepsWithJitter(1), {
    offlineReason: "test",
  });
  const bad = JSON.parse(serializePlanDocument(document));
  bad.steps[0].changes[0].action = "explode";
  const e = throws(
    () => parsePlanDocument(JSON.stringify(bad), { source: "p.json" }),
    PlanFormatError,
  );
  assertMatch(e.message, /p\.json/);
  assertMatch(e.message, /steps\[0\]\.changes\[0\]\.action/);
  const v = throws(
    () =>
      parsePlanDocument(JSON.stringify({ ...bad, format_version: "9" }), {
        source: "p.json",
      }),
    PlanFormatError,
  );
  assertMatch(
    v.message,
    /format_version "9" is not supported; this kfplan .* reads format_version "1"/,
  );
  const j = throws(
    () => parsePlanDocument("{", { source: "p.json" }),
    PlanFormatError,
  );
  assertMatch(j.message, /p\.json: not JSON/);
  const extra = { ...JSON.parse(serializePlanDocument(document)), surprise: 1 };
  assertMatch(
    throws(() => parsePlanDocument(JSON.stringify(extra)), PlanFormatError)
      .message,
    /surprise/,
  );
});

Deno.test("the example in docs/plan-format.md is a valid plan document", async () => {
  const text = await Deno.readTextFile(
    new URL("../../docs/plan-format.md", import.meta.url),
  );
  const json = /```json\n([\s\S]*?)\n```/.exec(text)?.[1];
  assert(json, "the doc has a JSON example");
  const doc = parsePlanDocument(json, { source: "docs/plan-format.md" });
  assertEquals(
    serializePlanDocument(doc),
    json + "\n",
    "the example is canonical",
  );
  assertEquals(doc.summary.update, 2);
});
