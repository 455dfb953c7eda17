/**
 * The Kubeflow platform from a kubeflow/manifests checkout: version detection, typed
 * settings (Dex, oauth2-proxy / oidc-authservice, dashboard, ingress), a generated
 * kustomize overlay, preflight against the live cluster, one-pass ordered apply and
 * verify.
 *
 * @example
 * ```ts
 * import { kubeflowStep } from "./mod.ts";
 *
 * const step = kubeflowStep({
 *   manifests: "/src/kubeflow-manifests",
 *   oidcClient: { secret: { env: "KF_OIDC_CLIENT_SECRET" } },
 *   dex: { staticUsers: [{ email: "alice@example.com", password: { env: "ALICE_PASSWORD" } }] },
 *   oauth2Proxy: { cookieSecret: { env: "KF_COOKIE_SECRET" } },
 * }, { source: "kfplan.yaml", prefix: ["kubeflow"] });
 * ```
 *
 * @module
 */

export * from "./version.ts";
export * from "./options.ts";
export * from "./secrets.ts";
export * from "./dex.ts";
export * from "./overlay.ts";
export * from "./checks.ts";
export * from "./render.ts";
export * from "./preflight.ts";
export * from "./step.ts";
