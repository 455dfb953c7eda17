/**
 * HTTPS on Kubeflow's gateway for `ingress.domain` (`ingress.tls`), as objects and
 * patches the overlay adds on top of the recognized render:
 *
 * | mode         | adds                                                                              |
 * | ------------ | --------------------------------------------------------------------------------- |
 * | `selfSigned` | ClusterIssuer (selfSigned) → CA Certificate → ClusterIssuer (ca) → gateway Certificate |
 * | `acme`       | ClusterIssuer (ACME, HTTP-01), gateway Certificate, solver Service, the challenge route and its auth exception |
 * | `secret`     | Secret `kubernetes.io/tls` from the user's files (values only in `secrets/`)     |
 *
 * Every mode adds an HTTPS server (443, `credentialName` the gateway Secret) to the
 * Gateway most VirtualServices bind to, and a VirtualService for the domain on port
 * 80 that redirects to HTTPS (except, with ACME, the challenge path). Port 80 keeps
 * its `"*"` hosts: in-cluster and port-forwarded access keep working, and the
 * domain's port-80 routes form a virtual host of their own (an exact host wins over
 * `"*"` in Envoy), so they never interleave with Kubeflow's `"*"` VirtualServices.
 *
 * The challenge path is let through the auth layer and nothing else:
 * - oauth2-proxy releases: `/.well-known/acme-challenge/*` added to the `notPaths`
 *   of each CUSTOM/DENY AuthorizationPolicy on the gateway pods;
 * - oidc-authservice releases: the `ext_authz` filter stays; an EnvoyFilter disables
 *   it (`ExtAuthzPerRoute.disabled`) on the one route that matches port 80 and the
 *   challenge prefix, instead of deleting the filter as the FlexiGroBots guide does.
 *
 * cert-manager's HTTP-01 solver Ingress gets a class no controller serves
 * ({@linkcode ACME_INGRESS_CLASS}); kfplan's VirtualService routes the challenge to
 * the solver pods through {@linkcode ACME_SOLVER_SERVICE}, so Istio's own Ingress
 * translation cannot shadow the domain's routes while a challenge is pending.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import { connect as tlsConnect } from "node:tls";
import { OptionsError } from "../../engine/options.ts";
import type { KubeClient, KubeObject } from "../../kube/types.ts";
import { loadBalancerAddress } from "../../kube/wait.ts";
import { type CertificateFacts, checkCertificate } from "./certificates.ts";
import { ACME_SERVERS, type KubeflowOptions } from "./options.ts";
import { type Recognition, recognize, type Target } from "./recognize.ts";

/** Name of the gateway's TLS Secret (and of its Certificate in the cert-manager modes). */
export const GATEWAY_TLS_SECRET = "kubeflow-gateway-tls";
/** The HTTP-01 challenge path prefix. */
export const ACME_CHALLENGE_PREFIX = "/.well-known/acme-challenge/";
/** The Service in the gateway's namespace selecting cert-manager's HTTP-01 solver pods. */
export const ACME_SOLVER_SERVICE = "kubeflow-acme-solver";
/** The class of cert-manager's solver Ingress: served by no controller (see the module docs). */
export const ACME_INGRESS_CLASS = "kubeflow-acme-http01";
/** Name of the challenge route, which the authservice exception targets. */
export const ACME_ROUTE = "kubeflow-acme-http01";
/** Name of the self-signed CA's Certificate and Secret. */
export const SELF_SIGNED_CA = "kubeflow-gateway-ca";

/** The validated `ingress.tls`. */
export type TlsOptions = NonNullable<KubeflowOptions["ingress"]["tls"]>;

/** A JSON6902 operation. */
export interface JsonPatchOp {
  /** `add` or `replace`. */
  op: "add" | "replace";
  /** JSON pointer. */
  path: string;
  /** The value. */
  value: unknown;
}

/** What the TLS settings add to the overlay. */
export interface TlsOverlay {
  /** New objects (issuers, certificates, routes, the solver Service, filters). */
  resources: KubeObject[];
  /** JSON6902 patches of recognized objects (the Gateway, auth policies). */
  patches: { name: string; target: Target; ops: JsonPatchOp[] }[];
  /** The Secret the `secret` mode generates from the user's files. */
  secret?: { name: string; namespace: string };
  /** Where the gateway's Secret lives. */
  gatewaySecret: { namespace: string; name: string };
}

/** Where the TLS objects go, resolved from the recognition. */
interface Placement {
  gateway: Target;
  gatewayNamespace: string;
  caNamespace: string;
}

/**
 * The plan-time problems of `ingress.tls` against what the render deploys: no
 * Gateway to add HTTPS to, cert-manager missing for the modes that need it, no way to
 * let the ACME challenge past the auth layer. Field paths are relative to the step's
 * options.
 */
export function tlsProblems(
  options: KubeflowOptions,
  recognition: Recognition,
): { path: string; message: string }[] {
  const tls = options.ingress.tls;
  if (!tls) return [];
  const problems: { path: string; message: string }[] = [];
  if (!recognition.ingress?.kubeflowGateway) {
    problems.push({
      path: "ingress.tls",
      message: recognition.ingress
        ? `no Gateway selecting the pods of ${recognition.ingress.service.namespace}/${recognition.ingress.service.name} ` +
          "has VirtualServices bound to it: kfplan has no Gateway to add the HTTPS server to"
        : "the rendered tree has no ingress gateway Service (selector istio: ingressgateway)",
    });
  }
  if (tls.mode !== "secret") {
    const external = (options.components.external as string[]).includes(
      "cert-manager",
    );
    if (
      (options.components.exclude as string[]).includes("cert-manager")
    ) {
      problems.push({
        path: "ingress.tls.mode",
        message:
          `${tls.mode} needs cert-manager, which components.exclude leaves out: ` +
          "keep it, list it in components.external if the cluster runs it, or use mode secret",
      });
    } else if (!recognition.certManager && !external) {
      problems.push({
        path: "ingress.tls.mode",
        message:
          `${tls.mode} needs cert-manager, and the rendered tree deploys none (no Deployment ` +
          "runs a cert-manager-controller image): list cert-manager in components.external if " +
          "the cluster runs it, or use mode secret",
      });
    }
  }
  if (tls.mode === "acme" && recognition.auth) {
    const ingress = recognition.ingress;
    const exempt = recognition.auth.kind === "oauth2-proxy"
      ? (ingress?.authExemptions.length ?? 0) > 0
      : (ingress?.authFilters.length ?? 0) > 0;
    if (!exempt) {
      problems.push({
        path: "ingress.tls.mode",
        message:
          `acme: the challenge path ${ACME_CHALLENGE_PREFIX} must pass the auth layer, ` +
          `and kfplan recognized no ${
            recognition.auth.kind === "oauth2-proxy"
              ? "CUSTOM/DENY AuthorizationPolicy with notPaths"
              : "ext_authz EnvoyFilter"
          } on the gateway pods to make that exception in: use mode secret or selfSigned`,
      });
    }
  }
  return problems;
}

function placement(
  options: KubeflowOptions,
  recognition: Recognition,
): Placement {
  const problems = tlsProblems(options, recognition);
  if (problems.length > 0) throw new OptionsError(problems);
  const ingress = recognition.ingress!;
  return {
    gateway: ingress.kubeflowGateway!,
    gatewayNamespace: ingress.service.namespace ?? "istio-system",
    caNamespace: recognition.certManager?.clusterResourceNamespace ??
      "cert-manager",
  };
}

function issuerRef(name: string): Record<string, string> {
  return { name, kind: "ClusterIssuer", group: "cert-manager.io" };
}

function certificate(
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): KubeObject {
  return {
    apiVersion: "cert-manager.io/v1",
    kind: "Certificate",
    metadata: { name, namespace },
    spec: { secretName: name, ...spec },
  };
}

function clusterIssuer(
  name: string,
  spec: Record<string, unknown>,
): KubeObject {
  return {
    apiVersion: "cert-manager.io/v1",
    kind: "ClusterIssuer",
    metadata: { name },
    spec,
  };
}

const ECDSA = { algorithm: "ECDSA", size: 256 };

/** The ACME directory URL of `server` (`staging`, `production` or a URL). */
export function acmeServerUrl(server: string): string {
  return server in ACME_SERVERS
    ? ACME_SERVERS[server as keyof typeof ACME_SERVERS]
    : server;
}

/** The cert-manager objects of the `selfSigned` mode. */
function selfSignedObjects(domain: string, p: Placement): KubeObject[] {
  return [
    clusterIssuer("kubeflow-gateway-selfsigned", { selfSigned: {} }),
    certificate(p.caNamespace, SELF_SIGNED_CA, {
      isCA: true,
      commonName: `Kubeflow gateway CA (${domain})`,
      duration: "87600h",
      privateKey: ECDSA,
      issuerRef: issuerRef("kubeflow-gateway-selfsigned"),
    }),
    clusterIssuer(SELF_SIGNED_CA, { ca: { secretName: SELF_SIGNED_CA } }),
    certificate(p.gatewayNamespace, GATEWAY_TLS_SECRET, {
      dnsNames: [domain],
      privateKey: ECDSA,
      issuerRef: issuerRef(SELF_SIGNED_CA),
    }),
  ];
}

/** The cert-manager and routing objects of the `acme` mode. */
function acmeObjects(
  domain: string,
  tls: Extract<TlsOptions, { mode: "acme" }>,
  p: Placement,
): KubeObject[] {
  return [
    clusterIssuer("kubeflow-acme", {
      acme: {
        server: acmeServerUrl(tls.server),
        email: tls.email,
        privateKeySecretRef: { name: "kubeflow-acme-account-key" },
        // `class` (not ingressClassName): the only field cert-manager 1.5 to 1.10 have.
        solvers: [{ http01: { ingress: { class: ACME_INGRESS_CLASS } } }],
      },
    }),
    certificate(p.gatewayNamespace, GATEWAY_TLS_SECRET, {
      dnsNames: [domain],
      issuerRef: issuerRef("kubeflow-acme"),
    }),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: ACME_SOLVER_SERVICE, namespace: p.gatewayNamespace },
      spec: {
        selector: { "acme.cert-manager.io/http01-solver": "true" },
        ports: [{ name: "http", port: 8089, targetPort: 8089 }],
      },
    },
  ];
}

/** The VirtualService of the domain's port 80: the ACME route (acme), then the redirect. */
function httpRoutes(
  domain: string,
  acme: boolean,
  p: Placement,
): KubeObject {
  const routes: Record<string, unknown>[] = [];
  if (acme) {
    routes.push({
      name: ACME_ROUTE,
      match: [{ port: 80, uri: { prefix: ACME_CHALLENGE_PREFIX } }],
      route: [{
        destination: {
          host:
            `${ACME_SOLVER_SERVICE}.${p.gatewayNamespace}.svc.cluster.local`,
          port: { number: 8089 },
        },
      }],
    });
  }
  routes.push({
    name: "kubeflow-https-redirect",
    match: [{ port: 80 }],
    redirect: { scheme: "https" },
  });
  return {
    apiVersion: p.gateway.apiVersion,
    kind: "VirtualService",
    metadata: {
      name: "kubeflow-https-redirect",
      namespace: p.gatewayNamespace,
    },
    spec: {
      hosts: [domain],
      gateways: [`${p.gateway.namespace}/${p.gateway.name}`],
      http: routes,
    },
  };
}

/** On authservice releases: `ext_authz` off for the challenge route only. */
function authserviceException(
  recognition: Recognition,
  p: Placement,
): KubeObject {
  return {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: {
      name: "kubeflow-acme-http01-authz",
      namespace: p.gatewayNamespace,
    },
    spec: {
      workloadSelector: { labels: recognition.ingress!.selector },
      configPatches: [{
        applyTo: "HTTP_ROUTE",
        match: {
          context: "GATEWAY",
          routeConfiguration: { vhost: { route: { name: ACME_ROUTE } } },
        },
        patch: {
          operation: "MERGE",
          value: {
            typed_per_filter_config: {
              "envoy.filters.http.ext_authz": {
                "@type":
                  "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute",
                disabled: true,
              },
            },
          },
        },
      }],
    },
  };
}

/**
 * The objects and patches `ingress.tls` adds. Throws {@linkcode OptionsError}
 * (see {@linkcode tlsProblems}) when the render cannot carry them.
 *
 * @example
 * ```ts
 * const tls = tlsOverlay(options, recognition);
 * console.log(tls?.resources.map((o) => `${o.kind}/${o.metadata.name}`));
 * ```
 */
export function tlsOverlay(
  options: KubeflowOptions,
  recognition: Recognition,
): TlsOverlay | undefined {
  const tls = options.ingress.tls;
  const domain = options.ingress.domain;
  if (!tls || !domain) return undefined;
  const p = placement(options, recognition);
  const resources: KubeObject[] = [];
  const patches: TlsOverlay["patches"] = [{
    name: "gateway-https",
    target: p.gateway,
    ops: [{
      op: "add",
      path: "/spec/servers/-",
      value: {
        port: { number: 443, name: "https", protocol: "HTTPS" },
        hosts: [domain],
        tls: { mode: "SIMPLE", credentialName: GATEWAY_TLS_SECRET },
      },
    }],
  }];
  if (tls.mode === "selfSigned") {
    resources.push(...selfSignedObjects(domain, p));
  }
  if (tls.mode === "acme") {
    resources.push(...acmeObjects(domain, tls, p));
    if (recognition.auth?.kind === "oauth2-proxy") {
      recognition.ingress!.authExemptions.forEach((e, i) =>
        patches.push({
          name: `acme-auth-exemption-${i}`,
          target: e.policy,
          ops: e.notPaths.map((path) => ({
            op: "add" as const,
            path: `${path}/-`,
            value: `${ACME_CHALLENGE_PREFIX}*`,
          })),
        })
      );
    } else if (recognition.auth?.kind === "oidc-authservice") {
      resources.push(authserviceException(recognition, p));
    }
  }
  resources.push(httpRoutes(domain, tls.mode === "acme", p));
  return {
    resources,
    patches,
    secret: tls.mode === "secret"
      ? { name: GATEWAY_TLS_SECRET, namespace: p.gatewayNamespace }
      : undefined,
    gatewaySecret: { namespace: p.gatewayNamespace, name: GATEWAY_TLS_SECRET },
  };
}

/** The user's certificate and key (`secret` mode), read and checked. */
export interface TlsFiles {
  /** PEM certificate chain. */
  certificate: string;
  /** PEM private key. */
  key: string;
}

/** Reads a secret option (the render's reader: registers values, may use placeholders). */
export type ReadSecretFn = (
  ref: Extract<TlsOptions, { mode: "secret" }>["key"],
  field: string,
) => Promise<string>;

/**
 * Reads and checks the `secret` mode's files: both PEM, the key matches, the SANs
 * cover the domain, valid now (errors, as {@linkcode OptionsError}); expiry within 30
 * days is a warning. With placeholders (an offline plan without the files) nothing is
 * checked, and the caller's warning says the files were not read.
 */
export async function readTlsFiles(
  options: KubeflowOptions,
  read: ReadSecretFn,
  isPlaceholder: (value: string) => boolean,
): Promise<{ files?: TlsFiles; warnings: string[]; facts?: CertificateFacts }> {
  const tls = options.ingress.tls;
  if (tls?.mode !== "secret" || !options.ingress.domain) {
    return { warnings: [] };
  }
  const certificate = await read(tls.certificate, "ingress.tls.certificate");
  const key = await read(tls.key, "ingress.tls.key");
  if (isPlaceholder(certificate) || isPlaceholder(key)) {
    return { files: { certificate, key }, warnings: [] };
  }
  const describe = (ref: typeof tls.key) =>
    "file" in ref ? `file ${ref.file}` : `env ${ref.env}`;
  const check = checkCertificate({
    certificatePem: certificate,
    keyPem: key,
    domain: options.ingress.domain,
    certificateField: "ingress.tls.certificate",
    keyField: "ingress.tls.key",
    certificateSource: describe(tls.certificate),
    keySource: describe(tls.key),
  });
  if (check.errors.length > 0) throw new OptionsError(check.errors);
  return {
    files: { certificate, key },
    warnings: check.warnings,
    facts: check.facts,
  };
}

/** What verify reports about the gateway's certificate. */
export interface TlsVerifyInput {
  /** The domain. */
  domain: string;
  /** The mode. */
  mode: TlsOptions["mode"];
  /** Where the gateway Secret (and Certificate) live. */
  gatewaySecret: { namespace: string; name: string };
  /** Where the self-signed CA's Secret lives (selfSigned). */
  caNamespace?: string;
  /** The ingress address, when the Service has one. */
  address?: string;
  /** Bound of the Certificate wait, ms. */
  timeoutMs: number;
  /** Aborts the waits. */
  signal?: AbortSignal;
  /** Bound of the handshake, ms; default 3000. */
  handshakeTimeoutMs?: number;
}

/** A verify check (the engine's shape). */
export interface TlsCheck {
  /** What was checked. */
  name: string;
  /** Whether it held. */
  ok: boolean;
  /** What was seen. */
  detail?: string;
}

function conditionReady(object: KubeObject | undefined): true | string {
  if (!object) return "does not exist yet";
  const conditions = (object.status as {
    conditions?: { type?: string; status?: string; message?: string }[];
  } | undefined)?.conditions ?? [];
  const ready = conditions.find((c) => c.type === "Ready");
  if (ready?.status === "True") return true;
  return ready
    ? `Ready ${ready.status}: ${ready.message ?? ""}`
    : "no Ready condition yet";
}

function secretText(
  secret: KubeObject | undefined,
  key: string,
): string | undefined {
  const data = secret?.data as Record<string, string> | undefined;
  if (!data?.[key]) return undefined;
  return new TextDecoder().decode(
    Uint8Array.from(atob(data[key]), (c) => c.charCodeAt(0)),
  );
}

/**
 * The TLS checks of verify: the Certificate Ready (bounded wait, cert-manager
 * modes), the Secret's certificate covering the domain, and, where the gateway
 * address is reachable, a TLS handshake with SNI whose served certificate must be
 * the Secret's. Also returns the CA certificate (selfSigned) as an output.
 */
export async function tlsVerify(
  kube: KubeClient,
  input: TlsVerifyInput,
): Promise<{ checks: TlsCheck[]; outputs: Record<string, unknown> }> {
  const checks: TlsCheck[] = [];
  const outputs: Record<string, unknown> = {};
  const { namespace, name } = input.gatewaySecret;
  if (input.mode !== "secret") {
    const check = `Certificate ${namespace}/${name} Ready`;
    try {
      await kube.waitFor(
        {
          apiVersion: "cert-manager.io/v1",
          kind: "Certificate",
          namespace,
          name,
        },
        conditionReady,
        { timeoutMs: input.timeoutMs, intervalMs: 1000, signal: input.signal },
      );
      checks.push({ name: check, ok: true });
    } catch (e) {
      checks.push({ name: check, ok: false, detail: (e as Error).message });
    }
  }
  const secret = await kube.get({
    apiVersion: "v1",
    kind: "Secret",
    namespace,
    name,
  });
  const pem = secretText(secret, "tls.crt");
  const coverName =
    `Secret ${namespace}/${name} certificate covers ${input.domain}`;
  let fingerprint: string | undefined;
  if (!pem) {
    checks.push({
      name: coverName,
      ok: false,
      detail: "no tls.crt in the Secret",
    });
  } else {
    const check = checkCertificate({
      certificatePem: pem,
      domain: input.domain,
      certificateField: `Secret ${namespace}/${name} tls.crt`,
    });
    fingerprint = check.facts?.fingerprint256;
    checks.push({
      name: coverName,
      ok: check.errors.length === 0,
      detail: [
        ...check.errors.map((e) => e.message),
        ...check.warnings,
        ...(check.facts
          ? [
            `DNS names ${
              check.facts.dnsNames.join(", ")
            }; valid until ${check.facts.notAfter.toISOString()}`,
          ]
          : []),
      ].join("; "),
    });
    if (check.facts) {
      outputs.tlsCertificate = {
        dnsNames: check.facts.dnsNames,
        notAfter: check.facts.notAfter.toISOString(),
        fingerprint256: check.facts.fingerprint256,
        issuer: check.facts.issuer,
      };
    }
  }
  if (input.mode === "selfSigned" && input.caNamespace) {
    const ca = await kube.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: input.caNamespace,
      name: SELF_SIGNED_CA,
    });
    const caPem = secretText(ca, "ca.crt") ?? secretText(ca, "tls.crt");
    if (caPem) outputs.tlsCaCertificate = caPem;
  }
  checks.push(
    await handshakeCheck({
      domain: input.domain,
      address: input.address,
      expectedFingerprint: fingerprint,
      timeoutMs: input.handshakeTimeoutMs,
    }),
  );
  return { checks, outputs };
}

/** Input of {@linkcode handshakeCheck}. */
export interface HandshakeInput {
  /** The domain, sent as SNI. */
  domain: string;
  /** The gateway's address; absent when it has none reachable from here. */
  address?: string;
  /** The HTTPS port; default 443. */
  port?: number;
  /** SHA-256 fingerprint of the Secret's certificate, which must be served. */
  expectedFingerprint?: string;
  /** Bound of the handshake, ms; default 3000. */
  timeoutMs?: number;
}

/**
 * A TLS handshake with SNI against the gateway address, comparing the served
 * certificate with the Secret's. No address, or none reachable, is said in the
 * detail (and is not a failure: a test cluster has no gateway pod to answer).
 */
export async function handshakeCheck(input: HandshakeInput): Promise<TlsCheck> {
  const name =
    `gateway serves the certificate for ${input.domain} (TLS handshake with SNI)`;
  if (!input.address) {
    return {
      name,
      ok: true,
      detail:
        "not checked: the ingress Service has no external address to reach from here " +
        "(ClusterIP or NodePort; check with `curl -v https://" + input.domain +
        "/`)",
    };
  }
  const where = `${input.address}:${input.port ?? 443}`;
  let served: string;
  try {
    served = await servedFingerprint(input, input.timeoutMs ?? 3000);
  } catch (e) {
    return {
      name,
      ok: true,
      detail: `not checked: ${where} is not reachable from here (${
        (e as Error).message
      }); on a test cluster no gateway pod serves it`,
    };
  }
  const ok = input.expectedFingerprint !== undefined &&
    served === input.expectedFingerprint;
  return {
    name,
    ok,
    detail: ok
      ? `${where} served the Secret's certificate`
      : `${where} served a certificate with fingerprint ${served}, not the Secret's ${
        input.expectedFingerprint ?? "(no certificate in the Secret)"
      }`,
  };
}

/** The SHA-256 fingerprint of the certificate served for the domain (SNI). */
function servedFingerprint(
  input: HandshakeInput,
  timeoutMs: number,
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = tlsConnect({
      host: input.address,
      port: input.port ?? 443,
      servername: input.domain,
      // The served certificate is compared with the Secret's, not with a trust store:
      // a self-signed or staging chain is expected here.
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const raw = socket.getPeerCertificate(false)?.raw;
      socket.end();
      if (!raw) reject(new Error("no certificate served"));
      else resolve(new X509Certificate(raw).fingerprint256);
    });
    socket.once("error", (e: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    });
  });
}

/**
 * Verify's TLS part for the step: where the objects put the gateway Secret and the
 * CA, the ingress address (a LoadBalancer's, when assigned), then {@linkcode tlsVerify}.
 * Nothing without `ingress.tls`.
 */
export async function verifyStepTls(
  kube: KubeClient,
  options: KubeflowOptions,
  context: { objects: KubeObject[]; signal?: AbortSignal },
): Promise<{ checks: TlsCheck[]; outputs: Record<string, unknown> }> {
  const tls = options.ingress.tls;
  const domain = options.ingress.domain;
  if (!tls || !domain) return { checks: [], outputs: {} };
  const r = recognize(context.objects);
  const namespace = r.ingress?.service.namespace ?? "istio-system";
  const service = r.ingress
    ? await kube.get({
      apiVersion: "v1",
      kind: "Service",
      namespace,
      name: r.ingress.service.name,
    })
    : undefined;
  return await tlsVerify(kube, {
    domain,
    mode: tls.mode,
    gatewaySecret: { namespace, name: GATEWAY_TLS_SECRET },
    caNamespace: r.certManager?.clusterResourceNamespace ?? "cert-manager",
    address: loadBalancerAddress(service),
    timeoutMs: options.ingress.timeoutSeconds * 1000,
    signal: context.signal,
  });
}

/**
 * What the reader of a plan with `ingress.domain` should know about the recognized
 * auth proxy: oidc-authservice fetches the issuer's discovery document itself, from
 * inside the cluster.
 */
export function domainWarnings(
  options: KubeflowOptions,
  recognition: Recognition,
): string[] {
  const domain = options.ingress.domain;
  if (!domain || recognition.auth?.kind !== "oidc-authservice") return [];
  if (
    (options as { identity?: { provider?: string } }).identity?.provider ===
      "oidc"
  ) {
    return [];
  }
  return [
    `oidc-authservice reads ${options.dex.issuer}/.well-known/openid-configuration from inside the ` +
    `cluster: ${domain} must resolve there to the gateway${
      options.ingress.tls?.mode === "selfSigned"
        ? ", and authservice must trust the self-signed CA (the tlsCaCertificate output)"
        : ""
    }; authservice has no cookie-domain or Secure-cookie parameter kfplan recognizes, so its cookies stay host-only`,
  ];
}
