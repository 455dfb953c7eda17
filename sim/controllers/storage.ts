/**
 * A dynamic volume provisioner, simulated through the real API: a Pending claim of a
 * StorageClass this provisioner serves gets a PersistentVolume of the claimed size
 * with a `claimRef`, and the real PV controller binds the two. By default it serves
 * the provisioner of the cluster's default StorageClass (whatever that is: the NFS
 * subdir provisioner of the example, say), as that provisioner would once running.
 * Volumes it made that are Released under reclaim policy `Delete` are deleted, as an
 * external provisioner does.
 *
 * @module
 */

import type { KubeClient, KubeObject } from "../../lib/kube/types.ts";
import {
  loop,
  type Played,
  SIMULATED_LABEL,
  simulatedLabels,
} from "./_loop.ts";

const DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class";
const SELECTED_NODE = "volume.kubernetes.io/selected-node";

/** Options of {@linkcode provisionerRound}. */
export interface ProvisionerOptions {
  /** The provisioner served; default that of the default StorageClass. */
  provisioner?: string;
  /** Serve only this StorageClass; default every class of the provisioner. */
  storageClass?: string;
  /** Volumes as NFS exports `<path>/<ns>-<claim>-<pv>` of `server`; default hostPath. */
  nfs?: { server: string; path: string };
  /** Receives a line per volume provisioned or deleted. */
  onLog?: (message: string) => void;
}

interface StorageClass extends KubeObject {
  provisioner?: string;
  reclaimPolicy?: string;
  volumeBindingMode?: string;
  mountOptions?: string[];
}

interface ClaimSpec {
  storageClassName?: string;
  accessModes?: string[];
  volumeName?: string;
  volumeMode?: string;
  resources?: { requests?: { storage?: string } };
}

/** The StorageClasses served under `options`, by name. */
async function servedClasses(
  kube: KubeClient,
  options: ProvisionerOptions,
): Promise<Map<string, StorageClass>> {
  const classes = await kube.list(
    "storage.k8s.io/v1",
    "StorageClass",
  ) as StorageClass[];
  const provisioner = options.provisioner ??
    classes.find((c) => c.metadata.annotations?.[DEFAULT_CLASS] === "true")
      ?.provisioner;
  const served = new Map<string, StorageClass>();
  if (!provisioner || provisioner === "kubernetes.io/no-provisioner") {
    return served;
  }
  for (const c of classes) {
    if (c.provisioner !== provisioner) continue;
    if (options.storageClass && c.metadata.name !== options.storageClass) {
      continue;
    }
    served.set(c.metadata.name, c);
  }
  return served;
}

/** The PersistentVolume the provisioner makes for `pvc` of class `sc`. */
function volumeFor(
  pvc: KubeObject,
  sc: StorageClass,
  options: ProvisionerOptions,
): KubeObject {
  const spec = pvc.spec as ClaimSpec;
  const name = `pvc-${pvc.metadata.uid}`;
  const where = `${pvc.metadata.namespace}-${pvc.metadata.name}-${name}`;
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: {
      name,
      labels: simulatedLabels(),
      annotations: {
        "pv.kubernetes.io/provisioned-by": String(sc.provisioner),
      },
    },
    spec: {
      // What the claim asks for: a smaller volume would not bind.
      capacity: { storage: spec.resources?.requests?.storage ?? "1Mi" },
      accessModes: spec.accessModes ?? ["ReadWriteOnce"],
      ...(spec.volumeMode ? { volumeMode: spec.volumeMode } : {}),
      storageClassName: sc.metadata.name,
      persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? "Delete",
      ...(sc.mountOptions ? { mountOptions: sc.mountOptions } : {}),
      ...(options.nfs
        ? {
          nfs: {
            server: options.nfs.server,
            path: `${options.nfs.path}/${where}`,
          },
        }
        : { hostPath: { path: `/var/lib/kfplan-sim/volumes/${where}` } }),
      claimRef: {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        namespace: pvc.metadata.namespace,
        name: pvc.metadata.name,
        uid: pvc.metadata.uid,
      },
    },
  };
}

/**
 * One round of the provisioner: a volume for every Pending claim of a served class
 * (for `WaitForFirstConsumer` classes once the scheduler picked a node), and deletion
 * of its Released volumes under policy `Delete`. Returns the volumes it created.
 */
export async function provisionerRound(
  kube: KubeClient,
  options: ProvisionerOptions = {},
): Promise<string[]> {
  const classes = await servedClasses(kube, options);
  const created: string[] = [];
  if (classes.size === 0) return created;
  const volumes = await kube.list("v1", "PersistentVolume");
  const existing = new Set(volumes.map((v) => v.metadata.name));
  for (const pvc of await kube.list("v1", "PersistentVolumeClaim")) {
    const spec = pvc.spec as ClaimSpec;
    const sc = classes.get(spec.storageClassName ?? "");
    if (!sc || spec.volumeName) continue;
    if (
      sc.volumeBindingMode === "WaitForFirstConsumer" &&
      !pvc.metadata.annotations?.[SELECTED_NODE]
    ) continue;
    const pv = volumeFor(pvc, sc, options);
    if (existing.has(pv.metadata.name)) continue; // the PV controller binds it
    await kube.apply(pv);
    created.push(pv.metadata.name);
    options.onLog?.(
      `provisioned PersistentVolume ${pv.metadata.name} for claim ${pvc.metadata.namespace}/${pvc.metadata.name} (${sc.metadata.name}, simulated)`,
    );
  }
  for (const pv of volumes) {
    if (pv.metadata.labels?.[SIMULATED_LABEL] !== "true") continue;
    const spec = pv.spec as { persistentVolumeReclaimPolicy?: string };
    const phase = (pv.status as { phase?: string } | undefined)?.phase;
    if (
      phase === "Released" && spec.persistentVolumeReclaimPolicy === "Delete"
    ) {
      await kube.delete({
        apiVersion: "v1",
        kind: "PersistentVolume",
        name: pv.metadata.name,
      }).catch(() => false);
      options.onLog?.(
        `deleted released PersistentVolume ${pv.metadata.name} (simulated)`,
      );
    }
  }
  return created;
}

/** Runs {@linkcode provisionerRound} every 200 ms until stopped. */
export function playProvisioner(
  kube: KubeClient,
  options: ProvisionerOptions = {},
): Played {
  return {
    stop: loop(async () => {
      await provisionerRound(kube, options);
    }, { name: "simulated provisioner", onLog: options.onLog }),
    history: [],
  };
}

/**
 * Plays the NFS subdir provisioner for one class: every Pending PVC of `storageClass`
 * gets a PersistentVolume with an NFS source and a `claimRef`; the real PV controller
 * binds. Stopping it deletes the volumes it made (nothing else would).
 */
export function playNfsProvisioner(
  kube: KubeClient,
  options: {
    storageClass: string;
    provisioner: string;
    server: string;
    path: string;
  },
): () => Promise<void> {
  const created = new Set<string>();
  const stop = loop(async () => {
    const made = await provisionerRound(kube, {
      provisioner: options.provisioner,
      storageClass: options.storageClass,
      nfs: { server: options.server, path: options.path },
    });
    for (const name of made) created.add(name);
  });
  return async () => {
    await stop();
    for (const name of created) {
      await kube.delete({ apiVersion: "v1", kind: "PersistentVolume", name })
        .catch(() => false);
    }
  };
}

/**
 * A default StorageClass (provisioner `kfplan.test/static`, policy `Retain`) and
 * `count` static 50Gi PersistentVolumes the PV controller binds claims to: storage
 * for a scenario that does not install a provisioner of its own.
 */
export async function provideStorage(
  kube: KubeClient,
  count = 6,
): Promise<void> {
  await kube.apply({
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: {
      name: "kfplan-test-static",
      annotations: { [DEFAULT_CLASS]: "true" },
    },
    provisioner: "kfplan.test/static",
    volumeBindingMode: "Immediate",
    reclaimPolicy: "Retain",
  });
  for (let i = 0; i < count; i++) {
    await kube.apply({
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: `kfplan-test-pv-${i}` },
      spec: {
        capacity: { storage: "50Gi" },
        accessModes: ["ReadWriteOnce"],
        storageClassName: "kfplan-test-static",
        persistentVolumeReclaimPolicy: "Retain",
        hostPath: { path: `/tmp/kfplan-test-pv-${i}` },
      },
    });
  }
}
