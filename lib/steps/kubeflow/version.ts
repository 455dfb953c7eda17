/**
 * The Kubeflow release a checkout holds, read from what it renders (the tags of
 * Kubeflow's own component images, see `recognize.ts`), and the one data table of
 * facts a tree cannot tell: the Kubernetes versions each release line supports.
 *
 * No code here enumerates releases or tree layouts: a release line missing from
 * {@linkcode RELEASE_FACTS} plans with a warning, and the removed-API preflight,
 * object by object, decides whether it fits the cluster.
 *
 * @module
 */

import type { KubeClient, KubeObject } from "../../kube/types.ts";
import { recognize, releaseLine } from "./recognize.ts";

/** The kubeflow/manifests releases kfplan's tests install or plan (`../shared`). */
export const KUBEFLOW_VERSIONS = [
  "v1.5.0",
  "v1.6.1",
  "v1.7.0",
  "v1.9.1",
  "v1.10.2",
  "v1.11.0",
] as const;

/** A release tag the tests use; any `vX.Y[.Z]` string is accepted as `version`. */
export type KubeflowVersion = typeof KUBEFLOW_VERSIONS[number];

/** The authentication proxy a release deploys, as recognized from the render. */
export type AuthStack = "oidc-authservice" | "oauth2-proxy";

/** Facts about one release line that the rendered tree cannot tell. */
export interface ReleaseFacts {
  /** Lowest and highest Kubernetes minor (1.x) the release line supports; `max` open when unknown. */
  kubernetes: { min: number; max?: number };
  /** Where the range comes from. */
  source: string;
}

/**
 * The one table of facts a tree cannot tell, by release line. Sources: each
 * release's README "Prerequisites" (v1.5 to v1.7, in the checkouts), the release
 * notes at https://github.com/kubeflow/manifests/releases (v1.8 to v1.10), and the
 * v1.11 README ("targets Kubernetes version 1.34+").
 */
export const RELEASE_FACTS: Readonly<Record<string, ReleaseFacts>> = {
  "v1.5": {
    kubernetes: { min: 19, max: 21 },
    source: "README prerequisites: Kubernetes up to 1.21",
  },
  "v1.6": {
    kubernetes: { min: 20, max: 22 },
    source: "README prerequisites: Kubernetes up to 1.22",
  },
  "v1.7": {
    kubernetes: { min: 24, max: 25 },
    source: "README prerequisites: Kubernetes up to 1.25",
  },
  "v1.8": {
    kubernetes: { min: 25, max: 26 },
    source: "release notes v1.8.0: tested on Kubernetes 1.25 and 1.26",
  },
  "v1.9": {
    kubernetes: { min: 27, max: 31 },
    source: "release notes v1.9: Kubernetes 1.27 to 1.31",
  },
  "v1.10": {
    kubernetes: { min: 29, max: 33 },
    source: "release notes v1.10: Kubernetes 1.29 to 1.33",
  },
  "v1.11": {
    kubernetes: { min: 34 },
    source: "README: targets Kubernetes version 1.34+",
  },
};

/** What kfplan knows about a release (from the table), keyed by what was recognized. */
export interface ReleaseInfo {
  /** The version the plan names: the stated `version`, else the recognized line (`v1.10`). */
  version: string;
  /** The release line, e.g. `v1.10`. */
  line: string;
  /** The auth proxy the tree deploys, when one was recognized. */
  auth?: AuthStack;
  /** Supported Kubernetes, from {@linkcode RELEASE_FACTS}; absent for an unlisted line. */
  kubernetes?: { min: number; max?: number };
  /** Source of the Kubernetes range. */
  source?: string;
}

/**
 * Facts about a release from {@linkcode RELEASE_FACTS} (`kubernetes` absent for a
 * line the table does not list).
 *
 * @example
 * ```ts
 * releaseInfo("v1.10.2").kubernetes; // { min: 29, max: 33 }
 * ```
 */
export function releaseInfo(version: string): ReleaseInfo {
  const line = releaseLine(version);
  const facts = RELEASE_FACTS[line];
  return {
    version,
    line,
    ...(facts ? { kubernetes: facts.kubernetes, source: facts.source } : {}),
  };
}

/** Raised when a tree renders nothing kfplan recognizes as Kubeflow. */
export class ManifestsTreeError extends Error {
  /** Creates the error; `message` says what was rendered and what was missing. */
  constructor(message: string) {
    super(message);
    this.name = "ManifestsTreeError";
  }
}

/** The release recognized in a checkout, for the plan reader. */
export interface DetectedVersion {
  /** The release line, e.g. `v1.9`. */
  version: string;
  /** The tag of Kubeflow's component images, e.g. `v1.9.2`. */
  componentsVersion: string;
  /** One line per fact that decided it (images). */
  evidence: string[];
}

/**
 * Parses a Kubernetes minor version out of `major`/`minor` fields that may carry a
 * `+` suffix (`"33+"` on some distributions).
 */
export function kubernetesMinor(minor: number | string): number {
  return Number(String(minor).replace(/\D+$/, ""));
}

/** Numeric parts and pre-release of `vX.Y[.Z][-pre]`, or `undefined` for another string. */
function parseVersion(
  version: string,
): { parts: number[]; pre?: string } | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?/.exec(version);
  if (!m) return undefined;
  return {
    parts: [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)],
    ...(m[4] ? { pre: m[4] } : {}),
  };
}

/**
 * Orders two release versions (`v1.9.1` < `v1.10.0-rc.1` < `v1.10.0`): negative when
 * `a` is lower, 0 when equal, positive when higher; `undefined` when either is not a
 * version.
 *
 * @example
 * ```ts
 * compareVersions("v1.9.1", "v1.10.2"); // < 0
 * ```
 */
export function compareVersions(a: string, b: string): number | undefined {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) return undefined;
  for (let i = 0; i < 3; i++) {
    if (x.parts[i] !== y.parts[i]) return x.parts[i] - y.parts[i];
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre < y.pre ? -1 : 1;
}

/** The Kubeflow release the cluster runs, as its component images say. */
export interface InstalledVersion {
  /** The component images' tag, e.g. `v1.10.0`. */
  version: string;
  /** The live workloads' images that said so. */
  images: string[];
}

/**
 * The Kubeflow release running in the cluster, recognized from the live workloads of
 * the namespaces where `desired` runs Kubeflow's own components (the same recognition
 * as a render's), or `undefined` when none runs yet. A few LISTs.
 */
export async function installedVersion(
  kube: KubeClient,
  desired: readonly KubeObject[],
): Promise<InstalledVersion | undefined> {
  const wanted = new Set(recognize([...desired]).kubeflow?.images ?? []);
  const namespaces = new Set(
    desired.filter((o) =>
      ["Deployment", "StatefulSet"].includes(o.kind) &&
      podImages(o).some((i) => wanted.has(i))
    ).map((o) => o.metadata.namespace ?? "default"),
  );
  const live: KubeObject[] = [];
  for (const namespace of namespaces) {
    for (const kind of ["Deployment", "StatefulSet"]) {
      live.push(...await kube.list("apps/v1", kind, { namespace }));
    }
  }
  const found = recognize(live).kubeflow;
  return found ? { version: found.version, images: found.images } : undefined;
}

/** The images of a workload's containers and init containers. */
function podImages(o: KubeObject): string[] {
  const pod = (o.spec as {
    template?: {
      spec?: {
        containers?: { image?: string }[];
        initContainers?: { image?: string }[];
      };
    };
  } | undefined)?.template?.spec;
  return [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]
    .flatMap((c) => c.image ? [c.image] : []);
}

/** Raised at plan time for a lower release over a higher one. */
export class DowngradeError extends Error {
  /** The release the cluster runs (component image tag). */
  readonly installed: string;
  /** The release the plan would install (component image tag). */
  readonly planned: string;

  /** Creates the error naming both versions and how to proceed. */
  constructor(installed: string, planned: string) {
    super(
      `downgrade refused: the cluster runs Kubeflow ${installed} and this plan installs ` +
        `${planned}, a lower release (its CRDs, stored objects and databases may not ` +
        `read back); point kubeflow.manifests at ${installed} or newer, or set ` +
        `kubeflow.allowDowngrade: true (or pass --allow-downgrade) to install it anyway`,
    );
    this.name = "DowngradeError";
    this.installed = installed;
    this.planned = planned;
  }
}

/** Options for {@linkcode checkDowngrade}. */
export interface CheckDowngradeOptions {
  /** The component image tag the new render carries (its recognized version). */
  planned?: string;
  /** Install anyway (config `allowDowngrade`, or `--allow-downgrade`). */
  allow?: boolean;
}

/**
 * Compares the release the cluster runs with the one `desired` installs. A lower one
 * throws {@linkcode DowngradeError}, unless allowed: then the warning for the plan is
 * returned. Same or higher (an upgrade), or nothing installed yet: `undefined`.
 */
export async function checkDowngrade(
  kube: KubeClient,
  desired: readonly KubeObject[],
  options: CheckDowngradeOptions,
): Promise<string | undefined> {
  if (!options.planned) return undefined;
  const installed = await installedVersion(kube, desired);
  if (!installed) return undefined;
  const order = compareVersions(options.planned, installed.version);
  if (order === undefined || order >= 0) return undefined;
  if (!options.allow) {
    throw new DowngradeError(installed.version, options.planned);
  }
  return `downgrade allowed: the cluster runs Kubeflow ${installed.version} and this plan installs ${options.planned}`;
}
