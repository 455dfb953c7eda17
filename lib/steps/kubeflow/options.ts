/**
 * The typed settings of the Kubeflow manifests step (`kubeflow:` in `kfplan.yaml`).
 *
 * Secrets are never values here: a secret option holds `{ env: NAME }` or
 * `{ file: PATH }`, read at plan/apply time and never written into a plan.
 *
 * @module
 */

import { z } from "../../deps.ts";
import { COMPONENT_IDS, EXTERNAL_COMPONENT_IDS } from "./components.ts";
import {
  dnsNameProblem,
  type DomainField,
  domainIssues,
  domainUrls,
} from "./domain.ts";

/** Where a secret comes from: an environment variable or a file (trailing newline trimmed). */
export const secretRefSchema = z.union([
  z.object({
    env: z.string().regex(
      /^[A-Za-z_][A-Za-z0-9_]*$/,
      "an environment variable name",
    ),
  })
    .strict(),
  z.object({ file: z.string().min(1, "a file path") }).strict(),
], {
  error: "a secret is given as { env: NAME } or { file: PATH }, never inline",
});

/** A reference to a secret value. */
export type SecretRef = z.infer<typeof secretRefSchema>;

/** bcrypt hashes Dex accepts: `$2a$`, `$2b$`, `$2y$`; login needs cost 10..16. */
export const BCRYPT_HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** An existing bcrypt hash, validated the way Dex will use it. */
export const bcryptHashSchema = z.string().superRefine((value, ctx) => {
  const m = value.match(BCRYPT_HASH);
  if (!m) {
    ctx.addIssue({
      code: "custom",
      message:
        "not a bcrypt hash: expected $2a$, $2b$ or $2y$, a two-digit cost and 53 characters " +
        "(make one with `deno task hash-password`)",
    });
    return;
  }
  const cost = Number(m[1]);
  if (cost < 10 || cost > 16) {
    ctx.addIssue({
      code: "custom",
      message:
        `bcrypt cost ${cost} is outside 10..16: Dex refuses logins with it ` +
        '("does not meet minimum cost requirement"); re-hash with `deno task hash-password` (cost 12)',
    });
  }
});

const urlString = z.url({
  error: "a URL such as https://kubeflow.example.com/dex",
});

/** A static Dex user: a password (hashed at render, cost 12) or an existing hash. */
export const staticUserSchema = z.object({
  email: z.email({ error: "an email address" }),
  username: z.string().min(1).optional(),
  /** The password's source; hashed with bcryptjs (cost 12), never stored in clear. */
  password: secretRefSchema.optional(),
  /** An existing bcrypt hash (cost 10..16). */
  hash: bcryptHashSchema.optional(),
  /** Stable Dex userID; default derived from the email so re-plans are no-ops. */
  userID: z.string().min(1).optional(),
  groups: z.array(z.string().min(1)).optional(),
}).strict().superRefine((u, ctx) => {
  if ((u.password ? 1 : 0) + (u.hash ? 1 : 0) !== 1) {
    ctx.addIssue({
      code: "custom",
      path: ["password"],
      message: "give exactly one of password ({ env } or { file }) or hash",
    });
  }
});

const githubOrgSchema = z.object({
  name: z.string().min(1),
  teams: z.array(z.string().min(1)).optional(),
}).strict();

/** Dex GitHub connector config; unknown fields are rejected because Dex ignores them. */
export const githubConnectorConfigSchema = z.object({
  clientID: z.string().min(1),
  clientSecret: secretRefSchema,
  redirectURI: urlString,
  org: z.string().min(1).optional(),
  orgs: z.array(githubOrgSchema).min(1).optional(),
  loadAllGroups: z.boolean().optional(),
  useLoginAsID: z.boolean().optional(),
  teamNameField: z.enum(["name", "slug", "both"], {
    error: 'teamNameField is one of "name", "slug", "both"',
  }).optional(),
  preferredEmailDomain: z.string().optional(),
  hostName: z.string().optional(),
  rootCA: z.string().optional(),
}).strict().superRefine((c, ctx) => {
  if (c.org !== undefined && c.orgs !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["org"],
      message:
        "set either org (deprecated, one organisation) or orgs (list), not both",
    });
  }
});

/** Dex generic OIDC connector config. */
export const oidcConnectorConfigSchema = z.object({
  issuer: urlString,
  clientID: z.string().min(1),
  clientSecret: secretRefSchema,
  redirectURI: urlString,
  scopes: z.array(z.string().min(1)).optional(),
  insecureSkipEmailVerified: z.boolean().optional(),
  insecureEnableGroups: z.boolean().optional(),
  getUserInfo: z.boolean().optional(),
  userIDKey: z.string().optional(),
  userNameKey: z.string().optional(),
  promptType: z.string().optional(),
}).strict();

const connectorId = z.string().regex(
  /^[a-z0-9][a-z0-9-]*$/,
  "lower-case letters, digits and dashes (it appears in Dex callback URLs)",
);

/** One Dex connector. */
export const connectorSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("github"),
    id: connectorId,
    name: z.string().min(1),
    config: githubConnectorConfigSchema,
  }).strict(),
  z.object({
    type: z.literal("oidc"),
    id: connectorId,
    name: z.string().min(1),
    config: oidcConnectorConfigSchema,
  }).strict(),
], { error: 'connector type is "github" or "oidc"' });

/** The default in-cluster Dex issuer of every release. */
export const DEFAULT_ISSUER = "http://dex.auth.svc.cluster.local:5556/dex";

/** Dex settings. */
export const dexSchema = z.object({
  issuer: urlString.default(DEFAULT_ISSUER),
  staticUsers: z.array(staticUserSchema).default([]),
  /** Keep the manifests' `user@example.com` / `12341234` user: a plan warning says it is public. */
  keepDefaultUser: z.boolean().default(false),
  /** Default: true when there are static users. */
  enablePasswordDB: z.boolean().optional(),
  connectors: z.array(connectorSchema).default([]),
}).strict().superRefine((d, ctx) => {
  const emails = new Set<string>();
  d.staticUsers.forEach((u, i) => {
    const key = u.email.toLowerCase();
    if (emails.has(key)) {
      ctx.addIssue({
        code: "custom",
        path: ["staticUsers", i, "email"],
        message: `duplicate user ${u.email}`,
      });
    }
    emails.add(key);
  });
  if (
    d.enablePasswordDB === false &&
    (d.staticUsers.length > 0 || d.keepDefaultUser)
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["enablePasswordDB"],
      message:
        "static users need enablePasswordDB: true (Dex refuses to start otherwise)",
    });
  }
  const ids = new Set<string>();
  d.connectors.forEach((c, i) => {
    if (ids.has(c.id)) {
      ctx.addIssue({
        code: "custom",
        path: ["connectors", i, "id"],
        message: `duplicate connector id ${c.id}`,
      });
    }
    ids.add(c.id);
  });
  if (
    d.staticUsers.length === 0 && !d.keepDefaultUser &&
    d.connectors.length === 0
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["staticUsers"],
      message:
        "nobody could log in: give staticUsers, connectors, or keepDefaultUser: true",
    });
  }
});

/** The OAuth2 client shared by Dex and the auth proxy. */
export const oidcClientSchema = z.object({
  id: z.string().min(1).default("kubeflow-oidc-authservice"),
  /** Required: the manifests' default client secret is published on GitHub. */
  secret: secretRefSchema,
}).strict();

/** oauth2-proxy settings (v1.9 and later). */
export const oauth2ProxySchema = z.object({
  /** Must equal `dex.issuer`; defaults to it. */
  issuer: urlString.optional(),
  /** 16, 24 or 32 bytes. */
  cookieSecret: secretRefSchema,
  /** Override the client secret the proxy presents (must match Dex's; default `oidcClient.secret`). */
  clientSecret: secretRefSchema.optional(),
  forceHttps: z.boolean().default(false),
}).strict();

/** oidc-authservice settings (trees that deploy it: v1.5 to v1.8). */
export const authserviceSchema = z.object({
  /** `OIDC_PROVIDER`: must equal `dex.issuer`; defaults to it. */
  providerUrl: urlString.optional(),
  /** `OIDC_AUTH_URL`. */
  authUrl: z.string().min(1).default("/dex/auth"),
  /** `OIDC_SCOPES`. */
  scopes: z.array(z.string().min(1)).min(1).default([
    "profile",
    "email",
    "groups",
  ]),
  /** `REDIRECT_URL` (trees whose parameters have it): default the tree's Dex redirect URI. */
  redirectUrl: z.string().min(1).optional(),
  /** Override the client secret (must match Dex's; default `oidcClient.secret`). */
  clientSecret: secretRefSchema.optional(),
}).strict();

/** Let's Encrypt's ACME directories, by the names `ingress.tls.server` accepts. */
export const ACME_SERVERS = {
  staging: "https://acme-staging-v02.api.letsencrypt.org/directory",
  production: "https://acme-v02.api.letsencrypt.org/directory",
} as const;

/** Where the gateway's certificate comes from (`ingress.tls`). */
export const tlsSchema = z.discriminatedUnion("mode", [
  z.object({
    /** cert-manager issues a CA and the gateway certificate from it. */
    mode: z.literal("selfSigned"),
  }).strict(),
  z.object({
    /** cert-manager obtains the certificate over ACME HTTP-01. */
    mode: z.literal("acme"),
    email: z.email({ error: "an email address for the ACME account" }),
    /** `staging`, `production` or an ACME directory URL. */
    server: z.union([
      z.enum(["staging", "production"]),
      z.url({ protocol: /^https$/ }),
    ], {
      error: "server is staging, production or an https ACME directory URL",
    }).default("staging"),
  }).strict(),
  z.object({
    /** The user's certificate and key become a `kubernetes.io/tls` Secret. */
    mode: z.literal("secret"),
    /** PEM certificate (chain, leaf first). */
    certificate: secretRefSchema,
    /** PEM private key (sensitive: only in the cluster's Secret). */
    key: secretRefSchema,
  }).strict(),
], {
  error: 'tls.mode is one of "selfSigned", "acme", "secret"',
});

/** Hosts an `http:` issuer is allowed on (a discovery server in tests, a port-forward). */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * The issuer of an external provider: https, or http on a loopback host only (the
 * browser and the proxy would otherwise send codes and tokens in clear). Kept byte for
 * byte: it must equal the `iss` claim, trailing slash included.
 */
export const externalIssuerSchema = z.url({
  error: "an https URL such as https://login.example.com/realms/kubeflow",
}).superRefine((value, ctx) => {
  const url = new URL(value);
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname)) return;
  ctx.addIssue({
    code: "custom",
    message:
      `${value} is not an https URL: an external issuer is served over https ` +
      "(http only on a loopback host: 127.0.0.1, localhost, [::1])",
  });
});

/** The default `scope`s asked of an external provider. */
export const DEFAULT_IDENTITY_SCOPES = ["openid", "profile", "email", "groups"];

/**
 * Who logs users in: Dex in the cluster (the default) or an external OpenID Connect
 * provider (Keycloak, Azure AD, Google, Okta, another cluster's Dex) that the auth
 * proxy talks to directly, with Dex not deployed.
 */
export const identitySchema = z.discriminatedUnion("provider", [
  z.object({ provider: z.literal("dex") }).strict(),
  z.object({
    provider: z.literal("oidc"),
    /** Exactly the provider's `issuer` (its discovery document's). */
    issuer: externalIssuerSchema,
    /** The client registered at the provider for this Kubeflow. */
    clientId: z.string().min(1, "the client id registered at the provider"),
    /** That client's secret; required (checked below so the error says so). */
    clientSecret: secretRefSchema.optional(),
    scopes: z.array(z.string().min(1)).min(1).default(DEFAULT_IDENTITY_SCOPES),
    /** The claim holding the user's email (`kubeflow-userid`). */
    emailClaim: z.string().min(1).default("email"),
    /** The claim holding the user's groups (`kubeflow-groups`). */
    groupsClaim: z.string().min(1).default("groups"),
  }).strict().superRefine((i, ctx) => {
    if (!i.clientSecret) {
      ctx.addIssue({
        code: "custom",
        path: ["clientSecret"],
        message:
          "required: an external provider needs the secret of clientId, as { env: NAME } or { file: PATH }",
      });
    }
  }),
], { error: 'identity.provider is "dex" (the default) or "oidc"' });

/** Dex options when none are given (only valid with an external provider). */
const NO_DEX = {
  issuer: DEFAULT_ISSUER,
  staticUsers: [],
  keepDefaultUser: false,
  connectors: [],
};

/** How the `istio-ingressgateway` Service is exposed. */
export const ingressSchema = z.object({
  type: z.enum(["ClusterIP", "NodePort", "LoadBalancer"], {
    error: 'ingress.type is one of "ClusterIP", "NodePort", "LoadBalancer"',
  }).default("ClusterIP"),
  /** Verify waits for a LoadBalancer address (default true for LoadBalancer). */
  waitForAddress: z.boolean().optional(),
  /** Bound of that wait. */
  timeoutSeconds: z.int().min(1).max(3600).default(300),
  /** The host users reach Kubeflow on, e.g. `kubeflow.example.com` (see `domain.ts`). */
  domain: z.string().superRefine((value, ctx) => {
    const problem = dnsNameProblem(value);
    if (problem) {
      ctx.addIssue({
        code: "custom",
        message: `"${value}" is not a DNS name: it ${problem}`,
      });
    }
  }).optional(),
  /** HTTPS on the gateway for `domain`. */
  tls: tlsSchema.optional(),
}).strict();

/** Selects rendered objects to leave out, e.g. `{ kind: MutatingWebhookConfiguration }`. */
export const excludeSchema = z.object({
  kind: z.string().min(1),
  name: z.string().min(1).optional(),
  namespace: z.string().min(1).optional(),
  /** Shown in the plan next to each excluded object. */
  reason: z.string().min(1),
}).strict();

/** TLS to an external database. */
export const databaseTlsSchema = z.object({
  /** PEM CA bundle file the plan-time check trusts; default the system's. */
  ca: z.string().min(1).optional(),
  /** Do not verify the server's certificate. */
  skipVerify: z.boolean().default(false),
}).strict();

const dataHost = z.string().regex(
  /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/,
  "a host name or IPv4 address, without scheme or port (e.g. mysql.example.com)",
);
const databaseName = z.string().regex(
  /^[A-Za-z0-9_$-]{1,64}$/,
  "a database name (letters, digits, _, $, -; at most 64)",
);
const databaseFields = {
  host: dataHost,
  port: z.int().min(1).max(65535).default(3306),
  user: z.string().min(1, "the database user"),
  /** The user's password: `{ env }` or `{ file }`, never inline. */
  password: secretRefSchema,
  tls: databaseTlsSchema.optional(),
};

/** An external MySQL-compatible database for Kubeflow Pipelines. */
export const pipelinesDatabaseSchema = z.object({
  ...databaseFields,
  /** The databases Pipelines uses (defaults: the names the releases render). */
  databases: z.object({
    /** The API server's (`pipelineDb`). */
    pipeline: databaseName.default("mlpipeline"),
    /** ML Metadata's (`mlmdDb`). */
    metadata: databaseName.default("metadb"),
    /** The cache server's (`cacheDb`). */
    cache: databaseName.default("cachedb"),
  }).strict().default({
    pipeline: "mlpipeline",
    metadata: "metadb",
    cache: "cachedb",
  }),
}).strict();

/** An external MySQL-compatible database for Katib. */
export const katibDatabaseSchema = z.object({
  ...databaseFields,
  /** Katib's database (Katib's default: `katib`). */
  database: databaseName.default("katib"),
}).strict();

/** External S3-compatible object storage for Pipelines' artifacts. */
export const objectStoreSchema = z.object({
  /** `host[:port]` without a scheme; `secure` chooses https. */
  endpoint: z.string().regex(
    /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$/,
    "host[:port] without a scheme (e.g. s3.eu-west-1.amazonaws.com or minio.example.com:9000); secure chooses https",
  ),
  region: z.string().min(1).default("us-east-1"),
  bucket: z.string().regex(
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    "an S3 bucket name (3 to 63 lower-case letters, digits, dots and dashes)",
  ),
  accessKey: secretRefSchema,
  secretKey: secretRefSchema,
  /** https (true, the default) or http. */
  secure: z.boolean().default(true),
}).strict();

/** Kubeflow Pipelines' state outside the cluster. */
export const pipelinesSchema = z.object({
  database: pipelinesDatabaseSchema.optional(),
  objectStore: objectStoreSchema.optional(),
}).strict();

/** Katib's state outside the cluster. */
export const katibSchema = z.object({
  database: katibDatabaseSchema.optional(),
}).strict();

/** Options of the Kubeflow manifests step. */
export const kubeflowOptionsSchema = z.object({
  /** Path of the kubeflow/manifests checkout (the directory holding `example/`). */
  manifests: z.string().min(1, "path of your kubeflow/manifests checkout"),
  /**
   * The kustomization to install, relative to `manifests`; default `example`.
   * A fork whose `example/` moved names its own here.
   */
  entry: z.string().min(1).optional(),
  /**
   * The release, e.g. `v1.10.2`; recognized from the render (the tags of Kubeflow's
   * component images), and its line (`v1.10`) must agree when stated.
   */
  version: z.string().regex(/^v?\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.-]+)?$/, {
    error: "version is a release tag such as v1.10.2 (or v1.11.0-rc.1)",
  }).optional(),
  /**
   * Directory of vendored remote resources (`deno task vendor`): a tree whose
   * kustomizations fetch remote bases or files renders from it, offline.
   */
  vendor: z.string().min(1).optional(),
  /** Whole components to leave out, recognized from the render. */
  components: z.object({
    /** Components to leave out, e.g. `[knative, kserve]`. */
    exclude: z.array(z.enum(COMPONENT_IDS, {
      error: `a component is one of ${COMPONENT_IDS.join(", ")}`,
    })).default([]),
    /** Istio or cert-manager the cluster already runs: left out, their CRDs checked. */
    external: z.array(z.enum(EXTERNAL_COMPONENT_IDS, {
      error: `external is one of ${EXTERNAL_COMPONENT_IDS.join(", ")}`,
    })).default([]),
  }).strict().default({ exclude: [], external: [] }),
  /** Dex's OAuth2 client; required with Dex, unused with an external provider. */
  oidcClient: oidcClientSchema.optional(),
  /** Dex; required with `identity.provider: dex` (the default). */
  dex: dexSchema.default(NO_DEX),
  /** Dex (default) or an external OIDC provider. */
  identity: identitySchema.default({ provider: "dex" }),
  oauth2Proxy: oauth2ProxySchema.optional(),
  authservice: authserviceSchema.optional(),
  dashboard: z.object({
    /** `CD_REGISTRATION_FLOW`: let new users create their own profile. */
    registrationFlow: z.boolean().default(false),
  }).strict().default({ registrationFlow: false }),
  ingress: ingressSchema.default({ type: "ClusterIP", timeoutSeconds: 300 }),
  /**
   * Set by a plan composition whose storage step creates a default StorageClass, so
   * preflight does not require one to exist yet.
   */
  defaultStorageClassFromPlan: z.boolean().default(false),
  /** Rendered objects to leave out; each is listed in the plan with its reason. */
  exclude: z.array(excludeSchema).default([]),
  /** Pipelines on an external database and object store (not deployed in the cluster). */
  pipelines: pipelinesSchema.optional(),
  /** Katib on an external database (not deployed in the cluster). */
  katib: katibSchema.optional(),
  /** Bound of each apply/verify wait. */
  timeoutSeconds: z.int().min(1).max(7200).default(600),
  /**
   * Install a lower release over a higher one (refused at plan time otherwise);
   * `--allow-downgrade` does the same for one run.
   */
  allowDowngrade: z.boolean().default(false),
}).strict().overwrite(withDomainDefaults).superRefine((o, ctx) => {
  for (const issue of domainOptionIssues(o)) ctx.addIssue(issue);
  const external = o.identity.provider === "oidc";
  const issuer = o.identity.provider === "oidc"
    ? o.identity.issuer
    : o.dex.issuer;
  const issuerField = external ? "identity.issuer" : "dex.issuer";
  if (o.oauth2Proxy?.issuer !== undefined && o.oauth2Proxy.issuer !== issuer) {
    ctx.addIssue({
      code: "custom",
      path: ["oauth2Proxy", "issuer"],
      message:
        `issuer mismatch: "${o.oauth2Proxy.issuer}" differs from ${issuerField} "${issuer}"; ` +
        "oauth2-proxy, Dex and RequestAuthentication dex-jwt must use the same issuer",
    });
  }
  if (
    o.authservice?.providerUrl !== undefined &&
    o.authservice.providerUrl !== issuer
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["authservice", "providerUrl"],
      message:
        `issuer mismatch: "${o.authservice.providerUrl}" differs from ${issuerField} "${issuer}"; ` +
        `OIDC_PROVIDER must equal the ${
          external ? "provider's" : "Dex"
        } issuer`,
    });
  }
  if (external) {
    identityConflicts(o, ctx);
  } else {
    if (!o.oidcClient) {
      ctx.addIssue({
        code: "custom",
        path: ["oidcClient"],
        message:
          "required with Dex (identity.provider dex, the default): give secret ({ env } or { file })",
      });
    }
    if (
      o.dex.staticUsers.length === 0 && !o.dex.keepDefaultUser &&
      o.dex.connectors.length === 0
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["dex"],
        message:
          "required with Dex (identity.provider dex, the default): give staticUsers, connectors, " +
          "or keepDefaultUser: true; or use an external provider (identity.provider oidc)",
      });
    }
  }
  if (o.oauth2Proxy && o.authservice) {
    ctx.addIssue({
      code: "custom",
      path: ["authservice"],
      message:
        "give oauth2Proxy (v1.9+) or authservice (v1.5 to v1.8), not both",
    });
  }
  o.components.exclude.forEach((id, i) => {
    if ((o.components.external as string[]).includes(id)) {
      ctx.addIssue({
        code: "custom",
        path: ["components", "exclude", i],
        message: `${id} is both excluded and external: list it once`,
      });
    }
  });
});

/** The options' shape the domain defaults and checks read. */
interface DomainShaped {
  ingress: z.output<typeof ingressSchema>;
  dex: z.output<typeof dexSchema>;
  authservice?: z.output<typeof authserviceSchema>;
  identity?: { provider: string };
}

/**
 * With `ingress.domain`, an issuer left out (or left at the in-cluster default,
 * which no browser reaches) becomes `https://<domain>/dex` (`http` without TLS).
 */
function withDomainDefaults<T extends DomainShaped>(o: T): T {
  const domain = o.ingress.domain;
  if (!domain || dnsNameProblem(domain) || o.dex.issuer !== DEFAULT_ISSUER) {
    return o;
  }
  const { issuer } = domainUrls(domain, { tls: o.ingress.tls !== undefined });
  return { ...o, dex: { ...o.dex, issuer } };
}

/** `ingress.tls` needs the domain; URLs on another host, or plain http with TLS on. */
function domainOptionIssues(
  o: DomainShaped,
): { code: "custom"; path: (string | number)[]; message: string }[] {
  const tls = o.ingress.tls !== undefined;
  if (tls && !o.ingress.domain) {
    return [{
      code: "custom",
      path: ["ingress", "tls"],
      message:
        "needs ingress.domain: the certificate and the Gateway's HTTPS server are for that host",
    }];
  }
  // A bad domain has its own issue; comparing hosts with it would only add noise.
  if (!o.ingress.domain || dnsNameProblem(o.ingress.domain)) return [];
  // An external provider's issuer lives on its own host; Dex's fields then go unused.
  const dex = (o.identity?.provider ?? "dex") === "dex";
  const fields: DomainField[] = [
    ...(dex ? [{ path: ["dex", "issuer"], url: o.dex.issuer }] : []),
    ...(dex ? o.dex.connectors : []).map((c, i) => ({
      path: ["dex", "connectors", i, "config", "redirectURI"],
      url: c.config.redirectURI,
    })),
    ...(o.authservice?.redirectUrl
      ? [{
        path: ["authservice", "redirectUrl"],
        url: o.authservice.redirectUrl,
      }]
      : []),
  ];
  return domainIssues({ domain: o.ingress.domain, tls, fields }).map((i) => ({
    code: "custom" as const,
    ...i,
  }));
}

/** Settings that only mean something with Dex, refused with an external provider. */
function identityConflicts(
  o: {
    oidcClient?: unknown;
    dex: {
      staticUsers: unknown[];
      connectors: unknown[];
      keepDefaultUser: boolean;
    };
    oauth2Proxy?: { clientSecret?: unknown };
    authservice?: { clientSecret?: unknown };
  },
  ctx: z.RefinementCtx,
): void {
  const why = "with identity.provider oidc Dex is not deployed";
  if (o.oidcClient !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["oidcClient"],
      message:
        `${why}: the client is identity.clientId and identity.clientSecret; remove oidcClient`,
    });
  }
  if (
    o.dex.staticUsers.length > 0 || o.dex.connectors.length > 0 ||
    o.dex.keepDefaultUser
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["dex"],
      message: `${why}: users and connectors live at the provider; remove dex`,
    });
  }
  for (
    const [key, proxy] of [["oauth2Proxy", o.oauth2Proxy], [
      "authservice",
      o.authservice,
    ]] as const
  ) {
    if (proxy?.clientSecret !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: [key, "clientSecret"],
        message:
          `${why}: the proxy presents identity.clientSecret; remove ${key}.clientSecret`,
      });
    }
  }
}

/** Validated options of the Kubeflow manifests step. */
export type KubeflowOptions = z.output<typeof kubeflowOptionsSchema>;
/** Options as written in the config file. */
export type KubeflowOptionsInput = z.input<typeof kubeflowOptionsSchema>;
/** A validated static user. */
export type StaticUser = z.output<typeof staticUserSchema>;
/** The validated `identity` option. */
export type IdentityOptions = z.output<typeof identitySchema>;
/** An external provider's validated settings. */
export type ExternalIdentityOptions = Extract<
  IdentityOptions,
  { provider: "oidc" }
>;
/** A validated connector. */
export type Connector = z.output<typeof connectorSchema>;
