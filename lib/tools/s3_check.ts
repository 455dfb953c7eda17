/**
 * Plan-time check of an S3-compatible bucket with `aws4fetch` (AWS Signature
 * Version 4 over `fetch`): the bucket exists, the keys can list it, write a small
 * object and delete it again. Requests use path-style addressing
 * (`<endpoint>/<bucket>/<key>`), which MinIO, SeaweedFS, Ceph and AWS all serve.
 *
 * A refused signature or a missing bucket is a {@linkcode S3Problem} naming the
 * field; an endpoint this machine cannot reach is `reachable: false`, which the
 * caller reports as a finding.
 *
 * @module
 */

import { AwsClient } from "../deps.ts";

/** The bucket and the keys to check. */
export interface S3Target {
  /** `host[:port]`, without a scheme. */
  endpoint: string;
  /** `https` when true, `http` otherwise. */
  secure: boolean;
  /** Signing region, e.g. `us-east-1`. */
  region: string;
  /** Bucket name. */
  bucket: string;
  /** Access key id. */
  accessKey: string;
  /** Secret access key (never logged or returned). */
  secretKey: string;
}

/** Options for {@linkcode checkS3}. */
export interface S3CheckOptions {
  /** Bound of each request; default 5000 ms. */
  timeoutMs?: number;
}

/** A configuration error: the field (relative to the object store settings) and why. */
export interface S3Problem {
  /** Relative option path: `bucket`, `accessKey`, `secretKey`, `region`. */
  field: string;
  /** What is wrong and what would be valid. */
  message: string;
}

/** The outcome of {@linkcode checkS3}. */
export interface S3CheckResult {
  /** False when no HTTP answer came back (refused, timed out, unknown host, TLS). */
  reachable: boolean;
  /** Why it was unreachable. */
  detail?: string;
  /** Settings the server refused. */
  problems: S3Problem[];
  /** What was found, for the plan. */
  facts: string[];
}

/** The `<Code>` of an S3 XML error body. */
function s3Code(body: string): string {
  return body.match(/<Code>([^<]+)<\/Code>/)?.[1] ?? "";
}

/** The field an S3 error code points at, and what to do. */
function problemFor(
  code: string,
  status: number,
  target: S3Target,
  action: string,
): S3Problem {
  const where = `${target.endpoint}/${target.bucket}`;
  if (code === "NoSuchBucket" || (status === 404 && action === "list")) {
    return {
      field: "bucket",
      message:
        `bucket ${target.bucket} does not exist at ${target.endpoint}: create it first`,
    };
  }
  if (code === "SignatureDoesNotMatch") {
    return {
      field: "secretKey",
      message:
        `${target.endpoint} refused the signature (${code}) while trying to ${action} ${where}: ` +
        "wrong secret key for this access key",
    };
  }
  if (code === "InvalidAccessKeyId") {
    return {
      field: "accessKey",
      message: `${target.endpoint} does not know this access key (${code})`,
    };
  }
  if (code === "AuthorizationHeaderMalformed" || code === "InvalidRegion") {
    return {
      field: "region",
      message: `${target.endpoint} refused region ${target.region} (${code})`,
    };
  }
  return {
    field: "accessKey",
    message:
      `the keys may not ${action} ${where} (HTTP ${status}${
        code ? ` ${code}` : ""
      }): ` +
      "Pipelines needs to list, read, write and delete objects in the bucket",
  };
}

/**
 * Checks the bucket and keys. Never throws for a server's answer.
 *
 * @example
 * ```ts
 * const r = await checkS3({
 *   endpoint: "s3.example.com", secure: true, region: "eu-west-1",
 *   bucket: "kubeflow-artifacts", accessKey, secretKey,
 * });
 * for (const p of r.problems) console.log(p.field, p.message);
 * ```
 */
export async function checkS3(
  target: S3Target,
  options: S3CheckOptions = {},
): Promise<S3CheckResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const client = new AwsClient({
    accessKeyId: target.accessKey,
    secretAccessKey: target.secretKey,
    service: "s3",
    region: target.region,
    retries: 0,
  });
  const base = `${target.secure ? "https" : "http"}://${target.endpoint}/${
    encodeURIComponent(target.bucket)
  }`;
  const key = `.kfplan-check/${crypto.randomUUID()}`;
  async function call(
    method: string,
    url: string,
    body?: string,
  ): Promise<{ status: number; text: string } | { error: string }> {
    try {
      const res = await client.fetch(url, {
        method,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      return {
        error: (e as Error).name === "TimeoutError"
          ? `no answer in ${timeoutMs} ms`
          : (e as Error).message,
      };
    }
  }
  const list = await call("GET", `${base}?list-type=2&max-keys=1`);
  if ("error" in list) {
    return {
      reachable: false,
      detail: `${target.endpoint}: ${list.error}`,
      problems: [],
      facts: [],
    };
  }
  if (list.status !== 200) {
    return {
      reachable: true,
      problems: [problemFor(s3Code(list.text), list.status, target, "list")],
      facts: [],
    };
  }
  const put = await call("PUT", `${base}/${key}`, "kfplan bucket check\n");
  if ("error" in put) {
    return {
      reachable: false,
      detail: `${target.endpoint}: ${put.error}`,
      problems: [],
      facts: [],
    };
  }
  if (put.status !== 200) {
    return {
      reachable: true,
      problems: [problemFor(s3Code(put.text), put.status, target, "write to")],
      facts: [`the keys can list ${target.bucket}`],
    };
  }
  const del = await call("DELETE", `${base}/${key}`);
  const facts = [
    `bucket ${target.bucket} at ${target.endpoint}: the keys can list and write it`,
  ];
  if ("error" in del || (del.status !== 204 && del.status !== 200)) {
    return {
      reachable: true,
      problems: [{
        field: "accessKey",
        message:
          `the keys wrote ${target.bucket}/${key} but could not delete it (${
            "error" in del
              ? del.error
              : `HTTP ${del.status} ${s3Code(del.text)}`
          }): Pipelines deletes artifacts too; remove that object by hand`,
      }],
      facts,
    };
  }
  return { reachable: true, problems: [], facts };
}
