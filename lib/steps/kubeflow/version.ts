/**
 * Which kubeflow/manifests release a checkout is, from its layout and content, and
 * what kfplan knows about each release (auth stack, supported Kubernetes, paths).
 *
 * @module
 */

/** The releases kfplan knows. */
export const KUBEFLOW_VERSIONS = [
  "v1.5.0",
  "v1.6.1",
  "v1.9.1",
  "v1.10.2",
] as const;

/** A known kubeflow/manifests release tag. */
export type KubeflowVersion = typeof KUBEFLOW_VERSIONS[number];

/** The authentication proxy a release ships. */
export type AuthStack = "oidc-authservice" | "oauth2-proxy";

/** What differs between releases, as far as kfplan's settings are concerned. */
export interface ReleaseInfo {
  /** The release tag, e.g. `v1.10.2`. */
  version: KubeflowVersion;
  /** `apps` up to v1.9, `applications` from v1.10. */
  appsDir: "apps" | "applications";
  /** The authentication proxy it ships: `oidc-authservice` up to v1.6, `oauth2-proxy` from v1.9. */
  auth: AuthStack;
  /** Lowest and highest Kubernetes minor (1.x) the release supports. */
  kubernetes: { min: number; max: number };
  /** Lowest kustomize the release documents. */
  kustomize: string;
  /** Tree-relative file holding the Dex ConfigMap the example uses. */
  dexConfigFile: string;
  /** Tree-relative oauth2-proxy config file (oauth2-proxy releases only). */
  oauth2ProxyConfigFile?: string;
  /** Redirect URI of the proxy's login callback. */
  redirectUri: string;
  /** Whether Secret `auth/dex-passwords` carries the default user's hash. */
  dexPasswordsSecret: boolean;
}

const RELEASES: Record<KubeflowVersion, ReleaseInfo> = {
  "v1.5.0": {
    version: "v1.5.0",
    appsDir: "apps",
    auth: "oidc-authservice",
    kubernetes: { min: 19, max: 21 },
    kustomize: "3.2.0",
    dexConfigFile: "common/dex/base/config-map.yaml",
    redirectUri: "/login/oidc",
    dexPasswordsSecret: false,
  },
  "v1.6.1": {
    version: "v1.6.1",
    appsDir: "apps",
    auth: "oidc-authservice",
    kubernetes: { min: 20, max: 22 },
    kustomize: "3.2.0",
    dexConfigFile: "common/dex/base/config-map.yaml",
    redirectUri: "/login/oidc",
    dexPasswordsSecret: false,
  },
  "v1.9.1": {
    version: "v1.9.1",
    appsDir: "apps",
    auth: "oauth2-proxy",
    kubernetes: { min: 27, max: 31 },
    kustomize: "5.2.1",
    dexConfigFile: "common/dex/overlays/oauth2-proxy/config-map.yaml",
    oauth2ProxyConfigFile: "common/oauth2-proxy/base/oauth2_proxy.cfg",
    redirectUri: "/oauth2/callback",
    dexPasswordsSecret: true,
  },
  "v1.10.2": {
    version: "v1.10.2",
    appsDir: "applications",
    auth: "oauth2-proxy",
    kubernetes: { min: 29, max: 33 },
    kustomize: "5.4.3",
    dexConfigFile: "common/dex/overlays/oauth2-proxy/config-map.yaml",
    oauth2ProxyConfigFile: "common/oauth2-proxy/base/oauth2_proxy.cfg",
    redirectUri: "/oauth2/callback",
    dexPasswordsSecret: true,
  },
};

/** Facts about one release. */
export function releaseInfo(version: KubeflowVersion): ReleaseInfo {
  return RELEASES[version];
}

/** Raised when a tree is not a known kubeflow/manifests release. */
export class ManifestsTreeError extends Error {
  /** Creates the error; `message` says what was looked at and which releases are known. */
  constructor(message: string) {
    super(message);
    this.name = "ManifestsTreeError";
  }
}

/** The evidence {@linkcode detectVersion} found, for the plan reader. */
export interface DetectedVersion {
  /** The detected release tag, e.g. `v1.9.1`. */
  version: KubeflowVersion;
  /** One line per fact that decided it, e.g. `applications/ present`. */
  evidence: string[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/**
 * Detects the release of a kubeflow/manifests checkout from its layout and content:
 * `applications/` vs `apps/`, oauth2-proxy vs oidc-authservice, the Istio directory
 * name and the Dex image tag. Throws {@linkcode ManifestsTreeError} naming what was
 * looked at when the tree matches no known release.
 *
 * @example
 * ```ts
 * const { version } = await detectVersion("./kubeflow-manifests");
 * // "v1.9.1"
 * ```
 */
export async function detectVersion(root: string): Promise<DetectedVersion> {
  if (!(await exists(`${root}/example/kustomization.yaml`))) {
    throw new ManifestsTreeError(
      `${root} is not a kubeflow/manifests checkout: example/kustomization.yaml is missing ` +
        `(point "manifests" at the repository root, the directory holding common/ and example/)`,
    );
  }
  const example = await readText(`${root}/example/kustomization.yaml`);
  const evidence: string[] = [];
  const hasApplications = await exists(`${root}/applications`);
  const hasApps = await exists(`${root}/apps`);
  const hasOauth2Proxy = await exists(`${root}/common/oauth2-proxy`);
  const hasAuthservice = await exists(`${root}/common/oidc-authservice`);
  evidence.push(
    hasApplications
      ? "applications/ present"
      : hasApps
      ? "apps/ present"
      : "neither apps/ nor applications/",
  );
  evidence.push(
    hasOauth2Proxy
      ? "common/oauth2-proxy present"
      : hasAuthservice
      ? "common/oidc-authservice present"
      : "no auth proxy directory",
  );
  if (hasApplications && hasOauth2Proxy) {
    evidence.push("example/ uses ../applications/");
    return { version: "v1.10.2", evidence };
  }
  if (hasApps && hasOauth2Proxy && example.includes("istio-1-22")) {
    evidence.push("example/ uses common/istio-1-22");
    return { version: "v1.9.1", evidence };
  }
  if (hasApps && hasAuthservice && example.includes("istio-1-14")) {
    evidence.push("example/ uses common/istio-1-14");
    return { version: "v1.6.1", evidence };
  }
  if (hasApps && hasAuthservice && example.includes("istio-1-11")) {
    evidence.push("example/ uses common/istio-1-11");
    return { version: "v1.5.0", evidence };
  }
  throw new ManifestsTreeError(
    `${root}: layout matches no known kubeflow/manifests release (${
      evidence.join("; ")
    }); ` +
      `known: ${KUBEFLOW_VERSIONS.join(", ")}`,
  );
}

/**
 * Parses a Kubernetes minor version out of `major`/`minor` fields that may carry a
 * `+` suffix (`"33+"` on some distributions).
 */
export function kubernetesMinor(minor: number | string): number {
  return Number(String(minor).replace(/\D+$/, ""));
}
