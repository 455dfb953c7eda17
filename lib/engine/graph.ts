/**
 * The step graph: validation (duplicate ids, unknown needs, cycles), a deterministic
 * topological order, and a runner that executes independent branches in parallel
 * under a concurrency bound. A failed node stops everything downstream of it;
 * unrelated branches run to completion.
 *
 * @module
 */

/** The part of a step the graph needs. */
export interface GraphNode {
  /** Unique id. */
  id: string;
  /** Ids that must finish first. */
  needs: string[];
}

/** Default number of steps run at once. */
export const DEFAULT_PARALLELISM = 4;

/** Thrown when the graph is invalid; lists every problem found. */
export class GraphError extends Error {
  /** One line per problem. */
  readonly problems: string[];
  /** Lists every problem found. */
  constructor(problems: string[]) {
    super(
      problems.length === 1
        ? `invalid step graph: ${problems[0]}`
        : `invalid step graph:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "GraphError";
    this.problems = problems;
  }
}

/**
 * Checks ids are unique, every `needs` names a step and there is no cycle. Throws a
 * {@linkcode GraphError}; a cycle is printed as `a -> b -> c -> a`.
 *
 * @example
 * ```ts
 * validateGraph([{ id: "a", needs: ["b"] }, { id: "b", needs: ["a"] }]);
 * // throws: invalid step graph: cycle: a -> b -> a
 * ```
 */
export function validateGraph(nodes: readonly GraphNode[]): void {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const n of nodes) {
    if (ids.has(n.id)) problems.push(`duplicate step id "${n.id}"`);
    ids.add(n.id);
  }
  for (const n of nodes) {
    for (const need of n.needs) {
      if (!ids.has(need)) {
        problems.push(
          `step "${n.id}" needs unknown step "${need}" (known steps: ${
            [...ids].sort().join(", ")
          })`,
        );
      }
    }
  }
  const cycle = findCycle(nodes);
  if (cycle) problems.push(`cycle: ${cycle.join(" -> ")}`);
  if (problems.length > 0) throw new GraphError(problems);
}

/** Returns one cycle as `[a, b, c, a]`, or `undefined`. Unknown needs are ignored. */
export function findCycle(nodes: readonly GraphNode[]): string[] | undefined {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  function visit(id: string): string[] | undefined {
    state.set(id, "visiting");
    stack.push(id);
    for (const need of [...(byId.get(id)?.needs ?? [])].sort()) {
      if (!byId.has(need)) continue;
      const s = state.get(need);
      if (s === "visiting") return [...stack.slice(stack.indexOf(need)), need];
      if (s === undefined) {
        const found = visit(need);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  }
  for (const id of [...byId.keys()].sort()) {
    if (state.get(id) === undefined) {
      const found = visit(id);
      // The cycle follows `needs` edges, as users wrote them: a needs b needs a.
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * A topological order (dependencies first). Among steps whose needs are met, the one
 * given first in `nodes` comes first, so the order is stable for the same input.
 * Validates the graph first.
 */
export function topologicalOrder<T extends GraphNode>(
  nodes: readonly T[],
): T[] {
  validateGraph(nodes);
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const remaining = new Map(nodes.map((n) => [n.id, new Set(n.needs)]));
  const out: T[] = [];
  const done = new Set<string>();
  while (out.length < nodes.length) {
    const ready = nodes
      .filter((n) =>
        !done.has(n.id) && [...remaining.get(n.id)!].every((d) => done.has(d))
      )
      .sort((a, b) => index.get(a.id)! - index.get(b.id)!);
    // validateGraph excludes cycles, so there is always a ready node here.
    const next = ready[0];
    out.push(next);
    done.add(next.id);
  }
  return out;
}

/** Every step that (transitively) needs `id`. */
export function dependentsOf(
  nodes: readonly GraphNode[],
  id: string,
): Set<string> {
  const out = new Set<string>();
  let frontier = [id];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const n of nodes) {
      if (!out.has(n.id) && n.needs.some((d) => frontier.includes(d))) {
        out.add(n.id);
        next.push(n.id);
      }
    }
    frontier = next;
  }
  return out;
}

/** How one node of a run ended. */
export type NodeOutcome<T> =
  | { status: "done"; value: T }
  | { status: "failed"; error: unknown }
  | { status: "not-started"; reason: string };

/** Result of {@linkcode runGraph}: outcomes by id plus the done / failed / not-started lists. */
export interface GraphRunResult<T> {
  /** How each node ended, by id. */
  outcomes: Map<string, NodeOutcome<T>>;
  /** Ids that finished, in topological order. */
  done: string[];
  /** Ids whose task threw. */
  failed: string[];
  /** Ids never started (a dependency failed, or the run was cancelled). */
  notStarted: string[];
}

/** Options for {@linkcode runGraph}. */
export interface RunGraphOptions {
  /** Most nodes running at once; default {@linkcode DEFAULT_PARALLELISM}. */
  parallelism?: number;
  /** When aborted, nodes not yet started are reported not-started. */
  signal?: AbortSignal;
}

/**
 * Runs `task` for every node after all of its needs finished successfully, with at
 * most `parallelism` tasks at once. A node whose task throws is `failed`; everything
 * downstream is `not-started` with `skipped: dependency X failed`; other branches go on.
 *
 * @example
 * ```ts
 * const r = await runGraph(
 *   [{ id: "a", needs: [] }, { id: "b", needs: ["a"] }],
 *   async (n) => n.id.toUpperCase(),
 *   { parallelism: 2 },
 * );
 * r.done; // ["a", "b"]
 * ```
 */
export async function runGraph<N extends GraphNode, T>(
  nodes: readonly N[],
  task: (node: N) => Promise<T>,
  options: RunGraphOptions = {},
): Promise<GraphRunResult<T>> {
  const order = topologicalOrder(nodes);
  const parallelism = Math.max(
    1,
    Math.floor(options.parallelism ?? DEFAULT_PARALLELISM),
  );
  const outcomes = new Map<string, NodeOutcome<T>>();
  const running = new Map<string, Promise<void>>();

  function blockedBy(node: N): string | undefined {
    for (const need of node.needs) {
      const o = outcomes.get(need);
      if (o?.status === "failed") return `skipped: dependency ${need} failed`;
      if (o?.status === "not-started") {
        return `skipped: dependency ${need} not started`;
      }
    }
    return undefined;
  }

  while (outcomes.size < order.length) {
    let progressed = false;
    for (const node of order) {
      if (outcomes.has(node.id) || running.has(node.id)) continue;
      const reason = blockedBy(node);
      if (reason) {
        outcomes.set(node.id, { status: "not-started", reason });
        progressed = true;
        continue;
      }
      if (options.signal?.aborted) {
        outcomes.set(node.id, {
          status: "not-started",
          reason: "skipped: run cancelled",
        });
        progressed = true;
        continue;
      }
      if (running.size >= parallelism) continue;
      if (!node.needs.every((d) => outcomes.get(d)?.status === "done")) {
        continue;
      }
      const p = (async () => {
        try {
          outcomes.set(node.id, { status: "done", value: await task(node) });
        } catch (error) {
          outcomes.set(node.id, { status: "failed", error });
        } finally {
          running.delete(node.id);
        }
      })();
      running.set(node.id, p);
      progressed = true;
    }
    if (outcomes.size >= order.length) break;
    if (running.size > 0) await Promise.race(running.values());
    else if (!progressed) break; // unreachable for a valid graph; avoids a spin
  }

  const ids = order.map((n) => n.id);
  return {
    outcomes,
    done: ids.filter((id) => outcomes.get(id)?.status === "done"),
    failed: ids.filter((id) => outcomes.get(id)?.status === "failed"),
    notStarted: ids.filter((id) => outcomes.get(id)?.status === "not-started"),
  };
}
