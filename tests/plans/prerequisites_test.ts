import { assertEquals, assertMatch, throws } from "../_assert.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import { prerequisiteSteps } from "../../plans/prerequisites.ts";

Deno.test("prerequisites: storage and MetalLB steps, validated with their config paths", () => {
  const steps = prerequisiteSteps({
    storage: { nfs: { server: "10.0.0.2", path: "/srv/nfs" } },
    metallb: {
      pools: [{ name: "default", addresses: ["192.168.1.240-192.168.1.250"] }],
    },
  });
  assertEquals(steps.map((s) => s.id), ["storage", "metallb"]);
  const e = throws(
    () =>
      prerequisiteSteps({
        metallb: {
          pools: [
            { name: "a", addresses: ["10.0.0.0/24"] },
            { name: "b", addresses: ["10.0.0.128/25"] },
          ],
        },
      }, { source: "kfplan.yaml" }),
    OptionsError,
  );
  assertMatch(
    e.message,
    /^kfplan\.yaml: metallb\.pools\[1\]\.addresses\[0\]: "10\.0\.0\.128\/25" overlaps pools\[0\]\.addresses\[0\]/,
  );
});
