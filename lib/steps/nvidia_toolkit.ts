/**
 * NVIDIA driver and container toolkit host checks, on each GPU node, run locally, over
 * ssh, or replayed from a recorded fixture directory. The findings are plan data
 * (severity, what was seen, how to fix) and decide the GPU operator's choices: a
 * driver already on the host means `driver.enabled=false`, a configured toolkit
 * means `toolkit.enabled=false` (see {@linkcode operatorChoices}).
 *
 * Checks: `nvidia-smi` query (GPUs, driver, memory; each documented exit code mapped
 * to a remediation), `nvidia-ctk --version`, the runtime configuration for docker,
 * containerd (v2/v3, `conf.d` drop-ins) or k3s/RKE2 (`config.toml.tmpl`), whether
 * `nvidia` is the default runtime, CUDA/driver compatibility, and inotify limits.
 *
 * @module
 */

import { z } from "../deps.ts";
import { isAbsolute, resolve } from "node:path";
import { defineStep, type DefineStepOptions } from "../engine/step.ts";
import { formatPath, OptionsError } from "../engine/options.ts";
import {
  emptyPlan,
  type Finding,
  type Severity,
  type Step,
} from "../engine/types.ts";
import {
  type CommandResult,
  type CommandRunner,
  fixtureProblem,
  fixtureRunner,
  localRunner,
  sshRunner,
} from "../tools/host.ts";
import {
  checkCudaCompat,
  type DriverState,
  parseCtkVersion,
  parseSmi,
  SMI_QUERY,
  type ToolkitState,
} from "./nvidia/_smi.ts";
import {
  checkInotify,
  checkRuntime,
  type RuntimeState,
} from "./nvidia/_runtime.ts";

export { parseCtkVersion, parseSmi, parseSmiCsv } from "./nvidia/_smi.ts";
export type { DriverState, GpuInfo, ToolkitState } from "./nvidia/_smi.ts";
export type { RuntimeKind, RuntimeState } from "./nvidia/_runtime.ts";

/** Step id of the host checks. */
export const NVIDIA_TOOLKIT_STEP_ID = "nvidia-toolkit";

const hostSchema = z.strictObject({
  /** Name used in findings (usually the Kubernetes node name). */
  name: z.string().min(1, {
    message: "a host name is required (usually the node name)",
  }),
  /** ssh destination; absent = run on this machine. */
  address: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  port: z.int().min(1).max(65535).optional(),
  identityFile: z.string().min(1).optional(),
  /**
   * A recorded host (directory with `commands.yaml` and `files/`, see
   * `lib/tools/host.ts`) to check instead of a live one.
   */
  fixture: z.string().min(1).optional(),
}).refine((h) => !(h.address && h.fixture), {
  message: "set either address (ssh) or fixture (recorded host), not both",
});

/** Options of {@linkcode nvidiaToolkitStep}. */
export const nvidiaToolkitOptionsSchema = z.strictObject({
  /** The GPU hosts to check; default: this machine. */
  hosts: z.array(hostSchema).min(1).default([{ name: "local" }]),
  runtime: z.enum(["auto", "docker", "containerd", "k3s", "rke2"], {
    message: 'use one of "auto", "docker", "containerd", "k3s", "rke2"',
  }).default("auto"),
  /** CUDA version the workloads are built for, e.g. `12.4`. */
  cudaVersion: z.string().regex(/^\d+(\.\d+){0,2}$/, {
    message: 'use a CUDA version such as "12.4"',
  }).optional(),
  /** Check the inotify limits Kubeflow needs. */
  inotify: z.boolean().default(true),
  /** Findings at or above this severity fail apply and verify. */
  failOn: z.enum(["error", "warning", "never"], {
    message: 'use "error", "warning" or "never"',
  }).default("error"),
});

/** Raw options as written in the config file. */
export type NvidiaToolkitOptionsInput = z.input<
  typeof nvidiaToolkitOptionsSchema
>;
/** Validated options. */
export type NvidiaToolkitOptions = z.output<typeof nvidiaToolkitOptionsSchema>;
/** One host entry. */
export type NvidiaHost = z.output<typeof hostSchema>;

/** Everything checked on one host. */
export interface NvidiaHostReport {
  /** The configured host name (usually the node name), as used in findings. */
  host: string;
  /** Where the checks ran: `local`, `ssh:<address>` or `fixture:<dir>`. */
  target: string;
  /** Driver state: installed, loaded, version and GPUs. */
  driver: Omit<DriverState, "finding">;
  /** Container toolkit state: installed and version. */
  toolkit: Omit<ToolkitState, "finding">;
  /** Container runtime state: which runtime, whether `nvidia` is configured and default, `toolkit.env`. */
  runtime: Omit<RuntimeState, "findings">;
  /** Every finding for the host (driver, toolkit, runtime, CUDA, inotify), targeted at `host`. */
  findings: Finding[];
}

/** Options for {@linkcode inspectNvidiaHost}. */
export interface InspectOptions {
  /** Runtime whose configuration to inspect; default `auto` (detected from the files present). */
  runtime?: NvidiaToolkitOptions["runtime"];
  /** CUDA version the workloads need, e.g. `12.4`; checked against the driver when set. */
  cudaVersion?: string;
  /** Check the inotify limits Kubeflow needs; default true. */
  inotify?: boolean;
}

/**
 * Runs every check on one host.
 *
 * @example
 * ```ts
 * import { fixtureRunner } from "../tools/host.ts";
 * const report = await inspectNvidiaHost("gpu-1", await fixtureRunner("tests/fixtures/host/containerd-v3-dropin"));
 * report.findings.filter((f) => f.severity === "error");
 * ```
 */
export async function inspectNvidiaHost(
  host: string,
  runner: CommandRunner,
  options: InspectOptions = {},
): Promise<NvidiaHostReport> {
  const reach = await runner.run(["true"], { timeoutMs: 20_000 });
  if (reach.code !== 0) return unreachable(host, runner, reach);
  const { finding: driverFinding, ...driver } = parseSmi(
    await runner.run(SMI_QUERY),
    host,
  );
  const { finding: toolkitFinding, ...toolkit } = parseCtkVersion(
    await runner.run(["nvidia-ctk", "--version"]),
    host,
  );
  const findings: Finding[] = [driverFinding, toolkitFinding];
  const { findings: runtimeFindings, ...runtime } = await checkRuntime(
    runner,
    options.runtime ?? "auto",
  );
  for (const f of runtimeFindings) {
    // Without a host toolkit the operator installs its own, which also configures the
    // runtime: an unconfigured runtime is then expected, not a blocker.
    const handledByOperator = !toolkit.installed && f.severity !== "ok" &&
      f.severity !== "info";
    findings.push(
      handledByOperator
        ? {
          ...f,
          target: host,
          severity: "info",
          seen:
            `${f.seen} (expected without a host toolkit: the GPU operator's toolkit ` +
            "configures the runtime, toolkit.enabled=true)",
        }
        : { ...f, target: host },
    );
  }
  if (options.cudaVersion) {
    findings.push(
      checkCudaCompat(options.cudaVersion, driver.version, { target: host }),
    );
  }
  if (options.inotify ?? true) {
    for (const f of await checkInotify(runner)) {
      findings.push({ ...f, target: host });
    }
  }
  return { host, target: runner.target, driver, toolkit, runtime, findings };
}

function unreachable(
  host: string,
  runner: CommandRunner,
  result: CommandResult,
): NvidiaHostReport {
  return {
    host,
    target: runner.target,
    driver: { installed: false, loaded: false, gpus: [] },
    toolkit: { installed: false },
    runtime: {
      runtime: "unknown",
      nvidiaConfigured: false,
      nvidiaDefault: false,
      toolkitEnv: [],
    },
    findings: [{
      check: "host.reachable",
      severity: "error",
      target: host,
      seen: `cannot run commands on ${runner.target} (exit ${result.code}): ${
        result.stderr.trim().split("\n").pop() || "no output"
      }`,
      fix:
        "check the host's address, user and identityFile; kfplan runs ssh in batch mode " +
        "(no password prompts): `ssh -o BatchMode=yes <user>@<address> true` must succeed",
    }],
  };
}

/** The GPU operator settings the host checks imply. */
export interface OperatorChoices {
  /** False when every host already has a loaded driver. */
  driverEnabled: boolean;
  /** False when every host has the toolkit installed and the nvidia runtime configured. */
  toolkitEnabled: boolean;
  /** `toolkit.env` for k3s/RKE2 hosts (their containerd lives elsewhere). */
  toolkitEnv: { name: string; value: string }[];
  /** Why, one line per decision. */
  reasons: string[];
}

/**
 * Derives `driver.enabled` / `toolkit.enabled` from host reports. With no reports
 * (nothing checked) the operator installs both, as upstream's defaults do.
 *
 * @example
 * ```ts
 * const choices = operatorChoices(reports);
 * // { driverEnabled: false, toolkitEnabled: false, ... } when hosts are fully set up
 * ```
 */
export function operatorChoices(reports: NvidiaHostReport[]): OperatorChoices {
  if (reports.length === 0) {
    return {
      driverEnabled: true,
      toolkitEnabled: true,
      toolkitEnv: [],
      reasons: [
        "no host checks: operator installs driver and toolkit (upstream defaults)",
      ],
    };
  }
  const withDriver = reports.filter((r) => r.driver.loaded);
  const withToolkit = reports.filter((r) =>
    r.toolkit.installed && r.runtime.nvidiaConfigured
  );
  const driverEnabled = withDriver.length < reports.length;
  const toolkitEnabled = withToolkit.length < reports.length;
  const reasons = [
    driverEnabled
      ? `driver.enabled=true: no loaded host driver on ${
        names(reports.filter((r) => !r.driver.loaded))
      }`
      : `driver.enabled=false: host driver ${
        [...new Set(withDriver.map((r) => r.driver.version))].join(", ")
      } loaded on every host`,
    toolkitEnabled
      ? `toolkit.enabled=true: toolkit missing or nvidia runtime not configured on ${
        names(reports.filter((r) => !withToolkit.includes(r)))
      }`
      : "toolkit.enabled=false: toolkit installed and nvidia runtime configured on every host",
  ];
  const env =
    reports.find((r) => r.runtime.toolkitEnv.length > 0)?.runtime.toolkitEnv ??
      [];
  return {
    driverEnabled,
    toolkitEnabled,
    toolkitEnv: toolkitEnabled ? env : [],
    reasons,
  };
}

function names(reports: NvidiaHostReport[]): string {
  return reports.map((r) => r.host).join(", ");
}

/** Options for {@linkcode runnerFor}. */
export interface RunnerForOptions {
  /** Directory relative fixture paths resolve against. */
  baseDir?: string;
}

/** The directory a host's `fixture` names, relative ones resolved against `baseDir`. */
function fixtureDir(fixture: string, baseDir?: string): string {
  return isAbsolute(fixture) || !baseDir ? fixture : `${baseDir}/${fixture}`;
}

/**
 * Refuses host entries whose `fixture` is not a recorded host (no such directory, or
 * no `commands.yaml` in it), naming the file and `<prefix>.hosts[i].fixture`: a wrong
 * path must not pass for a host with nothing installed.
 */
export function checkFixtures(
  options: NvidiaToolkitOptions,
  stepOptions: DefineStepOptions = {},
): void {
  const issues = options.hosts.flatMap((host, i) => {
    if (!host.fixture) return [];
    const problem = fixtureProblem(
      resolve(fixtureDir(host.fixture, stepOptions.baseDir)),
    );
    return problem
      ? [{
        path: formatPath([
          ...stepOptions.prefix ?? [],
          "hosts",
          i,
          "fixture",
        ]),
        message: problem,
      }]
      : [];
  });
  if (issues.length > 0) throw new OptionsError(issues, stepOptions.source);
}

/** The runner a host entry describes: fixture, ssh, or local. */
export async function runnerFor(
  host: NvidiaHost,
  options: RunnerForOptions = {},
): Promise<CommandRunner> {
  if (host.fixture) {
    return await fixtureRunner(fixtureDir(host.fixture, options.baseDir));
  }
  if (host.address) {
    return sshRunner(host.address, {
      user: host.user,
      port: host.port,
      identityFile: host.identityFile,
    });
  }
  return localRunner();
}

/** Runs the checks on every configured host, in parallel. */
export async function inspectNvidiaHosts(
  options: NvidiaToolkitOptions,
  runnerOptions: RunnerForOptions = {},
): Promise<NvidiaHostReport[]> {
  return await Promise.all(
    options.hosts.map(async (host) =>
      inspectNvidiaHost(
        host.name,
        await runnerFor(host, runnerOptions),
        options,
      )
    ),
  );
}

const RANK: Record<Severity, number> = { ok: 0, info: 1, warning: 2, error: 3 };

/** Findings at or above the `failOn` threshold. */
export function blockingFindings(
  findings: Finding[],
  failOn: NvidiaToolkitOptions["failOn"],
): Finding[] {
  if (failOn === "never") return [];
  return findings.filter((f) => RANK[f.severity] >= RANK[failOn]);
}

/** Extra wiring for {@linkcode nvidiaToolkitStep}. */
export interface NvidiaToolkitStepOptions extends DefineStepOptions {
  /**
   * Shared, memoised inspection (see `plans/gpu.ts`), so the GPU operator step sees
   * the same reports at plan time without running the checks twice.
   */
  inspect?: () => Promise<NvidiaHostReport[]>;
}

/**
 * The host-check step. Plan runs the checks and returns findings; apply runs them
 * again and fails on blocking findings; outputs the reports and the operator choices.
 *
 * @example
 * ```ts
 * const step = nvidiaToolkitStep({ hosts: [{ name: "gpu-1", address: "10.0.0.11", user: "ubuntu" }] });
 * ```
 */
export function nvidiaToolkitStep(
  options: NvidiaToolkitOptionsInput,
  stepOptions: NvidiaToolkitStepOptions = {},
): Step<NvidiaToolkitOptions> {
  const step = defineStep({
    id: NVIDIA_TOOLKIT_STEP_ID,
    title: "NVIDIA driver and container toolkit host checks",
    schema: nvidiaToolkitOptionsSchema,
    options,
    plan: async (_ctx, o) => {
      const reports = await (stepOptions.inspect?.() ??
        inspectNvidiaHosts(o, { baseDir: stepOptions.baseDir }));
      const choices = operatorChoices(reports);
      const plan = emptyPlan();
      // Host checks only: apply makes no Kubernetes object so.
      plan.desired = [];
      plan.findings = reports.flatMap((r) => r.findings);
      for (const f of blockingFindings(plan.findings, o.failOn)) {
        plan.warnings.push(
          `${f.target}: ${f.check}: ${f.seen} (apply stops here until fixed)`,
        );
      }
      plan.facts = {
        hosts: reports.map((r) => ({
          host: r.host,
          driver: r.driver.version ?? null,
          gpus: r.driver.gpus.map((g) => g.name),
          toolkit: r.toolkit.version ?? null,
          runtime: r.runtime.runtime,
        })),
        gpuOperator: choices.reasons,
      };
      return plan;
    },
    apply: async (_ctx, _plan, o) => {
      const reports = await inspectNvidiaHosts(o, {
        baseDir: stepOptions.baseDir,
      });
      const blocking = blockingFindings(
        reports.flatMap((r) => r.findings),
        o.failOn,
      );
      if (blocking.length > 0) {
        throw new Error(
          `host checks failed:\n${
            blocking.map((f) =>
              `  ${f.target}: ${f.check}: ${f.seen}\n    fix: ${f.fix ?? "-"}`
            ).join("\n")
          }`,
        );
      }
      return { reports, choices: operatorChoices(reports) };
    },
    verify: async (_ctx, o) => {
      // Fresh checks: the hosts may have been fixed since the plan.
      const reports = await inspectNvidiaHosts(o, {
        baseDir: stepOptions.baseDir,
      });
      const findings = reports.flatMap((r) => r.findings);
      const blocking = new Set(blockingFindings(findings, o.failOn));
      return {
        checks: findings.map((f) => ({
          name: `${f.target}: ${f.check}`,
          ok: !blocking.has(f),
          detail: f.seen,
        })),
        outputs: { choices: operatorChoices(reports) },
      };
    },
  }, stepOptions);
  // Up front, with the other option errors: nothing is planned on a wrong path.
  checkFixtures(step.options, stepOptions);
  return step;
}
