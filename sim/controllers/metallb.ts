/**
 * MetalLB's controller, simulated through the real API: LoadBalancer Services get the
 * first free address of an IPAddressPool (honouring `autoAssign`, `avoidBuggyIPs`,
 * the `metallb.io/address-pool` and `metallb.io/loadBalancerIPs` annotations), and the
 * webhook half for tests that serve MetalLB's admission webhook themselves.
 *
 * @module
 */

import { ipaddr } from "../../lib/deps.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { WEBHOOK_SERVICE } from "../../lib/steps/metallb.ts";
import { loop } from "./_loop.ts";

/**
 * Plays MetalLB's address assignment: a LoadBalancer Service labelled `label` without
 * an address gets `address` in `status.loadBalancer` (status subresource).
 */
export function playLoadBalancer(
  kube: KubeClient,
  options: { label: string; address: string },
): () => Promise<void> {
  return loop(async () => {
    for (
      const svc of await kube.list("v1", "Service", {
        labelSelector: options.label,
      })
    ) {
      const ingress =
        (svc.status as { loadBalancer?: { ingress?: unknown[] } })?.loadBalancer
          ?.ingress ?? [];
      if (
        (svc.spec as { type?: string }).type !== "LoadBalancer" ||
        ingress.length > 0
      ) continue;
      await kube.apply({
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: svc.metadata.name,
          namespace: svc.metadata.namespace,
        },
        status: {
          loadBalancer: { ingress: [{ ip: options.address, ipMode: "VIP" }] },
        },
      }, { subresource: "status" });
    }
  });
}

/** MetalLB's namespace in the tests. */
export const METALLB_NAMESPACE = "metallb-system";

/**
 * When the played webhook backend may come up, and the resourceVersion of the
 * Endpoints it created: the backend appears only once the test opens the gate, so a
 * step that applied pools without waiting for it would be refused.
 */
export interface BackendGate {
  open: boolean;
  endpointsVersion?: string;
}

/**
 * Plays the webhook half of MetalLB's controller until stopped: the webhook Service
 * loses its selector and gets Endpoints pointing at `server` (once `gate.open`), and
 * the webhook configuration gets the server's CA (MetalLB's controller patches
 * `caBundle` itself).
 */
export function playMetallbWebhook(
  kube: KubeClient,
  server: { hostname: string; port: number; caBundle: string },
  gate: BackendGate,
): () => Promise<void> {
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const svc = await kube.get({
          apiVersion: "v1",
          kind: "Service",
          namespace: METALLB_NAMESPACE,
          name: WEBHOOK_SERVICE,
        });
        const spec = svc?.spec as { selector?: unknown } | undefined;
        if (svc && spec?.selector) {
          delete spec.selector;
          await kube.replace(svc);
        }
        if (svc) {
          const ep = await kube.get({
            apiVersion: "v1",
            kind: "Endpoints",
            namespace: METALLB_NAMESPACE,
            name: WEBHOOK_SERVICE,
          });
          const ours = JSON.stringify(ep?.subsets ?? []).includes(
            server.hostname,
          );
          if (!ours && gate.open) {
            if (ep) {
              await kube.delete({
                apiVersion: "v1",
                kind: "Endpoints",
                namespace: METALLB_NAMESPACE,
                name: WEBHOOK_SERVICE,
              });
            }
            const created = await kube.create({
              apiVersion: "v1",
              kind: "Endpoints",
              metadata: { name: WEBHOOK_SERVICE, namespace: METALLB_NAMESPACE },
              // The chart's Service port has no name, so neither has this one.
              subsets: [{
                addresses: [{ ip: server.hostname }],
                ports: [{ port: server.port, protocol: "TCP" }],
              }],
            });
            gate.endpointsVersion = created.metadata.resourceVersion;
          }
        }
        const vwc = await kube.get({
          apiVersion: "admissionregistration.k8s.io/v1",
          kind: "ValidatingWebhookConfiguration",
          name: "metallb-webhook-configuration",
        });
        const hooks = (vwc?.webhooks ?? []) as {
          clientConfig: { caBundle?: string };
        }[];
        if (
          vwc && hooks.some((h) => h.clientConfig.caBundle !== server.caBundle)
        ) {
          for (const h of hooks) h.clientConfig.caBundle = server.caBundle;
          await kube.replace(vwc);
        }
      } catch { /* retried on the next tick */ }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    running = false;
    await done;
  };
}

/** One range of a pool: first and last address, as numbers of one family. */
interface Range {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

function toBig(address: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  return address.toByteArray().reduce((n, b) => (n << 8n) | BigInt(b), 0n);
}

function fromBig(family: 4 | 6, value: bigint): string {
  const bytes: number[] = [];
  for (let i = 0; i < (family === 4 ? 4 : 16); i++) {
    bytes.unshift(Number(value & 0xffn));
    value >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** A pool's `addresses` entry (`a-b` or a CIDR) as a range; `undefined` if unreadable. */
export function parsePoolRange(text: string): Range | undefined {
  try {
    if (text.includes("/")) {
      const [address, bits] = ipaddr.parseCIDR(text.trim());
      const family = address.kind() === "ipv4" ? 4 : 6;
      const width = family === 4 ? 32 : 128;
      const size = 1n << BigInt(width - bits);
      const first = toBig(address) & ~(size - 1n);
      return { family, first, last: first + size - 1n };
    }
    const [a, b] = text.split("-").map((p) => ipaddr.parse(p.trim()));
    if (!a || !b || a.kind() !== b.kind()) return undefined;
    return {
      family: a.kind() === "ipv4" ? 4 : 6,
      first: toBig(a),
      last: toBig(b),
    };
  } catch {
    return undefined;
  }
}

interface PoolSpec {
  addresses?: string[];
  autoAssign?: boolean;
  avoidBuggyIPs?: boolean;
}

const POOL_ANNOTATIONS = [
  "metallb.io/address-pool",
  "metallb.universe.tf/address-pool",
];
const IPS_ANNOTATIONS = [
  "metallb.io/loadBalancerIPs",
  "metallb.universe.tf/loadBalancerIPs",
];

function ingressOf(svc: KubeObject): string[] {
  const ingress = (svc.status as {
    loadBalancer?: { ingress?: { ip?: string }[] };
  } | undefined)?.loadBalancer?.ingress ?? [];
  return ingress.flatMap((i) => i.ip ? [i.ip] : []);
}

/** The first address of `pool` in `family` not in `used`, or `undefined`. */
function freeAddress(
  pool: PoolSpec,
  family: 4 | 6,
  used: Set<string>,
): string | undefined {
  for (const text of pool.addresses ?? []) {
    const range = parsePoolRange(text);
    if (!range || range.family !== family) continue;
    // Bounded: pools of a try-it cluster are small; look at the first 65 536.
    const end = range.last < range.first + 65_535n
      ? range.last
      : range.first + 65_535n;
    for (let n = range.first; n <= end; n++) {
      const address = fromBig(family, n);
      if (used.has(address)) continue;
      if (
        family === 4 && pool.avoidBuggyIPs &&
        (address.endsWith(".0") || address.endsWith(".255"))
      ) continue;
      return address;
    }
  }
  return undefined;
}

function inPool(pool: PoolSpec, address: string): boolean {
  let value: bigint;
  let family: 4 | 6;
  try {
    const parsed = ipaddr.parse(address);
    value = toBig(parsed);
    family = parsed.kind() === "ipv4" ? 4 : 6;
  } catch {
    return false;
  }
  return (pool.addresses ?? []).some((text) => {
    const r = parsePoolRange(text);
    return r !== undefined && r.family === family && r.first <= value &&
      value <= r.last;
  });
}

/**
 * One round of MetalLB's address assignment: every LoadBalancer Service without an
 * address (and without a `loadBalancerClass`) gets one from the IPAddressPools, once
 * MetalLB's CRDs and at least one pool exist. Returns `namespace/name address` per
 * assignment.
 */
export async function metallbRound(kube: KubeClient): Promise<string[]> {
  if (!await kube.resourceFor("metallb.io/v1beta1", "IPAddressPool")) {
    kube.invalidateDiscovery(); // look again next round: the CRDs may come later
    return [];
  }
  const pools = await kube.list("metallb.io/v1beta1", "IPAddressPool");
  if (pools.length === 0) return [];
  const services = await kube.list("v1", "Service");
  const used = new Set(services.flatMap(ingressOf));
  const assigned: string[] = [];
  for (const svc of services) {
    const spec = svc.spec as {
      type?: string;
      loadBalancerClass?: string;
      loadBalancerIP?: string;
      ipFamilies?: string[];
    };
    if (
      spec.type !== "LoadBalancer" || spec.loadBalancerClass ||
      ingressOf(svc).length > 0
    ) continue;
    const annotations = svc.metadata.annotations ?? {};
    const poolName = POOL_ANNOTATIONS.map((a) => annotations[a]).find(Boolean);
    const candidates = poolName
      ? pools.filter((p) => p.metadata.name === poolName)
      : pools.filter((p) => (p.spec as PoolSpec).autoAssign !== false);
    const requested = (IPS_ANNOTATIONS.map((a) =>
      annotations[a]
    ).find(Boolean) ??
      spec.loadBalancerIP ?? "").split(",").map((s) => s.trim()).filter(
        Boolean,
      );
    const family = spec.ipFamilies?.[0] === "IPv6" ? 6 : 4;
    let address: string | undefined;
    let from: string | undefined;
    for (const pool of candidates) {
      const p = pool.spec as PoolSpec;
      address = requested.length > 0
        ? requested.find((a) => inPool(p, a) && !used.has(a))
        : freeAddress(p, family, used);
      if (address) {
        from = pool.metadata.name;
        break;
      }
    }
    if (!address) continue; // as MetalLB: the Service stays pending
    used.add(address);
    await kube.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: svc.metadata.name, namespace: svc.metadata.namespace },
      status: { loadBalancer: { ingress: [{ ip: address, ipMode: "VIP" }] } },
    }, { subresource: "status" });
    assigned.push(
      `${svc.metadata.namespace}/${svc.metadata.name} ${address} (pool ${from})`,
    );
  }
  return assigned;
}
