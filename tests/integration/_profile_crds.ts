/**
 * The Profile and PodDefault CRDs of a shared release, applied and Established, for
 * tests of the users step on a control plane without Kubeflow installed.
 *
 * @module
 */

import { SHARED_DIR } from "../_shared.ts";
import { parseAllDocuments } from "../../lib/deps.ts";
import { crdEstablished } from "../../lib/kube/wait.ts";
import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";

/** Applies `profiles.kubeflow.org` and `poddefaults.kubeflow.org` from v1.9.1 and waits until both are served. */
export async function applyProfileCrds(kube: KubeClient): Promise<void> {
  const apps = `${SHARED_DIR}/kubeflow-manifests/v1.9.1/apps`;
  for (
    const file of [
      `${apps}/profiles/upstream/crd/bases/kubeflow.org_profiles.yaml`,
      `${apps}/admission-webhook/upstream/base/crd.yaml`,
    ]
  ) {
    for (const doc of parseAllDocuments(await Deno.readTextFile(file))) {
      const crd = doc.toJS() as KubeObject | null;
      if (crd?.kind === "CustomResourceDefinition") await kube.apply(crd);
    }
  }
  for (const name of ["profiles.kubeflow.org", "poddefaults.kubeflow.org"]) {
    await kube.waitFor(
      {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        name,
      },
      crdEstablished,
      { timeoutMs: 60_000 },
    );
  }
  kube.invalidateDiscovery();
}
