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

import { releaseLine } from "./recognize.ts";

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
