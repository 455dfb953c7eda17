/**
 * The three rules issue 8 fixed, on real control planes: apply repairs the drift its
 * plan shows (a verified step is skipped only when its fresh plan has nothing to
 * do); a checkpoint belongs to a cluster, not to an address; `apply PLAN.json` uses
 * the configuration the plan recorded.
 */
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { startCluster, useCluster } from "../cluster/harness.ts";
import { applyCommand } from "../../lib/cli/apply.ts";
import { planCommand } from "../../lib/cli/plan.ts";
import { statusCommand } from "../../lib/cli/status.ts";
import { capturedIO } from "../../lib/cli/io.ts";
import type { Composition, SessionOptions } from "../../lib/cli/session.ts";
import { applySteps, type RunEvent } from "../../lib/engine/executor.ts";
import { digestOf } from "../../lib/engine/digest.ts";
import { emptyPlan, type Step } from "../../lib/engine/types.ts";
import { connect } from "../../lib/kube/client.ts";
import type { KubeClient } from "../../lib/kube/types.ts";
import { parseYaml, stringifyYaml } from "../../lib/deps.ts";
import { configMapStep } from "./_configmap_step.ts";

Deno.test("apply repairs drift that the plan shows instead of skipping the verified step", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("kfplan-drift");
  const dir = await Deno.makeTempDir();
  try {
    const steps = [
      configMapStep("dashboard", {
        namespace: ns,
        name: "centraldashboard-parameters",
        data: { registrationFlow: "true" },
      }),
    ];
    const session = (io = capturedIO()) => ({
      io,
      compose: (): Promise<Composition> => Promise.resolve({ steps }),
      connect: () => Promise.resolve({ kube: cluster.kube }),
      lock: { name: `kfplan-lock-${ns}` },
    });
    const cp = ["--checkpoint", dir, "--yes"];
    const first = session();
    assertEquals(await applyCommand(cp, first), 0, first.io.stderr());

    // An out-of-band edit, as `kubectl edit` would make it.
    const ref = {
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: ns,
      name: "centraldashboard-parameters",
    };
    const live = await cluster.kube.get(ref);
    await cluster.kube.replace({
      ...live!,
      data: { registrationFlow: "false" },
    });

    const plan = session();
    assertEquals(await planCommand(["--checkpoint", dir], plan), 2);
    assertMatch(
      plan.io.stdout(),
      /~ data\.registrationFlow: "false" -> "true"/,
    );
    const repair = session();
    assertEquals(await applyCommand(cp, repair), 0, repair.io.stderr());
    assertMatch(repair.io.stdout(), /dashboard: done/);
    assert(!/skipped/.test(repair.io.stdout()), repair.io.stdout());
    const after = await cluster.kube.get(ref);
    assertEquals(after?.data, { registrationFlow: "true" });

    const again = session();
    assertEquals(await applyCommand(cp, again), 0);
    assertMatch(again.io.stdout(), /Nothing to apply/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A TCP forwarder on a fixed local port whose target can be switched. */
function forwarder(): Promise<
  { port: number; target: { hostname: string; port: number }; close(): void }
> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const target = { hostname: "127.0.0.1", port: 0 };
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      Deno.connect({ hostname: target.hostname, port: target.port }).then(
        (upstream) => {
          conns.add(upstream);
          conn.readable.pipeTo(upstream.writable).catch(() => {});
          upstream.readable.pipeTo(conn.writable).catch(() => {});
        },
        () => conn.close(),
      );
    }
  })().catch(() => {});
  return Promise.resolve({
    port: (listener.addr as Deno.NetAddr).port,
    target,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed by its peer
        }
      }
    },
  });
}

/** The cluster's kubeconfig, pointed at the forwarder instead of the server. */
async function kubeconfigVia(
  kubeconfig: string,
  port: number,
  out: string,
): Promise<void> {
  const config = parseYaml(await Deno.readTextFile(kubeconfig)) as {
    clusters: { cluster: { server: string } }[];
  };
  for (const c of config.clusters) {
    c.cluster.server = `https://127.0.0.1:${port}`;
  }
  await Deno.writeTextFile(out, stringifyYaml(config));
}

Deno.test("a cluster recreated at the same address and context does not inherit verified steps", async () => {
  const dir = await Deno.makeTempDir();
  const proxy = await forwarder();
  const verified: string[] = [];
  // A step with nothing to change (like host checks): only the checkpoint could
  // make apply skip it, so it shows which cluster's checkpoint was used.
  const hostCheck: Step = {
    id: "host-check",
    title: "Host check",
    needs: [],
    options: {},
    plan: () =>
      Promise.resolve({ ...emptyPlan(), desiredDigest: digestOf({}) }),
    apply: () => Promise.resolve({}),
    verify: (ctx) => {
      verified.push(ctx.kube!.server);
      return Promise.resolve({ checks: [{ name: "host ok", ok: true }] });
    },
  };
  async function applyVia(kubeconfig: string) {
    const connected = await connect({ kubeconfig });
    if ("offline" in connected) throw new Error(connected.offline);
    const kube = connected.kube as KubeClient & { close?: () => void };
    try {
      const events: RunEvent[] = [];
      const result = await applySteps([hostCheck], {
        kube,
        checkpointDir: dir,
        onEvent: (e) => events.push(e),
      });
      return { result, server: kube.server, context: kube.context };
    } finally {
      kube.close?.();
    }
  }
  try {
    const first = await startCluster({ nodes: [] });
    let a;
    try {
      proxy.target.hostname = new URL(first.server).hostname;
      proxy.target.port = Number(new URL(first.server).port);
      await kubeconfigVia(first.kubeconfig, proxy.port, `${dir}/kubeconfig-a`);
      a = await applyVia(`${dir}/kubeconfig-a`);
      assertEquals(a.result.summary.done, ["host-check"]);
      const again = await applyVia(`${dir}/kubeconfig-a`);
      assertEquals(again.result.outcome, "nothing-to-do");
    } finally {
      await first.stop();
    }
    const second = await startCluster({ nodes: [] });
    try {
      proxy.target.hostname = new URL(second.server).hostname;
      proxy.target.port = Number(new URL(second.server).port);
      await kubeconfigVia(second.kubeconfig, proxy.port, `${dir}/kubeconfig-b`);
      const b = await applyVia(`${dir}/kubeconfig-b`);
      // Same address, same context name: still another cluster.
      assertEquals([b.server, b.context], [a.server, a.context]);
      assertEquals(b.result.outcome, "applied");
      assertEquals(b.result.summary.done, ["host-check"]);
      assert(b.result.checkpointPath !== a.result.checkpointPath);
      assertEquals(verified.length, 2);
    } finally {
      await second.stop();
    }
  } finally {
    proxy.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A composition read from a tiny config file: `{ name: value }` pairs become ConfigMap keys. */
function composeFrom(ns: string) {
  return async (path: string | undefined): Promise<Composition> => {
    if (!path) throw new Error("this test always names its config");
    const bytes = await Deno.readFile(path);
    const data = parseYaml(new TextDecoder().decode(bytes)) as Record<
      string,
      string
    >;
    const digest = `sha256:${
      Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("")
    }`;
    return {
      steps: [
        configMapStep("settings", { namespace: ns, name: "settings", data }),
      ],
      config: { path, digest, dir: `${path}.d` },
    };
  };
}

Deno.test("apply PLAN.json uses the configuration the plan recorded; another --config is refused naming both", async () => {
  const cluster = await useCluster();
  const ns = await cluster.namespace("kfplan-recorded");
  const dir = await Deno.makeTempDir();
  try {
    const chosen = `${dir}/chosen.yaml`;
    const other = `${dir}/other.yaml`;
    await Deno.writeTextFile(chosen, "mode: chosen\n");
    await Deno.writeTextFile(other, "mode: other\n");
    const session = (): SessionOptions & {
      io: ReturnType<typeof capturedIO>;
    } => ({
      io: capturedIO(),
      compose: composeFrom(ns),
      connect: () => Promise.resolve({ kube: cluster.kube }),
      lock: { name: `kfplan-lock-${ns}` },
    });
    const planFile = `${dir}/plan.json`;
    const cp = ["--checkpoint", `${dir}/state`];
    const p = session();
    assertEquals(
      await planCommand([...cp, "--config", chosen, "--out", planFile], p),
      2,
      p.io.stderr(),
    );
    const wrong = session();
    assertEquals(
      await applyCommand([planFile, ...cp, "--config", other], wrong),
      1,
    );
    assertMatch(
      wrong.io.stderr(),
      new RegExp(
        `planned with .*chosen\\.yaml .*but .*other\\.yaml has different contents`,
      ),
    );
    // No --config: the recorded one, not ./kfplan.yaml or the example.
    const a = session();
    assertEquals(await applyCommand([planFile, ...cp], a), 0, a.io.stderr());
    const live = await cluster.kube.get({
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: ns,
      name: "settings",
    });
    assertEquals(live?.data, { mode: "chosen" });
    const status = session();
    assertEquals(await statusCommand([...cp, "--config", chosen], status), 0);
    assertMatch(status.io.stdout(), /settings\s+verified/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
