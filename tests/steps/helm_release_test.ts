import { assert, assertEquals, assertMatch, throws } from "../_assert.ts";
import { isHook } from "../../lib/tools/helm.ts";
import { sharedChart } from "../_shared.ts";
import { OptionsError, validateOptions } from "../../lib/engine/options.ts";
import {
  applyRelease,
  chartRef,
  chartSourceSchema,
  checkChartSource,
  planRelease,
  renderRelease,
  splitDesired,
} from "../../lib/steps/helm_release.ts";
import type { StepContext } from "../../lib/engine/types.ts";

const METALLB = sharedChart("metallb-0.15.3");

function offline(): StepContext {
  return {
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: Deno.makeTempDirSync(),
    signal: new AbortController().signal,
  };
}

Deno.test("chart source: repository reference or local path, not both, not neither", () => {
  const both = throws(
    () =>
      validateOptions(chartSourceSchema, {
        repo: "https://x.example",
        chart: "c",
        path: "./c",
      }, { prefix: ["metallb", "chart"] }),
    OptionsError,
  );
  assertMatch(
    both.message,
    /metallb\.chart\.path: set either path \(a local chart\) or repo \+ chart/,
  );
  const neither = throws(
    () =>
      validateOptions(chartSourceSchema, { version: "1.0.0" }, {
        prefix: ["chart"],
      }),
    OptionsError,
  );
  assertMatch(
    neither.message,
    /chart\.repo: a chart needs repo \+ chart \(\+ version\) or a local path/,
  );
  const url = throws(
    () =>
      validateOptions(chartSourceSchema, {
        repo: "metallb/metallb",
        chart: "metallb",
      }),
    OptionsError,
  );
  assertMatch(url.message, /repo: use a chart repository URL/);
  assertEquals(chartRef({ path: "charts/metallb" }, "/cfg"), {
    path: "/cfg/charts/metallb",
  });
  assertEquals(
    chartRef({ repo: "oci://ghcr.io/x", chart: "c", version: "1" }),
    { repo: "oci://ghcr.io/x", chart: "c", version: "1" },
  );
});

Deno.test("a local chart path that names no chart is refused at plan time, naming the file and field", async () => {
  const base = await Deno.makeTempDir();
  try {
    const env = { baseDir: base, source: "kfplan.yaml", prefix: ["storage"] };
    const spec = {
      release: "nfs",
      namespace: "nfs",
      chart: { path: "charts/no-such-chart" },
      values: {},
    };
    // Before helm is even looked for: a helm that would throw proves it never ran.
    const helm = new Proxy({}, {
      get() {
        throw new Error("helm used");
      },
    }) as never;
    const missing = await renderRelease(offline(), spec, { ...env, helm })
      .then(() => undefined, (e) => e);
    assert(missing instanceof OptionsError, String(missing));
    assertEquals(
      missing.message,
      `kfplan.yaml: storage.chart.path: no chart at ${base}/charts/no-such-chart ` +
        "(a chart directory or .tgz, relative to the config file)",
    );
    const plan = await planRelease(offline(), spec, { ...env, helm })
      .then(() => undefined, (e) => e);
    assert(plan instanceof OptionsError);
    // Apply refuses before touching the cluster (the kube client would throw).
    const kube = new Proxy({}, {
      get() {
        throw new Error("cluster used");
      },
    });
    const apply = await applyRelease(
      { ...offline(), offline: false, kube } as never,
      { ...spec, chart: { path: "/no/such/chart.tgz" } },
      { source: "c.yaml", prefix: ["gpu", "operator"], helm },
    ).then(() => undefined, (e) => e);
    assert(apply instanceof OptionsError, String(apply));
    assertMatch(
      apply.message,
      /^c\.yaml: gpu\.operator\.chart\.path: no chart at \/no\/such\/chart\.tgz/,
    );
    // A directory without Chart.yaml is no chart either; a real chart passes.
    await Deno.mkdir(`${base}/charts/empty`, { recursive: true });
    assertMatch(
      throws(
        () => checkChartSource({ path: "charts/empty" }, env),
        OptionsError,
      ).message,
      /storage\.chart\.path: .*charts\/empty is a directory without Chart\.yaml/,
    );
    checkChartSource({ path: METALLB }, env);
    checkChartSource({ repo: "https://x.example", chart: "c" }, env);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("offline render: namespaced objects get the release namespace, cluster-scoped ones none", async () => {
  const { objects, kubeVersion } = await renderRelease(offline(), {
    release: "metallb",
    namespace: "lb",
    chart: { path: METALLB },
    values: {},
  });
  assertEquals(kubeVersion, "v1.33.0");
  assertEquals(
    objects.find((o) => o.kind === "Deployment")?.metadata.namespace,
    "lb",
  );
  assertEquals(
    objects.find((o) => o.kind === "ClusterRole")?.metadata.namespace,
    undefined,
  );
  assertEquals(
    objects.find((o) => o.kind === "CustomResourceDefinition")?.metadata
      .namespace,
    undefined,
  );
});

Deno.test("offline plan: namespace first with its labels, everything create, digest and facts set", async () => {
  const plan = await planRelease(offline(), {
    release: "metallb",
    namespace: "lb",
    chart: { path: METALLB },
    values: { speaker: { enabled: false } },
    namespaceLabels: { "pod-security.kubernetes.io/enforce": "privileged" },
  });
  assertEquals(plan.changes[0].kind, "Namespace");
  assertEquals(plan.changes.every((c) => c.action === "create"), true);
  assertEquals(plan.changes.some((c) => c.kind === "DaemonSet"), false);
  assertMatch(plan.desiredDigest ?? "", /^sha256:|^[0-9a-f]{16,}/);
  assertEquals(plan.facts?.release, "lb/metallb");
  assertMatch(
    plan.warnings[0],
    /offline: chart rendered for Kubernetes v1\.33\.0/,
  );
});

Deno.test("offline plan: desired objects are the namespace, then the manifest helm installs (no hooks, no crds/)", async () => {
  const ctx = offline();
  try {
    const spec = {
      release: "gpu",
      namespace: "gpu-operator",
      chart: { path: sharedChart("gpu-operator-v26.3.3") },
      values: {},
      namespaceLabels: { "pod-security.kubernetes.io/enforce": "privileged" },
    };
    const plan = await planRelease(ctx, spec);
    const desired = plan.desired ?? [];
    assertEquals(desired[0], {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: "gpu-operator",
        labels: { "pod-security.kubernetes.io/enforce": "privileged" },
      },
    });
    const crdsDir = new Set(plan.rendered.crdsDir);
    assert(crdsDir.size > 0, "the chart has a crds/ directory");
    assertEquals(desired.filter((o) => crdsDir.has(o)), []);
    assertEquals(desired.filter(isHook), []);
    assertEquals(
      desired.length,
      1 + plan.rendered.objects.length - crdsDir.size,
    );
    const split = splitDesired(spec, desired);
    assertEquals(split.namespace, desired[0]);
    assertEquals(split.manifest, desired.slice(1));
    const refused = throws(
      () => splitDesired({ ...spec, namespace: "elsewhere" }, desired),
      Error,
    );
    assertMatch(refused.message, /do not start with Namespace elsewhere/);
  } finally {
    await Deno.remove(ctx.workDir, { recursive: true });
  }
});
