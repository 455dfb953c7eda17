/**
 * What every command does first: load the configuration, build its steps, and connect
 * to the cluster (or explain why it runs offline). Commands take a
 * {@linkcode SessionOptions} so that scripts and tests can pass their own steps and
 * cluster connection while keeping the commands' behaviour.
 *
 * @module
 */

import { isAbsolute, join, relative } from "node:path";
import { loadConfig } from "../config/load.ts";
import { stepsFromConfig } from "../../plans/mod.ts";
import { connect } from "../kube/client.ts";
import type {
  ConnectOptions,
  ConnectResult,
  KubeClient,
} from "../kube/types.ts";
import type { Step } from "../engine/types.ts";
import type { LockOptions } from "../engine/lock.ts";
import type { CliArgs } from "./args.ts";
import type { CliIO } from "./io.ts";

/** Steps and where they came from. */
export interface Composition {
  /** The steps to plan or apply. */
  steps: Step[];
  /** The config file: recorded in plans, and its directory holds `.kfplan/`. */
  config?: { path: string; digest: string; dir: string };
  /** Default kubeconfig context from the config (`cluster.context`). */
  context?: string;
  /** Default parallelism from the config (`cluster.parallelism`). */
  parallelism?: number;
  /** `cluster.allowDataLoss` from the config: prune may delete data holders. */
  allowDataLoss?: boolean;
}

/** Overrides for the commands; all optional. */
export interface SessionOptions {
  /** Where output goes; default the process's stdio. */
  io?: CliIO;
  /** Builds the steps; default: load `--config` (or `kfplan.yaml`, or the example) and compose it. */
  compose?: (configPath: string | undefined) => Promise<Composition>;
  /** Connects to the cluster; default `connect()` from `lib/kube/client.ts`. */
  connect?: (options: ConnectOptions) => Promise<ConnectResult>;
  /** Lease lock settings for apply (name, namespace, holder); default `kube-system/kfplan-lock`. */
  lock?: LockOptions;
}

/**
 * The default composition: the config file through `plans/mod.ts`'s `stepsFromConfig`.
 */
export async function composeFromConfig(
  configPath: string | undefined,
): Promise<Composition> {
  const loaded = await loadConfig(configPath);
  const steps = stepsFromConfig(loaded);
  return {
    steps,
    config: {
      path: displayPath(loaded.path),
      digest: loaded.digest,
      dir: loaded.dir,
    },
    context: loaded.config.cluster?.context,
    parallelism: loaded.config.cluster?.parallelism,
    allowDataLoss: loaded.config.cluster?.allowDataLoss,
  };
}

/** A path relative to the working directory when it lies below it (plans stay portable). */
export function displayPath(path: string): string {
  const rel = relative(Deno.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

/** The cluster, or why there is none. */
export type Cluster = { kube: KubeClient; close(): void } | { offline: string };

/** Connects as the flags and config say. */
export async function openCluster(
  args: CliArgs,
  composition: Composition,
  options: SessionOptions,
): Promise<Cluster> {
  const io = options.io;
  const fromConfig = args.context === undefined &&
    composition.context !== undefined;
  const result = await (options.connect ?? connect)({
    context: args.context ?? composition.context,
    kubeconfig: args.kubeconfig,
    // Retries are reported, never silent: the user sees a struggling API server.
    onRetry: (e) =>
      (io?.err ?? ((t: string) => console.error(t.trimEnd())))(
        `retrying ${e.operation} (attempt ${e.attempt}, HTTP ${e.status}) in ${e.delayMs} ms: ${e.message}\n`,
      ),
  }).catch((e: unknown) => {
    // A context named in the config is the config's mistake: say where it is.
    if (
      fromConfig && composition.config &&
      /does not exist/.test(String((e as Error)?.message))
    ) {
      throw new Error(
        `${composition.config.path}: cluster.context: ${
          (e as Error).message
        }; use a context of your kubeconfig, or pass --context`,
      );
    }
    throw e;
  });
  if ("offline" in result) return result;
  const kube = result.kube;
  return {
    kube,
    close() {
      // A client handed in by the caller is the caller's to close.
      if (!options.connect) {
        (kube as KubeClient & { close?: () => void }).close?.();
      }
    },
  };
}

/** `--checkpoint`, else `.kfplan/` next to the config, else `.kfplan/`. */
export function checkpointDirFor(
  args: CliArgs,
  composition: Composition,
): string {
  if (args.checkpoint) return args.checkpoint;
  return composition.config
    ? join(composition.config.dir, ".kfplan")
    : ".kfplan";
}

/** `--parallelism`, else the config's, else the engine default. */
export function parallelismFor(
  args: CliArgs,
  composition: Composition,
): number | undefined {
  return args.parallelism ?? composition.parallelism;
}
