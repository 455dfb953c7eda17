/**
 * The gateway certificate checks, on certificates minted in the test (openssl, EC
 * P-256; no private key is committed): PEM parsing, key match, SAN coverage with RFC
 * 6125 wildcards, validity now, and the 30-day warning.
 */
import { assert, assertEquals, assertMatch } from "../../_assert.ts";
import {
  type CertificateCheckInput,
  checkCertificate,
  dnsNamesOf,
  parseCertificates,
  sanCovers,
} from "../../../lib/steps/kubeflow/certificates.ts";
import {
  mintCertificate,
  type Minted,
} from "../../../sim/controllers/cert_manager.ts";

const DOMAIN = "kubeflow.example.com";
const DAY = 86_400_000;

Deno.test("sanCovers follows RFC 6125 wildcard rules", () => {
  const cases: [string, string, boolean][] = [
    [DOMAIN, DOMAIN, true],
    ["KUBEFLOW.example.com", DOMAIN, true],
    ["*.example.com", DOMAIN, true],
    ["*.example.com", "example.com", false],
    ["*.example.com", "a.kubeflow.example.com", false],
    ["kube*.example.com", DOMAIN, false],
    ["*.com", "example.com", false],
    ["*.*.com", "a.example.com", false],
    ["*.example.com", "xn--bcher-kva.example.com", false],
    ["other.example.com", DOMAIN, false],
  ];
  for (const [san, host, want] of cases) {
    assertEquals(sanCovers(san, host), want, `${san} vs ${host}`);
  }
});

/** One CA and the certificates the tests need, minted once. */
async function minted(): Promise<Record<string, Minted>> {
  const ca = await mintCertificate({ commonName: "test CA", isCA: true });
  const now = Date.now();
  const [good, wildcard, other, expired, soon, future] = await Promise.all([
    mintCertificate({ commonName: DOMAIN, dnsNames: [DOMAIN], issuer: ca }),
    mintCertificate({
      commonName: "w",
      dnsNames: ["*.example.com"],
      issuer: ca,
    }),
    // The CN is the domain, the SANs are not: browsers ignore the CN.
    mintCertificate({
      commonName: DOMAIN,
      dnsNames: ["other.example.com"],
      issuer: ca,
    }),
    mintCertificate({
      commonName: DOMAIN,
      dnsNames: [DOMAIN],
      issuer: ca,
      notBefore: new Date(now - 90 * DAY),
      notAfter: new Date(now - DAY),
    }),
    mintCertificate({
      commonName: DOMAIN,
      dnsNames: [DOMAIN],
      issuer: ca,
      notAfter: new Date(now + 10 * DAY),
    }),
    mintCertificate({
      commonName: DOMAIN,
      dnsNames: [DOMAIN],
      issuer: ca,
      notBefore: new Date(now + 5 * DAY),
      notAfter: new Date(now + 90 * DAY),
    }),
  ]);
  return { ca, good, wildcard, other, expired, soon, future };
}

function input(
  cert: Minted,
  key: string = cert.keyPem,
): CertificateCheckInput {
  return {
    certificatePem: cert.certPem,
    keyPem: key,
    domain: DOMAIN,
    certificateField: "ingress.tls.certificate",
    keyField: "ingress.tls.key",
    certificateSource: "file /etc/tls/tls.crt",
    keySource: "file /etc/tls/tls.key",
  };
}

Deno.test("checkCertificate: each mistake is named on its field, never with the key", async () => {
  const m = await minted();
  const good = checkCertificate(input(m.good));
  assertEquals(good.errors, []);
  assertEquals(good.warnings, []);
  assertEquals(good.facts?.dnsNames, [DOMAIN]);

  // A chain (leaf first) is read leaf first.
  const chain = checkCertificate({
    ...input(m.good),
    certificatePem: m.good.certPem + m.ca.certPem,
  });
  assertEquals(chain.errors, []);
  assertEquals(parseCertificates(m.good.certPem + m.ca.certPem).length, 2);

  assertEquals(checkCertificate(input(m.wildcard)).errors, []);

  const notCovered = checkCertificate(input(m.other)).errors;
  assertEquals(notCovered.map((e) => e.path), ["ingress.tls.certificate"]);
  assertMatch(
    notCovered[0].message,
    /file \/etc\/tls\/tls\.crt\) does not cover ingress\.domain "kubeflow\.example\.com": its DNS names are other\.example\.com/,
  );

  const mismatch = checkCertificate(input(m.good, m.other.keyPem)).errors;
  assertEquals(mismatch.map((e) => e.path), ["ingress.tls.key"]);
  assertMatch(mismatch[0].message, /does not match the certificate/);
  assert(!mismatch[0].message.includes("PRIVATE KEY-----\n"));

  const expired = checkCertificate(input(m.expired)).errors;
  assertEquals(expired.map((e) => e.path), ["ingress.tls.certificate"]);
  assertMatch(expired[0].message, /expired on \d{4}-/);

  const future = checkCertificate(input(m.future)).errors;
  assertMatch(future[0].message, /is not valid before/);

  const soon = checkCertificate(input(m.soon));
  assertEquals(soon.errors, []);
  assertEquals(soon.warnings.length, 1);
  assertMatch(soon.warnings[0], /expires in (9|10) day\(s\)/);

  const notPem = checkCertificate({
    ...input(m.good),
    certificatePem: "not a certificate",
  }).errors;
  assertEquals(notPem.map((e) => e.path), ["ingress.tls.certificate"]);
  assertMatch(notPem[0].message, /holds no PEM certificate/);

  const badKey = checkCertificate(
    input(
      m.good,
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    ),
  ).errors;
  assertEquals(badKey.map((e) => e.path), ["ingress.tls.key"]);
  assertMatch(badKey[0].message, /is not a PEM private key/);
  assert(!badKey[0].message.includes("AAAA"));
});

Deno.test("dnsNamesOf reads the SAN DNS entries only", async () => {
  const c = await mintCertificate({
    commonName: "x",
    dnsNames: ["A.example.com", "b.example.com"],
  });
  assertEquals(dnsNamesOf(parseCertificates(c.certPem)[0]), [
    "a.example.com",
    "b.example.com",
  ]);
});
