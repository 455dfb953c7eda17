/**
 * Loading `kfplan.yaml`: finds the file, parses it (YAML errors carry line and
 * column), checks the top-level sections and hands each section to its step factory
 * (see `plans/mod.ts`), which validates it with the step's own schema.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument } from "../deps.ts";
import { z } from "../deps.ts";
import { validateOptions } from "../engine/options.ts";
import type { AmdGpuOptionsInput } from "../steps/amd_gpu.ts";
import type { GpuOperatorOptionsInput } from "../steps/gpu_operator.ts";
import type { KubeflowOptionsInput } from "../steps/kubeflow/options.ts";
import type { MetallbOptionsInput } from "../steps/metallb.ts";
import type { NvidiaToolkitOptionsInput } from "../steps/nvidia_toolkit.ts";
import type { StorageOptionsInput } from "../steps/storage.ts";
import type { TimeSlicingOptionsInput } from "../steps/time_slicing.ts";
import type { UsersOptionsInput } from "../steps/users.ts";
import { imagesSchema, type ImagesSettings } from "../steps/image_mirror.ts";

/**
 * The sections a configuration file may have.
 *
 * Each step section is typed as the input its step factory accepts, because that is
 * where it goes: the loader checks only that it is a mapping, and the factory
 * validates its contents with the step's own schema when `stepsFromConfig` builds
 * the steps, so errors name the step's fields. Until then, treat a section's fields
 * as unchecked.
 */
export interface KfplanConfig {
  /** Cluster connection and run settings. */
  cluster?: ClusterSettings;
  /** Default StorageClass (NFS subdir provisioner), for `storageStep`. */
  storage?: StorageOptionsInput;
  /** MetalLB chart and address pools, for `metallbStep`. */
  metallb?: MetallbOptionsInput;
  /** NVIDIA host checks, GPU operator, time-slicing, AMD device plugin. */
  gpu?: GpuSections;
  /** The Kubeflow manifests and their settings, for `kubeflowStep`. */
  kubeflow?: KubeflowOptionsInput;
  /** Profiles and per-namespace PodDefaults, for `usersStep`. */
  users?: UsersOptionsInput;
  /** An image mirror every step's images are rewritten to (`lib/steps/image_mirror.ts`). */
  images?: ImagesSettings;
}

/** The `gpu` section: one sub-section per GPU step, each its factory's input. */
export interface GpuSections {
  /** NVIDIA driver and container toolkit host checks (step `nvidia-toolkit`); their findings decide the operator's `driver.enabled`/`toolkit.enabled`. */
  hostChecks?: NvidiaToolkitOptionsInput;
  /** NVIDIA GPU operator Helm release (step `gpu-operator`). */
  operator?: GpuOperatorOptionsInput;
  /** GPU time-slicing sharing config (step `time-slicing`); needs `operator`, whose chart values point the device plugin at it. */
  timeSlicing?: TimeSlicingOptionsInput;
  /** AMD GPU device plugin (step `amd-gpu`), independent of the NVIDIA steps. */
  amd?: AmdGpuOptionsInput;
}

/** `cluster:` settings. Command-line flags override them. */
export interface ClusterSettings {
  /** kubeconfig context to use. */
  context?: string;
  /** How many independent steps may run at once. */
  parallelism?: number;
  /**
   * Let prune delete data-holding objects the configuration no longer renders (PVCs,
   * PVs, non-empty namespaces, CRDs with instances), as `--allow-data-loss` does.
   */
  allowDataLoss?: boolean;
}

/** A parsed configuration file and where it came from. */
export interface LoadedConfig {
  /** Absolute path of the file. */
  path: string;
  /** Its directory: relative paths in the file resolve against it. */
  dir: string;
  /** The parsed sections. */
  config: KfplanConfig;
  /** sha256 of the file's bytes, recorded in plans. */
  digest: string;
}

const clusterSchema = z.object({
  context: z.string().min(1).optional(),
  parallelism: z.int().min(1, "must be at least 1").max(64).optional(),
  allowDataLoss: z.boolean().optional(),
}).strict();

/**
 * A step section: checked here to be a mapping and typed as its factory's input; the
 * factory's schema checks the contents (see {@linkcode KfplanConfig}).
 */
function section<Input>(): z.ZodType<Input> {
  return z.custom<Input>(isMapping, { error: "must be a mapping of settings" });
}

function isMapping(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Schema of the top level; sections are checked by their own steps. */
export const configSchema: z.ZodType<KfplanConfig> = z.object({
  cluster: clusterSchema.optional(),
  storage: section<StorageOptionsInput>().optional(),
  metallb: section<MetallbOptionsInput>().optional(),
  gpu: z.object({
    hostChecks: section<NvidiaToolkitOptionsInput>().optional(),
    operator: section<GpuOperatorOptionsInput>().optional(),
    timeSlicing: section<TimeSlicingOptionsInput>().optional(),
    amd: section<AmdGpuOptionsInput>().optional(),
  }).strict().optional(),
  kubeflow: section<KubeflowOptionsInput>().optional(),
  users: section<UsersOptionsInput>().optional(),
  images: imagesSchema.optional(),
}).strict();

/** Thrown when the file cannot be found or is not valid YAML. */
export class ConfigFileError extends Error {
  /** Creates the error; `message` names the file and, for YAML errors, the line and column. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigFileError";
  }
}

/** Options for {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** Directory searched for `kfplan.yaml` when no path is given; default `Deno.cwd()`. */
  cwd?: string;
}

/** The example configuration shipped with kfplan, planned when no file is given. */
export function exampleConfigPath(): string {
  return join(
    dirname(fileURLToPath(import.meta.url)),
    "../../examples/kfplan.yaml",
  );
}

/**
 * Finds and parses a configuration: `path` when given, else `kfplan.yaml` in the
 * working directory, else the shipped example (so `deno task plan` works on a fresh
 * clone).
 *
 * @example
 * ```ts
 * const loaded = await loadConfig("examples/kfplan.yaml");
 * console.log(loaded.config.kubeflow);
 * ```
 */
export async function loadConfig(
  path?: string,
  options: LoadConfigOptions = {},
): Promise<LoadedConfig> {
  const file = path
    ? resolve(path)
    : await defaultConfigPath(options.cwd ?? Deno.cwd());
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ConfigFileError(`${file}: no such configuration file`);
    }
    throw error;
  }
  return parseConfig(text, file);
}

/**
 * Parses configuration text; `file` is used for error messages and relative paths.
 *
 * @example
 * ```ts
 * const loaded = parseConfig("cluster: {parallelism: 2}\n", "/tmp/kfplan.yaml");
 * ```
 */
export function parseConfig(text: string, file: string): LoadedConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const details = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return `${file}${pos ? `:${pos.line}:${pos.col}` : ""}: ${
        e.message.split("\n")[0]
      }`;
    });
    throw new ConfigFileError(details.join("\n"));
  }
  const raw = doc.toJS() ?? {};
  const config = validateOptions(configSchema, raw, { source: file });
  return {
    path: file,
    dir: dirname(file),
    config,
    digest: `sha256:${createHash("sha256").update(text).digest("hex")}`,
  };
}

async function defaultConfigPath(cwd: string): Promise<string> {
  const local = join(cwd, "kfplan.yaml");
  try {
    await Deno.stat(local);
    return local;
  } catch {
    return exampleConfigPath();
  }
}
