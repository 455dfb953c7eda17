/**
 * Admission backends for webhooks whose servers would run in pods. kwok pods run
 * nothing, so a webhook configuration the platform installs would send the API server
 * to a fake pod IP. Two ways to stand in for the backends:
 *
 * - {@linkcode startAdmissionBackends} (what `deno task cluster up` runs) changes
 *   nothing the installer applied: it moves the backend pods' `status.podIP` to an
 *   address of this machine the API server can reach (the endpoints controllers then
 *   route the Service there, as for a real pod), serves HTTPS on each backend port
 *   there with a certificate for every backend `<service>.<namespace>.svc`, admits every
 *   request (and converts custom resources by setting the asked `apiVersion`), and
 *   writes its CA into the webhooks' `caBundle`, as cert-manager's cainjector or the
 *   components themselves would.
 * - {@linkcode serveWebhooks} (for tests): one admitting server per backend, wired in
 *   by rewriting the rendered objects before they are applied (a post-render hook).
 *
 * @module
 */

import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { generateCa, issueCert } from "../_certs.ts";
import { startWebhookServer, type WebhookServer } from "../webhook.ts";

/** A Service a webhook or conversion webhook calls (`port` default 443). */
interface ServiceRef {
  namespace: string;
  name: string;
  port?: number;
}

function backendOf(o: KubeObject): ServiceRef[] {
  // deno-lint-ignore no-explicit-any
  const a = o as any;
  if (
    o.kind === "MutatingWebhookConfiguration" ||
    o.kind === "ValidatingWebhookConfiguration"
  ) {
    return (a.webhooks ?? []).flatMap((
      w: { clientConfig?: { service?: ServiceRef } },
    ) => w.clientConfig?.service ? [w.clientConfig.service] : []);
  }
  const conv = a.spec?.conversion?.webhook?.clientConfig?.service;
  return o.kind === "CustomResourceDefinition" && conv ? [conv] : [];
}

/** Answers an AdmissionReview (admit) or a ConversionReview (set `apiVersion`). */
function answer(review: {
  apiVersion?: string;
  kind?: string;
  request?: {
    uid: string;
    desiredAPIVersion?: string;
    objects?: Record<string, unknown>[];
  };
}): Record<string, unknown> {
  const request = review.request!;
  if (review.kind === "ConversionReview") {
    return {
      apiVersion: review.apiVersion ?? "apiextensions.k8s.io/v1",
      kind: "ConversionReview",
      response: {
        uid: request.uid,
        convertedObjects: (request.objects ?? []).map((o) => ({
          ...o,
          apiVersion: request.desiredAPIVersion,
        })),
        result: { status: "Success" },
      },
    };
  }
  return {
    // Answer in the version asked (KServe registers admissionReviewVersions [v1beta1]).
    apiVersion: review.apiVersion ?? "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: { uid: request.uid, allowed: true },
  };
}

/** Options of {@linkcode startAdmissionBackends}. */
export interface AdmissionBackendsOptions {
  /** The address the API server reaches this machine at (the harness's `hostIp`). */
  hostIp: string;
  /** Progress and problems, one line each. */
  onLog?: (message: string) => void;
  /** Pause between rounds; default 300 ms. */
  intervalMs?: number;
}

/** Running admission backends. */
export interface AdmissionBackends {
  /** Requests answered so far, by `namespace/name` of the backend Service. */
  readonly requests: Map<string, number>;
  /** Ports served on `hostIp`. */
  readonly ports: number[];
  /** Stops the loop and the servers, removes the CA. */
  close(): Promise<void>;
}

interface EndpointSlice extends KubeObject {
  endpoints?: {
    addresses?: string[];
    targetRef?: { kind?: string; name?: string; namespace?: string };
  }[];
  ports?: { port?: number; name?: string }[];
}

/**
 * Starts the admission backends of the module doc: a round every `intervalMs` (and
 * once right away) until closed. Services count as webhook backends when a webhook
 * configuration or a CRD's conversion names them, and ahead of that when they expose
 * port 443 or a port named `*webhook*`, so the backend is up by the time its webhook
 * configuration arrives.
 */
export async function startAdmissionBackends(
  kube: KubeClient,
  options: AdmissionBackendsOptions,
): Promise<AdmissionBackends> {
  const log = options.onLog ?? (() => {});
  const dir = await Deno.makeTempDir({ prefix: "kfplan-sim-webhooks-" });
  const ca = await generateCa(dir, { commonName: "kfplan-sim-webhook-ca" });
  const caBundle = btoa(await Deno.readTextFile(ca.caCert));
  const requests = new Map<string, number>();
  const servers = new Map<number, Deno.HttpServer>();
  const refused = new Set<number>();
  const names = new Set<string>();
  let leaf: { cert: string; key: string } | undefined;
  let serial = 0;
  let rounds = 0;
  let crdBackends: ServiceRef[] = [];
  /** Which backend a port serves, for counting requests. */
  const portOwner = new Map<number, string>();

  async function reissue(): Promise<void> {
    serial++;
    const files = await issueCert(ca, { dir, name: `serving-${serial}` }, {
      commonName: "kfplan-sim-webhooks",
      dnsNames: [...names].flatMap((n) => [n, `${n}.cluster.local`]),
      usage: ["server"],
    });
    leaf = {
      cert: await Deno.readTextFile(files.cert),
      key: await Deno.readTextFile(files.key),
    };
    for (const [port, server] of [...servers]) {
      await server.shutdown();
      servers.delete(port);
      serve(port, true);
    }
  }

  function serve(port: number, restart = false): void {
    if (servers.has(port) || refused.has(port) || !leaf) return;
    try {
      const server = Deno.serve({
        hostname: options.hostIp,
        port,
        cert: leaf.cert,
        key: leaf.key,
        onListen() {},
      }, async (req) => {
        const review = await req.json();
        const owner = portOwner.get(port) ?? `port ${port}`;
        requests.set(owner, (requests.get(owner) ?? 0) + 1);
        return Response.json(answer(review));
      });
      servers.set(port, server);
      if (!restart) {
        log(
          `serving admission webhooks on ${options.hostIp}:${port} (simulated)`,
        );
      }
    } catch (e) {
      refused.add(port);
      log(
        `cannot serve webhooks on ${options.hostIp}:${port}: ${
          (e as Error).message
        }`,
      );
    }
  }

  async function backends(): Promise<ServiceRef[]> {
    const found: ServiceRef[] = [];
    for (
      const kind of [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
      ]
    ) {
      for (
        const o of await kube.list("admissionregistration.k8s.io/v1", kind)
      ) found.push(...backendOf(o));
    }
    // CRDs are large: look at their conversion webhooks every tenth round.
    if (rounds % 10 === 1) {
      crdBackends = (await kube.list(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
      )).flatMap(backendOf);
    }
    found.push(...crdBackends);
    for (const svc of await kube.list("v1", "Service")) {
      const spec = svc.spec as {
        selector?: Record<string, string>;
        ports?: { port?: number; name?: string }[];
      };
      if (!spec.selector) continue;
      for (const p of spec.ports ?? []) {
        if (p.port === 443 || /webhook/.test(p.name ?? "")) {
          found.push({
            namespace: svc.metadata.namespace!,
            name: svc.metadata.name,
            port: p.port,
          });
        }
      }
    }
    const seen = new Set<string>();
    return found.filter((s) => {
      const key = `${s.namespace}/${s.name}:${s.port ?? 443}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  /**
   * Moves the backend pods to `hostIp`; returns the pod ports the Service's port
   * `svc.port` leads to (only those are served here).
   */
  async function routeBackend(svc: ServiceRef): Promise<number[]> {
    const service = await kube.get({
      apiVersion: "v1",
      kind: "Service",
      namespace: svc.namespace,
      name: svc.name,
    });
    const servicePort = ((service?.spec as {
      ports?: { port?: number; name?: string }[];
    } | undefined)?.ports ?? []).find((p) => p.port === (svc.port ?? 443));
    if (!servicePort) return [];
    const slices = await kube.list("discovery.k8s.io/v1", "EndpointSlice", {
      namespace: svc.namespace,
      labelSelector: `kubernetes.io/service-name=${svc.name}`,
    }) as EndpointSlice[];
    const ports = new Set<number>();
    for (const slice of slices) {
      for (
        const p of (slice.ports ?? []) as { port?: number; name?: string }[]
      ) {
        if (p.port && (p.name ?? "") === (servicePort.name ?? "")) {
          ports.add(p.port);
        }
      }
      for (const endpoint of slice.endpoints ?? []) {
        const ref = endpoint.targetRef;
        if (ref?.kind !== "Pod" || !ref.name) continue;
        if ((endpoint.addresses ?? []).includes(options.hostIp)) continue;
        await kube.apply({
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            name: ref.name,
            namespace: ref.namespace ?? svc.namespace,
          },
          status: {
            podIP: options.hostIp,
            podIPs: [{ ip: options.hostIp }],
          },
        }, { subresource: "status" });
        log(
          `pod ${svc.namespace}/${ref.name} (backend of Service ${svc.name}) now at ${options.hostIp} (simulated)`,
        );
      }
    }
    return [...ports];
  }

  async function injectCa(): Promise<void> {
    for (
      const kind of [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
      ]
    ) {
      for (
        const o of await kube.list("admissionregistration.k8s.io/v1", kind)
      ) {
        const hooks = (o.webhooks ?? []) as {
          clientConfig?: { service?: unknown; caBundle?: string };
        }[];
        const stale = hooks.filter((h) =>
          h.clientConfig?.service && h.clientConfig.caBundle !== caBundle
        );
        if (stale.length === 0) continue;
        for (const h of stale) h.clientConfig!.caBundle = caBundle;
        await kube.replace(o);
        log(`${kind} ${o.metadata.name}: caBundle of the simulated backends`);
      }
    }
    if (crdBackends.length === 0) return;
    for (
      const crd of await kube.list(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
      )
    ) {
      const cc = (crd.spec as {
        conversion?: {
          webhook?: { clientConfig?: { service?: unknown; caBundle?: string } };
        };
      }).conversion?.webhook?.clientConfig;
      if (!cc?.service || cc.caBundle === caBundle) continue;
      cc.caBundle = caBundle;
      await kube.replace(crd);
      log(`CustomResourceDefinition ${crd.metadata.name}: conversion caBundle`);
    }
  }

  async function round(): Promise<void> {
    rounds++;
    const found = await backends();
    const fresh = found.map((s) => `${s.name}.${s.namespace}.svc`).filter((n) =>
      !names.has(n)
    );
    if (fresh.length > 0 || !leaf) {
      for (const n of fresh) names.add(n);
      await reissue();
    }
    for (const svc of found) {
      for (const port of await routeBackend(svc)) {
        if (!portOwner.has(port)) {
          portOwner.set(port, `${svc.namespace}/${svc.name}`);
        }
        serve(port);
      }
    }
    await injectCa();
  }

  let running = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  let lastError = "";
  const done = (async () => {
    while (running) {
      try {
        await round();
      } catch (e) {
        const message = (e as Error).message;
        if (message !== lastError) log(`admission backends: ${message}`);
        lastError = message;
      }
      if (!running) break;
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, options.intervalMs ?? 300);
      });
    }
  })();
  return {
    requests,
    get ports() {
      return [...servers.keys()];
    },
    async close() {
      running = false;
      clearTimeout(timer);
      wake?.();
      await done;
      for (const server of servers.values()) await server.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Test webhook servers standing in for the platform's webhook backends. */
export interface ServedWebhooks {
  /** Server by `namespace/name` of the backend Service. */
  servers: Map<string, WebhookServer>;
  /** The step's `postRender` hook: routes every webhook to its test server. */
  postRender(objects: KubeObject[]): KubeObject[];
  close(): Promise<void>;
}

/** Starts one admitting webhook server per webhook backend Service of `objects`. */
export async function serveWebhooks(
  objects: KubeObject[],
  options: { kubeconfig?: string } = {},
): Promise<ServedWebhooks> {
  const servers = new Map<string, WebhookServer>();
  for (const o of objects) {
    for (const svc of backendOf(o)) {
      const key = `${svc.namespace}/${svc.name}`;
      if (!servers.has(key)) {
        servers.set(
          key,
          await startWebhookServer(svc, {
            handler: () => ({ allowed: true }),
            kubeconfig: options.kubeconfig,
          }),
        );
      }
    }
  }
  function postRender(input: KubeObject[]): KubeObject[] {
    const out: KubeObject[] = [];
    for (const original of input) {
      const o = structuredClone(original);
      // deno-lint-ignore no-explicit-any
      const a = o as any;
      if (
        o.kind === "MutatingWebhookConfiguration" ||
        o.kind === "ValidatingWebhookConfiguration"
      ) {
        for (const w of a.webhooks ?? []) {
          const svc = w.clientConfig?.service;
          const server = svc && servers.get(`${svc.namespace}/${svc.name}`);
          if (server) w.clientConfig.caBundle = server.caBundle;
        }
      } else if (
        o.kind === "CustomResourceDefinition" &&
        a.spec?.conversion?.webhook?.clientConfig?.service
      ) {
        const svc = a.spec.conversion.webhook.clientConfig.service;
        const server = servers.get(`${svc.namespace}/${svc.name}`);
        if (server) {
          a.spec.conversion.webhook.clientConfig.caBundle = server.caBundle;
        }
      }
      out.push(o);
      const server = o.kind === "Service" && o.apiVersion === "v1"
        ? servers.get(`${o.metadata.namespace}/${o.metadata.name}`)
        : undefined;
      if (server) {
        // Without a selector the endpoints controller leaves our Endpoints alone.
        delete a.spec.selector;
        out.push({
          apiVersion: "v1",
          kind: "Endpoints",
          metadata: { name: o.metadata.name, namespace: o.metadata.namespace },
          subsets: [{
            addresses: [{ ip: server.hostname }],
            ports: (a.spec.ports ?? []).map((p: { name?: string }) => ({
              ...(p.name ? { name: p.name } : {}),
              port: server.port,
              protocol: "TCP",
            })),
          }],
        });
      }
    }
    return out;
  }
  return {
    servers,
    postRender,
    async close() {
      for (const s of servers.values()) await s.close();
    },
  };
}
