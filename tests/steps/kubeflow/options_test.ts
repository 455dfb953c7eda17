import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
} from "../../_assert.ts";
import { OptionsError, validateOptions } from "../../../lib/engine/options.ts";
import type { StepContext } from "../../../lib/engine/types.ts";
import {
  type KubeflowOptionsInput,
  kubeflowOptionsSchema,
} from "../../../lib/steps/kubeflow/options.ts";
import { kubeflowStep } from "../../../lib/steps/kubeflow/step.ts";
import { nonDefaultOptions, PLANTED, plantedEnv } from "./_fixtures.ts";

function offlineContext(workDir: string): StepContext {
  return {
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir,
    signal: new AbortController().signal,
  };
}

function construct(options: unknown): OptionsError {
  return assertThrows(
    () =>
      kubeflowStep(options as KubeflowOptionsInput, {
        source: "kfplan.yaml",
        prefix: ["kubeflow"],
      }),
    OptionsError,
  );
}

Deno.test("issuer mismatch between Dex and oauth2-proxy fails naming the field", () => {
  const o = nonDefaultOptions("v1.10.2");
  o.oauth2Proxy = {
    cookieSecret: { env: "KF_COOKIE_SECRET" },
    issuer: "https://other.example.org/dex",
  };
  const err = construct(o);
  assertMatch(
    err.message,
    /^kfplan\.yaml: kubeflow\.oauth2Proxy\.issuer: issuer mismatch/,
  );
  assertMatch(
    err.message,
    /dex\.issuer "http:\/\/dex\.auth\.svc\.cluster\.local:5556\/dex"/,
  );
});

Deno.test("a bcrypt hash of cost 4 fails naming the field and the valid range", () => {
  const o = nonDefaultOptions("v1.10.2");
  o.dex!.staticUsers = [{
    email: "carol@example.org",
    hash: "$2b$04$" + "a".repeat(53),
  }];
  const err = construct(o);
  assertMatch(
    err.message,
    /kubeflow\.dex\.staticUsers\[0\]\.hash: bcrypt cost 4 is outside 10\.\.16/,
  );
  o.dex!.staticUsers = [{ email: "carol@example.org", hash: "$1$notbcrypt" }];
  assertMatch(
    construct(o).message,
    /kubeflow\.dex\.staticUsers\[0\]\.hash: not a bcrypt hash/,
  );
});

Deno.test("a GitHub connector with both org and orgs fails naming the field", () => {
  const o = nonDefaultOptions("v1.10.2");
  const config = o.dex!.connectors![0].config as Record<string, unknown>;
  config.org = "example-org";
  const err = construct(o);
  assertMatch(
    err.message,
    /kubeflow\.dex\.connectors\[0\]\.config\.org: set either org .* or orgs .*, not both/,
  );
});

Deno.test("a misspelled connector field is rejected, not ignored as Dex would", () => {
  const o = nonDefaultOptions("v1.10.2");
  const config = o.dex!.connectors![0].config as Record<string, unknown>;
  config.loadAllGroup = true;
  const err = construct(o);
  assertMatch(
    err.message,
    /kubeflow\.dex\.connectors\[0\]\.config: unknown field "loadAllGroup"/,
  );
  const oidc = nonDefaultOptions("v1.10.2");
  oidc.dex!.connectors = [{
    type: "oidc",
    id: "corp",
    name: "Corp",
    config: {
      issuer: "https://sso.example.org",
      clientID: "kf",
      clientSecret: { env: "X" },
      redirectURI: "https://kf.example.org/dex/callback",
      // deno-lint-ignore no-explicit-any
      jwksUri: "https://sso.example.org/keys" as any,
    } as never,
  }];
  assertMatch(
    construct(oidc).message,
    /kubeflow\.dex\.connectors\[0\]\.config: unknown field "jwksUri"/,
  );
});

Deno.test("a secret given inline is rejected with what is valid", () => {
  const o = nonDefaultOptions("v1.10.2") as Record<string, unknown>;
  o.oidcClient = { secret: "hunter2hunter2" };
  const err = construct(o);
  assertMatch(
    err.message,
    /kubeflow\.oidcClient\.secret: a secret is given as \{ env: NAME \} or \{ file: PATH \}/,
  );
  assert(
    !err.message.includes("hunter2hunter2"),
    "the inline value is not echoed",
  );
});

Deno.test("a cookie secret of 20 bytes fails at plan time naming the field, not the value", async () => {
  const step = kubeflowStep(nonDefaultOptions("v1.10.2"), {
    source: "kfplan.yaml",
    prefix: ["kubeflow"],
    env: { ...plantedEnv(), KF_COOKIE_SECRET: "twenty-bytes-secret!" },
  });
  const dir = await Deno.makeTempDir();
  try {
    const err = await assertRejects(
      () => step.plan(offlineContext(dir)),
      OptionsError,
    );
    assertMatch(
      err.message,
      /kubeflow\.oauth2Proxy\.cookieSecret: is 20 bytes \(from env KF_COOKIE_SECRET\); .*16, 24 or 32/,
    );
    assert(!err.message.includes("twenty-bytes-secret!"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("version-specific settings: oauth2Proxy on v1.6.1 and a wrong stated version fail naming the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const o = nonDefaultOptions("v1.6.1");
    o.oauth2Proxy = { cookieSecret: { env: "KF_COOKIE_SECRET" } };
    const step = kubeflowStep(o, {
      source: "kfplan.yaml",
      prefix: ["kubeflow"],
      env: plantedEnv(),
    });
    const err = await assertRejects(
      () => step.plan(offlineContext(dir)),
      OptionsError,
    );
    assertMatch(
      err.message,
      /kubeflow\.oauth2Proxy: the rendered tree deploys oidc-authservice \(StatefulSet istio-system\/authservice\), not oauth2-proxy: use authservice instead/,
    );

    const wrong = nonDefaultOptions("v1.10.2");
    wrong.version = "v1.9.1";
    const step2 = kubeflowStep(wrong, {
      source: "kfplan.yaml",
      prefix: ["kubeflow"],
      env: plantedEnv(),
    });
    const err2 = await assertRejects(
      () => step2.plan(offlineContext(dir)),
      OptionsError,
    );
    assertMatch(
      err2.message,
      /kubeflow\.version: says v1\.9\.1 but .*v1\.10\.2\/example renders Kubeflow v1\.10 \(component images tagged v1\.10\.0: /,
    );

    const missing = nonDefaultOptions("v1.10.2");
    const step3 = kubeflowStep(missing, {
      source: "kfplan.yaml",
      prefix: ["kubeflow"],
      env: {},
    });
    // Offline, an unset secret is planned with a placeholder and named in a
    // warning (against a cluster it is an error: see render_test.ts).
    const plan3 = await step3.plan(offlineContext(dir));
    assert(
      plan3.warnings.some((w) =>
        /placeholders.*oidcClient\.secret \(env KF_CLIENT_SECRET\)/.test(w)
      ),
      plan3.warnings.join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a client secret for the proxy that differs from Dex's fails naming the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const o = nonDefaultOptions("v1.10.2");
    o.oauth2Proxy = {
      cookieSecret: { env: "KF_COOKIE_SECRET" },
      clientSecret: { env: "OTHER" },
    };
    const step = kubeflowStep(o, {
      source: "kfplan.yaml",
      prefix: ["kubeflow"],
      env: { ...plantedEnv(), OTHER: "another-secret-value" },
    });
    const err = await assertRejects(
      () => step.plan(offlineContext(dir)),
      OptionsError,
    );
    assertMatch(
      err.message,
      /kubeflow\.oauth2Proxy\.clientSecret: client secret mismatch/,
    );
    assert(!err.message.includes(PLANTED.clientSecret));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("defaults: ClusterIP ingress, registration flow off, in-cluster issuer", () => {
  const o = validateOptions(kubeflowOptionsSchema, {
    manifests: "/x",
    oidcClient: { secret: { file: "/run/secret" } },
    dex: { keepDefaultUser: true },
  });
  assertEquals(o.ingress.type, "ClusterIP");
  assertEquals(o.dashboard.registrationFlow, false);
  assertEquals(o.dex.issuer, "http://dex.auth.svc.cluster.local:5556/dex");
  assertEquals(o.oidcClient?.id, "kubeflow-oidc-authservice");
  const nobody = assertThrows(
    () =>
      validateOptions(kubeflowOptionsSchema, {
        manifests: "/x",
        oidcClient: { secret: { env: "A" } },
        dex: {},
      }),
    OptionsError,
  );
  assertMatch(nobody.message, /dex\.staticUsers: nobody could log in/);
});
