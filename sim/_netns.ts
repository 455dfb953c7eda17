/**
 * A private network namespace for the test control plane.
 *
 * kube-apiserver dials admission webhooks, aggregated APIs and Service ClusterIPs.
 * On a kwok cluster those lead to fake pod IPs (10.244.0.0/16) and ClusterIPs
 * (10.96.0.0/16) that nothing serves: from the host's network namespace such a dial
 * leaves through the default route, towards addresses that are not ours. Inside its
 * own namespace the control plane has only loopback and one veth link to the host, so
 * every other address fails at once with "network is unreachable" and no packet leaves
 * the machine. The host end of the veth is where tests serve real webhooks from (an
 * Endpoints address may not be loopback).
 *
 * Needs root and iproute2 (`ip`); {@linkcode createNetns} returns `undefined` without
 * them and the harness falls back to host loopback.
 *
 * @module
 */

/** A namespace with a veth link to the host. */
export interface Netns {
  /** Namespace name (`ip netns list`). */
  name: string;
  /** Address of the host end of the veth: tests serve webhooks here. */
  hostIp: string;
  /** Address of the namespace end: the API server listens here. */
  nsIp: string;
  /** Prefixes a command so it runs inside the namespace. */
  wrap(command: string[]): string[];
  /** Shell commands that remove the namespace (for a watchdog shell). */
  removeScript: string;
}

async function run(args: string[]): Promise<{ ok: boolean; stderr: string }> {
  try {
    const out = await new Deno.Command(args[0], {
      args: args.slice(1),
      stdout: "null",
      stderr: "piped",
    }).output();
    return { ok: out.success, stderr: new TextDecoder().decode(out.stderr) };
  } catch (error) {
    return { ok: false, stderr: String(error) };
  }
}

/** Options for {@linkcode createNetns}. */
export interface CreateNetnsOptions {
  /** Set to false to skip isolation (env `KFPLAN_TEST_NETNS=0` does the same). */
  enabled?: boolean;
}

/**
 * Creates a namespace `kfplan-<id>` with a /30 veth link in 10.231.0.0/16, or returns
 * `undefined` when not root, `ip` is missing, or isolation is disabled.
 */
export async function createNetns(
  options: CreateNetnsOptions = {},
): Promise<Netns | undefined> {
  if (options.enabled === false || Deno.env.get("KFPLAN_TEST_NETNS") === "0") {
    return undefined;
  }
  if (Deno.uid() !== 0) return undefined;
  if (!(await run(["ip", "-V"])).ok) return undefined;

  const bytes = crypto.getRandomValues(new Uint8Array(3));
  const id = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  const name = `kfplan-${id}`;
  const third = bytes[0];
  const fourth = (bytes[1] & 0x3f) * 4;
  const hostIp = `10.231.${third}.${fourth + 1}`;
  const nsIp = `10.231.${third}.${fourth + 2}`;
  const hostIf = `kfh${id}`;
  const nsIf = `kfn${id}`;
  const steps = [
    ["ip", "netns", "add", name],
    ["ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf],
    ["ip", "link", "set", nsIf, "netns", name],
    ["ip", "addr", "add", `${hostIp}/30`, "dev", hostIf],
    ["ip", "link", "set", hostIf, "up"],
    ["ip", "-n", name, "addr", "add", `${nsIp}/30`, "dev", nsIf],
    ["ip", "-n", name, "link", "set", nsIf, "up"],
    ["ip", "-n", name, "link", "set", "lo", "up"],
  ];
  for (const step of steps) {
    const result = await run(step);
    if (!result.ok) {
      await run(["ip", "netns", "del", name]);
      await run(["ip", "link", "del", hostIf]);
      throw new Error(
        `cannot create network namespace for the test control plane: ` +
          `${step.join(" ")}: ${result.stderr.trim()} ` +
          `(set KFPLAN_TEST_NETNS=0 to run on host loopback instead)`,
      );
    }
  }
  return {
    name,
    hostIp,
    nsIp,
    wrap: (command) => ["ip", "netns", "exec", name, ...command],
    removeScript:
      `ip netns del ${name} 2>/dev/null; ip link del ${hostIf} 2>/dev/null`,
  };
}

/** Removes the namespace and its veth link; safe to call twice. */
export async function removeNetns(netns: Netns): Promise<void> {
  await run(["sh", "-c", netns.removeScript]);
}
