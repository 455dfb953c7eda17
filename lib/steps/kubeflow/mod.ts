/**
 * The Kubeflow platform step (part of `@kfplan/kfplan/steps`): installs the Kubeflow
 * release of a kubeflow/manifests checkout with typed settings (Dex, oauth2-proxy or
 * oidc-authservice, dashboard, ingress) rendered into a generated kustomize overlay,
 * checked against the live cluster before anything is applied, applied in one ordered
 * pass and verified.
 *
 * This entry names the step factory, its options schema and types, release
 * recognition (from what the manifests render), and the errors a script may catch. The overlay and rendering modules
 * behind it are internal.
 *
 * @example
 * ```ts
 * import { detectVersion, kubeflowStep } from "./mod.ts";
 *
 * const manifests = "/src/kubeflow-manifests";
 * console.log((await detectVersion(manifests)).version);
 * const step = kubeflowStep({
 *   manifests,
 *   oidcClient: { secret: { env: "KF_OIDC_CLIENT_SECRET" } },
 *   dex: { staticUsers: [{ email: "alice@example.com", password: { env: "ALICE_PASSWORD" } }] },
 *   oauth2Proxy: { cookieSecret: { env: "KF_COOKIE_SECRET" } },
 * }, { source: "kfplan.yaml", prefix: ["kubeflow"] });
 * ```
 *
 * @module
 */

export {
  KUBEFLOW_STEP_ID,
  kubeflowStep,
  type KubeflowStepOptions,
} from "./step.ts";
export {
  DEFAULT_ISSUER,
  type IdentityOptions,
  identitySchema,
  type KubeflowOptions,
  type KubeflowOptionsInput,
  kubeflowOptionsSchema,
  type SecretRef,
  secretRefSchema,
} from "./options.ts";
export {
  type AuthStack,
  type DetectedVersion,
  KUBEFLOW_VERSIONS,
  type KubeflowVersion,
  ManifestsTreeError,
  RELEASE_FACTS,
  type ReleaseFacts,
  type ReleaseInfo,
  releaseInfo,
} from "./version.ts";
export { detectVersion } from "./render.ts";
export { type Recognition, recognize } from "./recognize.ts";
export { dexObjects, planIdentity } from "./identity.ts";
export {
  discoverIssuer,
  type DiscoveryResult,
  type OidcProviderMetadata,
} from "./oidc_discovery.ts";
export { COMPONENT_IDS, type ComponentId } from "./components.ts";
export { BCRYPT_COST, DEFAULT_USER_EMAIL, hashPassword } from "./dex.ts";
export { PreflightError } from "./preflight.ts";
export {
  type DomainUrlOptions,
  type DomainUrls,
  domainUrls,
} from "./domain.ts";
export { GATEWAY_TLS_SECRET } from "./tls.ts";
export {
  applyExternalData,
  checkExternalData,
  EXTERNAL_DATA_DIGEST_ANNOTATION,
  type ExternalDataResult,
  withExternalData,
} from "./external_data.ts";
