/**
 * cert-manager's controller, simulated through the real API (a kwok cluster runs no
 * cert-manager pods): Issuers and ClusterIssuers become Ready; each Certificate gets
 * a signed `kubernetes.io/tls` Secret (`tls.crt` leaf then issuer, `tls.key`,
 * `ca.crt`) and a Ready condition with `notBefore`/`notAfter`, as the real controller
 * writes them.
 *
 * - `selfSigned` issuers sign the Certificate with its own key;
 * - `ca` issuers sign with the key pair of their `ca.secretName` Secret (in the
 *   cluster resource namespace for a ClusterIssuer), so a self-signed CA chain
 *   (selfSigned ClusterIssuer → CA Certificate → CA issuer → leaf) really chains;
 * - `acme` issuers: no ACME server is reachable from a test cluster, so the order
 *   is played as completed: the leaf is signed by a test CA standing in for the ACME
 *   CA ({@linkcode PLAYED_ACME_CA}), and the log says so. No challenge is answered.
 *
 * Keys and certificates are made with the `openssl` CLI (EC P-256, as
 * `sim/_certs.ts` does); {@linkcode mintCertificate} is exported for tests that need
 * certificates with given names and dates.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import { loop, type Played, simulatedLabels } from "./_loop.ts";
import { newKeyAndCsr, openssl } from "../_certs.ts";

/** Common name of the CA that stands in for an ACME CA. */
export const PLAYED_ACME_CA = "kfplan played ACME CA (no ACME server reached)";

/** Options of {@linkcode mintCertificate}. */
export interface MintOptions {
  /** Subject CN. */
  commonName: string;
  /** DNS subjectAltNames. */
  dnsNames?: string[];
  /** A CA certificate (`basicConstraints CA:TRUE`, keyCertSign). */
  isCA?: boolean;
  /** Start of validity; default one minute ago. */
  notBefore?: Date;
  /** End of validity; default 90 days from now. */
  notAfter?: Date;
  /** The signer; absent for a self-signed certificate. */
  issuer?: { certPem: string; keyPem: string };
}

/** A minted key pair and certificate, PEM. */
export interface Minted {
  /** The certificate. */
  certPem: string;
  /** Its private key (PKCS#8). */
  keyPem: string;
}

/** `YYYYMMDDHHMMSSZ`, the form `openssl ca -startdate` takes. */
function asn1Time(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z");
}

const CA_CONFIG = `[ ca ]
default_ca = CA_default
[ CA_default ]
database = index.txt
new_certs_dir = .
rand_serial = yes
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = optional
`;

/**
 * Makes an EC P-256 key and a certificate for it, self-signed or signed by
 * `issuer`, with exactly the names and validity asked for (`openssl ca`, which,
 * unlike `openssl x509` of OpenSSL 3.0, takes start and end dates).
 *
 * @example
 * ```ts
 * const ca = await mintCertificate({ commonName: "test CA", isCA: true });
 * const leaf = await mintCertificate({ commonName: "kf", dnsNames: ["kf.example.com"], issuer: ca });
 * ```
 */
export async function mintCertificate(options: MintOptions): Promise<Minted> {
  const dir = await Deno.makeTempDir({ prefix: "kfplan-sim-cert-" });
  try {
    await Deno.writeTextFile(`${dir}/ca.cnf`, CA_CONFIG);
    await Deno.writeTextFile(`${dir}/index.txt`, "");
    const ext = options.isCA
      ? [
        "basicConstraints=critical,CA:TRUE",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
      ]
      : [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
      ];
    if (options.dnsNames?.length) {
      ext.push(
        `subjectAltName=${options.dnsNames.map((d) => `DNS:${d}`).join(",")}`,
      );
    }
    await Deno.writeTextFile(`${dir}/leaf.ext`, ext.join("\n") + "\n");
    await newKeyAndCsr(
      dir,
      "leaf",
      `/CN=${options.commonName.replaceAll("/", "\\/")}`,
    );
    const signer: string[] = [];
    if (options.issuer) {
      await Deno.writeTextFile(`${dir}/issuer.crt`, options.issuer.certPem);
      await Deno.writeTextFile(`${dir}/issuer.key`, options.issuer.keyPem);
      signer.push("-cert", "issuer.crt", "-keyfile", "issuer.key");
    } else {
      signer.push("-selfsign", "-keyfile", "leaf.key");
    }
    const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
    const notAfter = options.notAfter ??
      new Date(Date.now() + 90 * 86_400_000);
    await openssl([
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      ...signer,
      "-in",
      "leaf.csr",
      "-out",
      "leaf.crt",
      "-startdate",
      asn1Time(notBefore),
      "-enddate",
      asn1Time(notAfter),
      "-extfile",
      "leaf.ext",
      "-notext",
    ], dir);
    return {
      certPem: await Deno.readTextFile(`${dir}/leaf.crt`),
      keyPem: await Deno.readTextFile(`${dir}/leaf.key`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

interface Condition {
  type?: string;
  status?: string;
}

function ready(object: KubeObject): boolean {
  const conditions =
    (object.status as { conditions?: Condition[] } | undefined)?.conditions ??
      [];
  return conditions.some((c) => c.type === "Ready" && c.status === "True");
}

function readyCondition(message: string): Record<string, unknown> {
  return {
    type: "Ready",
    status: "True",
    reason: "Ready",
    message,
    lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
}

function b64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function unb64(text: string | undefined): string | undefined {
  if (!text) return undefined;
  return new TextDecoder().decode(
    Uint8Array.from(atob(text), (c) => c.charCodeAt(0)),
  );
}

/** State the played controller keeps between rounds. */
export interface CertManagerState {
  /** The CA standing in for ACME CAs, made on first use. */
  acmeCa?: Minted;
  /** What it did, in order (e.g. `Certificate istio-system/x issued by ca`). */
  history: string[];
}

/** Options of {@linkcode certManagerRound}. */
export interface CertManagerRoundOptions {
  /** Where ClusterIssuers read their Secrets; default `cert-manager`. */
  clusterResourceNamespace?: string;
  /** One line per action. */
  onLog?: (message: string) => void;
}

interface IssuerSpec {
  selfSigned?: unknown;
  ca?: { secretName?: string };
  acme?: { server?: string; email?: string };
}

interface CertificateSpec {
  secretName?: string;
  commonName?: string;
  dnsNames?: string[];
  isCA?: boolean;
  issuerRef?: { name?: string; kind?: string; group?: string };
}

/** Marks every Issuer and ClusterIssuer Ready, as cert-manager does once it checked them. */
async function readyIssuers(
  kube: KubeClient,
  state: CertManagerState,
): Promise<void> {
  for (const kind of ["Issuer", "ClusterIssuer"]) {
    for (const issuer of await kube.list("cert-manager.io/v1", kind)) {
      if (ready(issuer)) continue;
      const spec = (issuer.spec ?? {}) as IssuerSpec;
      await kube.apply({
        apiVersion: "cert-manager.io/v1",
        kind,
        metadata: {
          name: issuer.metadata.name,
          ...(issuer.metadata.namespace
            ? { namespace: issuer.metadata.namespace }
            : {}),
        },
        status: {
          conditions: [readyCondition(
            spec.acme
              ? "The ACME account was registered with the ACME server (simulated: no ACME server reached)"
              : "Signing CA verified (simulated)",
          )],
          ...(spec.acme
            ? { acme: { uri: `${spec.acme.server}/acct/simulated` } }
            : {}),
        },
      }, { subresource: "status" });
      state.history.push(`${kind} ${issuer.metadata.name} Ready`);
    }
  }
}

/** The signer for a Certificate, or why there is none yet. */
async function signerFor(
  kube: KubeClient,
  cert: KubeObject,
  state: CertManagerState,
  crNamespace: string,
): Promise<
  { kind: "self" } | { kind: "ca" | "acme"; ca: Minted } | { wait: string }
> {
  const ref = (cert.spec as CertificateSpec).issuerRef ?? {};
  const kind = ref.kind ?? "Issuer";
  const issuer = await kube.get({
    apiVersion: "cert-manager.io/v1",
    kind,
    name: ref.name ?? "",
    ...(kind === "Issuer" ? { namespace: cert.metadata.namespace } : {}),
  });
  if (!issuer || !ready(issuer)) {
    return { wait: `${kind} ${ref.name} not Ready` };
  }
  const spec = (issuer.spec ?? {}) as IssuerSpec;
  if (spec.selfSigned !== undefined) return { kind: "self" };
  if (spec.ca?.secretName) {
    const secret = await kube.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: kind === "Issuer" ? cert.metadata.namespace : crNamespace,
      name: spec.ca.secretName,
    });
    const data = secret?.data as Record<string, string> | undefined;
    const certPem = unb64(data?.["tls.crt"]);
    const keyPem = unb64(data?.["tls.key"]);
    if (!certPem || !keyPem) {
      return { wait: `CA Secret ${spec.ca.secretName} not issued yet` };
    }
    return { kind: "ca", ca: { certPem, keyPem } };
  }
  if (spec.acme) {
    state.acmeCa ??= await mintCertificate({
      commonName: PLAYED_ACME_CA,
      isCA: true,
    });
    return { kind: "acme", ca: state.acmeCa };
  }
  return {
    wait: `${kind} ${ref.name} has no issuer type the simulation plays`,
  };
}

/** Issues one Certificate: its Secret, then its Ready status. */
async function issue(
  kube: KubeClient,
  cert: KubeObject,
  state: CertManagerState,
  options: CertManagerRoundOptions,
): Promise<void> {
  const spec = (cert.spec ?? {}) as CertificateSpec;
  const namespace = cert.metadata.namespace!;
  const secretName = spec.secretName ?? cert.metadata.name;
  const crNamespace = options.clusterResourceNamespace ?? "cert-manager";
  const signer = await signerFor(kube, cert, state, crNamespace);
  if ("wait" in signer) return;
  const minted = await mintCertificate({
    commonName: spec.commonName ?? spec.dnsNames?.[0] ?? cert.metadata.name,
    dnsNames: spec.dnsNames,
    isCA: spec.isCA,
    issuer: signer.kind === "self" ? undefined : signer.ca,
  });
  const caPem = signer.kind === "self" ? minted.certPem : signer.ca.certPem;
  const chain = signer.kind === "self"
    ? minted.certPem
    : minted.certPem + signer.ca.certPem;
  const ref = spec.issuerRef ?? {};
  await kube.apply({
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: {
      name: secretName,
      namespace,
      labels: simulatedLabels(),
      annotations: {
        "cert-manager.io/certificate-name": cert.metadata.name,
        "cert-manager.io/issuer-name": ref.name ?? "",
        "cert-manager.io/issuer-kind": ref.kind ?? "Issuer",
        "cert-manager.io/alt-names": (spec.dnsNames ?? []).join(","),
      },
    },
    data: {
      "tls.crt": b64(chain),
      "tls.key": b64(minted.keyPem),
      "ca.crt": b64(caPem),
    },
  });
  const x509 = new X509Certificate(minted.certPem);
  await kube.apply({
    apiVersion: "cert-manager.io/v1",
    kind: "Certificate",
    metadata: { name: cert.metadata.name, namespace },
    status: {
      conditions: [
        readyCondition("Certificate is up to date and has not expired"),
      ],
      notBefore: new Date(x509.validFrom).toISOString().replace(/\.\d+Z$/, "Z"),
      notAfter: new Date(x509.validTo).toISOString().replace(/\.\d+Z$/, "Z"),
      revision: 1,
    },
  }, { subresource: "status" });
  const line = `Certificate ${namespace}/${cert.metadata.name} issued by ${
    signer.kind === "self" ? "selfSigned" : signer.kind
  } ${ref.kind ?? "Issuer"} ${ref.name}${
    signer.kind === "acme"
      ? " (ACME order played as completed: no ACME server is reachable from the test cluster)"
      : ""
  }`;
  state.history.push(line);
  options.onLog?.(`${line} (simulated)`);
}

/**
 * One round: issuers Ready, then every Certificate that is not Ready or whose Secret
 * is gone gets issued. Nothing happens while the cluster does not serve
 * cert-manager's API (it is not installed yet). Returns the Certificates issued.
 */
export async function certManagerRound(
  kube: KubeClient,
  state: CertManagerState,
  options: CertManagerRoundOptions = {},
): Promise<number> {
  if (!await kube.resourceFor("cert-manager.io/v1", "Certificate")) {
    // Discovery is cached: look again next round for a CRD that appears later.
    kube.invalidateDiscovery();
    return 0;
  }
  await readyIssuers(kube, state);
  let issued = 0;
  for (const cert of await kube.list("cert-manager.io/v1", "Certificate")) {
    const secretName = (cert.spec as CertificateSpec | undefined)?.secretName ??
      cert.metadata.name;
    const secret = await kube.get({
      apiVersion: "v1",
      kind: "Secret",
      namespace: cert.metadata.namespace,
      name: secretName,
    });
    if (ready(cert) && secret) continue;
    const before = state.history.length;
    await issue(kube, cert, state, options);
    if (state.history.length > before) issued++;
  }
  return issued;
}

/** Options of {@linkcode playCertManager}. */
export interface PlayCertManagerOptions extends CertManagerRoundOptions {
  /** Pause between rounds; default 300 ms. */
  intervalMs?: number;
}

/**
 * Runs {@linkcode certManagerRound} in the background until stopped; `history`
 * lists what it did.
 */
export function playCertManager(
  kube: KubeClient,
  options: PlayCertManagerOptions = {},
): Played {
  const state: CertManagerState = { history: [] };
  const stop = loop(async () => {
    await certManagerRound(kube, state, options);
  }, {
    intervalMs: options.intervalMs ?? 300,
    onLog: options.onLog,
    name: "cert-manager",
  });
  return { stop, history: state.history };
}
