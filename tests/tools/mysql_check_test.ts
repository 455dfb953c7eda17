import { assert, assertEquals } from "../_assert.ts";
import {
  checkMysql,
  schemaPatternMatches,
} from "../../lib/tools/mysql_check.ts";
import { startMariaDb } from "../cluster/data_servers.ts";
import { generateCa, issueCert } from "../cluster/_certs.ts";
import { freePort as closedPort, tempDir } from "../_shared.ts";

Deno.test("schema grant patterns match as LIKE does (% and _ wildcards, \\ escapes)", () => {
  assert(schemaPatternMatches("mlpipeline", "mlpipeline"));
  assert(schemaPatternMatches("kf%", "kf_cache"));
  assert(schemaPatternMatches("kf\\_%", "kf_cache"));
  assert(!schemaPatternMatches("kf\\_%", "kfxcache"));
  assert(schemaPatternMatches("kf_cache", "kfxcache"));
  assert(!schemaPatternMatches("metadb", "metadb2"));
});

Deno.test({
  name:
    "checkMysql against a real MariaDB: password, databases present, missing with and without CREATE, closed port",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await using db = await startMariaDb();
    await db.sql(`
      CREATE DATABASE mlpipeline; CREATE DATABASE metadb;
      CREATE USER 'kfp'@'127.0.0.1' IDENTIFIED BY 'right-pw-3c1e';
      GRANT ALL ON mlpipeline.* TO 'kfp'@'127.0.0.1';
      GRANT ALL ON metadb.* TO 'kfp'@'127.0.0.1';
      CREATE USER 'creator'@'127.0.0.1' IDENTIFIED BY 'creator-pw';
      GRANT ALL ON \`kf\\_%\`.* TO 'creator'@'127.0.0.1';
      GRANT ALL ON mlpipeline.* TO 'creator'@'127.0.0.1';`);
    const base = {
      host: db.host,
      port: db.port,
      user: "kfp",
      password: "right-pw-3c1e",
    };

    await t.step("right password, databases present: no problems", async () => {
      const r = await checkMysql({
        ...base,
        databases: { pipeline: "mlpipeline", metadata: "metadb" },
      });
      assertEquals(r.reachable, true);
      assertEquals(r.problems, []);
      assert(r.facts[0].includes("accepted user kfp"), r.facts.join("; "));
      assert(r.facts.join("\n").includes("MariaDB"), r.facts.join("; "));
    });

    await t.step("wrong password: an error naming password", async () => {
      const r = await checkMysql({
        ...base,
        password: "wrong-pw",
        databases: { pipeline: "mlpipeline" },
      });
      assertEquals(r.reachable, true);
      assertEquals(r.problems.map((p) => p.field), ["password"]);
      assert(
        !JSON.stringify(r).includes("wrong-pw"),
        "the password is not echoed",
      );
    });

    await t.step(
      "a missing database without CREATE rights: an error naming that database",
      async () => {
        const r = await checkMysql({
          ...base,
          databases: { pipeline: "mlpipeline", cache: "cachedb" },
        });
        assertEquals(r.problems.map((p) => p.field), ["databases.cache"]);
        assert(
          r.problems[0].message.includes("cachedb"),
          r.problems[0].message,
        );
        assert(
          r.problems[0].message.includes("GRANT CREATE"),
          r.problems[0].message,
        );
      },
    );

    await t.step(
      "a missing database the user may create (grant on a pattern): a fact, no error",
      async () => {
        const r = await checkMysql({
          ...base,
          user: "creator",
          password: "creator-pw",
          databases: {
            pipeline: "mlpipeline",
            cache: "kf_cache",
            other: "other",
          },
        });
        assertEquals(r.problems.map((p) => p.field), ["databases.other"]);
        assert(
          r.facts.some((f) =>
            f.includes("kf_cache does not exist yet; creator may create it")
          ),
          r.facts.join("; "),
        );
      },
    );

    await t.step("a closed port: unreachable, no problems", async () => {
      const r = await checkMysql({
        ...base,
        port: closedPort(),
        databases: { pipeline: "mlpipeline" },
      }, { timeoutMs: 2000 });
      assertEquals(r.reachable, false);
      assertEquals(r.problems, []);
      assert(r.detail?.includes("ECONNREFUSED"), r.detail);
    });
  },
});

Deno.test({
  name:
    "checkMysql over TLS: the server's CA verifies; an untrusted certificate is an error naming tls",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using dir = await tempDir("kfplan-mariadb-tls-");
    const ca = await generateCa(dir.path, { commonName: "kfplan test db CA" });
    const server = await issueCert(ca, { dir: dir.path, name: "db" }, {
      commonName: "127.0.0.1",
      ipAddresses: ["127.0.0.1"],
      usage: ["server"],
    });
    await using db = await startMariaDb({
      tls: { cert: server.cert, key: server.key, ca: ca.caCert },
    });
    await db.sql(`
      CREATE DATABASE katib;
      CREATE USER 'katib'@'127.0.0.1' IDENTIFIED BY 'tls-pw' REQUIRE SSL;
      GRANT ALL ON katib.* TO 'katib'@'127.0.0.1';`);
    const target = {
      host: db.host,
      port: db.port,
      user: "katib",
      password: "tls-pw",
      databases: { database: "katib" },
    };
    const trusted = await checkMysql({
      ...target,
      tls: { ca: await Deno.readTextFile(ca.caCert) },
    });
    assertEquals(trusted.problems, []);
    assertEquals(trusted.reachable, true);
    const untrusted = await checkMysql({ ...target, tls: {} });
    assertEquals(untrusted.problems.map((p) => p.field), ["tls"]);
    const unverified = await checkMysql({
      ...target,
      tls: { skipVerify: true },
    });
    assertEquals(unverified.problems, []);
  },
});
