import { assert, assertEquals } from "../_assert.ts";
import { AwsClient } from "../../lib/deps.ts";
import { checkS3 } from "../../lib/tools/s3_check.ts";
import { startS3Server } from "../cluster/data_servers.ts";
import { freePort as closedPort } from "../_shared.ts";

Deno.test({
  name:
    "checkS3 against a real S3-compatible server that verifies signatures: bucket, keys, write rights, closed port",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await using s3 = await startS3Server({
      identities: [
        { accessKey: "kfp-access", secretKey: "kfp-secret-9d2b" },
        { accessKey: "reader", secretKey: "reader-secret", readOnly: true },
      ],
      buckets: ["mlpipeline"],
    });
    const base = {
      endpoint: s3.endpoint,
      secure: false,
      region: "us-east-1",
      bucket: "mlpipeline",
      accessKey: "kfp-access",
      secretKey: "kfp-secret-9d2b",
    };

    await t.step(
      "existing bucket, right keys: lists and writes, leaves nothing behind",
      async () => {
        const r = await checkS3(base);
        assertEquals(r.problems, []);
        assertEquals(r.reachable, true);
        assert(r.facts[0].includes("can list and write"), r.facts.join("; "));
        const client = new AwsClient({
          accessKeyId: base.accessKey,
          secretAccessKey: base.secretKey,
          service: "s3",
          region: base.region,
        });
        const list = await client.fetch(
          `http://${s3.endpoint}/mlpipeline?list-type=2`,
        );
        const body = await list.text();
        assertEquals(list.status, 200);
        assert(!body.includes(".kfplan-check"), "the check object was deleted");
      },
    );

    await t.step("missing bucket: an error naming bucket", async () => {
      const r = await checkS3({ ...base, bucket: "no-such-bucket" });
      assertEquals(r.problems.map((p) => p.field), ["bucket"]);
      assert(r.problems[0].message.includes("no-such-bucket"));
    });

    await t.step("wrong secret key: an error naming secretKey", async () => {
      const r = await checkS3({ ...base, secretKey: "wrong-secret-key" });
      assertEquals(r.problems.map((p) => p.field), ["secretKey"]);
      assert(!JSON.stringify(r).includes("wrong-secret-key"));
    });

    await t.step("unknown access key: an error naming accessKey", async () => {
      const r = await checkS3({ ...base, accessKey: "nobody" });
      assertEquals(r.problems.map((p) => p.field), ["accessKey"]);
    });

    await t.step(
      "keys that may list but not write: an error naming accessKey",
      async () => {
        const r = await checkS3({
          ...base,
          accessKey: "reader",
          secretKey: "reader-secret",
        });
        assertEquals(r.problems.map((p) => p.field), ["accessKey"]);
        assert(r.problems[0].message.includes("write"), r.problems[0].message);
      },
    );

    await t.step("closed port: unreachable, no problems", async () => {
      const r = await checkS3(
        { ...base, endpoint: `127.0.0.1:${closedPort()}` },
        { timeoutMs: 2000 },
      );
      assertEquals(r.reachable, false);
      assertEquals(r.problems, []);
    });
  },
});
