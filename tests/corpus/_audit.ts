/**
 * Reading the test control plane's audit log (`startCluster({ auditLog: true })`):
 * the write requests one user made after a mark, so a test can assert that a refused
 * command wrote nothing. Server-side dry-run requests (`dryRun=All`) are reported
 * apart: they use write verbs but change nothing, and planning uses them for diffs.
 *
 * @module
 */

/** Verbs that change the cluster. */
export const WRITE_VERBS: ReadonlySet<string> = new Set([
  "create",
  "update",
  "patch",
  "delete",
  "deletecollection",
]);

/** One write request, from the audit events of one request (all stages merged). */
export interface WriteRequest {
  /** The API server's id of the request. */
  auditID: string;
  /** `create`, `patch`, ... */
  verb: string;
  /** Path and query, e.g. `/api/v1/namespaces/default/configmaps?fieldManager=kfplan`. */
  requestURI: string;
  /** Who made it. */
  username: string;
  /** Whether it was a server-side dry run (`dryRun=All`): no change persisted. */
  dryRun: boolean;
  /** The response code, when the log has the request's ResponseComplete event. */
  code?: number;
}

/** The fields of a `audit.k8s.io/v1` Event this module reads. */
interface AuditEvent {
  auditID: string;
  verb: string;
  requestURI: string;
  user?: { username?: string };
  responseStatus?: { code?: number };
}

/** Byte offset of the end of the log: writes after it belong to what runs next. */
export async function auditMark(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

/**
 * The write requests `username` made after `mark`, one per request, in log order.
 *
 * @example
 * ```ts
 * const mark = await auditMark(log);
 * await doSomething();
 * const writes = await writesSince(log, mark, "kfplan-corpus");
 * ```
 */
export async function writesSince(
  path: string,
  mark: number,
  username: string,
): Promise<WriteRequest[]> {
  const text = new TextDecoder().decode(
    (await Deno.readFile(path)).subarray(mark),
  );
  const byId = new Map<string, WriteRequest>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as AuditEvent;
    if (!WRITE_VERBS.has(event.verb)) continue;
    if (event.user?.username !== username) continue;
    const seen = byId.get(event.auditID);
    const code = event.responseStatus?.code;
    if (seen) {
      seen.code = code ?? seen.code;
      continue;
    }
    byId.set(event.auditID, {
      auditID: event.auditID,
      verb: event.verb,
      requestURI: event.requestURI,
      username,
      dryRun: /[?&]dryRun=All(&|$)/.test(event.requestURI),
      code,
    });
  }
  return [...byId.values()];
}

/** `verb requestURI (code)` per line, for assertion messages. */
export function describeWrites(writes: WriteRequest[]): string {
  return writes.map((w) => `  ${w.verb} ${w.requestURI} (${w.code ?? "?"})`)
    .join("\n");
}
