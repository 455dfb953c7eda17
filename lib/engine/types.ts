/**
 * The types every step, the engine and the tasks share.
 *
 * A kfplan installation is a graph of {@linkcode Step}s. Each step plans (read-only,
 * returns a {@linkcode StepPlan}), applies (idempotent, returns outputs) and verifies
 * (post-conditions that define "done"). The engine owns ordering, checkpoints,
 * redaction and rendering; steps own what they change.
 *
 * @module
 */

import type { KubeClient, KubeObject } from "../kube/types.ts";
import type { FieldDiff } from "../kube/diff.ts";
import type { ObjectRef } from "../kube/object_ref.ts";
import type { KeptObject } from "../kube/prune.ts";
import type { ImageMirror } from "../kube/images.ts";
import type {
  ChangeAction,
  ObservedObject,
  ResourceChange,
} from "../kube/apply_set.ts";

export type {
  ChangeAction,
  FieldDiff,
  KeptObject,
  ObjectRef,
  ObservedObject,
  ResourceChange,
};

/** What a whole step will do: the most disruptive of its resource changes. */
export type StepAction = ChangeAction | "unknown";

/** Severity of a host or preflight finding. */
export type Severity = "ok" | "info" | "warning" | "error";

/** The result of one host or cluster check, with what to do about it. */
export interface Finding {
  /** Stable id of the check, e.g. `nvidia.driver.loaded`. */
  check: string;
  /** How bad it is; `warning` and `error` come with a `fix`. */
  severity: Severity;
  /** Where it was seen: a node name, a host, a file. */
  target?: string;
  /** What was observed, in one line. */
  seen: string;
  /** How to fix it; required for `warning` and `error`. */
  fix?: string;
}

/** What one step will do, as data. Steps build it; the engine renders and stores it. */
export interface StepPlan {
  /** Resource changes in the order the step will apply them. */
  changes: ResourceChange[];
  /** Findings of host and cluster checks run at plan time. */
  findings: Finding[];
  /** Things a reviewer should read before applying. */
  warnings: string[];
  /** Values or objects known only after apply, described for humans (e.g. `LoadBalancer address`). */
  unknowns: string[];
  /** Objects read while planning, for stale-plan detection. */
  observed: ObservedObject[];
  /**
   * A digest of the step's desired state (rendered objects, chart values, ...). Apply
   * from a saved plan re-plans and refuses when this differs.
   */
  desiredDigest?: string;
  /** Free-form, non-secret facts for the plan reader, e.g. `{ version: "v1.10.2" }`. */
  facts?: Record<string, unknown>;
  /**
   * The objects apply makes so, exactly as planned: the plan is a value apply
   * consumes, so a step's `apply` (and `verify`) work from these instead of
   * rendering again. In memory only: the JSON plan leaves them out (they may hold
   * Secret values), and {@linkcode StepPlan.desiredDigest} stands for them there.
   */
  desired?: KubeObject[];
  /**
   * Objects this step owned and no longer renders, that are kept rather than deleted
   * (they hold data, carry a keep marker, or changed owner), each with its reason.
   * The deletes themselves are `changes` with action `delete`.
   */
  kept?: KeptObject[];
  /**
   * Desired objects the step only patches and does not own (e.g. the default-class
   * annotation on another StorageClass): the engine neither labels them as members of
   * the step's inventory nor records them, so they are never pruned.
   */
  patched?: ObjectRef[];
}

/** A single post-condition checked by `verify`. */
export interface VerifyCheck {
  /** What was checked, e.g. `Deployment kubeflow/centraldashboard Available`. */
  name: string;
  /** Whether it holds. */
  ok: boolean;
  /** What was seen, e.g. the last condition of a Deployment that is not Available. */
  detail?: string;
}

/** What `verify` found. A step is done when every check is ok. */
export interface VerifyResult {
  /** Every check made; the step is done when all are ok. */
  checks: VerifyCheck[];
  /** Outputs only known once verified (e.g. a LoadBalancer address). */
  outputs?: Record<string, unknown>;
}

/** Logging sink handed to steps; never pass secrets to it. */
export interface Logger {
  /** Progress worth showing. */
  info(message: string): void;
  /** Something the user should know about. */
  warn(message: string): void;
  /** Details for troubleshooting. */
  debug(message: string): void;
}

/** Everything a step phase may use. Built by the engine; steps never reach for globals. */
export interface StepContext {
  /** The cluster, or `undefined` when planning offline. */
  kube?: KubeClient;
  /** True when there is no cluster: plan everything as created, checks as unknown. */
  offline: boolean;
  /** Outputs of the steps this step `needs`, by step id. Unknown outputs are absent. */
  outputs: Record<string, Record<string, unknown>>;
  /** Logger for this step; messages are scrubbed of known secrets. */
  log: Logger;
  /** Directory for scratch files of this run (rendered manifests, chart values). */
  workDir: string;
  /** Aborted when the run is cancelled (Ctrl-C) or a wait times out globally. */
  signal: AbortSignal;
  /**
   * Registers a secret value the step resolved itself (from an env var, a file, a
   * generated password): the engine then scrubs it from logs, errors, plans and
   * checkpoints as `(sensitive)`. Optional so hand-built contexts stay valid.
   */
  addSecret?(value: string): void;
  /**
   * A key for sealing cached renders that hold the user's secrets (see
   * `lib/tools/render_cache.ts`); derived from the installation's digest key.
   */
  renderCacheKey?: Uint8Array;
  /**
   * The image mirror (`images:` in `kfplan.yaml`): steps pass the objects they plan
   * through `mirrorObjects` (`lib/steps/image_mirror.ts`), which rewrites every
   * image to it and attaches the pull secret. Absent: images are left as rendered.
   */
  images?: StepImages;
  /** What the user allowed for this run (command-line flags); absent: nothing. */
  policy?: StepPolicy;
}

/** What the user allowed for one run, from the command line; every field defaults to false. */
export interface StepPolicy {
  /** `--force-conflicts`: take fields other managers own on objects kfplan did not create. */
  forceConflicts?: boolean;
  /** `--allow-data-loss`: replace or delete data-holding objects (PVCs, PVs, Namespaces, CRDs). */
  allowDataLoss?: boolean;
  /** `--allow-downgrade`: install a lower release over a higher one. */
  allowDowngrade?: boolean;
}

/** An image mirror as steps see it (see {@linkcode StepContext.images}). */
export interface StepImages extends ImageMirror {
  /** The `imagePullSecrets` entry pods get; `read` returns the `.dockerconfigjson` when kfplan creates the Secret. */
  pullSecret?: { name: string; read?: () => Promise<string> };
}

/** The outputs a step returns from apply (and optionally verify). Must be JSON-serialisable. */
export type StepOutputs = Record<string, unknown>;

/**
 * A typed installation step.
 *
 * @typeParam O The step's validated options.
 */
export interface Step<O = unknown> {
  /** Stable, unique id: checkpoints and plans key on it. */
  id: string;
  /** One line for humans. */
  title: string;
  /** Ids of the steps that must be done before this one. */
  needs: string[];
  /** The validated options; their digest decides whether a checkpointed step is still done. */
  options: O;
  /**
   * Option paths (dotted, `*` for any key or index) whose values are secret: the
   * engine redacts them in plans, checkpoints and logs.
   */
  sensitive?: string[];
  /**
   * Output paths (same syntax as {@linkcode Step.sensitive}) whose values are secret:
   * the checkpoint stores them redacted.
   */
  sensitiveOutputs?: string[];
  /** Read-only: what would change. Must not write to the cluster. */
  plan(ctx: StepContext): Promise<StepPlan>;
  /** Idempotent: make it so. Receives the plan computed for this apply. */
  apply(ctx: StepContext, plan: StepPlan): Promise<StepOutputs>;
  /**
   * The post-conditions that define done. After an apply in the same run it receives
   * the plan that was applied; a standalone `verify` passes none.
   */
  verify(ctx: StepContext, plan?: StepPlan): Promise<VerifyResult>;
  /**
   * Optional: removes what the step installed by other means than its inventory
   * (e.g. `helm uninstall` of its release). `destroy` calls it before deleting the
   * step's remaining inventory members. Must be idempotent.
   */
  uninstall?(ctx: StepContext): Promise<void>;
}

/** An empty plan, to spread into step plans. */
export function emptyPlan(): StepPlan {
  return {
    changes: [],
    findings: [],
    warnings: [],
    unknowns: [],
    observed: [],
  };
}
