/**
 * The corpus's control plane: a private one with the audit log on, and a kubeconfig
 * for a user of its own (`kfplan-corpus`, in `system:masters`). The harness's admin
 * user is shared by the controller-manager, the scheduler and kwok, which write all
 * the time; a separate user makes every write in the audit log attributable to the
 * command under test.
 *
 * @module
 */

import { join } from "node:path";
import {
  type ClusterHandle,
  issueCert,
  startCluster,
} from "../cluster/harness.ts";

/** The user kfplan connects as in the corpus. */
export const CORPUS_USER = "kfplan-corpus";

/** A running corpus control plane. */
export interface CorpusCluster {
  /** The control plane (admin client, audit log path, stop). */
  handle: ClusterHandle;
  /** Kubeconfig of {@linkcode CORPUS_USER}. */
  kubeconfig: string;
  /** The API server's audit log. */
  auditLog: string;
}

/**
 * Starts the control plane with the audit log on and writes the corpus user's
 * kubeconfig into its directory.
 */
export async function startCorpusCluster(): Promise<CorpusCluster> {
  const handle = await startCluster({ auditLog: true });
  try {
    if (!handle.auditLog) {
      throw new Error("startCluster({ auditLog: true }) returned no audit log");
    }
    const pki = join(handle.dir, "pki");
    const cert = await issueCert(
      { caCert: join(pki, "ca.crt"), caKey: join(pki, "ca.key") },
      { dir: pki, name: CORPUS_USER },
      {
        commonName: CORPUS_USER,
        organization: "system:masters",
        usage: ["client"],
      },
    );
    const kubeconfig = join(handle.dir, `${CORPUS_USER}.kubeconfig`);
    const b64 = async (path: string) => btoa(await Deno.readTextFile(path));
    await Deno.writeTextFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{
          name: "corpus",
          cluster: {
            server: handle.server,
            "certificate-authority-data": await b64(join(pki, "ca.crt")),
          },
        }],
        users: [{
          name: CORPUS_USER,
          user: {
            "client-certificate-data": await b64(cert.cert),
            "client-key-data": await b64(cert.key),
          },
        }],
        contexts: [{
          name: "corpus",
          context: { cluster: "corpus", user: CORPUS_USER },
        }],
        "current-context": "corpus",
      }) + "\n",
    );
    return { handle, kubeconfig, auditLog: handle.auditLog };
  } catch (e) {
    await handle.stop();
    throw e;
  }
}
