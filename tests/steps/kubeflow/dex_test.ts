import { bcrypt } from "../../../lib/deps.ts";
import { parseYaml as parse } from "../../../lib/deps.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../../_assert.ts";
import { OptionsError, validateOptions } from "../../../lib/engine/options.ts";
import {
  connectorSecretEnv,
  deriveUserId,
  hashPassword,
  inspectDexConfig,
  liveHashesFromConfig,
  renderDexConfig,
} from "../../../lib/steps/kubeflow/dex.ts";
import { dexSchema } from "../../../lib/steps/kubeflow/options.ts";
import { tree } from "./_fixtures.ts";

async function baseConfig(): Promise<string> {
  const cm = parse(
    await Deno.readTextFile(
      `${tree("v1.10.2")}/common/dex/overlays/oauth2-proxy/config-map.yaml`,
    ),
  );
  return cm.data["config.yaml"];
}

const dex = validateOptions(dexSchema, {
  issuer: "https://kubeflow.example.org/dex",
  staticUsers: [
    { email: "alice@example.org", password: { env: "A" } },
    {
      email: "bob@example.org",
      username: "bobby",
      hash: "$2y$12$4K/VkmDd1q1Orb3xAt82zu8gk7Ad6ReFR4LCP9UeYE90NLiN9Df72",
    },
  ],
  connectors: [{
    type: "github",
    id: "github",
    name: "GitHub",
    config: {
      clientID: "cid",
      clientSecret: { env: "GH" },
      redirectURI: "https://kubeflow.example.org/dex/callback",
      orgs: [{ name: "acme", teams: ["ml"] }],
      loadAllGroups: true,
      useLoginAsID: true,
      teamNameField: "both",
    },
  }],
});

Deno.test("renderDexConfig replaces the default user, hashes passwords at cost 12, never writes clear text", async () => {
  const out = await renderDexConfig({
    baseConfig: await baseConfig(),
    dex,
    users: [
      { email: "alice@example.org", password: "alice-secret-pw" },
      {
        email: "bob@example.org",
        username: "bobby",
        hash: dex.staticUsers[1].hash,
      },
    ],
    connectorSecrets: { github: "gh-secret-value" },
    redirectURIs: ["/oauth2/callback"],
  });
  assert(!out.config.includes("alice-secret-pw"), "no clear-text password");
  assert(
    !out.config.includes("gh-secret-value"),
    "no clear-text connector secret",
  );
  assert(!out.config.includes("user@example.com"), "default user removed");
  assert(
    !out.config.includes("DEX_USER_PASSWORD"),
    "default user's hashFromEnv removed",
  );
  const c = parse(out.config);
  assertEquals(c.issuer, "https://kubeflow.example.org/dex");
  assertEquals(c.enablePasswordDB, true);
  assertEquals(c.staticPasswords.map((p: { email: string }) => p.email), [
    "alice@example.org",
    "bob@example.org",
  ]);
  const alice = c.staticPasswords[0];
  assertEquals(bcrypt.getRounds(alice.hash), 12);
  assert(
    bcrypt.compareSync("alice-secret-pw", alice.hash),
    "hash matches the password",
  );
  assertEquals(alice.username, "alice");
  assertEquals(alice.userID, await deriveUserId("alice@example.org"));
  assertEquals(c.staticPasswords[1].username, "bobby");
  assertEquals(c.staticPasswords[1].hash, dex.staticUsers[1].hash);
  assertEquals(c.staticClients[0].redirectURIs, ["/oauth2/callback"]);
  assertEquals(c.staticClients[0].idEnv, "OIDC_CLIENT_ID");
  assertEquals(
    c.connectors[0].config.clientSecret,
    `$${connectorSecretEnv("github")}`,
  );
  assertEquals(c.connectors[0].config.orgs, [{ name: "acme", teams: ["ml"] }]);
  assertEquals(c.connectors[0].config.teamNameField, "both");
  assertEquals(out.connectorEnv, {
    DEX_CONNECTOR_GITHUB_CLIENT_SECRET: "gh-secret-value",
  });
  assertEquals(inspectDexConfig(out.config).problems, []);
});

Deno.test("renderDexConfig is stable: same password renders the same hash; a live matching hash is reused", async () => {
  const input = {
    baseConfig: await baseConfig(),
    dex: { ...dex, connectors: [], staticUsers: [dex.staticUsers[0]] },
    users: [{ email: "alice@example.org", password: "alice-secret-pw" }],
    connectorSecrets: {},
    redirectURIs: ["/oauth2/callback"],
  };
  const a = await renderDexConfig(input);
  const b = await renderDexConfig(input);
  assertEquals(a.config, b.config);
  const liveHash = await hashPassword("alice-secret-pw");
  const reused = await renderDexConfig({
    ...input,
    liveHashes: { "alice@example.org": liveHash },
  });
  assertEquals(reused.reusedHashes, ["alice@example.org"]);
  assertEquals(parse(reused.config).staticPasswords[0].hash, liveHash);
  // A live hash of another password is not reused: the password changed.
  const stale = await renderDexConfig({
    ...input,
    liveHashes: { "alice@example.org": await hashPassword("old-password-1") },
  });
  assertEquals(stale.reusedHashes, []);
  assertEquals(stale.config, a.config);
  // A different password gives a different hash.
  const changed = await renderDexConfig({
    ...input,
    users: [{ email: "alice@example.org", password: "new-password-2" }],
  });
  assert(changed.config !== a.config);
});

Deno.test("keepDefaultUser keeps user@example.com; passwords over 72 bytes are refused", async () => {
  const kept = await renderDexConfig({
    baseConfig: await baseConfig(),
    dex: { ...dex, keepDefaultUser: true, staticUsers: [], connectors: [] },
    users: [],
    connectorSecrets: {},
    redirectURIs: ["/oauth2/callback"],
  });
  assertEquals(kept.keptDefaultUser, true);
  assertEquals(inspectDexConfig(kept.config).users, ["user@example.com"]);
  const err = await assertRejects(() =>
    renderDexConfig({
      baseConfig: "issuer: x\n",
      dex,
      users: [{ email: "alice@example.org", password: "x".repeat(80) }],
      connectorSecrets: { github: "s" },
      redirectURIs: [],
      field: "kubeflow.dex",
    }), OptionsError);
  assertMatch(
    err.message,
    /kubeflow\.dex\.staticUsers\[0\]\.password: password longer than 72 bytes/,
  );
});

Deno.test("inspectDexConfig reports what makes Dex crash-loop or refuse logins", () => {
  const s = inspectDexConfig(
    "staticPasswords:\n- {email: a@x, hash: '$2a$04$abc'}\n- {email: b@x, hash: 'plain'}\nconnectors:\n- {type: gihub, id: g}\n",
  );
  assertEquals(s.problems, [
    "no issuer",
    "user a@x: bcrypt cost 04 outside 10..16",
    "user b@x: malformed bcrypt hash",
    "static users without enablePasswordDB: true",
    "connector g: unknown type gihub",
  ]);
  assertEquals(
    liveHashesFromConfig("staticPasswords:\n- {email: A@X.org, hash: h}\n"),
    { "a@x.org": "h" },
  );
  assertEquals(liveHashesFromConfig(": : bad"), {});
});
