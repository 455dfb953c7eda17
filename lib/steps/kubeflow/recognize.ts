/**
 * What a rendered kubeflow/manifests tree deploys, recognized from the objects
 * `kustomize build` gives, never from file paths: the auth proxy (oauth2-proxy or
 * oidc-authservice), Dex and the ConfigMap it mounts, the central dashboard and its
 * parameters, the ingress gateway Service and the Gateways that select it, the Istio
 * release (from its images), the default user's password hash, and the Kubeflow
 * release line (from the image tags of Kubeflow's own components).
 *
 * A fork whose files moved but whose objects are the same is recognized the same.
 *
 * @module
 */

import { parseYaml as parse } from "../../deps.ts";
import type { KubeObject } from "../../kube/types.ts";
import { objectName, type ObjectRef, refOf } from "../../kube/object_ref.ts";

/**
 * kustomize's name-hash suffix: a dash and ten characters of the hex digest with
 * 0, 1, 3, a and e mapped to g, h, k, m and t.
 */
const HASH_SUFFIX = /-[2456789bcdfghkmt]{10}$/;

/** A recognized object: its reference and, for kustomize-generated ones, the name before the hash. */
export interface Target extends ObjectRef {
  /** The name kustomize generated it under (without the hash suffix); the name itself otherwise. */
  baseName: string;
  /** Whether the name carries kustomize's content hash (a generator made it). */
  hashed: boolean;
}

/** The oauth2-proxy auth stack (kubeflow/manifests v1.9 on). */
export interface Oauth2ProxyStack {
  /** Which proxy. */
  kind: "oauth2-proxy";
  /** The proxy's Deployment. */
  deployment: Target;
  /** The ConfigMap holding `oauth2_proxy.cfg` that the proxy mounts. */
  config?: Target;
  /** The `oauth2_proxy.cfg` text as rendered. */
  configText?: string;
  /** The ConfigMap the proxy reads `FORCE_HTTPS` etc. from. */
  parameters?: Target;
  /** The Secret holding `client-id`, `client-secret` and `cookie-secret`. */
  secret?: Target;
  /** RequestAuthentication whose JWT rule names the Dex issuer. */
  requestAuthentication?: Target;
  /** Index of that rule in `spec.jwtRules`. */
  jwtRule: number;
  /** That rule's `outputClaimToHeaders` (which claim becomes which header). */
  jwtClaims?: { header: string; claim: string }[];
}

/** The oidc-authservice auth stack (kubeflow/manifests up to v1.8). */
export interface AuthserviceStack {
  /** Which proxy. */
  kind: "oidc-authservice";
  /** The authservice StatefulSet. */
  statefulSet: Target;
  /** Its parameters ConfigMap (`OIDC_PROVIDER`, ...). */
  parameters?: Target;
  /** Keys of the parameters ConfigMap (`REDIRECT_URL` exists only in some releases). */
  parameterKeys: string[];
  /** Its client Secret (`CLIENT_ID`, `CLIENT_SECRET`). */
  secret?: Target;
}

/** Where Dex's default user's password hash is. */
export type DefaultUserHash =
  | { kind: "inline"; config: Target }
  | { kind: "secret"; secret: Target; key: string; stringData: boolean }
  | { kind: "none" };

/** Dex as rendered. */
export interface DexRecognition {
  /** The Dex Deployment (found by its image). */
  deployment: Target;
  /** The ConfigMap Dex mounts its config from. */
  config: Target;
  /** The key of that ConfigMap holding the config (`config.yaml`). */
  configKey: string;
  /** The config text as rendered. */
  configText: string;
  /** The Secret with `OIDC_CLIENT_ID`/`OIDC_CLIENT_SECRET` Dex reads. */
  clientSecret?: Target;
  /** Where the manifests' default user's hash lives. */
  defaultUser: DefaultUserHash;
  /** Redirect URIs of Dex's first static client, as the tree has them. */
  redirectURIs: string[];
  /** The Dex image. */
  image: string;
  /** Index of the Dex container in the pod template. */
  container: number;
  /** Whether that container already has an `envFrom` list. */
  hasEnvFrom: boolean;
}

/** The central dashboard as rendered. */
export interface DashboardRecognition {
  /** Its Deployment (found by its image). */
  deployment: Target;
  /** The container that runs the dashboard. */
  container: string;
  /** The ConfigMap with `CD_REGISTRATION_FLOW`, in the dashboard's namespace. */
  parameters?: Target;
  /** Whether the container has a literal `REGISTRATION_FLOW` env value to keep in step. */
  envValue: boolean;
}

/** The ingress gateway as rendered. */
export interface IngressRecognition {
  /** The Service selecting `istio: ingressgateway`. */
  service: Target;
  /** Its type as rendered. */
  type: string;
  /** Gateways whose selector matches the Service's pods. */
  gateways: Target[];
  /** Kubeflow's Gateway among them: the one most VirtualServices bind to. */
  kubeflowGateway?: Target;
  /** The gateway pods' labels (the Service's selector). */
  selector: Record<string, string>;
  /**
   * AuthorizationPolicies on the gateway pods whose rules exempt paths from auth
   * (`to[].operation.notPaths`, oauth2-proxy releases), with the JSON pointers of
   * those lists.
   */
  authExemptions: { policy: Target; notPaths: string[] }[];
  /** EnvoyFilters that put `ext_authz` in front of the gateway (oidc-authservice releases). */
  authFilters: Target[];
}

/** cert-manager as rendered. */
export interface CertManagerRecognition {
  /** The controller Deployment (found by its image). */
  deployment: Target;
  /** Where ClusterIssuers read their Secrets (`--cluster-resource-namespace`). */
  clusterResourceNamespace: string;
}

/** A version read from images, with the images it came from. */
export interface ImageVersion {
  /** The version, e.g. `1.26.1` or `v1.10.0`. */
  version: string;
  /** The images that said so. */
  images: string[];
}

/** Everything recognized. */
export interface Recognition {
  /** The auth proxy, when one is deployed. */
  auth?: Oauth2ProxyStack | AuthserviceStack;
  /** Dex, when deployed. */
  dex?: DexRecognition;
  /** The central dashboard, when deployed. */
  dashboard?: DashboardRecognition;
  /** The ingress gateway, when deployed. */
  ingress?: IngressRecognition;
  /** cert-manager, when the render deploys it. */
  certManager?: CertManagerRecognition;
  /** The Istio release, from istiod's and the proxies' images. */
  istio?: ImageVersion;
  /** The Kubeflow release, from the tags of Kubeflow's own component images. */
  kubeflow?: ImageVersion & { line: string };
  /** One line per recognized thing, for the plan: `auth proxy: oauth2-proxy (Deployment ...)`. */
  facts: string[];
}

interface Container {
  name?: string;
  image?: string;
  env?: {
    name?: string;
    value?: string;
    valueFrom?: {
      secretKeyRef?: { name?: string; key?: string };
      configMapKeyRef?: { name?: string; key?: string };
    };
  }[];
  envFrom?: {
    configMapRef?: { name?: string };
    secretRef?: { name?: string };
  }[];
  volumeMounts?: { name?: string }[];
}

interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: {
    name?: string;
    configMap?: { name?: string };
    secret?: { secretName?: string };
  }[];
}

/** Makes a {@linkcode Target} of an object. */
export function targetOf(object: KubeObject): Target {
  const ref = refOf(object);
  const generated = (object.kind === "ConfigMap" || object.kind === "Secret") &&
    HASH_SUFFIX.test(ref.name);
  return {
    ...ref,
    baseName: generated ? ref.name.replace(HASH_SUFFIX, "") : ref.name,
    hashed: generated,
  };
}

function podSpec(object: KubeObject): PodSpec | undefined {
  const spec = object.spec as
    | { template?: { spec?: PodSpec }; jobTemplate?: unknown }
    | undefined;
  return spec?.template?.spec;
}

function containers(object: KubeObject): Container[] {
  return podSpec(object)?.containers ?? [];
}

function images(object: KubeObject): string[] {
  const spec = podSpec(object);
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]
    .map((c) => c.image ?? "").filter(Boolean);
}

/** Repository part of an image reference, without registry port confusion or tag. */
function repository(image: string): string {
  const noDigest = image.split("@")[0];
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** Tag of an image reference (`latest` when none). */
export function imageTag(image: string): string {
  const noDigest = image.split("@")[0];
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(colon + 1) : "latest";
}

function lastSegment(image: string): string {
  const repo = repository(image);
  return repo.slice(repo.lastIndexOf("/") + 1);
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

function workloads(objects: KubeObject[]): KubeObject[] {
  return objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
}

function byImage(
  objects: KubeObject[],
  kind: string,
  test: (segment: string) => boolean,
): KubeObject | undefined {
  return objects.find((o) =>
    o.kind === kind && images(o).some((i) => test(lastSegment(i)))
  );
}

function findObject(
  objects: KubeObject[],
  kind: string,
  namespace: string | undefined,
  name: string | undefined,
): KubeObject | undefined {
  if (!name) return undefined;
  return objects.find((o) =>
    o.kind === kind && o.metadata.name === name &&
    (o.metadata.namespace ?? undefined) === namespace
  );
}

/** ConfigMaps and Secrets a workload reads (volumes, envFrom, env valueFrom). */
function referenced(
  objects: KubeObject[],
  workload: KubeObject,
  kind: "ConfigMap" | "Secret",
): KubeObject[] {
  const spec = podSpec(workload);
  const ns = workload.metadata.namespace;
  const names = new Set<string>();
  for (const v of spec?.volumes ?? []) {
    const n = kind === "ConfigMap" ? v.configMap?.name : v.secret?.secretName;
    if (n) names.add(n);
  }
  for (
    const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]
  ) {
    for (const e of c.envFrom ?? []) {
      const n = kind === "ConfigMap" ? e.configMapRef?.name : e.secretRef?.name;
      if (n) names.add(n);
    }
    for (const e of c.env ?? []) {
      const n = kind === "Secret"
        ? e.valueFrom?.secretKeyRef?.name
        : e.valueFrom?.configMapKeyRef?.name;
      if (n) names.add(n);
    }
  }
  return [...names].flatMap((n) => {
    const o = findObject(objects, kind, ns, n);
    return o ? [o] : [];
  });
}

function dataOf(object: KubeObject | undefined): Record<string, string> {
  return (object?.data as Record<string, string> | undefined) ?? {};
}

function keysOf(object: KubeObject | undefined): string[] {
  return [
    ...Object.keys(dataOf(object)),
    ...Object.keys(
      (object?.stringData as Record<string, string> | undefined) ?? {},
    ),
  ];
}

function describe(t: Target): string {
  return objectName(t);
}

function recognizeDex(
  objects: KubeObject[],
  facts: string[],
): DexRecognition | undefined {
  const deployment = byImage(objects, "Deployment", (s) => s === "dex");
  if (!deployment) return undefined;
  const configMaps = referenced(objects, deployment, "ConfigMap");
  let config: KubeObject | undefined;
  let configKey = "";
  for (const cm of configMaps) {
    for (const [key, text] of Object.entries(dataOf(cm))) {
      if (/^issuer:/m.test(text)) {
        config = cm;
        configKey = key;
      }
    }
    if (config) break;
  }
  if (!config) return undefined;
  const configText = dataOf(config)[configKey];
  // deno-lint-ignore no-explicit-any
  let parsed: any = {};
  try {
    parsed = parse(configText) ?? {};
  } catch {
    parsed = {};
  }
  const secrets = referenced(objects, deployment, "Secret");
  const clientSecret = secrets.find((s) =>
    keysOf(s).includes("OIDC_CLIENT_SECRET")
  );
  const defaultEntry = (parsed.staticPasswords ?? []).find((
    p: { email?: string },
  ) => p?.email === "user@example.com");
  let defaultUser: DefaultUserHash = { kind: "none" };
  if (defaultEntry?.hash) {
    defaultUser = { kind: "inline", config: targetOf(config) };
  } else if (typeof defaultEntry?.hashFromEnv === "string") {
    const envName: string = defaultEntry.hashFromEnv;
    for (const c of containers(deployment)) {
      const direct = (c.env ?? []).find((e) => e.name === envName)?.valueFrom
        ?.secretKeyRef;
      const secret = direct
        ? findObject(
          objects,
          "Secret",
          deployment.metadata.namespace,
          direct.name,
        )
        : secrets.find((s) => keysOf(s).includes(envName));
      if (secret) {
        defaultUser = {
          kind: "secret",
          secret: targetOf(secret),
          key: direct?.key ?? envName,
          stringData: secret.stringData !== undefined &&
            (direct?.key ?? envName) in
              (secret.stringData as Record<string, string>),
        };
        break;
      }
    }
  }
  const container = containers(deployment).findIndex((c) =>
    lastSegment(c.image ?? "") === "dex"
  );
  const dex: DexRecognition = {
    container: Math.max(container, 0),
    hasEnvFrom: (containers(deployment)[Math.max(container, 0)]?.envFrom ?? [])
      .length > 0,
    deployment: targetOf(deployment),
    config: targetOf(config),
    configKey,
    configText,
    clientSecret: clientSecret ? targetOf(clientSecret) : undefined,
    defaultUser,
    redirectURIs: parsed.staticClients?.[0]?.redirectURIs ?? [],
    image: images(deployment).find((i) => lastSegment(i) === "dex") ?? "",
  };
  facts.push(
    `dex: ${describe(dex.deployment)} (image ${dex.image}), config ${
      describe(dex.config)
    } key ${configKey}`,
  );
  facts.push(
    `default user's hash: ${
      defaultUser.kind === "inline"
        ? `inline in ${describe(defaultUser.config)}`
        : defaultUser.kind === "secret"
        ? `${describe(defaultUser.secret)} key ${defaultUser.key}`
        : "none"
    }`,
  );
  return dex;
}

function recognizeAuth(
  objects: KubeObject[],
  dex: DexRecognition | undefined,
  facts: string[],
): Oauth2ProxyStack | AuthserviceStack | undefined {
  const proxy = byImage(objects, "Deployment", (s) => s === "oauth2-proxy");
  if (proxy) {
    const cms = referenced(objects, proxy, "ConfigMap");
    const config = cms.find((c) => "oauth2_proxy.cfg" in dataOf(c));
    const parameters = cms.find((c) => "FORCE_HTTPS" in dataOf(c));
    const secret = referenced(objects, proxy, "Secret").find((s) =>
      keysOf(s).includes("cookie-secret")
    );
    const issuer = dexIssuer(dex);
    const rules = (o: KubeObject) =>
      (o.spec as {
        jwtRules?: {
          issuer?: string;
          outputClaimToHeaders?: { header: string; claim: string }[];
        }[];
      } | undefined)?.jwtRules ?? [];
    const ra = objects.find((o) =>
      o.kind === "RequestAuthentication" &&
      rules(o).some((r) => r.issuer === issuer)
    );
    const stack: Oauth2ProxyStack = {
      kind: "oauth2-proxy",
      deployment: targetOf(proxy),
      config: config ? targetOf(config) : undefined,
      configText: config ? dataOf(config)["oauth2_proxy.cfg"] : undefined,
      parameters: parameters ? targetOf(parameters) : undefined,
      secret: secret ? targetOf(secret) : undefined,
      requestAuthentication: ra ? targetOf(ra) : undefined,
      jwtRule: ra ? rules(ra).findIndex((r) => r.issuer === issuer) : -1,
      jwtClaims: ra
        ? rules(ra).find((r) => r.issuer === issuer)?.outputClaimToHeaders
        : undefined,
    };
    facts.push(
      `auth proxy: oauth2-proxy (${describe(stack.deployment)}, image ${
        images(proxy).find((i) => lastSegment(i) === "oauth2-proxy")
      })`,
    );
    return stack;
  }
  const authservice = byImage(
    objects,
    "StatefulSet",
    (s) => s.includes("authservice"),
  );
  if (authservice) {
    const parameters = referenced(objects, authservice, "ConfigMap").find((c) =>
      "OIDC_PROVIDER" in dataOf(c)
    );
    const secret = referenced(objects, authservice, "Secret").find((s) =>
      keysOf(s).includes("CLIENT_SECRET")
    );
    const stack: AuthserviceStack = {
      kind: "oidc-authservice",
      statefulSet: targetOf(authservice),
      parameters: parameters ? targetOf(parameters) : undefined,
      parameterKeys: Object.keys(dataOf(parameters)).sort(),
      secret: secret ? targetOf(secret) : undefined,
    };
    facts.push(
      `auth proxy: oidc-authservice (${describe(stack.statefulSet)}${
        stack.parameters ? `, parameters ${describe(stack.parameters)}` : ""
      })`,
    );
    return stack;
  }
  return undefined;
}

function dexIssuer(dex: DexRecognition | undefined): string | undefined {
  if (!dex) return undefined;
  try {
    return (parse(dex.configText) as { issuer?: string } | null)?.issuer;
  } catch {
    return undefined;
  }
}

function recognizeDashboard(
  objects: KubeObject[],
  facts: string[],
): DashboardRecognition | undefined {
  const deployment = byImage(
    objects,
    "Deployment",
    (s) => s === "centraldashboard" || s === "central-dashboard",
  );
  if (!deployment) return undefined;
  const container = containers(deployment).find((c) =>
    /central-?dashboard$/.test(lastSegment(c.image ?? ""))
  );
  const ns = deployment.metadata.namespace;
  const parameters = [
    ...referenced(objects, deployment, "ConfigMap"),
    ...objects.filter((o) =>
      o.kind === "ConfigMap" && o.metadata.namespace === ns
    ),
  ].find((c) => "CD_REGISTRATION_FLOW" in dataOf(c));
  const envValue = (container?.env ?? []).some((e) =>
    e.name === "REGISTRATION_FLOW" && e.value !== undefined
  );
  const dash: DashboardRecognition = {
    deployment: targetOf(deployment),
    container: container?.name ?? "",
    parameters: parameters ? targetOf(parameters) : undefined,
    envValue,
  };
  facts.push(
    `dashboard: ${describe(dash.deployment)}${
      dash.parameters ? `, parameters ${describe(dash.parameters)}` : ""
    }`,
  );
  return dash;
}

function selectorMatches(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function recognizeIngress(
  objects: KubeObject[],
  facts: string[],
): IngressRecognition | undefined {
  const service = objects.find((o) =>
    o.kind === "Service" &&
    (o.spec as { selector?: Record<string, string> } | undefined)?.selector
        ?.istio === "ingressgateway"
  );
  if (!service) return undefined;
  const selector =
    (service.spec as { selector?: Record<string, string> }).selector ?? {};
  const gateways = objects.filter((o) =>
    o.kind === "Gateway" && o.apiVersion.startsWith("networking.istio.io/") &&
    selectorMatches(
      (o.spec as { selector?: Record<string, string> } | undefined)?.selector,
      selector,
    )
  ).map(targetOf);
  const kubeflowGateway = mostBound(objects, gateways);
  const ingress: IngressRecognition = {
    service: targetOf(service),
    type: (service.spec as { type?: string }).type ?? "ClusterIP",
    gateways,
    kubeflowGateway,
    selector,
    ...gatewayAuth(objects, service.metadata.namespace, selector),
  };
  facts.push(
    `ingress: ${describe(ingress.service)} (${ingress.type}), gateways ${
      gateways.map(describe).join(", ") || "none"
    }${kubeflowGateway ? `; Kubeflow's: ${describe(kubeflowGateway)}` : ""}`,
  );
  return ingress;
}

/** The Gateway most VirtualServices bind to (`ns/name`, or `name` in the VS's namespace). */
function mostBound(
  objects: KubeObject[],
  gateways: Target[],
): Target | undefined {
  const counts = new Map<string, number>();
  for (const vs of objects) {
    if (vs.kind !== "VirtualService") continue;
    const ns = vs.metadata.namespace ?? "default";
    for (
      const g of (vs.spec as { gateways?: string[] } | undefined)?.gateways ??
        []
    ) {
      const key = g.includes("/") ? g : `${ns}/${g}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  let best: Target | undefined;
  let bestCount = 0;
  for (const g of gateways) {
    const n = counts.get(`${g.namespace}/${g.name}`) ?? 0;
    if (n > bestCount) [best, bestCount] = [g, n];
  }
  return best;
}

interface AuthorizationPolicySpec {
  action?: string;
  selector?: { matchLabels?: Record<string, string> };
  rules?: { to?: { operation?: { notPaths?: string[] } }[] }[];
}

/** Auth policies and filters in front of the gateway pods. */
function gatewayAuth(
  objects: KubeObject[],
  namespace: string | undefined,
  podLabels: Record<string, string>,
): Pick<IngressRecognition, "authExemptions" | "authFilters"> {
  const authExemptions: IngressRecognition["authExemptions"] = [];
  const authFilters: Target[] = [];
  for (const o of objects) {
    if (o.metadata.namespace !== namespace) continue;
    if (o.kind === "AuthorizationPolicy") {
      const spec = o.spec as AuthorizationPolicySpec | undefined;
      if (
        !spec?.action || spec.action === "ALLOW" ||
        !selectorMatches(spec.selector?.matchLabels, podLabels)
      ) continue;
      const notPaths: string[] = [];
      (spec.rules ?? []).forEach((rule, r) =>
        (rule.to ?? []).forEach((to, t) => {
          if (to.operation?.notPaths) {
            notPaths.push(`/spec/rules/${r}/to/${t}/operation/notPaths`);
          }
        })
      );
      if (notPaths.length > 0) {
        authExemptions.push({ policy: targetOf(o), notPaths });
      }
    } else if (
      o.kind === "EnvoyFilter" && /ext_authz/.test(JSON.stringify(o.spec))
    ) {
      const patches = (o.spec as {
        configPatches?: { match?: { context?: string } }[];
      }).configPatches ?? [];
      if (patches.some((p) => p.match?.context === "GATEWAY")) {
        authFilters.push(targetOf(o));
      }
    }
  }
  return { authExemptions, authFilters };
}

function recognizeCertManager(
  objects: KubeObject[],
  facts: string[],
): CertManagerRecognition | undefined {
  const deployment = byImage(
    objects,
    "Deployment",
    (s) => s === "cert-manager-controller",
  );
  if (!deployment) return undefined;
  const args = containers(deployment).flatMap((c) =>
    (c as { args?: string[] }).args ?? []
  );
  const flag = args.find((a) => a.startsWith("--cluster-resource-namespace="))
    ?.split("=")[1];
  // The manifests pass $(POD_NAMESPACE): the controller's own namespace.
  const clusterResourceNamespace = !flag || flag.startsWith("$(")
    ? deployment.metadata.namespace ?? "cert-manager"
    : flag;
  facts.push(
    `cert-manager: ${
      describe(targetOf(deployment))
    }, ClusterIssuer secrets in ${clusterResourceNamespace}`,
  );
  return { deployment: targetOf(deployment), clusterResourceNamespace };
}

function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]
    ?.[0];
}

function recognizeIstio(
  objects: KubeObject[],
  facts: string[],
): ImageVersion | undefined {
  const all = workloads(objects).flatMap(images).filter((i) =>
    ["pilot", "proxyv2"].includes(lastSegment(i)) && /istio/.test(i)
  );
  const version = mostCommon(
    all.map((i) => imageTag(i).replace(/^(\d+\.\d+\.\d+).*$/, "$1")),
  );
  if (!version) return undefined;
  const used = [...new Set(all)].sort();
  facts.push(`istio: ${version} (images ${used.join(", ")})`);
  return { version, images: used };
}

/**
 * Images of Kubeflow's own components (the kubeflow/kubeflow repository): their tag
 * is the release the manifests package.
 */
const KUBEFLOW_COMPONENT_IMAGES = new Set([
  "centraldashboard",
  "central-dashboard",
  "jupyter-web-app",
  "notebook-controller",
  "profile-controller",
  "kfam",
  "access-management",
  "volumes-web-app",
  "tensorboards-web-app",
  "tensorboard-controller",
  "admission-webhook",
  "poddefaults-webhook",
  "pvcviewer-controller",
]);

function recognizeKubeflow(
  objects: KubeObject[],
  facts: string[],
): (ImageVersion & { line: string }) | undefined {
  const all = [
    ...new Set(
      workloads(objects).flatMap(images).filter((i) =>
        KUBEFLOW_COMPONENT_IMAGES.has(lastSegment(i)) &&
        /^v?\d+\.\d+/.test(imageTag(i))
      ),
    ),
  ].sort();
  const version = mostCommon(all.map(imageTag));
  if (!version) return undefined;
  const used = all.filter((i) => imageTag(i) === version);
  const line = releaseLine(version);
  facts.push(
    `kubeflow: ${line} (component images tagged ${version}: ${
      used.map(lastSegment).join(", ")
    })`,
  );
  return { version, images: used, line };
}

/** The release line (`v1.10`) of a version or tag (`v1.10.2`, `1.10.0-rc.1`). */
export function releaseLine(version: string): string {
  const m = version.match(/^v?(\d+)\.(\d+)/);
  return m ? `v${m[1]}.${m[2]}` : version;
}

/**
 * Recognizes what the rendered objects deploy. Pure: the same objects give the same
 * recognition, whatever files they came from.
 *
 * @example
 * ```ts
 * const r = recognize(objects);
 * console.log(r.auth?.kind, r.kubeflow?.line, r.facts.join("\n"));
 * ```
 */
export function recognize(objects: KubeObject[]): Recognition {
  const facts: string[] = [];
  const dex = recognizeDex(objects, facts);
  const auth = recognizeAuth(objects, dex, facts);
  const dashboard = recognizeDashboard(objects, facts);
  const ingress = recognizeIngress(objects, facts);
  const certManager = recognizeCertManager(objects, facts);
  const istio = recognizeIstio(objects, facts);
  const kubeflow = recognizeKubeflow(objects, facts);
  // Auth first in the plan: it decides which settings apply.
  facts.sort((a, b) =>
    (a.startsWith("auth proxy") ? -1 : 0) -
    (b.startsWith("auth proxy") ? -1 : 0)
  );
  return {
    auth,
    dex,
    dashboard,
    ingress,
    certManager,
    istio,
    kubeflow,
    facts,
  };
}
