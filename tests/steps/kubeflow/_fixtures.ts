/**
 * Shared inputs of the Kubeflow step tests: the read-only manifests trees and a set of
 * non-default options with planted secret values that tests search for in outputs.
 *
 * @module
 */

import type { KubeflowOptionsInput } from "../../../lib/steps/kubeflow/options.ts";
import type { KubeflowVersion } from "../../../lib/steps/kubeflow/version.ts";

/** Root of the read-only kubeflow/manifests trees (`../shared/kubeflow-manifests`). */
export const MANIFESTS_ROOT = Deno.env.get("KFPLAN_MANIFESTS_DIR") ??
  new URL("../../../../shared/kubeflow-manifests", import.meta.url).pathname;

/** What v1.11.0's remote resources serve, laid out by URL: a vendor directory as is. */
export const REMOTE_BASES = Deno.env.get("KFPLAN_REMOTE_BASES_DIR") ??
  new URL("../../../../shared/remote-bases", import.meta.url).pathname;

/** Path of one release tree. */
export function tree(version: KubeflowVersion): string {
  return `${MANIFESTS_ROOT}/${version}`;
}

/** Planted secret values: none of them may appear in any plan, log or checkpoint. */
export const PLANTED = {
  clientSecret: "PLANTED-client-secret-7f3a9c",
  alicePassword: "PLANTED-alice-pw-51c2e8",
  bobPassword: "PLANTED-bob-pw-a0d4b6",
  githubSecret: "PLANTED-github-secret-93be1d",
  cookieSecret: "PLANTEDcookie-0123456789abcdefXY", // 32 bytes
};

/** The environment the planted secrets are read from. */
export function plantedEnv(): Record<string, string> {
  return {
    KF_CLIENT_SECRET: PLANTED.clientSecret,
    KF_ALICE_PASSWORD: PLANTED.alicePassword,
    KF_BOB_PASSWORD: PLANTED.bobPassword,
    KF_GITHUB_SECRET: PLANTED.githubSecret,
    KF_COOKIE_SECRET: PLANTED.cookieSecret,
  };
}

/** Non-default options: GitHub connector, two static users, registration flow, LoadBalancer. */
export function nonDefaultOptions(
  version: KubeflowVersion,
): KubeflowOptionsInput {
  const modern = version === "v1.9.1" || version === "v1.10.2" ||
    version === "v1.11.0";
  return {
    manifests: tree(version),
    version,
    ...(version === "v1.11.0" ? { vendor: REMOTE_BASES } : {}),
    oidcClient: { secret: { env: "KF_CLIENT_SECRET" } },
    dex: {
      staticUsers: [
        { email: "alice@example.org", password: { env: "KF_ALICE_PASSWORD" } },
        {
          email: "bob@example.org",
          username: "bob",
          password: { env: "KF_BOB_PASSWORD" },
        },
      ],
      connectors: [{
        type: "github",
        id: "github",
        name: "GitHub",
        config: {
          clientID: "kf-github-client",
          clientSecret: { env: "KF_GITHUB_SECRET" },
          redirectURI: "https://kubeflow.example.org/dex/callback",
          orgs: [{ name: "example-org", teams: ["ml-platform"] }],
          loadAllGroups: false,
          useLoginAsID: false,
          teamNameField: "slug",
        },
      }],
    },
    ...(modern
      ? { oauth2Proxy: { cookieSecret: { env: "KF_COOKIE_SECRET" } } }
      : {}),
    dashboard: { registrationFlow: true },
    ingress: { type: "LoadBalancer" },
  };
}
