/**
 * A tiny release tree of a Kubeflow release kfplan has never seen (v1.12.0), under
 * names of its own: Dex, an OAuth2 proxy and the dashboard. Shared by the render
 * test and the integration test that removes a Dex connector.
 *
 * @module
 */

/** The tree's objects: one multi-document YAML. */
export const TINY_RELEASE = `apiVersion: apps/v1
kind: Deployment
metadata: { name: login, namespace: identity }
spec:
  template:
    spec:
      containers:
      - name: server
        image: ghcr.io/dexidp/dex:v2.45.0
        envFrom: [{ secretRef: { name: login-client } }]
      volumes: [{ name: cfg, configMap: { name: login-cfg } }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: login-cfg, namespace: identity }
data:
  config.yaml: |
    issuer: http://dex.auth.svc.cluster.local:5556/dex
    storage: { type: kubernetes, config: { inCluster: true } }
    staticClients:
    - idEnv: OIDC_CLIENT_ID
      secretEnv: OIDC_CLIENT_SECRET
      redirectURIs: [/oauth2/callback]
---
apiVersion: v1
kind: Secret
metadata: { name: login-client, namespace: identity }
data: { OIDC_CLIENT_ID: eA==, OIDC_CLIENT_SECRET: eA== }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: proxy, namespace: gate }
spec:
  template:
    spec:
      containers:
      - name: p
        image: quay.io/oauth2-proxy/oauth2-proxy:v7.14.0
        envFrom: [{ secretRef: { name: proxy-secret } }]
      volumes: [{ name: c, configMap: { name: proxy-cfg } }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: proxy-cfg, namespace: gate }
data:
  oauth2_proxy.cfg: |
    oidc_issuer_url = "http://dex.auth.svc.cluster.local:5556/dex"
    redirect_url = "/oauth2/callback"
---
apiVersion: v1
kind: Secret
metadata: { name: proxy-secret, namespace: gate }
data: { client-id: eA==, client-secret: eA==, cookie-secret: eA== }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: dash, namespace: ui }
spec:
  template:
    spec:
      containers:
      - name: d
        image: ghcr.io/kubeflow/kubeflow/central-dashboard:v1.12.0
        env: [{ name: REGISTRATION_FLOW, value: "false" }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: dash-params, namespace: ui }
data: { CD_REGISTRATION_FLOW: "false" }
`;

/**
 * Writes the tiny release under `root` as a kustomization at `root/deploy` (use
 * `entry: "deploy"`).
 */
export async function writeTinyRelease(root: string): Promise<void> {
  await Deno.mkdir(`${root}/deploy`);
  await Deno.writeTextFile(`${root}/deploy/all.yaml`, TINY_RELEASE);
  await Deno.writeTextFile(
    `${root}/deploy/kustomization.yaml`,
    "resources: [all.yaml]\n",
  );
}
