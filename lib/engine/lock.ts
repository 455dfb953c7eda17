/**
 * The apply lock: a `coordination.k8s.io/v1` Lease (default `kube-system/kfplan-lock`)
 * held for the whole apply and renewed periodically, so two applies against the same
 * cluster never interleave. A second apply is refused with the holder's identity and
 * start time.
 *
 * Release clears the holder and keeps the Lease, as Kubernetes' leader election does,
 * so `leaseTransitions` counts every apply: an apply that planned before taking the
 * lock sees from the count whether another apply ran in between
 * ({@linkcode lockTransitions}).
 *
 * A lock whose `renewTime + leaseDurationSeconds` has passed is stale (its holder died
 * without releasing it) and is taken over automatically. So is, at once, a lock whose
 * holder is a process of this host that is gone (same hostname, its pid no longer
 * runs, or runs a process started after the lock was taken): a kill -9 on this machine
 * does not make the next apply wait for the Lease to expire
 * ({@linkcode deadLocalHolder}). A live or remote holder still blocks. To break a
 * live-looking lock by hand: `deno task unlock --force` ({@linkcode breakLock}).
 *
 * @module
 */

import { hostname, userInfo } from "node:os";
import type { KubeClient, KubeObject } from "../kube/types.ts";

/** Default Lease namespace. */
export const LOCK_NAMESPACE = "kube-system";
/** Default Lease name. */
export const LOCK_NAME = "kfplan-lock";
/**
 * The installation a lock serialises, as its checkpoint and inventories are named:
 * `undefined` for the default Lease (the cluster's one installation), else
 * `[<lease namespace>.]<lease name>` (the namespace only when not `kube-system`).
 * One lock, one installation: runs under a Lease of their own (a second
 * installation, tests sharing a control plane) have their own state.
 *
 * @example
 * ```ts
 * installationOf({}); // undefined
 * installationOf({ name: "team-a" }); // "team-a"
 * installationOf({ namespace: "ops", name: "kf" }); // "ops.kf"
 * ```
 */
export function installationOf(
  lock: { namespace?: string; name?: string } = {},
): string | undefined {
  const namespace = lock.namespace ?? LOCK_NAMESPACE;
  const name = lock.name ?? LOCK_NAME;
  if (namespace === LOCK_NAMESPACE && name === LOCK_NAME) return undefined;
  return namespace === LOCK_NAMESPACE ? name : `${namespace}.${name}`;
}

/** Default lease duration: a holder silent for this long is considered dead. */
export const LOCK_DURATION_SECONDS = 60;

/** Options for {@linkcode acquireLock}, {@linkcode readLock} and {@linkcode breakLock}. */
export interface LockOptions {
  /** Namespace of the Lease; default `kube-system`. */
  namespace?: string;
  /** Name of the Lease; default `kfplan-lock`. */
  name?: string;
  /** Who holds it; default `user@host pid N`. */
  holder?: string;
  /** Seconds without renewal after which the lock is stale; default 60. */
  leaseDurationSeconds?: number;
  /** Renewal period; default a third of the lease duration. */
  renewIntervalMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
  /** Called when a renewal finds the lock was taken by somebody else. */
  onLost?: (reason: string) => void;
  /**
   * Wait up to this many milliseconds for a held lock to be released (Terraform's
   * `-lock-timeout`), polling every second; default 0: refuse at once.
   */
  waitMs?: number;
  /** Called once when the lock is held and we start waiting for it. */
  onWait?: (info: LockInfo) => void;
}

/** What the Lease says. */
export interface LockInfo {
  /** `user@host pid N` of the holder. */
  holder: string;
  /** When the holder took the lock. */
  acquireTime?: string;
  /** When the holder last renewed it. */
  renewTime?: string;
  /** Seconds without renewal after which the lock is stale. */
  leaseDurationSeconds: number;
  /** True when renewTime + duration lies in the past. */
  expired: boolean;
  /** `leaseTransitions`: how many times the lock was taken. */
  transitions: number;
  /** Set on a lock that was taken over: why its holder was considered gone. */
  reason?: string;
}

/** Thrown when another apply holds the lock. */
export class LockHeldError extends Error {
  /** The lock as read from the Lease. */
  readonly info: LockInfo;
  /** Names the holder, its start time and how to break the lock. */
  constructor(info: LockInfo, where: string) {
    super(
      `another apply holds the lock ${where}: ${info.holder}, started ${
        info.acquireTime ?? "(unknown)"
      }, last renewed ${info.renewTime ?? "(never)"}. ` +
        `Wait for it to finish. If that apply is dead, the lock expires ${info.leaseDurationSeconds}s ` +
        `after its last renewal and is then taken over automatically; to break it now run ` +
        `\`deno task unlock --force\`.`,
    );
    this.name = "LockHeldError";
    this.info = info;
  }
}

/** A held lock. */
export interface HeldLock {
  /** Our holder identity. */
  readonly holder: string;
  /** True once a renewal found the lock taken by somebody else. */
  readonly lost: boolean;
  /** `leaseTransitions` of our hold: one more than {@linkcode lockTransitions} read before. */
  readonly transitions: number;
  /** Stops renewing and clears the holder if the lock is still ours. */
  release(): Promise<void>;
}

/** `user@host pid N` of this process. */
export function defaultHolder(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    user = Deno.env.get("USER") ?? "unknown";
  }
  return `${user}@${hostname()} pid ${Deno.pid}`;
}

/** Lease MicroTime: RFC 3339 with microseconds. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function ref(options: LockOptions) {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    namespace: options.namespace ?? LOCK_NAMESPACE,
    name: options.name ?? LOCK_NAME,
  };
}

function where(options: LockOptions): string {
  const r = ref(options);
  return `Lease ${r.namespace}/${r.name}`;
}

function infoOf(lease: KubeObject, now: Date): LockInfo {
  const spec = (lease.spec ?? {}) as Record<string, unknown>;
  const duration = Number(spec.leaseDurationSeconds ?? LOCK_DURATION_SECONDS);
  const renew = (spec.renewTime ?? spec.acquireTime) as string | undefined;
  const renewMs = renew ? Date.parse(renew) : NaN;
  return {
    holder: String(spec.holderIdentity ?? "(nobody)"),
    acquireTime: spec.acquireTime as string | undefined,
    renewTime: spec.renewTime as string | undefined,
    leaseDurationSeconds: duration,
    expired: !spec.holderIdentity ||
      !(renewMs + duration * 1000 > now.getTime()),
    transitions: transitionsOf(lease),
  };
}

function isConflict(e: unknown): boolean {
  return (e as { status?: number } | null)?.status === 409;
}

/** Reads the lock; `undefined` when nobody holds it. */
export async function readLock(
  kube: KubeClient,
  options: LockOptions = {},
): Promise<LockInfo | undefined> {
  const lease = await kube.get(ref(options));
  return lease && holderOf(lease)
    ? infoOf(lease, (options.now ?? (() => new Date()))())
    : undefined;
}

/**
 * How many times the lock has been taken (`-1` when it never was): read it before
 * planning outside the lock, and compare with {@linkcode HeldLock.transitions} once
 * held to learn whether another apply ran in between.
 */
export async function lockTransitions(
  kube: KubeClient,
  options: LockOptions = {},
): Promise<number> {
  const lease = await kube.get(ref(options));
  return lease ? transitionsOf(lease) : -1;
}

function holderOf(lease: KubeObject): string | undefined {
  const h = (lease.spec as Record<string, unknown> | undefined)?.holderIdentity;
  return typeof h === "string" && h !== "" ? h : undefined;
}

function transitionsOf(lease: KubeObject): number {
  const t = (lease.spec as Record<string, unknown> | undefined)
    ?.leaseTransitions;
  return typeof t === "number" ? t : 0;
}

function leaseObject(
  options: LockOptions,
  holder: string,
  now: Date,
  previous?: KubeObject,
): KubeObject {
  const r = ref(options);
  const prevSpec = (previous?.spec ?? {}) as Record<string, unknown>;
  return {
    apiVersion: r.apiVersion,
    kind: r.kind,
    metadata: {
      name: r.name,
      namespace: r.namespace,
      labels: { "app.kubernetes.io/managed-by": "kfplan" },
      ...(previous?.metadata.resourceVersion
        ? { resourceVersion: previous.metadata.resourceVersion }
        : {}),
    },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: options.leaseDurationSeconds ??
        LOCK_DURATION_SECONDS,
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: Number(prevSpec.leaseTransitions ?? -1) + 1,
    },
  };
}

/**
 * Takes the lock or throws {@linkcode LockHeldError}. A stale lock (expired) is taken
 * over. The returned lock renews itself until released.
 *
 * @example
 * ```ts
 * const lock = await acquireLock(kube);
 * try { ... } finally { await lock.release(); }
 * ```
 */
export async function acquireLock(
  kube: KubeClient,
  options: LockOptions = {},
): Promise<HeldLock & { tookOver?: LockInfo }> {
  const deadline = Date.now() + (options.waitMs ?? 0);
  let waiting = false;
  while (true) {
    try {
      return await tryAcquire(kube, options);
    } catch (e) {
      if (!(e instanceof LockHeldError) || Date.now() >= deadline) throw e;
      if (!waiting) options.onWait?.(e.info);
      waiting = true;
      await new Promise((r) =>
        setTimeout(r, Math.min(1000, Math.max(0, deadline - Date.now())))
      );
    }
  }
}

async function tryAcquire(
  kube: KubeClient,
  options: LockOptions,
): Promise<HeldLock & { tookOver?: LockInfo }> {
  const now = options.now ?? (() => new Date());
  const holder = options.holder ?? defaultHolder();
  let current: KubeObject;
  let tookOver: LockInfo | undefined;
  try {
    current = await kube.create(leaseObject(options, holder, now()));
  } catch (e) {
    if (!isConflict(e)) throw e;
    const existing = await kube.get(ref(options));
    if (!existing) return tryAcquire(kube, options); // released in between: try again
    const info = infoOf(existing, now());
    const free = holderOf(existing) === undefined;
    const reason = free
      ? undefined
      : info.expired
      ? `it expired (last renewed ${
        info.renewTime ?? info.acquireTime ?? "never"
      }, lease ${info.leaseDurationSeconds}s)`
      : deadLocalHolder(info);
    if (!free && !reason) throw new LockHeldError(info, where(options));
    try {
      current = await kube.replace(
        leaseObject(options, holder, now(), existing),
      );
      if (!free) tookOver = { ...info, reason };
    } catch (e2) {
      if (!isConflict(e2)) throw e2;
      const again = await kube.get(ref(options));
      throw new LockHeldError(
        again ? infoOf(again, now()) : info,
        where(options),
      );
    }
  }
  return startRenewing(kube, current, holder, options, tookOver);
}

function startRenewing(
  kube: KubeClient,
  initial: KubeObject,
  holder: string,
  options: LockOptions,
  tookOver: LockInfo | undefined,
): HeldLock & { tookOver?: LockInfo } {
  const now = options.now ?? (() => new Date());
  const duration = options.leaseDurationSeconds ?? LOCK_DURATION_SECONDS;
  let current = initial;
  let lost = false;
  let released = false;
  let renewing: Promise<void> = Promise.resolve();
  async function renew(): Promise<void> {
    if (released || lost) return;
    const spec = {
      ...(current.spec as Record<string, unknown>),
      renewTime: microTime(now()),
    };
    try {
      current = await kube.replace({ ...current, spec });
    } catch (e) {
      if (isConflict(e)) {
        const live = await kube.get(ref(options)).catch(() => undefined);
        const liveHolder = (live?.spec as Record<string, unknown> | undefined)
          ?.holderIdentity;
        if (live && liveHolder === holder) {
          current = live; // somebody touched it without taking it; retry next round
          return;
        }
        lost = true;
        options.onLost?.(
          `lock ${where(options)} was taken by ${
            String(liveHolder ?? "(deleted)")
          }`,
        );
      }
      // Other errors (a blip of the API server): try again next round; the lease has
      // two more periods before it expires.
    }
  }
  const timer = setInterval(() => {
    renewing = renewing.then(renew);
  }, options.renewIntervalMs ?? Math.max(1000, (duration * 1000) / 3));
  Deno.unrefTimer(timer);
  return {
    holder,
    tookOver,
    transitions: transitionsOf(initial),
    get lost() {
      return lost;
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewing;
      if (lost) return;
      const live = await kube.get(ref(options));
      if (live && holderOf(live) === holder) {
        const spec = { ...(live.spec as Record<string, unknown>) };
        delete spec.holderIdentity;
        delete spec.acquireTime;
        delete spec.renewTime;
        await kube.replace({ ...live, spec });
      }
    },
  };
}

/** A holder identity `user@host pid N`, parsed. */
export interface HolderIdentity {
  /** User name. */
  user: string;
  /** Host name. */
  host: string;
  /** Process id on that host. */
  pid: number;
}

/**
 * Parses a holder identity as {@linkcode defaultHolder} writes it; `undefined` for any
 * other form (a holder named by hand or by another tool is never judged dead).
 *
 * @example
 * ```ts
 * parseHolder("ana@ws1 pid 42"); // { user: "ana", host: "ws1", pid: 42 }
 * ```
 */
export function parseHolder(holder: string): HolderIdentity | undefined {
  const m = /^(.*)@(\S+) pid (\d+)$/.exec(holder);
  if (!m) return undefined;
  const pid = Number(m[3]);
  return Number.isSafeInteger(pid) && pid > 0
    ? { user: m[1], host: m[2], pid }
    : undefined;
}

/** Options for {@linkcode deadLocalHolder}. */
export interface DeadHolderOptions {
  /** This host's name; default `os.hostname()`. */
  host?: string;
}

/** Host names several machines share: a pid there says nothing about this machine. */
const AMBIGUOUS_HOSTS = new Set(["", "localhost", "localhost.localdomain"]);

/**
 * Why the holder of `info` is known to be dead although its Lease has not expired, or
 * `undefined` when it may be alive: the holder names this host and a pid that no
 * longer runs, or that now belongs to a process started after the lock was taken (a
 * recycled pid). A holder on another host, in another form, or this very process is
 * never judged dead.
 *
 * @example
 * ```ts
 * const info = await readLock(kube);
 * if (info) console.log(deadLocalHolder(info) ?? "holder may be alive");
 * ```
 */
export function deadLocalHolder(
  info: LockInfo,
  options: DeadHolderOptions = {},
): string | undefined {
  const parsed = parseHolder(info.holder);
  const host = options.host ?? hostname();
  if (!parsed || parsed.host !== host || AMBIGUOUS_HOSTS.has(host)) {
    return undefined;
  }
  if (parsed.pid === Deno.pid) return undefined;
  const proc = processStart(parsed.pid);
  if (proc === "gone") {
    return `its process (pid ${parsed.pid} on ${host}) is gone`;
  }
  const taken = info.acquireTime ? Date.parse(info.acquireTime) : NaN;
  // Boot time has a resolution of one second: only a clear "after" counts.
  if (proc !== undefined && proc > taken + 2000) {
    return `pid ${parsed.pid} on ${host} now belongs to a process started ${
      new Date(proc).toISOString()
    }, after the lock was taken: its holder is gone`;
  }
  return undefined;
}

/**
 * When process `pid` started (ms since the epoch, from /proc), `"gone"` when it does
 * not run, `undefined` when it runs but its start is unknown.
 */
function processStart(pid: number): number | "gone" | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return undefined;
    // No such entry: gone, if this system has /proc at all.
    try {
      Deno.statSync("/proc/self/stat");
      return "gone";
    } catch {
      return signalZero(pid);
    }
  }
  // Field 22 (starttime, clock ticks since boot); the command name in field 2 may
  // hold spaces and parentheses, so count from the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[19]);
  const btime = /^btime (\d+)$/m.exec(readOrEmpty("/proc/stat"));
  if (!btime || !Number.isFinite(ticks)) return undefined;
  // USER_HZ is 100 on every Linux ABI Deno runs on.
  return Number(btime[1]) * 1000 + ticks * 10;
}

function readOrEmpty(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** Without /proc: `kill -0` (EPERM means it runs under another user). */
function signalZero(pid: number): "gone" | undefined {
  try {
    const out = new Deno.Command("kill", {
      args: ["-0", String(pid)],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (out.success) return undefined;
    const err = new TextDecoder().decode(out.stderr);
    return /not permitted/i.test(err) ? undefined : "gone";
  } catch {
    return undefined;
  }
}

/**
 * Breaks the lock: deletes the Lease whoever holds it. Without `force` only an expired
 * lock or one of a dead process of this host is broken and a live one throws {@linkcode LockHeldError}. Resolves the broken
 * lock's info, or `undefined` when there was none.
 *
 * @example
 * ```ts
 * await breakLock(kube, { force: true });
 * ```
 */
export async function breakLock(
  kube: KubeClient,
  options: LockOptions & { force?: boolean } = {},
): Promise<LockInfo | undefined> {
  const info = await readLock(kube, options);
  if (!info) return undefined;
  if (!info.expired && !options.force && !deadLocalHolder(info)) {
    throw new LockHeldError(info, where(options));
  }
  await kube.delete(ref(options));
  return info;
}
