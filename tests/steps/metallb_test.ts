import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import {
  metallbObjects,
  metallbOptionsSchema,
  metallbStep,
} from "../../lib/steps/metallb.ts";
import { validateOptions } from "../../lib/engine/options.ts";
import { sharedChart, tempDir } from "../_shared.ts";

const at = { source: "kfplan.yaml", prefix: ["metallb"] };

Deno.test("metallb: bad address names the field and what is valid", () => {
  const e = throws(
    () =>
      metallbStep({
        pools: [{
          name: "default",
          addresses: ["10.0.0.0/28", "10.0.0.300/32"],
        }],
      }, at),
    OptionsError,
  );
  assertEquals(
    e.message,
    'kfplan.yaml: metallb.pools[0].addresses[1]: "10.0.0.300/32" is not an IP range; use a CIDR or "first-last"',
  );
});

Deno.test("metallb: reversed range 10.0.0.5-10.0.0.1 fails at plan time", () => {
  const e = throws(
    () =>
      metallbStep(
        { pools: [{ name: "p", addresses: ["10.0.0.5-10.0.0.1"] }] },
        at,
      ),
    OptionsError,
  );
  assertMatch(
    e.message,
    /metallb\.pools\[0\]\.addresses\[0\]: "10\.0\.0\.5-10\.0\.0\.1": first address 10\.0\.0\.5 is after last address 10\.0\.0\.1/,
  );
});

Deno.test("metallb: two overlapping pools are rejected naming both", () => {
  const e = throws(
    () =>
      metallbStep({
        pools: [
          { name: "a", addresses: ["192.168.1.0/24"] },
          { name: "b", addresses: ["192.168.1.250-192.168.2.10"] },
        ],
      }, at),
    OptionsError,
  );
  assertMatch(
    e.message,
    /metallb\.pools\[1\]\.addresses\[0\]: .*overlaps pools\[0\]\.addresses\[0\] \("192\.168\.1\.0\/24"\)/,
  );
});

Deno.test("metallb: IPv6 ranges and CIDRs, disjoint families do not overlap", () => {
  const o = validateOptions(metallbOptionsSchema, {
    pools: [
      { name: "v4", addresses: ["10.0.0.0/28"], avoidBuggyIPs: true },
      {
        name: "v6",
        addresses: ["fd00::10-fd00::20", "fd00:1::/120"],
        autoAssign: false,
      },
    ],
  });
  const objs = metallbObjects(o);
  assertEquals(objs.map((x) => `${x.kind}/${x.metadata.name}`), [
    "IPAddressPool/v4",
    "IPAddressPool/v6",
    "L2Advertisement/l2",
  ]);
  assertEquals(objs[1].spec, {
    addresses: ["fd00::10-fd00::20", "fd00:1::/120"],
    autoAssign: false,
    avoidBuggyIPs: false,
  });
  assertEquals((objs[2].spec as { ipAddressPools: string[] }).ipAddressPools, [
    "v4",
    "v6",
  ]);
  const bad = throws(
    () =>
      metallbStep({ pools: [{ name: "x", addresses: ["fd00::20-fd00::10"] }] }),
    OptionsError,
  );
  assertMatch(
    bad.message,
    /first address fd00::20 is after last address fd00::10/,
  );
  const mixed = throws(
    () =>
      metallbStep({ pools: [{ name: "x", addresses: ["10.0.0.1-fd00::1"] }] }),
    OptionsError,
  );
  assertMatch(mixed.message, /mixes IPv4 and IPv6/);
});

Deno.test("metallb: L2Advertisement naming an unknown pool, unknown value, bad prefix", () => {
  const e = throws(
    () =>
      metallbStep({
        pools: [{ name: "a", addresses: ["10.0.0.0/30"] }],
        l2Advertisements: [{ name: "l2", ipAddressPools: ["b"] }],
      }, at),
    OptionsError,
  );
  assertMatch(
    e.message,
    /metallb\.l2Advertisements\[0\]\.ipAddressPools\[0\]: no pool named "b"/,
  );
  const v = throws(
    () =>
      metallbStep({
        pools: [{ name: "a", addresses: ["10.0.0.0/30"] }],
        values: { speakr: {} } as never,
      }, at),
    OptionsError,
  );
  assertMatch(v.message, /metallb\.values: unknown field "speakr"/);
  const p = throws(
    () =>
      metallbStep({ pools: [{ name: "a", addresses: ["10.0.0.0/33"] }] }, at),
    OptionsError,
  );
  assertMatch(p.message, /prefix length must be 0\.\.32/);
});

Deno.test("metallb: the offline plan's desired objects are the namespace, the release's manifest, then the pools", async () => {
  await using work = await tempDir("kfplan-metallb-unit-");
  const options = {
    chart: { path: sharedChart("metallb-0.15.3") },
    pools: [{ name: "default", addresses: ["192.168.1.240/28"] }],
  };
  const step = metallbStep(options);
  const plan = await step.plan({
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: work.path,
    signal: new AbortController().signal,
  });
  const desired = plan.desired ?? [];
  assertEquals(desired[0]?.kind, "Namespace");
  assertEquals(desired.slice(-2), metallbObjects(step.options));
  const kinds = new Set(desired.map((o) => o.kind));
  assertEquals(
    ["Deployment", "DaemonSet", "CustomResourceDefinition"].every((k) =>
      kinds.has(k)
    ),
    true,
  );
  assertEquals(
    desired.some((o) => o.metadata.annotations?.["helm.sh/hook"]),
    false,
  );
});
