/**
 * MetalLB planned, applied and verified on the real control plane.
 *
 * No MetalLB controller runs on kwok, so the chart is installed with
 * `controller.enabled: false` and the test plays the controller's parts through the
 * API, and says so:
 * - it serves the validating webhook for real: an HTTPS server on this machine's
 *   address (tests/cluster/webhook.ts) that validates IPAddressPools; the webhook
 *   Service loses its selector and gets Endpoints pointing at that server, and the
 *   webhook configuration gets the server's CA (MetalLB's controller patches
 *   `caBundle` itself). The Endpoints appear only once the step says it is waiting
 *   for them and a pool has been seen refused at that moment, so the apply passes
 *   only because the step waits; the pool's resourceVersion is checked to be newer
 *   than the Endpoints';
 * - it assigns LoadBalancer addresses by writing `status.loadBalancer`.
 */

import { sharedChart, tempDir } from "../_shared.ts";
import { PROBE_LABEL } from "../../lib/steps/probe.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { startWebhookServer } from "../cluster/webhook.ts";
import { metallbStep, WEBHOOK_SERVICE } from "../../lib/steps/metallb.ts";
import { findHelm, helmStatus } from "../../lib/tools/helm.ts";
import type { KubeObject } from "../../lib/kube/types.ts";
import {
  type BackendGate,
  playedClient,
  playLoadBalancer,
  playMetallbWebhook,
  privateCluster,
  removeRelease,
  testContext,
} from "./_played.ts";

const CHART = sharedChart("metallb-0.15.3");
const namespace = "metallb-system";

function isRange(text: string): boolean {
  return /^[0-9a-f.:]+(\/\d+|-[0-9a-f.:]+)$/i.test(text) &&
    !/(^|\.)(25[6-9]|2[6-9]\d|[3-9]\d\d)(\.|\/|-|$)/.test(text);
}

Deno.test({
  name:
    "MetalLB: pools wait for the webhook, a LoadBalancer gets an address from a pool",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await using work = await tempDir("kfplan-metallb-");
    const cluster = await privateCluster();
    const kube = cluster.kube;
    const played = playedClient(cluster.kubeconfig);
    const helm = await findHelm();
    const probeNs = await cluster.namespace("metallb-probe");
    const server = await startWebhookServer({
      namespace,
      name: WEBHOOK_SERVICE,
    }, {
      kubeconfig: cluster.kubeconfig,
      handler(request) {
        if (request.kind.kind !== "IPAddressPool") return { allowed: true };
        const addresses =
          ((request.object?.spec as { addresses?: string[] })?.addresses) ?? [];
        const bad = addresses.find((a) => !isRange(a));
        return bad
          ? { allowed: false, message: `invalid CIDR or range ${bad}` }
          : { allowed: true };
      },
    });
    console.log(
      `  the test plays MetalLB's controller: webhook served at ${server.hostname}:${server.port}, LoadBalancer status written by the test`,
    );
    const gate: BackendGate = { open: false };
    const stopWebhook = playMetallbWebhook(played, server, gate);
    const options = {
      chart: { path: CHART },
      values: { controller: { enabled: false } },
      pools: [
        { name: "kfplan-pool", addresses: ["192.168.250.10-192.168.250.20"] },
        { name: "kfplan-v6", addresses: ["fd00:10::/120"], autoAssign: false },
      ],
      readyTimeoutSeconds: 60,
      verify: { namespace: probeNs, timeoutSeconds: 20 },
    };
    const step = metallbStep(options, {
      source: "kfplan.yaml",
      prefix: ["metallb"],
      kubeconfig: cluster.kubeconfig,
      helm,
    });
    try {
      await t.step(
        "plan: chart objects and pools; warnings for node and service addresses",
        async () => {
          const plan = await step.plan(testContext(work.path, kube));
          const pool = plan.changes.find((c) =>
            c.kind === "IPAddressPool" && c.name === "kfplan-pool"
          );
          assert(pool, "pool planned");
          assertEquals(pool.action, "create");
          assert(
            plan.changes.some((c) =>
              c.kind === "ValidatingWebhookConfiguration"
            ),
          );
          assertEquals(
            plan.warnings.filter((w) => !w.startsWith("offline")),
            [],
          );
          const nodes = await kube.list("v1", "Node");
          const nodeIp = ((nodes[0].status as {
            addresses?: { type: string; address: string }[];
          }).addresses ?? [])
            .find((a) => a.type === "InternalIP")?.address;
          assert(nodeIp, "kwok gives its nodes an InternalIP");
          const risky = metallbStep({
            ...options,
            pools: [
              { name: "svc", addresses: ["10.96.0.100-10.96.0.110"] },
              { name: "node", addresses: [`${nodeIp}/32`] },
            ],
          }, { kubeconfig: cluster.kubeconfig, helm });
          const warnings = (await risky.plan(testContext(work.path, kube)))
            .warnings.join(
              "\n",
            );
          assertMatch(
            warnings,
            /metallb\.pools\[0\]\.addresses\[0\] "10\.96\.0\.100-10\.96\.0\.110" overlaps the service CIDR 10\.96\.0\.0\/16/,
          );
          assertMatch(
            warnings,
            new RegExp(
              `contains InternalIP ${nodeIp.replaceAll(".", "\\.")} of node`,
            ),
          );
        },
      );

      await t.step(
        "apply: helm release, then pools once the webhook endpoint is ready",
        async () => {
          // The webhook backend comes up only when the step says it is waiting for
          // it, and only after the test has seen a pool refused at that moment: a
          // step that applied pools without the wait would fail here.
          const base = testContext(work.path, kube);
          const refusals: Promise<string>[] = [];
          const ctx = {
            ...base,
            log: {
              ...base.log,
              info(message: string) {
                base.log.info(message);
                if (!/waiting for .*metallb-webhook-service/.test(message)) {
                  return;
                }
                refusals.push(
                  kube.apply({
                    apiVersion: "metallb.io/v1beta1",
                    kind: "IPAddressPool",
                    metadata: { name: "kfplan-pool", namespace },
                    spec: { addresses: ["192.168.250.10-192.168.250.20"] },
                  }, { dryRun: true }).then(
                    () => "accepted",
                    (e) => (e as Error).message,
                  ).finally(() => {
                    gate.open = true;
                  }),
                );
              },
            },
          };
          const outputs = await step.apply(ctx, await step.plan(ctx));
          assertEquals(refusals.length, 1, "the step waited once");
          assertMatch(await refusals[0], /no endpoints available/);
          assertEquals(
            (outputs.pools as { name: string }[]).map((p) => p.name),
            ["kfplan-pool", "kfplan-v6"],
          );
          assertEquals(
            (await helmStatus(helm, {
              kubeconfig: cluster.kubeconfig,
              release: "metallb",
              namespace,
            }))?.status,
            "deployed",
          );
          const admitted = server.requests.filter((r) =>
            r.kind.kind === "IPAddressPool"
          ).map((r) => r.name);
          assert(
            admitted.includes("kfplan-pool"),
            `webhook saw ${admitted.join(", ")}`,
          );
          // Ordered by the API server's revisions, not by clocks: the pool was
          // written after the webhook backend's Endpoints.
          const pool = await kube.get({
            apiVersion: "metallb.io/v1beta1",
            kind: "IPAddressPool",
            namespace,
            name: "kfplan-pool",
          });
          assert(gate.endpointsVersion, "the backend came up");
          assert(
            Number(pool?.metadata.resourceVersion) >
              Number(gate.endpointsVersion),
            `pool at resourceVersion ${pool?.metadata.resourceVersion}, endpoints at ${gate.endpointsVersion}`,
          );
          const live = await kube.get({
            apiVersion: "metallb.io/v1beta1",
            kind: "IPAddressPool",
            namespace,
            name: "kfplan-v6",
          });
          assertEquals(live?.spec, {
            addresses: ["fd00:10::/120"],
            autoAssign: false,
            avoidBuggyIPs: false,
          });
          const l2 = await kube.get({
            apiVersion: "metallb.io/v1beta1",
            kind: "L2Advertisement",
            namespace,
            name: "l2",
          });
          assertEquals(
            (l2?.spec as { ipAddressPools: string[] }).ipAddressPools,
            ["kfplan-pool", "kfplan-v6"],
          );
          let denied = "";
          try {
            await kube.apply({
              apiVersion: "metallb.io/v1beta1",
              kind: "IPAddressPool",
              metadata: { name: "bad", namespace },
              spec: { addresses: ["10.0.0.300/32"] },
            } as KubeObject);
          } catch (error) {
            denied = (error as Error).message;
          }
          assertMatch(denied, /invalid CIDR or range 10\.0\.0\.300\/32/);
        },
      );

      await t.step("re-plan after apply: the pools are no-ops", async () => {
        const plan = await step.plan(testContext(work.path, kube));
        const pools = plan.changes.filter((c) =>
          c.kind === "IPAddressPool" || c.kind === "L2Advertisement"
        );
        assertEquals(pools.map((c) => c.action), ["no-op", "no-op", "no-op"]);
        // Only what the test changed while playing the controller shows up.
        assertEquals(
          plan.changes.filter((c) => c.action !== "no-op").map((c) =>
            `${c.action} ${c.kind}/${c.name} ${
              [...new Set(c.diff.map((d) => d.path.split("[")[0]))].join(",")
            }`
          ),
          [`update Service/${WEBHOOK_SERVICE} spec.selector`],
        );
      });

      await t.step(
        "verify: an address outside every pool fails, one inside passes and is output",
        async () => {
          const label = `${PROBE_LABEL}=metallb`;
          let stop = playLoadBalancer(played, { label, address: "10.1.2.3" });
          const wrong = await step.verify(testContext(work.path, kube));
          await stop();
          const lbWrong = wrong.checks.find((c) =>
            c.name.startsWith("a LoadBalancer")
          );
          assertEquals(lbWrong?.ok, false);
          assertMatch(
            lbWrong!.detail!,
            /10\.1\.2\.3 is in none of the pools kfplan-pool/,
          );
          stop = playLoadBalancer(played, { label, address: "192.168.250.12" });
          const result = await step.verify(testContext(work.path, kube));
          await stop();
          for (const c of result.checks) assert(c.ok, `${c.name}: ${c.detail}`);
          assertEquals(result.outputs?.testedAddress, "192.168.250.12");
          const leftovers = await kube.list("v1", "Service", {
            namespace: probeNs,
            labelSelector: label,
          });
          assertEquals(
            leftovers.filter((s) => !s.metadata.deletionTimestamp).length,
            0,
          );
        },
      );

      await t.step(
        "a pool removed from the config is planned as delete and removed",
        async () => {
          const smaller = metallbStep(
            { ...options, pools: [options.pools[0]] },
            {
              kubeconfig: cluster.kubeconfig,
              helm,
            },
          );
          const plan = await smaller.plan(testContext(work.path, kube));
          const deletes = plan.changes.filter((c) => c.action === "delete");
          assertEquals(deletes.map((c) => `${c.kind}/${c.name}`), [
            "IPAddressPool/kfplan-v6",
          ]);
          assertEquals(deletes[0].reason, "no longer in the configuration");
          const l2 = plan.changes.find((c) => c.kind === "L2Advertisement");
          assertEquals(l2?.action, "update");
          await smaller.apply(testContext(work.path, kube), plan);
          const gone = await kube.get({
            apiVersion: "metallb.io/v1beta1",
            kind: "IPAddressPool",
            namespace,
            name: "kfplan-v6",
          });
          assertEquals(gone, undefined);
          const again = await smaller.plan(testContext(work.path, kube));
          assertEquals(
            again.changes.filter((c) =>
              (c.kind === "IPAddressPool" || c.kind === "L2Advertisement") &&
              c.action !== "no-op"
            ),
            [],
          );
        },
      );
    } finally {
      await stopWebhook();
      await removeRelease(helm, kube, {
        kubeconfig: cluster.kubeconfig,
        release: "metallb",
        namespace,
      });
      await server.close();
      played.close();
      await cluster.stop();
    }
  },
});
