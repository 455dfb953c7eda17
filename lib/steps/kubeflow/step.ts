/**
 * The Kubeflow manifests step: renders the user's kubeflow/manifests checkout with
 * kfplan's overlay, checks it against the cluster, applies it in one ordered pass
 * and verifies the platform.
 *
 * ## Webhook-guarded resources
 * The manifests register admission webhooks with `failurePolicy: Fail` (cert-manager,
 * KServe, Knative, Istio's sidecar injector, Katib, the training operator, ...).
 * On a real cluster {@linkcode applyObjects} applies them only once their backend
 * Services have ready endpoints, and the custom resources they guard last. Where no
 * webhook server can run (a kwok test cluster), leaving the webhook configurations
 * out is a deliberate, visible choice: `exclude` lists them, the plan shows every
 * excluded object with its reason as a warning, and nothing is silently skipped.
 *
 * @module
 */

import { digestOf } from "../../engine/digest.ts";
import { defineStep, type DefineStepOptions } from "../../engine/step.ts";
import {
  emptyPlan,
  type Finding,
  type Step,
  type StepContext,
  type StepPlan,
  type VerifyCheck,
  type VerifyResult,
} from "../../engine/types.ts";
import {
  applyObjects,
  planObjects,
  planOptionsOf,
} from "../../kube/apply_set.ts";
import {
  compareRefs,
  objectName,
  type ObjectRef,
  refOf,
} from "../../kube/object_ref.ts";
import type { KubeClient, KubeObject } from "../../kube/types.ts";
import {
  crdEstablished,
  deploymentAvailable,
  loadBalancerAddress,
  statefulSetReady,
} from "../../kube/wait.ts";
import { findComponents, missingExternalCrds } from "./components.ts";
import { inspectDexConfig } from "./dex.ts";
import {
  identityIssuer,
  planIdentity,
  redirectUriFinding,
} from "./identity.ts";
import { type ExternalDataOutcome, withExternalData } from "./external_data.ts";
import {
  type KubeflowOptions,
  type KubeflowOptionsInput,
  kubeflowOptionsSchema,
} from "./options.ts";
import { preflight, PreflightError } from "./preflight.ts";
import { recognize } from "./recognize.ts";
import { type RenderedKubeflow, renderKubeflow } from "./render.ts";
import { checkDowngrade } from "./version.ts";
import { verifyStepTls } from "./tls.ts";
import { mirrorObjects, mirrorReport } from "../image_mirror.ts";

/** Default id of the step. */
export const KUBEFLOW_STEP_ID = "kubeflow";

/** Options for {@linkcode kubeflowStep} besides the step options themselves. */
export interface KubeflowStepOptions extends DefineStepOptions {
  /** Step id; default {@linkcode KUBEFLOW_STEP_ID}. */
  id?: string;
  /** Steps that must be done first (storage, MetalLB, ...). */
  needs?: string[];
  /** Environment for `{ env }` secrets; default `Deno.env`. */
  env?: Record<string, string | undefined>;
  /** Directory relative paths in the options are resolved against (the config file's). */
  baseDir?: string;
  /**
   * Transforms the rendered objects before they are planned and applied, like Helm's
   * `--post-renderer` (add labels, route webhooks elsewhere, ...). Its result is what
   * the plan shows and the desired digest covers.
   */
  postRender?: (objects: KubeObject[]) => KubeObject[] | Promise<KubeObject[]>;
}

/**
 * The desired-state digest of a rendered platform: order-independent, and it covers
 * Secret values (so a changed secret changes it) without exposing them.
 */
export function renderedDigest(rendered: RenderedKubeflow): string {
  const objects = [...rendered.objects].sort((a, b) =>
    compareRefs(refOf(a), refOf(b))
  );
  return digestOf({ version: rendered.release.version, objects });
}

function summarizeExcluded(rendered: RenderedKubeflow): string[] {
  const byReason = new Map<string, string[]>();
  for (const e of rendered.excluded) {
    byReason.set(e.reason, [...(byReason.get(e.reason) ?? []), objectName(e)]);
  }
  return [...byReason].map(([reason, refs]) =>
    `excluded ${refs.length} object(s) (${reason}): ${refs.join(", ")}`
  );
}

/** The ingress Service kfplan reports on: the recognized one, else Istio's usual name. */
function ingressService(objects: KubeObject[] | undefined): ObjectRef {
  const found = objects ? recognize(objects).ingress?.service : undefined;
  return found
    ? {
      apiVersion: "v1",
      kind: "Service",
      namespace: found.namespace,
      name: found.name,
    }
    : {
      apiVersion: "v1",
      kind: "Service",
      namespace: "istio-system",
      name: "istio-ingressgateway",
    };
}

/** The fields of a Service's spec the step reads. */
interface ServiceSpec {
  type?: string;
  ports?: { name?: string; port?: number; nodePort?: number }[];
}

function serviceSpec(svc: KubeObject | undefined): ServiceSpec | undefined {
  return svc?.spec as ServiceSpec | undefined;
}

async function ingressOutputs(
  kube: KubeClient,
  service: ObjectRef,
): Promise<Record<string, unknown>> {
  const svc = await kube.get(service);
  if (!svc) return {};
  const spec = serviceSpec(svc);
  const out: Record<string, unknown> = { ingressType: spec?.type };
  const address = loadBalancerAddress(svc);
  if (address) out.ingressAddress = address;
  if (spec?.type === "NodePort" || spec?.type === "LoadBalancer") {
    const ports: Record<string, number> = {};
    for (const p of spec.ports ?? []) {
      if (p.nodePort) ports[p.name ?? String(p.port)] = p.nodePort;
    }
    out.ingressNodePorts = ports;
  }
  return out;
}

/** Renders the platform for this step (and runs its `postRender`). */
async function renderFor(
  ctx: StepContext,
  o: KubeflowOptions,
  stepOptions: KubeflowStepOptions,
  // An external identity provider is discovered first (bounded; offline plans
  // skip it); what was found goes to the plan through `findings`.
  findings: Finding[] = [],
  // Only the plan checks external databases and buckets from this machine.
  checkServers = false,
): Promise<
  RenderedKubeflow & { mirror?: string; externalData?: ExternalDataOutcome }
> {
  const identity = await planIdentity(o, {
    offline: ctx.offline || !ctx.kube,
    signal: ctx.signal,
    prefix: (stepOptions.prefix ?? ["kubeflow"]).map(String),
  });
  findings.push(...identity.findings);
  const rendered = await renderKubeflow(o, {
    identityDiscovery: identity.discovery,
    kube: ctx.kube,
    env: stepOptions.env,
    baseDir: stepOptions.baseDir,
    source: stepOptions.source,
    prefix: (stepOptions.prefix ?? ["kubeflow"]).map(String),
    tempDir: ctx.workDir,
    signal: ctx.signal,
    placeholderSecrets: ctx.offline,
    onSecret: ctx.addSecret,
    renderCacheKey: ctx.renderCacheKey,
  });
  const externalData = await withExternalData(rendered.objects, o, {
    env: stepOptions.env,
    baseDir: stepOptions.baseDir,
    source: stepOptions.source,
    prefix: (stepOptions.prefix ?? ["kubeflow"]).map(String),
    placeholders: ctx.offline,
    onSecret: ctx.addSecret,
    check: checkServers,
  });
  rendered.objects = externalData.objects;
  rendered.warnings.push(...externalData.warnings);
  if (stepOptions.postRender) {
    rendered.objects = await stepOptions.postRender(rendered.objects);
  }
  const withData = { ...rendered, externalData };
  if (!ctx.images) return withData;
  const mirrored = await mirrorObjects(ctx, withData.objects);
  const report = mirrorReport(ctx, mirrored);
  withData.warnings.push(...report.warnings);
  return { ...withData, objects: mirrored.objects, mirror: report.fact };
}

/** What the external data settings changed and left out, for the plan's facts. */
function externalDataFacts(
  outcome: ExternalDataOutcome | undefined,
): Record<string, unknown> {
  const r = outcome?.result;
  return r
    ? {
      externalData: {
        changed: r.changed,
        leftOut: r.removed.map((x) => `${x.setting}: ${objectName(x)}`),
      },
    }
    : {};
}

/** Preflight against the cluster: errors stop the plan, warnings are repeated for the reader. */
async function addPreflight(
  kube: KubeClient,
  o: KubeflowOptions,
  rendered: RenderedKubeflow,
  plan: StepPlan,
): Promise<void> {
  const findings = await preflight(kube, {
    release: rendered.release,
    objects: rendered.objects,
    defaultStorageClassFromPlan: o.defaultStorageClassFromPlan,
  });
  for (
    const missing of await missingExternalCrds(kube, rendered.externalCrds)
  ) {
    findings.push({
      check: "kubeflow.external-crds",
      severity: "error",
      seen: missing,
      fix:
        "install that component (kubeflow.components.external says the cluster runs it) or drop it from external",
    });
  }
  if (findings.some((f) => f.severity === "error")) {
    throw new PreflightError(findings, rendered.release.version);
  }
  plan.findings.push(...findings);
  for (const f of findings) {
    if (f.severity === "warning") {
      plan.warnings.push(`${f.seen}${f.fix ? ` (${f.fix})` : ""}`);
    }
  }
}

/** The ingress address already assigned, or an unknown when verify must wait for one. */
async function plannedIngressAddress(
  ctx: StepContext,
  o: KubeflowOptions,
  plan: StepPlan,
): Promise<string | undefined> {
  if (
    o.ingress.type !== "LoadBalancer" || !(o.ingress.waitForAddress ?? true)
  ) {
    return undefined;
  }
  const live = ctx.kube
    ? await ctx.kube.get(ingressService(plan.desired))
    : undefined;
  // An address already assigned stays: only a missing one is unknown.
  const address = loadBalancerAddress(live);
  if (!address) {
    plan.unknowns.push(
      "istio-ingressgateway LoadBalancer address (known after verify)",
    );
  }
  return address;
}

async function planKubeflow(
  ctx: StepContext,
  o: KubeflowOptions,
  stepOptions: KubeflowStepOptions,
): Promise<StepPlan> {
  const identityFindings: Finding[] = [];
  const rendered = await renderFor(
    ctx,
    o,
    stepOptions,
    identityFindings,
    true,
  );
  const plan = emptyPlan();
  plan.findings.push(...identityFindings);
  const redirectUri = redirectUriFinding(o, rendered.objects);
  if (redirectUri) plan.findings.push(redirectUri);
  plan.warnings.push(
    ...identityFindings.filter((f) => f.severity === "warning").map((f) =>
      `${f.seen}${f.fix ? ` (${f.fix})` : ""}`
    ),
  );
  plan.findings.push(...(rendered.externalData?.findings ?? []));
  // What was recognized, and from what, in the human plan as well as the JSON.
  plan.findings.push(
    ...rendered.recognition.facts.map((seen) => ({
      check: "kubeflow.recognized",
      severity: "info" as const,
      seen,
    })),
    ...(rendered.fromVendor.length > 0
      ? [{
        check: "kubeflow.vendored",
        severity: "info" as const,
        seen: `from the vendor directory: ${rendered.fromVendor.join(", ")}`,
      }]
      : []),
  );
  plan.warnings.push(...rendered.warnings, ...summarizeExcluded(rendered));
  if (!ctx.kube && rendered.externalCrds.size > 0) {
    plan.warnings.push(
      `external components' CRDs are checked against the cluster when planning online: ${
        [...rendered.externalCrds.keys()].sort().join(", ")
      }`,
    );
  }
  if (ctx.kube) await addPreflight(ctx.kube, o, rendered, plan);
  if (ctx.kube) {
    const downgrade = await checkDowngrade(ctx.kube, rendered.objects, {
      planned: rendered.recognition.kubeflow?.version,
      allow: o.allowDowngrade || ctx.policy?.allowDowngrade,
    });
    if (downgrade) plan.warnings.push(downgrade);
  }
  // Conflicts are named here; the engine warns about blocked ones and refuses them.
  const objects = await planObjects(
    ctx.kube,
    rendered.objects,
    planOptionsOf(ctx),
  );
  plan.changes = objects.changes;
  plan.observed = objects.observed;
  plan.desired = rendered.objects;
  plan.desiredDigest = renderedDigest(rendered);
  const ingressAddress = await plannedIngressAddress(ctx, o, plan);
  plan.facts = {
    ...(ingressAddress ? { ingressAddress } : {}),
    version: rendered.release.version,
    recognized: rendered.recognition.facts,
    auth: rendered.release.auth ?? "none",
    kubernetes: rendered.release.kubernetes
      ? `1.${rendered.release.kubernetes.min}${
        rendered.release.kubernetes.max !== undefined
          ? ` to 1.${rendered.release.kubernetes.max}`
          : " or newer"
      } (${rendered.release.source})`
      : "unknown: not in kfplan's release table",
    objects: rendered.objects.length,
    components: Object.fromEntries(
      findComponents(rendered.objects).map((c) => [c.id, c.objects]),
    ),
    excluded: rendered.excluded.length,
    ...(Object.keys(rendered.leftOut).length > 0
      ? { componentsLeftOut: rendered.leftOut }
      : {}),
    ...(rendered.remotes.length > 0
      ? {
        remoteResources: rendered.remotes.map((r) => r.url),
        fromVendor: rendered.fromVendor,
      }
      : {}),
    identity: o.identity.provider === "oidc"
      ? `oidc ${o.identity.issuer}`
      : "dex",
    ...(rendered.droppedDex.length > 0
      ? { dexLeftOut: rendered.droppedDex.length }
      : {}),
    staticUsers: rendered.dex.users,
    connectors: o.dex.connectors.map((c) => `${c.type}:${c.id}`),
    registrationFlow: o.dashboard.registrationFlow,
    ingressType: o.ingress.type,
    ...(o.ingress.domain ? { domain: o.ingress.domain } : {}),
    ...(o.ingress.tls ? { tls: o.ingress.tls.mode } : {}),
    ...externalDataFacts(rendered.externalData),
    ...(rendered.mirror ? { images: rendered.mirror } : {}),
  };
  return plan;
}

/** What apply and verify work from: the plan's objects, or a render for a plan without them. */
interface Planned {
  /** The objects to apply or check, exactly as planned. */
  objects: KubeObject[];
  /** The Kubeflow release, e.g. `v1.9.1`. */
  version: string;
}

/**
 * The planned objects. Only a plan without them (built by hand) renders, and then
 * refuses when the render differs from the plan's digest.
 */
async function planned(
  ctx: StepContext,
  plan: StepPlan | undefined,
  o: KubeflowOptions,
  stepOptions: KubeflowStepOptions,
): Promise<Planned> {
  if (plan?.desired) {
    return { objects: plan.desired, version: String(plan.facts?.version) };
  }
  const rendered = await renderFor(ctx, o, stepOptions);
  if (plan?.desiredDigest && renderedDigest(rendered) !== plan.desiredDigest) {
    throw new Error(
      "kubeflow: the rendered manifests differ from the reviewed plan (the checkout, a secret or the " +
        "live Dex config changed since); plan again",
    );
  }
  return { objects: rendered.objects, version: rendered.release.version };
}

async function applyKubeflow(
  ctx: StepContext,
  plan: StepPlan,
  o: KubeflowOptions,
  stepOptions: KubeflowStepOptions,
): Promise<Record<string, unknown>> {
  if (!ctx.kube) throw new Error("kubeflow: apply needs a cluster");
  const { objects, version } = await planned(ctx, plan, o, stepOptions);
  const start = Date.now();
  const result = await applyObjects(ctx.kube, objects, {
    timeoutMs: o.timeoutSeconds * 1000,
    signal: ctx.signal,
    // Immutable-field changes were planned as `-/+`: delete and create again.
    replaceImmutable: true,
    allowDataLoss: ctx.policy?.allowDataLoss,
    onProgress: (e) => {
      if (e.type === "phase") {
        ctx.log.info(`phase ${e.phase}: ${e.count} objects`);
      } else if (e.type === "waiting") {
        ctx.log.debug(`waiting for ${objectName(e.ref)}: ${e.condition}`);
      }
    },
  });
  ctx.log.info(
    `applied ${result.applied.length} objects in ${Date.now() - start} ms`,
  );
  return {
    version,
    applied: result.applied.length,
    ...(await ingressOutputs(ctx.kube, ingressService(objects))),
  };
}

/** The readiness condition verify waits for, by kind. */
function readiness(
  kind: string,
):
  | { fn: (o: KubeObject | undefined) => true | string; what: string }
  | undefined {
  if (kind === "CustomResourceDefinition") {
    return { fn: crdEstablished, what: "Established" };
  }
  if (kind === "Deployment") {
    return { fn: deploymentAvailable, what: "Available" };
  }
  if (kind === "StatefulSet") {
    return { fn: statefulSetReady, what: "Available" };
  }
  return undefined;
}

/** CRDs Established, Deployments and StatefulSets Available, waited for in parallel. */
async function readinessChecks(
  ctx: StepContext,
  kube: KubeClient,
  objects: KubeObject[],
  timeoutMs: number,
): Promise<VerifyCheck[]> {
  const waits = objects.flatMap((x) => {
    const r = readiness(x.kind);
    return r ? [{ ref: refOf(x), ...r }] : [];
  });
  return await Promise.all(waits.map(async ({ ref, fn, what }) => {
    const name = `${objectName(ref)} ${what}`;
    try {
      await kube.waitFor(ref, fn, {
        timeoutMs,
        intervalMs: 1000,
        signal: ctx.signal,
      });
      return { name, ok: true };
    } catch (e) {
      return { name, ok: false, detail: (e as Error).message };
    }
  }));
}

function sortedJson(values: string[]): string {
  return JSON.stringify([...values].sort());
}

/** The live Dex config parses and has exactly the users and connectors asked for. */
async function dexCheck(
  kube: KubeClient,
  o: KubeflowOptions,
  objects: KubeObject[],
): Promise<VerifyCheck> {
  const dex = recognize(objects).dex;
  const cm = await kube.get(
    dex?.config ?? {
      apiVersion: "v1",
      kind: "ConfigMap",
      namespace: "auth",
      name: "dex",
    },
  );
  const dexText = (cm?.data as Record<string, string> | undefined)?.[
    dex?.configKey ?? "config.yaml"
  ] ?? "";
  const live = inspectDexConfig(dexText);
  const wantUsers = [
    ...(o.dex.keepDefaultUser ? ["user@example.com"] : []),
    ...o.dex.staticUsers.map((u) => u.email),
  ];
  const wantConnectors = o.dex.connectors.map((c) => `${c.type}:${c.id}`);
  const gotConnectors = live.connectors.map((c) => `${c.type}:${c.id}`);
  const usersOk = sortedJson(live.users) === sortedJson(wantUsers);
  const connectorsOk = sortedJson(gotConnectors) === sortedJson(wantConnectors);
  return {
    name: "Dex config parses with the users and connectors asked for",
    ok: live.problems.length === 0 && usersOk && connectorsOk &&
      live.issuer === o.dex.issuer,
    detail: `issuer ${live.issuer}; users ${
      live.users.join(", ") || "none"
    }; connectors ${gotConnectors.join(", ") || "none"}${
      live.problems.length ? `; problems: ${live.problems.join("; ")}` : ""
    }`,
  };
}

/**
 * With an external provider: the live auth proxy's config names its issuer (and so
 * does RequestAuthentication on oauth2-proxy releases), and no Dex Deployment runs
 * where the render had one.
 */
async function externalIdentityCheck(
  kube: KubeClient,
  o: KubeflowOptions,
  objects: KubeObject[],
): Promise<VerifyCheck> {
  const issuer = identityIssuer(o);
  const seen: string[] = [];
  let ok = true;
  const r = recognize(objects);
  const live = async (t: ObjectRef | undefined) =>
    t ? await kube.get({ ...t }) : undefined;
  if (r.auth?.kind === "oauth2-proxy") {
    const cm = await live(r.auth.config);
    const cfg = (cm?.data as Record<string, string> | undefined)
      ?.["oauth2_proxy.cfg"] ?? "";
    const proxyIssuer = cfg.match(/^oidc_issuer_url\s*=\s*"?([^"\n]*)"?/m)
      ?.[1];
    ok &&= proxyIssuer === issuer;
    seen.push(`oauth2-proxy issuer ${proxyIssuer}`);
    // The rule that trusted Dex now names the provider: recognize() looks for
    // Dex's issuer, so the planned RequestAuthentication is found by the new one.
    const jwtIssuers = (x: KubeObject | undefined) =>
      ((x?.spec as { jwtRules?: { issuer?: string }[] } | undefined)
        ?.jwtRules ?? []).map((rule) => rule.issuer);
    const planned = objects.find((x) =>
      x.kind === "RequestAuthentication" && jwtIssuers(x).includes(issuer)
    );
    if (planned) {
      const rules = jwtIssuers(await kube.get(refOf(planned)));
      ok &&= rules.includes(issuer);
      seen.push(
        `RequestAuthentication ${planned.metadata.namespace}/${planned.metadata.name} issuers ${
          rules.join(", ") || "none"
        }`,
      );
    }
  } else if (r.auth?.kind === "oidc-authservice") {
    const cm = await live(r.auth.parameters);
    const provider = (cm?.data as Record<string, string> | undefined)
      ?.OIDC_PROVIDER;
    ok &&= provider === issuer;
    seen.push(`authservice OIDC_PROVIDER ${provider}`);
  }
  return {
    name: `auth proxy trusts the external issuer ${issuer}`,
    ok,
    detail: seen.join("; "),
  };
}

/** The ingress Service has the type asked for and, for LoadBalancer, an address (bounded wait). */
async function ingressChecks(
  ctx: StepContext,
  kube: KubeClient,
  o: KubeflowOptions,
  service: ObjectRef,
): Promise<VerifyCheck[]> {
  const type = serviceSpec(await kube.get(service))?.type;
  const checks: VerifyCheck[] = [{
    name: `istio-ingressgateway is ${o.ingress.type}`,
    ok: type === o.ingress.type,
    detail: `type ${type}`,
  }];
  if (
    o.ingress.type !== "LoadBalancer" || !(o.ingress.waitForAddress ?? true)
  ) {
    return checks;
  }
  const name = "istio-ingressgateway has a LoadBalancer address";
  try {
    const live = await kube.waitFor(
      service,
      (s) =>
        loadBalancerAddress(s) ? true : "no LoadBalancer ingress address yet",
      {
        timeoutMs: o.ingress.timeoutSeconds * 1000,
        intervalMs: 1000,
        signal: ctx.signal,
      },
    );
    checks.push({ name, ok: true, detail: loadBalancerAddress(live) });
  } catch (e) {
    checks.push({ name, ok: false, detail: (e as Error).message });
  }
  return checks;
}

async function verifyKubeflow(
  ctx: StepContext,
  o: KubeflowOptions,
  plan: StepPlan | undefined,
  stepOptions: KubeflowStepOptions,
): Promise<VerifyResult> {
  if (!ctx.kube) {
    return {
      checks: [{ name: "cluster reachable", ok: false, detail: "offline" }],
    };
  }
  const kube = ctx.kube;
  const { objects } = await planned(ctx, plan, o, stepOptions);
  const checks = [
    ...await readinessChecks(ctx, kube, objects, o.timeoutSeconds * 1000),
    o.identity.provider === "oidc"
      ? await externalIdentityCheck(kube, o, objects)
      : await dexCheck(kube, o, objects),
    ...await ingressChecks(ctx, kube, o, ingressService(objects)),
  ];
  const tls = await verifyStepTls(kube, o, { objects, signal: ctx.signal });
  checks.push(...tls.checks);
  return {
    checks,
    outputs: {
      ...await ingressOutputs(kube, ingressService(objects)),
      ...tls.outputs,
    },
  };
}

/**
 * Creates the Kubeflow manifests step. Options are validated immediately and throw
 * `OptionsError` naming each bad field.
 *
 * @example
 * ```ts
 * const step = kubeflowStep({
 *   manifests: "/src/kubeflow-manifests",
 *   oidcClient: { secret: { env: "KF_OIDC_CLIENT_SECRET" } },
 *   dex: { staticUsers: [{ email: "alice@example.com", password: { env: "ALICE_PASSWORD" } }] },
 *   oauth2Proxy: { cookieSecret: { env: "KF_COOKIE_SECRET" } },
 * }, { source: "kfplan.yaml", prefix: ["kubeflow"] });
 * ```
 */
export function kubeflowStep(
  options: KubeflowOptionsInput,
  stepOptions: KubeflowStepOptions = {},
): Step<KubeflowOptions> {
  return defineStep({
    id: stepOptions.id ?? KUBEFLOW_STEP_ID,
    title: "Kubeflow platform from kubeflow/manifests",
    needs: stepOptions.needs,
    schema: kubeflowOptionsSchema,
    options,
    plan: (ctx, o) => planKubeflow(ctx, o, stepOptions),
    apply: (ctx, plan, o) => applyKubeflow(ctx, plan, o, stepOptions),
    verify: (ctx, o, plan) => verifyKubeflow(ctx, o, plan, stepOptions),
  }, {
    source: stepOptions.source,
    prefix: stepOptions.prefix ?? ["kubeflow"],
  });
}
