/**
 * A real admission webhook server for integration tests. kube-apiserver runs with
 * `--enable-aggregator-routing=true`, so it calls a webhook Service at an address from
 * the Service's core/v1 **Endpoints** (not its ClusterIP, not EndpointSlices). Endpoint
 * addresses may not be loopback (API validation rejects 127.0.0.0/8), so the server
 * listens on this machine's first non-loopback IPv4 address, and the Service has no
 * selector with a hand-written Endpoints object pointing at that address.
 *
 * @example
 * ```ts
 * import { startWebhookServer } from "./webhook.ts";
 *
 * const server = await startWebhookServer({ namespace: "demo", name: "guard" }, {
 *   handler: (review) => ({ allowed: review.operation !== "DELETE" }),
 * });
 * // apply server.service, server.endpoints and a webhook configuration using
 * // server.clientConfig("/validate"), then create objects; finally:
 * await server.close();
 * ```
 *
 * @module
 */

import { dirname } from "node:path";
import type { KubeObject } from "../lib/kube/types.ts";
import { generateCa, issueCert } from "./_certs.ts";

/** The `request` of an AdmissionReview, loosely typed. */
export interface AdmissionRequest {
  /** Echoed in the response. */
  uid: string;
  /** `CREATE`, `UPDATE`, `DELETE` or `CONNECT`. */
  operation: string;
  /** Kind of the object. */
  kind: { group: string; version: string; kind: string };
  /** Object name (may be empty on CREATE with generateName). */
  name?: string;
  /** Object namespace. */
  namespace?: string;
  /** The object as it would be stored. */
  object?: KubeObject;
  /** Everything else the API server sends. */
  [key: string]: unknown;
}

/** What the handler decides: admit, deny with a message, or fail with an HTTP status. */
export type AdmissionDecision =
  | { allowed: boolean; message?: string }
  | { httpStatus: number };

/** Options for {@linkcode startWebhookServer}. */
export interface WebhookServerOptions {
  handler: (request: AdmissionRequest) => AdmissionDecision;
  /** Address to listen on; default {@linkcode hostAddress} of `kubeconfig`. */
  hostname?: string;
  /** Kubeconfig of the cluster that will call the webhook. */
  kubeconfig?: string;
}

/** A running webhook server and the objects that route the API server to it. */
export interface WebhookServer {
  hostname: string;
  port: number;
  /** PEM CA certificate, base64 encoded, for `clientConfig.caBundle`. */
  caBundle: string;
  /** A Service without selector (port 443 named `https`). */
  service: KubeObject;
  /** Endpoints of that Service pointing at this server. */
  endpoints: KubeObject;
  /** Requests received so far. */
  readonly requests: AdmissionRequest[];
  /** A webhook `clientConfig` for `path`. */
  clientConfig(path: string): Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * The address a test serves webhooks on for the cluster of `kubeconfig`: the host end
 * of its network namespace when the harness isolated it (recorded in `cluster.json`
 * beside the kubeconfig), else this machine's first non-loopback, non-link-local IPv4
 * address (Endpoints may not point at loopback). Throws when there is none.
 */
export function hostAddress(kubeconfig?: string): string {
  if (kubeconfig) {
    try {
      const state = JSON.parse(
        Deno.readTextFileSync(`${dirname(kubeconfig)}/cluster.json`),
      );
      if (typeof state.hostIp === "string") return state.hostIp;
    } catch { /* not a harness cluster: fall back to the machine's address */ }
  }
  const candidates = Deno.networkInterfaces().filter((i) =>
    i.family === "IPv4" && !i.address.startsWith("127.") &&
    !i.address.startsWith("169.254.")
  );
  if (candidates.length === 0) {
    throw new Error(
      "the webhook test server needs a non-loopback IPv4 address (Endpoints may not point at 127.0.0.0/8)",
    );
  }
  return candidates[0].address;
}

/**
 * Starts an HTTPS admission webhook server for Service `service.namespace/service.name`
 * with a certificate for `<name>.<namespace>.svc` from a fresh CA.
 */
export async function startWebhookServer(
  service: { namespace: string; name: string },
  options: WebhookServerOptions,
): Promise<WebhookServer> {
  const hostname = options.hostname ?? hostAddress(options.kubeconfig);
  const dir = await Deno.makeTempDir({ prefix: "kfplan-webhook-" });
  try {
    const ca = await generateCa(dir, {
      commonName: `webhook-ca-${service.name}`,
    });
    const cert = await issueCert(ca, { dir, name: "serving" }, {
      commonName: `${service.name}.${service.namespace}.svc`,
      dnsNames: [
        `${service.name}.${service.namespace}.svc`,
        `${service.name}.${service.namespace}.svc.cluster.local`,
      ],
      usage: ["server"],
    });
    const requests: AdmissionRequest[] = [];
    const server = Deno.serve({
      hostname,
      port: 0,
      cert: await Deno.readTextFile(cert.cert),
      key: await Deno.readTextFile(cert.key),
      onListen() {},
    }, async (req) => {
      const review = await req.json();
      const request = review.request as AdmissionRequest;
      requests.push(request);
      const decision = options.handler(request);
      if ("httpStatus" in decision) {
        return new Response("webhook test server failing on purpose", {
          status: decision.httpStatus,
        });
      }
      return Response.json({
        // Answer in the version asked: webhooks registered with
        // admissionReviewVersions [v1beta1] (e.g. KServe) get v1beta1 reviews.
        apiVersion: review.apiVersion ?? "admission.k8s.io/v1",
        kind: "AdmissionReview",
        response: {
          uid: request.uid,
          allowed: decision.allowed,
          ...(decision.message
            ? { status: { message: decision.message, code: 403 } }
            : {}),
        },
      });
    });
    const port = server.addr.port;
    const caBundle = btoa(await Deno.readTextFile(ca.caCert));
    return {
      hostname,
      port,
      caBundle,
      requests,
      service: {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: service.name, namespace: service.namespace },
        spec: {
          ports: [{
            name: "https",
            port: 443,
            targetPort: port,
            protocol: "TCP",
          }],
        },
      },
      endpoints: {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: { name: service.name, namespace: service.namespace },
        subsets: [{
          addresses: [{ ip: hostname }],
          ports: [{ name: "https", port, protocol: "TCP" }],
        }],
      },
      clientConfig(path: string) {
        return {
          service: {
            namespace: service.namespace,
            name: service.name,
            path,
            port: 443,
          },
          caBundle,
        };
      },
      async close() {
        await server.shutdown();
      },
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
