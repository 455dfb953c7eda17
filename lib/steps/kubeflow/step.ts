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
  type Step,
  type StepContext,
  type StepPlan,
  type VerifyCheck,
} from "../../engine/types.ts";
import { applyObjects, planObjects } from "../../kube/apply_set.ts";
import type { KubeClient, KubeObject } from "../../kube/types.ts";
import {
  crdEstablished,
  deploymentAvailable,
  loadBalancerAddress,
  statefulSetReady,
} from "../../kube/wait.ts";
import { inspectDexConfig } from "./dex.ts";
import {
  type KubeflowOptions,
  type KubeflowOptionsInput,
  kubeflowOptionsSchema,
} from "./options.ts";
import { preflight, PreflightError } from "./preflight.ts";
import { type RenderedKubeflow, renderKubeflow } from "./render.ts";

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

function sortRef(o: KubeObject): string {
  return `${o.apiVersion}|${o.kind}|${
    o.metadata.namespace ?? ""
  }|${o.metadata.name}`;
}

/**
 * The desired-state digest of a rendered platform: order-independent, and it covers
 * Secret values (so a changed secret changes it) without exposing them.
 */
export function renderedDigest(rendered: RenderedKubeflow): string {
  const objects = [...rendered.objects].sort((a, b) =>
    sortRef(a) < sortRef(b) ? -1 : 1
  );
  return digestOf({ version: rendered.release.version, objects });
}

function summarizeExcluded(rendered: RenderedKubeflow): string[] {
  const byReason = new Map<string, string[]>();
  for (const e of rendered.excluded) {
    const ref = `${e.kind} ${e.namespace ? `${e.namespace}/` : ""}${e.name}`;
    byReason.set(e.reason, [...(byReason.get(e.reason) ?? []), ref]);
  }
  return [...byReason].map(([reason, refs]) =>
    `excluded ${refs.length} object(s) (${reason}): ${refs.join(", ")}`
  );
}

async function ingressOutputs(
  kube: KubeClient,
): Promise<Record<string, unknown>> {
  const svc = await kube.get({
    apiVersion: "v1",
    kind: "Service",
    namespace: "istio-system",
    name: "istio-ingressgateway",
  });
  if (!svc) return {};
  // deno-lint-ignore no-explicit-any
  const spec = svc.spec as any;
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
  // Rendering takes seconds (kustomize, bcrypt): keep the last render of this step
  // instance so apply and verify reuse what plan showed.
  const renders = new Map<string, RenderedKubeflow>();
  let last: RenderedKubeflow | undefined;

  async function render(
    ctx: StepContext,
    o: KubeflowOptions,
  ): Promise<RenderedKubeflow> {
    const rendered = await renderKubeflow(o, {
      kube: ctx.kube,
      env: stepOptions.env,
      baseDir: stepOptions.baseDir,
      source: stepOptions.source,
      prefix: (stepOptions.prefix ?? ["kubeflow"]).map(String),
      tempDir: ctx.workDir,
      signal: ctx.signal,
      placeholderSecrets: ctx.offline,
      onSecret: ctx.addSecret,
    });
    if (stepOptions.postRender) {
      rendered.objects = await stepOptions.postRender(rendered.objects);
    }
    renders.set(renderedDigest(rendered), rendered);
    last = rendered;
    return rendered;
  }

  return defineStep({
    id: stepOptions.id ?? KUBEFLOW_STEP_ID,
    title: "Kubeflow platform from kubeflow/manifests",
    needs: stepOptions.needs,
    schema: kubeflowOptionsSchema,
    options,
    async plan(ctx, o): Promise<StepPlan> {
      const rendered = await render(ctx, o);
      const plan = emptyPlan();
      plan.warnings.push(...rendered.warnings, ...summarizeExcluded(rendered));
      if (ctx.kube) {
        const findings = await preflight(ctx.kube, {
          release: rendered.release,
          objects: rendered.objects,
          defaultStorageClassFromPlan: o.defaultStorageClassFromPlan,
        });
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
      const objects = await planObjects(ctx.kube, rendered.objects, {
        signal: ctx.signal,
      });
      plan.changes = objects.changes;
      plan.observed = objects.observed;
      plan.desiredDigest = renderedDigest(rendered);
      let ingressAddress: string | undefined;
      if (
        o.ingress.type === "LoadBalancer" && (o.ingress.waitForAddress ?? true)
      ) {
        const live = ctx.kube
          ? await ctx.kube.get({
            apiVersion: "v1",
            kind: "Service",
            namespace: "istio-system",
            name: "istio-ingressgateway",
          })
          : undefined;
        // An address already assigned stays: only a missing one is unknown.
        ingressAddress = loadBalancerAddress(live);
        if (!ingressAddress) {
          plan.unknowns.push(
            "istio-ingressgateway LoadBalancer address (known after verify)",
          );
        }
      }
      plan.facts = {
        ...(ingressAddress ? { ingressAddress } : {}),
        version: rendered.release.version,
        detectedFrom: rendered.detected.evidence,
        auth: rendered.release.auth,
        objects: rendered.objects.length,
        excluded: rendered.excluded.length,
        staticUsers: rendered.dex.users,
        connectors: o.dex.connectors.map((c) => `${c.type}:${c.id}`),
        registrationFlow: o.dashboard.registrationFlow,
        ingressType: o.ingress.type,
      };
      return plan;
    },
    async apply(ctx, plan, o) {
      if (!ctx.kube) throw new Error("kubeflow: apply needs a cluster");
      let rendered = plan.desiredDigest
        ? renders.get(plan.desiredDigest)
        : undefined;
      if (!rendered) {
        rendered = await render(ctx, o);
        const digest = renderedDigest(rendered);
        if (plan.desiredDigest && digest !== plan.desiredDigest) {
          throw new Error(
            "kubeflow: the rendered manifests differ from the reviewed plan (the checkout, a secret or the " +
              "live Dex config changed since); plan again",
          );
        }
      }
      const start = Date.now();
      const result = await applyObjects(ctx.kube, rendered.objects, {
        timeoutMs: o.timeoutSeconds * 1000,
        signal: ctx.signal,
        onProgress: (e) => {
          if (e.type === "phase") {
            ctx.log.info(`phase ${e.phase}: ${e.count} objects`);
          } else if (e.type === "waiting") {
            ctx.log.debug(
              `waiting for ${e.ref.kind} ${e.ref.name}: ${e.condition}`,
            );
          }
        },
      });
      ctx.log.info(
        `applied ${result.applied.length} objects in ${Date.now() - start} ms`,
      );
      return {
        version: rendered.release.version,
        applied: result.applied.length,
        ...(await ingressOutputs(ctx.kube)),
      };
    },
    async verify(ctx, o) {
      if (!ctx.kube) {
        return {
          checks: [{ name: "cluster reachable", ok: false, detail: "offline" }],
        };
      }
      const kube = ctx.kube;
      const rendered = last ?? await render(ctx, o);
      const checks: VerifyCheck[] = [];
      const timeoutMs = o.timeoutSeconds * 1000;
      const ref = (x: KubeObject) => ({
        apiVersion: x.apiVersion,
        kind: x.kind,
        name: x.metadata.name,
        ...(x.metadata.namespace ? { namespace: x.metadata.namespace } : {}),
      });
      const waitChecks = rendered.objects.flatMap((x) => {
        const fn = x.kind === "CustomResourceDefinition"
          ? crdEstablished
          : x.kind === "Deployment"
          ? deploymentAvailable
          : x.kind === "StatefulSet"
          ? statefulSetReady
          : undefined;
        return fn ? [{ x, fn }] : [];
      });
      const results = await Promise.all(waitChecks.map(async ({ x, fn }) => {
        const name = `${x.kind} ${
          x.metadata.namespace ? `${x.metadata.namespace}/` : ""
        }${x.metadata.name} ${
          x.kind === "CustomResourceDefinition" ? "Established" : "Available"
        }`;
        try {
          await kube.waitFor(ref(x), fn, {
            timeoutMs,
            intervalMs: 1000,
            signal: ctx.signal,
          });
          return { name, ok: true };
        } catch (e) {
          return { name, ok: false, detail: (e as Error).message };
        }
      }));
      checks.push(...results);

      const cm = await kube.get({
        apiVersion: "v1",
        kind: "ConfigMap",
        namespace: "auth",
        name: "dex",
      });
      const dexText =
        (cm?.data as Record<string, string> | undefined)?.["config.yaml"] ?? "";
      const dex = inspectDexConfig(dexText);
      const wantUsers = [
        ...(o.dex.keepDefaultUser ? ["user@example.com"] : []),
        ...o.dex.staticUsers.map((u) => u.email),
      ];
      const wantConnectors = o.dex.connectors.map((c) => `${c.type}:${c.id}`);
      const gotConnectors = dex.connectors.map((c) => `${c.type}:${c.id}`);
      const usersOk = JSON.stringify([...dex.users].sort()) ===
        JSON.stringify([...wantUsers].sort());
      const connectorsOk = JSON.stringify(gotConnectors.sort()) ===
        JSON.stringify([...wantConnectors].sort());
      checks.push({
        name: "Dex config parses with the users and connectors asked for",
        ok: dex.problems.length === 0 && usersOk && connectorsOk &&
          dex.issuer === o.dex.issuer,
        detail: `issuer ${dex.issuer}; users ${
          dex.users.join(", ") || "none"
        }; connectors ${gotConnectors.join(", ") || "none"}${
          dex.problems.length ? `; problems: ${dex.problems.join("; ")}` : ""
        }`,
      });

      const svcRef = {
        apiVersion: "v1",
        kind: "Service",
        namespace: "istio-system",
        name: "istio-ingressgateway",
      };
      const svc = await kube.get(svcRef);
      // deno-lint-ignore no-explicit-any
      const type = (svc?.spec as any)?.type;
      checks.push({
        name: `istio-ingressgateway is ${o.ingress.type}`,
        ok: type === o.ingress.type,
        detail: `type ${type}`,
      });
      if (
        o.ingress.type === "LoadBalancer" && (o.ingress.waitForAddress ?? true)
      ) {
        try {
          const live = await kube.waitFor(
            svcRef,
            (s) =>
              loadBalancerAddress(s)
                ? true
                : "no LoadBalancer ingress address yet",
            {
              timeoutMs: o.ingress.timeoutSeconds * 1000,
              intervalMs: 1000,
              signal: ctx.signal,
            },
          );
          checks.push({
            name: "istio-ingressgateway has a LoadBalancer address",
            ok: true,
            detail: loadBalancerAddress(live),
          });
        } catch (e) {
          checks.push({
            name: "istio-ingressgateway has a LoadBalancer address",
            ok: false,
            detail: (e as Error).message,
          });
        }
      }
      return { checks, outputs: await ingressOutputs(kube) };
    },
  }, {
    source: stepOptions.source,
    prefix: stepOptions.prefix ?? ["kubeflow"],
  });
}
