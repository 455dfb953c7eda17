import { assert, assertEquals } from "../../_assert.ts";
import type { KubeObject } from "../../../lib/kube/types.ts";
import {
  imageTag,
  recognize,
  releaseLine,
  targetOf,
} from "../../../lib/steps/kubeflow/recognize.ts";

function deployment(
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: { template: { spec } },
  };
}

function configMap(
  namespace: string,
  name: string,
  data: Record<string, string>,
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace },
    data,
  };
}

/** A small oauth2-proxy platform under names no release uses. */
function fork(): KubeObject[] {
  return [
    deployment("identity", "login", {
      containers: [{
        name: "server",
        image: "ghcr.io/dexidp/dex:v2.41.1",
        envFrom: [{ secretRef: { name: "login-client" } }],
        env: [{
          name: "DEX_USER_PASSWORD",
          valueFrom: { secretKeyRef: { name: "login-pw", key: "hash" } },
        }],
      }],
      volumes: [{ name: "cfg", configMap: { name: "login-cfg" } }],
    }),
    configMap("identity", "login-cfg", {
      "config.yaml":
        "issuer: https://x.example/dex\nstaticPasswords:\n- email: user@example.com\n  hashFromEnv: DEX_USER_PASSWORD\nstaticClients:\n- redirectURIs: [/oauth2/callback]\n",
    }),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "login-client", namespace: "identity" },
      data: { OIDC_CLIENT_ID: "eA==", OIDC_CLIENT_SECRET: "eA==" },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "login-pw", namespace: "identity" },
      stringData: { hash: "$2y$10$x" },
    },
    deployment("gate", "proxy", {
      containers: [{
        name: "p",
        image: "quay.io/oauth2-proxy/oauth2-proxy:v7.7.1",
        envFrom: [{ secretRef: { name: "proxy-s-bh8fm9t6c2" } }],
        env: [{
          name: "FORCE_HTTPS",
          valueFrom: {
            configMapKeyRef: {
              name: "proxy-params-74659b6648",
              key: "FORCE_HTTPS",
            },
          },
        }],
      }],
      volumes: [{ name: "c", configMap: { name: "proxy-cfg-hk55gm96k4" } }],
    }),
    configMap("gate", "proxy-cfg-hk55gm96k4", {
      "oauth2_proxy.cfg": "x = 1\n",
    }),
    configMap("gate", "proxy-params-74659b6648", { FORCE_HTTPS: "false" }),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "proxy-s-bh8fm9t6c2", namespace: "gate" },
      data: { "cookie-secret": "eA==" },
    },
    {
      apiVersion: "security.istio.io/v1",
      kind: "RequestAuthentication",
      metadata: { name: "jwt", namespace: "mesh" },
      spec: {
        jwtRules: [{ issuer: "other" }, { issuer: "https://x.example/dex" }],
      },
    },
    deployment("ui", "dash", {
      containers: [{
        name: "d",
        image: "ghcr.io/kubeflow/kubeflow/central-dashboard:v1.12.1",
        env: [{ name: "REGISTRATION_FLOW", value: "false" }],
      }],
    }),
    configMap("ui", "dash-params", { CD_REGISTRATION_FLOW: "false" }),
    deployment("ui", "nb", {
      containers: [{
        name: "n",
        image: "ghcr.io/kubeflow/kubeflow/notebook-controller:v1.12.1",
      }],
    }),
    deployment("mesh", "istiod", {
      containers: [{ name: "d", image: "docker.io/istio/pilot:1.29.0" }],
    }),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "edge", namespace: "mesh" },
      spec: { type: "NodePort", selector: { istio: "ingressgateway" } },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "gw", namespace: "ui" },
      spec: { selector: { istio: "ingressgateway" } },
    },
  ];
}

Deno.test("recognize finds every setting's target from the objects, whatever they are called", () => {
  const r = recognize(fork());
  assertEquals(r.auth?.kind, "oauth2-proxy");
  if (r.auth?.kind !== "oauth2-proxy") throw new Error("unreachable");
  assertEquals(r.auth.config?.baseName, "proxy-cfg");
  assertEquals(r.auth.config?.hashed, true);
  assertEquals(r.auth.parameters?.baseName, "proxy-params");
  assertEquals(r.auth.secret?.name, "proxy-s-bh8fm9t6c2");
  assertEquals(r.auth.requestAuthentication?.name, "jwt");
  assertEquals(r.auth.jwtRule, 1);
  assertEquals(r.dex?.config.name, "login-cfg");
  assertEquals(r.dex?.clientSecret?.name, "login-client");
  assertEquals(r.dex?.defaultUser, {
    kind: "secret",
    secret: targetOf(fork()[3]),
    key: "hash",
    stringData: true,
  });
  assertEquals(r.dex?.redirectURIs, ["/oauth2/callback"]);
  assertEquals(r.dashboard?.parameters?.name, "dash-params");
  assertEquals(r.dashboard?.envValue, true);
  assertEquals(r.ingress?.service.name, "edge");
  assertEquals(r.ingress?.type, "NodePort");
  assertEquals(r.ingress?.gateways.map((g) => g.name), ["gw"]);
  assertEquals(r.istio?.version, "1.29.0");
  assertEquals(r.kubeflow?.line, "v1.12");
  assertEquals(r.kubeflow?.version, "v1.12.1");
  assert(
    r.facts[0].startsWith("auth proxy: oauth2-proxy (Deployment gate/proxy"),
  );
});

Deno.test("recognize reports authservice with its parameters, and nothing for unrelated objects", () => {
  const objects: KubeObject[] = [
    {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "authservice", namespace: "istio-system" },
      spec: {
        template: {
          spec: {
            containers: [{
              name: "a",
              image: "gcr.io/arrikto/kubeflow/oidc-authservice:e236439",
              envFrom: [{ configMapRef: { name: "p" } }],
            }],
          },
        },
      },
    },
    configMap("istio-system", "p", {
      OIDC_PROVIDER: "x",
      AUTHSERVICE_URL_PREFIX: "/authservice/",
    }),
  ];
  const r = recognize(objects);
  assertEquals(r.auth?.kind, "oidc-authservice");
  if (r.auth?.kind !== "oidc-authservice") throw new Error("unreachable");
  assertEquals(r.auth.parameterKeys, [
    "AUTHSERVICE_URL_PREFIX",
    "OIDC_PROVIDER",
  ]);
  const none = recognize([configMap("a", "b", { x: "y" })]);
  assertEquals([none.auth, none.dex, none.kubeflow], [
    undefined,
    undefined,
    undefined,
  ]);
  assertEquals(none.facts, []);
});

Deno.test("image tags, release lines and generated names", () => {
  assertEquals(imageTag("registry:5000/a/b:v1.2.3"), "v1.2.3");
  assertEquals(imageTag("a/b@sha256:00"), "latest");
  assertEquals(releaseLine("1.10.0-rc.1"), "v1.10");
  assertEquals(targetOf(configMap("n", "plain-name", {})).hashed, false);
  assertEquals(targetOf(configMap("n", "x-4h2mbtbbt6", {})).baseName, "x");
});
