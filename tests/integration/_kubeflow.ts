/**
 * The Kubeflow install scenario shared by the per-version integration tests, on a
 * control plane of its own (Kubeflow writes cluster-scoped objects and fixed
 * namespaces, which would collide with other tests on the shared cluster).
 *
 * What the test plays, because no real controller runs on a kwok cluster:
 * - the storage provisioner: a default StorageClass with static PersistentVolumes the
 *   PV controller binds the platform's PVCs to;
 * - a LoadBalancer controller: sets `status.loadBalancer.ingress` of LoadBalancer
 *   Services (MetalLB is another step's business);
 * - Kubeflow's profile controller: creates the namespace of each Profile.
 *
 * These stand-ins live in `sim/controllers/` (shared with `deno task cluster up`) and
 * are re-exported here.
 *
 * Webhook-guarded resources: kwok pods run no webhook server. The scenario handles that
 * in one of two deliberate ways:
 * - `serve` ({@linkcode serveWebhooks}): the test plays every webhook backend. One real
 *   HTTPS admission server per backend Service runs on this machine and admits every
 *   request; a post-render transform (the step's `postRender` hook, like Helm's
 *   post-renderer) drops the backend Services' selectors, adds Endpoints pointing at
 *   the test servers and fills the `caBundle`s cert-manager's cainjector would inject.
 *   The API server then really calls the webhooks (aggregator routing), so
 *   cert-manager Certificates/Issuers/ClusterIssuers, KServe ClusterServingRuntimes,
 *   knative's Certificate and pods in `istio-injection=enabled` namespaces go through
 *   the real admission path, after `applyObjects` waited for the backends' endpoints.
 * - `exclude` ({@linkcode WEBHOOK_EXCLUDES}): the step's `exclude` option leaves the
 *   webhook configurations out; the plan lists each excluded object with the reason,
 *   and the guarded resources are admitted by the API server alone.
 *
 * @module
 */

export {
  FAKE_LB_ADDRESS,
  type FakeControllers,
  provideStorage,
  type ServedWebhooks,
  serveWebhooks,
  startFakeControllers,
} from "../../sim/controllers/mod.ts";

/** The `exclude` entries the scenario uses, with the reason the plan shows. */
export const WEBHOOK_EXCLUDES = [
  {
    kind: "MutatingWebhookConfiguration",
    reason: "test cluster: kwok pods serve no admission webhooks",
  },
  {
    kind: "ValidatingWebhookConfiguration",
    reason: "test cluster: kwok pods serve no admission webhooks",
  },
];

/** Every file under `dir`, as text, for secret searches. */
export async function readTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(d: string) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch {
      return;
    }
    for (const e of entries) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile) out[p] = await Deno.readTextFile(p).catch(() => "");
    }
  }
  await walk(dir);
  return out;
}

/** Names of the artifacts in which any of `secrets` occurs (empty when none leaks). */
export function findLeaks(
  artifacts: Record<string, string>,
  secrets: string[],
): string[] {
  const leaks: string[] = [];
  for (const [name, text] of Object.entries(artifacts)) {
    for (const s of secrets) {
      if (text.includes(s)) leaks.push(`${name} contains a planted secret`);
    }
  }
  return leaks;
}

/** A wall-clock measurement printed for the report (never asserted). */
export async function timed<T>(
  label: string,
  fn: () => Promise<T>,
): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    console.log(
      `[timing] ${label}: ${((performance.now() - start) / 1000).toFixed(1)} s`,
    );
  }
}
