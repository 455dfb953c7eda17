/**
 * Checks of a TLS certificate and key for the gateway, with `node:crypto`'s
 * `X509Certificate` and `createPrivateKey` (no hand parsing): both parse as PEM, the
 * key belongs to the certificate, the certificate's DNS SANs cover the domain
 * (wildcards as RFC 6125 allows them), and it is valid now. Messages name the field
 * and the file, never the key's contents.
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";

/** Days before expiry from which a certificate draws a warning. */
export const EXPIRY_WARNING_DAYS = 30;

const PEM_CERT =
  /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Facts about a parsed certificate (public, safe to show). */
export interface CertificateFacts {
  /** The subject, e.g. `CN=kubeflow.example.com`. */
  subject: string;
  /** The issuer's subject. */
  issuer: string;
  /** DNS names of the subjectAltName extension. */
  dnsNames: string[];
  /** Start of validity. */
  notBefore: Date;
  /** End of validity. */
  notAfter: Date;
  /** SHA-256 fingerprint, colon-separated hex. */
  fingerprint256: string;
  /** Whether it is a CA certificate. */
  ca: boolean;
}

/** Parses the certificates of a PEM bundle, leaf first. Throws when there is none. */
export function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    throw new Error("holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw new Error(
        `certificate ${i + 1} of the bundle does not parse: ${
          (e as Error).message
        }`,
      );
    }
  });
}

/** The DNS names of a certificate's subjectAltName (IP and other names left out). */
export function dnsNamesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? "").split(/,\s*/).flatMap((entry) => {
    const m = entry.match(/^DNS:(.+)$/);
    return m ? [m[1].trim().toLowerCase()] : [];
  });
}

/** What a certificate says about itself. */
export function certificateFacts(cert: X509Certificate): CertificateFacts {
  return {
    subject: cert.subject.replaceAll("\n", ", "),
    issuer: cert.issuer.replaceAll("\n", ", "),
    dnsNames: dnsNamesOf(cert),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    fingerprint256: cert.fingerprint256,
    ca: cert.ca,
  };
}

/**
 * Whether a SAN DNS name covers a host, per RFC 6125 section 6.4.3 as browsers apply
 * it: exact (case-insensitive) match, or a wildcard that is the whole left-most
 * label (`*.example.com`) standing for exactly one label; no partial-label
 * wildcards, none below a public two-label suffix (`*.com`), none in IDN A-labels.
 *
 * @example
 * ```ts
 * sanCovers("*.example.com", "kubeflow.example.com"); // true
 * sanCovers("*.example.com", "a.kubeflow.example.com"); // false
 * ```
 */
export function sanCovers(san: string, host: string): boolean {
  const pattern = san.toLowerCase().replace(/\.$/, "");
  const name = host.toLowerCase().replace(/\.$/, "");
  if (!pattern.includes("*")) return pattern === name;
  const [first, ...rest] = pattern.split(".");
  if (first !== "*" || rest.length < 2 || rest.some((l) => l.includes("*"))) {
    return false;
  }
  const labels = name.split(".");
  if (labels.length !== rest.length + 1) return false;
  if (labels[0].startsWith("xn--") || labels[0] === "") return false;
  return labels.slice(1).join(".") === rest.join(".");
}

/** Input of {@linkcode checkCertificate}. */
export interface CertificateCheckInput {
  /** PEM text of the certificate (a chain, leaf first). */
  certificatePem: string;
  /** PEM text of the private key; absent when only the certificate is checked. */
  keyPem?: string;
  /** The domain the certificate must cover. */
  domain: string;
  /** Option path of the certificate, e.g. `ingress.tls.certificate`. */
  certificateField: string;
  /** Option path of the key. */
  keyField?: string;
  /** Where each came from, for messages (`file /etc/tls/tls.crt`). */
  certificateSource?: string;
  /** Where the key came from. */
  keySource?: string;
  /** The time to judge validity at; default now. */
  now?: Date;
}

/** A problem, on a field. */
export interface CertificateIssue {
  /** The option path. */
  path: string;
  /** What is wrong and what would be valid. */
  message: string;
}

/** What {@linkcode checkCertificate} found. */
export interface CertificateCheck {
  /** Errors: the certificate cannot serve the domain. */
  errors: CertificateIssue[];
  /** Warnings (expiry within {@linkcode EXPIRY_WARNING_DAYS} days). */
  warnings: string[];
  /** The leaf's facts, when it parsed. */
  facts?: CertificateFacts;
}

function where(field: string, source: string | undefined): string {
  return source ? `${field} (${source})` : field;
}

/**
 * Checks a certificate (and key) for serving `domain`: both parse as PEM, the key
 * matches the leaf, the leaf's SANs cover the domain, it is valid at `now`; warns
 * when it expires within {@linkcode EXPIRY_WARNING_DAYS} days.
 *
 * @example
 * ```ts
 * const { errors, warnings } = checkCertificate({
 *   certificatePem, keyPem, domain: "kubeflow.example.com",
 *   certificateField: "ingress.tls.certificate", keyField: "ingress.tls.key",
 * });
 * ```
 */
export function checkCertificate(
  input: CertificateCheckInput,
): CertificateCheck {
  const errors: CertificateIssue[] = [];
  const warnings: string[] = [];
  const certName = where(input.certificateField, input.certificateSource);
  let leaf: X509Certificate;
  try {
    leaf = parseCertificates(input.certificatePem)[0];
  } catch (e) {
    errors.push({
      path: input.certificateField,
      message: `${certName} ${
        (e as Error).message
      }: give the PEM certificate (chain, leaf first)`,
    });
    return { errors, warnings };
  }
  const facts = certificateFacts(leaf);
  if (input.keyPem !== undefined && input.keyField) {
    const keyName = where(input.keyField, input.keySource);
    try {
      const key = createPrivateKey(input.keyPem);
      if (!leaf.checkPrivateKey(key)) {
        errors.push({
          path: input.keyField,
          message:
            `${keyName} does not match the certificate ${certName} (subject ${facts.subject}): ` +
            "give the private key the certificate was issued for",
        });
      }
    } catch {
      errors.push({
        path: input.keyField,
        message:
          `${keyName} is not a PEM private key (-----BEGIN PRIVATE KEY-----, RSA or EC, unencrypted)`,
      });
    }
  }
  if (!facts.dnsNames.some((san) => sanCovers(san, input.domain))) {
    errors.push({
      path: input.certificateField,
      message: `${certName} does not cover ingress.domain "${input.domain}": ` +
        `its DNS names are ${
          facts.dnsNames.length ? facts.dnsNames.join(", ") : "none"
        } (browsers ignore the subject CN); ` +
        `give a certificate whose subjectAltName has ${input.domain} or *.${
          input.domain.split(".").slice(1).join(".")
        }`,
    });
  }
  const now = input.now ?? new Date();
  if (facts.notAfter.getTime() <= now.getTime()) {
    errors.push({
      path: input.certificateField,
      message:
        `${certName} expired on ${facts.notAfter.toISOString()}: renew it`,
    });
  } else if (facts.notBefore.getTime() > now.getTime()) {
    errors.push({
      path: input.certificateField,
      message:
        `${certName} is not valid before ${facts.notBefore.toISOString()}`,
    });
  } else {
    const days = (facts.notAfter.getTime() - now.getTime()) / 86_400_000;
    if (days < EXPIRY_WARNING_DAYS) {
      warnings.push(
        `${certName} expires in ${
          Math.floor(days)
        } day(s), on ${facts.notAfter.toISOString()}: ` +
          "renew it soon",
      );
    }
  }
  return { errors, warnings, facts };
}
