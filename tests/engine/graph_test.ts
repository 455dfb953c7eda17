import {
  assert,
  assertEquals,
  assertMatch,
  rejects,
  throws,
} from "../_assert.ts";
import {
  dependentsOf,
  findCycle,
  GraphError,
  runGraph,
  topologicalOrder,
  validateGraph,
} from "../../lib/engine/graph.ts";

const n = (id: string, ...needs: string[]) => ({ id, needs });

Deno.test("validateGraph rejects duplicate ids", () => {
  const e = throws(() => validateGraph([n("a"), n("b"), n("a")]), GraphError);
  assertMatch(e.message, /duplicate step id "a"/);
});

Deno.test("validateGraph rejects unknown needs and lists known steps", () => {
  const e = throws(() => validateGraph([n("a"), n("b", "istio")]), GraphError);
  assertMatch(
    e.message,
    /step "b" needs unknown step "istio" \(known steps: a, b\)/,
  );
});

Deno.test("validateGraph prints the cycle", () => {
  const e = throws(
    () => validateGraph([n("x"), n("a", "b"), n("b", "c"), n("c", "a", "x")]),
    GraphError,
  );
  assertMatch(e.message, /cycle: a -> b -> c -> a/);
  assertEquals(findCycle([n("s", "s")]), ["s", "s"]);
  assertEquals(findCycle([n("a"), n("b", "a")]), undefined);
});

Deno.test("validateGraph reports every problem at once", () => {
  const e = throws(
    () => validateGraph([n("a", "zz"), n("a"), n("b", "b")]),
    GraphError,
  );
  assertEquals(e.problems.length, 3);
});

Deno.test("topologicalOrder puts needs first and keeps input order otherwise", () => {
  const order = topologicalOrder([
    n("d", "b", "c"),
    n("c", "a"),
    n("b", "a"),
    n("a"),
  ]);
  assertEquals(order.map((x) => x.id), ["a", "c", "b", "d"]);
});

Deno.test("dependentsOf is transitive", () => {
  const nodes = [n("a"), n("b", "a"), n("c", "b"), n("d")];
  assertEquals([...dependentsOf(nodes, "a")].sort(), ["b", "c"]);
});

Deno.test("runGraph respects the concurrency bound and runs independent steps in parallel", async () => {
  let running = 0;
  let peak = 0;
  const started: string[] = [];
  const gates = new Map<string, () => void>();
  const nodes = ["a", "b", "c", "d", "e"].map((id) => n(id));
  const run = runGraph(nodes, async (node) => {
    started.push(node.id);
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((resolve) => gates.set(node.id, resolve));
    running--;
    return node.id;
  }, { parallelism: 2 });
  // Let the runner start what it may; then release tasks one by one.
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 0));
    const open = [...gates.entries()];
    assert(open.length > 0, "a task should be waiting");
    const [id, release] = open[0];
    gates.delete(id);
    release();
  }
  const result = await run;
  assertEquals(peak, 2);
  assertEquals(result.done, ["a", "b", "c", "d", "e"]);
  assertEquals(started.slice(0, 2), ["a", "b"]);
});

Deno.test("runGraph starts a step only after all its needs are done", async () => {
  const finished: string[] = [];
  const result = await runGraph(
    [n("c", "a", "b"), n("a"), n("b")],
    async (node) => {
      if (node.id === "c") assertEquals([...finished].sort(), ["a", "b"]);
      await new Promise((r) => setTimeout(r, node.id === "a" ? 5 : 0));
      finished.push(node.id);
    },
    { parallelism: 4 },
  );
  assertEquals(result.done, ["a", "b", "c"]);
});

Deno.test("a failed step stops its dependents; unrelated branches finish", async () => {
  const nodes = [n("a"), n("b", "a"), n("c", "b"), n("x"), n("y", "x")];
  const result = await runGraph(nodes, (node) => {
    if (node.id === "a") return Promise.reject(new Error("boom"));
    return Promise.resolve(node.id);
  }, { parallelism: 1 });
  assertEquals(result.failed, ["a"]);
  assertEquals(result.done, ["x", "y"]);
  assertEquals(result.notStarted, ["b", "c"]);
  const b = result.outcomes.get("b");
  assertEquals(b, {
    status: "not-started",
    reason: "skipped: dependency a failed",
  });
  const c = result.outcomes.get("c");
  assertEquals(c, {
    status: "not-started",
    reason: "skipped: dependency b not started",
  });
});

Deno.test("runGraph validates the graph before running anything", async () => {
  let ran = 0;
  await rejects(
    () =>
      runGraph([n("a"), n("b", "c"), n("c", "b")], () => {
        ran++;
        return Promise.resolve();
      }),
    GraphError,
  );
  assertEquals(ran, 0);
});
