import {
  assert,
  assertEquals,
  assertMatch,
  assertNotMatch,
} from "../_assert.ts";
import { dataLossPolicy, PLAN_USAGE, planCommand } from "../../lib/cli/plan.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { Composition } from "../../lib/cli/session.ts";
import { parsePlanDocument } from "../../lib/engine/plan_document.ts";
import { testStep } from "../engine/_steps.ts";
import type { Step } from "../../lib/engine/types.ts";
import { tempDir } from "../_shared.ts";

function session(steps: Step[], io = capturedIO()) {
  return {
    io,
    compose: (): Promise<Composition> => Promise.resolve({ steps }),
    connect: () => Promise.resolve({ offline: "no kubeconfig (test)" }),
  };
}

const creating = () =>
  testStep("ns", {
    plan: {
      changes: [{
        apiVersion: "v1",
        kind: "Namespace",
        name: "kubeflow",
        action: "create",
        diff: [],
      }],
    },
  });

Deno.test("plan exits 2 with changes and says it ran offline", async () => {
  const s = session([creating()]);
  assertEquals(await planCommand([], s), 2);
  assertMatch(s.io.stdout(), /Planned OFFLINE \(no kubeconfig \(test\)\)/);
  assertMatch(
    s.io.stdout(),
    /Plan: 1 to create, 0 to update, 0 to replace, 0 to delete\./,
  );
});

Deno.test("plan exits 0 without changes and 1 when a step cannot be planned", async () => {
  const none = session([testStep("a")]);
  assertEquals(await planCommand([], none), 0);
  assertMatch(none.io.stdout(), /No changes\./);
  const broken = session([
    creating(),
    testStep("kf", { planError: "kustomize not found; install it" }),
  ]);
  assertEquals(await planCommand([], broken), 1);
  assertMatch(broken.io.stdout(), /Error: kustomize not found; install it/);
  assertMatch(broken.io.stdout(), /\+ v1 Namespace kubeflow/);
  assertMatch(broken.io.stderr(), /1 step could not be planned/);
});

Deno.test("plan --json prints a valid document and --out saves the same", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const s = session([creating()]);
  assertEquals(
    await planCommand(["--json", "--out", `${dir}/plan.json`], s),
    2,
  );
  const doc = parsePlanDocument(s.io.stdout());
  assertEquals(doc.format_version, "1");
  assertEquals(doc.cluster.offline, true);
  assertEquals(await Deno.readTextFile(`${dir}/plan.json`), s.io.stdout());
});

Deno.test("plan rejects unknown flags and bad values with the valid ones", async () => {
  const s = session([]);
  assertEquals(await planCommand(["--paralelism", "3"], s), 1);
  assertMatch(
    s.io.stderr(),
    /unknown option --paralelism; valid: .*--parallelism VALUE/,
  );
  const p = session([]);
  assertEquals(await planCommand(["--parallelism", "0"], p), 1);
  assertMatch(
    p.io.stderr(),
    /--parallelism 0: expected a whole number from 1 to 64/,
  );
  const h = session([]);
  assertEquals(await planCommand(["--help"], h), 0);
  assertMatch(
    h.io.stdout(),
    /Exit status: 0 no changes.*, 2 changes planned.*, 1 error/,
  );
});

Deno.test("plan reports invalid graphs and option errors before planning", async () => {
  const calls: string[] = [];
  const s = session([
    testStep("a", { needs: ["b"], calls }),
    testStep("b", { needs: ["a"], calls }),
  ]);
  assertEquals(await planCommand([], s), 1);
  assertMatch(s.io.stderr(), /cycle: a -> b -> a/);
  assertEquals(calls, []);
  const io = capturedIO();
  const bad = {
    io,
    compose: async (): Promise<Composition> => {
      const { z } = await import("../../lib/deps.ts");
      const { defineStep } = await import("../../lib/engine/step.ts");
      return {
        steps: [defineStep({
          id: "lb",
          title: "lb",
          schema: z.object({ replicas: z.int().min(1, "must be at least 1") })
            .strict(),
          options: { replicas: 0 },
          plan: () => Promise.reject(new Error("not reached")),
          apply: () => Promise.resolve({}),
          verify: () => Promise.resolve({ checks: [] }),
        }, { source: "kfplan.yaml", prefix: ["metallb"] })],
      };
    },
    connect: () => Promise.resolve({ offline: "x" }),
  };
  assertEquals(await planCommand([], bad), 1);
  assertMatch(
    io.stderr(),
    /kfplan\.yaml: metallb\.replicas: must be at least 1/,
  );
});

Deno.test("plan output never shows sensitive option values", async () => {
  const secret = "cli-planted-secret-42";
  const step = testStep("dex", {
    options: { password: secret },
    sensitive: ["password"],
    planError: `could not log in with ${secret}`,
  });
  const s = session([step]);
  await planCommand([], s);
  const j = session([step]);
  await planCommand(["--json"], j);
  for (
    const text of [s.io.stdout(), s.io.stderr(), j.io.stdout(), j.io.stderr()]
  ) {
    assertNotMatch(text, new RegExp(secret));
  }
  assert(j.io.stdout().includes("(sensitive"));
});

Deno.test("--allow-data-loss or cluster.allowDataLoss let prune delete data holders", () => {
  assertEquals(dataLossPolicy({ allowDataLoss: true }, {}), {
    policy: { allowDataLoss: true },
  });
  assertEquals(dataLossPolicy({}, { allowDataLoss: true }), {
    policy: { allowDataLoss: true },
  });
  assertEquals(dataLossPolicy({ allowDataLoss: false }, {}), {});
  assertMatch(PLAN_USAGE, /--allow-data-loss/);
});
