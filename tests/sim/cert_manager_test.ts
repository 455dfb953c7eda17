/**
 * The played cert-manager controller against a real API server: issuers become
 * Ready, a self-signed CA chain really chains (the leaf verifies against the CA the
 * CA Certificate produced), an ACME Certificate is issued by the stand-in CA with
 * the log saying the order was played, and a Certificate whose issuer is missing
 * stays not Ready.
 */
import { X509Certificate } from "node:crypto";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import {
  certManagerRound,
  type CertManagerState,
  PLAYED_ACME_CA,
  simClient,
  startCluster,
} from "../../sim/mod.ts";
import { testCrd } from "../_crds.ts";

async function served(kube: KubeClient, kind: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    kube.invalidateDiscovery();
    if (await kube.resourceFor("cert-manager.io/v1", kind)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${kind} not served after 30 s`);
}

function cert(
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

function ready(o: KubeObject | undefined): string | undefined {
  return (o?.status as {
    conditions?: { type: string; status: string }[];
  } | undefined)?.conditions?.find((c) => c.type === "Ready")?.status;
}

async function tlsSecret(
  kube: KubeClient,
  namespace: string,
  name: string,
): Promise<{ type?: string; crt: X509Certificate; ca: X509Certificate }> {
  const s = await kube.get({
    apiVersion: "v1",
    kind: "Secret",
    namespace,
    name,
  });
  const data = s?.data as Record<string, string>;
  return {
    type: s?.type as string | undefined,
    crt: new X509Certificate(atob(data["tls.crt"])),
    ca: new X509Certificate(atob(data["ca.crt"])),
  };
}

Deno.test({
  name:
    "played cert-manager: issuers Ready, a self-signed CA chain that chains, an ACME order played as completed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await startCluster({ nodes: [{ name: "kwok-node-0" }] });
    const kube = simClient(cluster.kubeconfig);
    const admin = cluster.kube;
    try {
      const state: CertManagerState = { history: [] };
      assertEquals(
        await certManagerRound(kube, state),
        0,
        "no cert-manager API, nothing to do",
      );
      for (
        const [kind, scope] of [
          ["Certificate", "Namespaced"],
          ["Issuer", "Namespaced"],
          ["ClusterIssuer", "Cluster"],
        ] as const
      ) {
        await admin.apply(
          testCrd("cert-manager.io", kind, { scope, statusSubresource: true }),
        );
        await served(admin, kind);
      }
      const cm = await cluster.namespace("cert-manager");
      const gw = await cluster.namespace("gw");
      const clusterIssuer = (name: string, spec: unknown): KubeObject => ({
        apiVersion: "cert-manager.io/v1",
        kind: "ClusterIssuer",
        metadata: { name },
        spec,
      });
      const ref = (name: string) => ({
        name,
        kind: "ClusterIssuer",
        group: "cert-manager.io",
      });
      await admin.apply(clusterIssuer("t-selfsigned", { selfSigned: {} }));
      await admin.apply(clusterIssuer("t-ca", { ca: { secretName: "t-ca" } }));
      await admin.apply(clusterIssuer("t-acme", {
        acme: {
          server: "https://acme-staging-v02.api.letsencrypt.org/directory",
          email: "ops@example.org",
        },
      }));
      await admin.apply(cert(cm, "t-ca", {
        isCA: true,
        commonName: "test CA",
        issuerRef: ref("t-selfsigned"),
      }));
      await admin.apply(cert(gw, "leaf", {
        dnsNames: ["kf.example.org"],
        issuerRef: ref("t-ca"),
      }));
      await admin.apply(cert(gw, "acme", {
        dnsNames: ["kf.example.org"],
        issuerRef: ref("t-acme"),
      }));
      await admin.apply(cert(gw, "orphan", {
        dnsNames: ["kf.example.org"],
        issuerRef: ref("does-not-exist"),
      }));
      // Round one issues the CA and the ACME leaf; the CA-signed leaf waits for
      // the CA's Secret, which it finds in round two.
      let issued = 0;
      for (let round = 0; round < 3; round++) {
        issued += await certManagerRound(kube, state, {
          clusterResourceNamespace: cm,
        });
      }
      assertEquals(issued, 3, state.history.join("\n"));
      for (const name of ["t-selfsigned", "t-ca", "t-acme"]) {
        assertEquals(
          ready(
            await admin.get({
              apiVersion: "cert-manager.io/v1",
              kind: "ClusterIssuer",
              name,
            }),
          ),
          "True",
          name,
        );
      }
      const ca = await tlsSecret(admin, cm, "t-ca");
      assertEquals(ca.type, "kubernetes.io/tls");
      assert(ca.crt.ca, "the CA Certificate is a CA");
      const leaf = await tlsSecret(admin, gw, "leaf");
      assert(
        leaf.crt.verify(ca.crt.publicKey),
        "the leaf is signed by the CA",
      );
      assertEquals(leaf.ca.fingerprint256, ca.crt.fingerprint256);
      assertEquals(leaf.crt.subjectAltName, "DNS:kf.example.org");
      const acme = await tlsSecret(admin, gw, "acme");
      assertMatch(acme.crt.issuer, new RegExp(PLAYED_ACME_CA.slice(0, 20)));
      assert(
        state.history.some((h) =>
          h.startsWith(`Certificate ${gw}/acme issued by acme`) &&
          h.includes("ACME order played as completed")
        ),
        state.history.join("\n"),
      );
      for (const name of ["leaf", "acme"]) {
        const c = await admin.get({
          apiVersion: "cert-manager.io/v1",
          kind: "Certificate",
          namespace: gw,
          name,
        });
        assertEquals(ready(c), "True", name);
        assert((c?.status as { notAfter?: string }).notAfter);
      }
      const orphan = await admin.get({
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        namespace: gw,
        name: "orphan",
      });
      assertEquals(ready(orphan), undefined, "no issuer, not Ready");
      assertEquals(
        await admin.get({
          apiVersion: "v1",
          kind: "Secret",
          namespace: gw,
          name: "orphan",
        }),
        undefined,
      );
      // Nothing to do once everything is issued.
      assertEquals(
        await certManagerRound(kube, state, { clusterResourceNamespace: cm }),
        0,
      );
    } finally {
      kube.close();
      await cluster.stop();
    }
  },
});
