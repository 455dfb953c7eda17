import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { COMPONENTS, startCluster } from "../cluster/harness.ts";
import { clusterCommand, readClusterState } from "../cluster/cli.ts";

function alive(pid: number): boolean {
  try {
    // A zombie (exited, not yet reaped by init) has an empty cmdline.
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).length > 0;
  } catch {
    return false;
  }
}

async function capture(
  fn: () => Promise<number>,
): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    return { code: await fn(), out: lines.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("startCluster serves custom nodes and stop() ends every process and removes its files", async () => {
  const cluster = await startCluster({
    nodes: [{ name: "solo-gpu", gpus: 8, gpuProduct: "NVIDIA-H100-80GB-HBM3" }],
  });
  const pids = COMPONENTS.map((c) => cluster.pids[c]!);
  try {
    assert(pids.every(alive), "every component runs");
    const nodes = await cluster.kube.list("v1", "Node");
    assertEquals(nodes.map((n) => n.metadata.name), ["solo-gpu"]);
    assertEquals(
      nodes[0].metadata.labels?.["nvidia.com/gpu.product"],
      "NVIDIA-H100-80GB-HBM3",
    );
    assertEquals(nodes[0].metadata.labels?.["nvidia.com/gpu.count"], "8");
    // No device plugin has registered: the node advertises no GPU yet.
    assertEquals(
      // deno-lint-ignore no-explicit-any
      (nodes[0].status as any).allocatable["nvidia.com/gpu"],
      undefined,
    );
  } finally {
    await cluster.stop();
  }
  assertEquals(pids.filter(alive), []);
  assertEquals(
    await Deno.stat(cluster.dir).then(() => true, () => false),
    false,
  );
});

Deno.test("deno task cluster up/env/down keeps a cluster running between commands", async () => {
  const dir = `${await Deno.makeTempDir()}/cluster`;
  const args = ["--dir", dir, "--cpu-nodes", "1", "--gpu-nodes", "1"];
  try {
    const up = await capture(() => clusterCommand(["up", ...args]));
    assertEquals(up.code, 0, up.out);
    assertMatch(up.out, new RegExp(`export KUBECONFIG=${dir}/kubeconfig`));
    const state = readClusterState(dir)!;
    assert(COMPONENTS.every((c) => alive(state.pids[c]!)));

    const env = await capture(() => clusterCommand(["env", "--dir", dir]));
    assertEquals([env.code, env.out], [
      0,
      `export KUBECONFIG=${dir}/kubeconfig`,
    ]);
    const again = await capture(() => clusterCommand(["up", ...args]));
    assertMatch(again.out, /already running/);

    const down = await capture(() => clusterCommand(["down", "--dir", dir]));
    assertEquals(down.code, 0);
    assertEquals(COMPONENTS.filter((c) => alive(state.pids[c]!)), []);
    assertEquals(readClusterState(dir), undefined);
    const gone = await capture(() => clusterCommand(["env", "--dir", dir]));
    assertEquals(gone.code, 1);
    assertMatch(gone.out, /no cluster running/);
  } finally {
    await clusterCommand(["down", "--dir", dir]).catch(() => 0);
    await Deno.remove(dir.replace(/\/cluster$/, ""), { recursive: true }).catch(
      () => {},
    );
  }
});

Deno.test("deno task cluster rejects bad options before starting anything", async () => {
  const bad = await capture(() =>
    clusterCommand(["up", "--gpu-nodes", "two", "--dir", "/nonexistent/x"])
  );
  assertEquals(bad.code, 1);
  assertMatch(bad.out, /--gpu-nodes: "two" is not a whole number from 0 to 50/);
  const unknown = await capture(() => clusterCommand(["up", "--gpus", "2"]));
  assertEquals(unknown.code, 1);
  assertMatch(unknown.out, /unknown option --gpus/);
  const command = await capture(() => clusterCommand(["start"]));
  assertMatch(command.out, /unknown command "start"/);
});

Deno.test({
  name:
    "as root the control plane runs in its own network namespace: dials to fake pod IPs fail inside it",
  // Network namespaces need root; without it there is nothing to test (the test
  // would only see that no namespace was made), so it is reported as ignored.
  ignore: Deno.uid() !== 0,
  fn: rootNetworkNamespace,
});

async function rootNetworkNamespace(): Promise<void> {
  const cluster = await startCluster({ nodes: [{ name: "iso-1" }] });
  try {
    assert(cluster.netns, "a network namespace was created");
    assertMatch(cluster.server, /^https:\/\/10\.231\.\d+\.\d+:\d+$/);
    assertMatch(cluster.hostIp ?? "", /^10\.231\.\d+\.\d+$/);
    // From inside the namespace (where kube-apiserver dials webhooks), an address that
    // is not ours is unreachable at once instead of leaving the machine.
    const probe = await new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        cluster.netns,
        Deno.execPath(),
        "eval",
        `try { await Deno.connect({ hostname: "10.244.0.9", port: 443 }); console.log("connected"); }
         catch (e) { console.log(e.message); }`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertMatch(new TextDecoder().decode(probe.stdout), /unreachable/i);
  } finally {
    await cluster.stop();
  }
  const namespaces = new TextDecoder().decode(
    (await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" })
      .output()).stdout,
  );
  assert(!namespaces.includes(cluster.netns ?? "(none)"), "namespace removed");
}
