/**
 * Container runtime configuration checks for the NVIDIA runtime: docker
 * (`/etc/docker/daemon.json`), containerd (`config.toml` and its imported drop-ins,
 * config version 2 and 3), and the k3s/RKE2 embedded containerd (`config.toml.tmpl`).
 *
 * @module
 */

import { parseToml } from "../../deps.ts";
import type { Finding } from "../../engine/types.ts";
import {
  type CommandRunner,
  listHostDir,
  readHostFile,
} from "../../tools/host.ts";

/** Which container runtime the checks look at. `auto` inspects the files present. */
export type RuntimeKind = "auto" | "docker" | "containerd" | "k3s" | "rke2";

/** What the runtime checks found on one host. */
export interface RuntimeState {
  /** The runtime whose configuration was found (or `unknown`). */
  runtime: Exclude<RuntimeKind, "auto"> | "unknown";
  /** A runtime named `nvidia` is configured. */
  nvidiaConfigured: boolean;
  /** `nvidia` is the default runtime. */
  nvidiaDefault: boolean;
  /** The file that configures the `nvidia` runtime. */
  configuredIn?: string;
  /** `toolkit.env` the GPU operator needs for this runtime (k3s/RKE2 paths). */
  toolkitEnv: { name: string; value: string }[];
  /** Findings about the runtime configuration, each with a fix when not ok. */
  findings: Finding[];
}

/** Well-known paths. */
export const PATHS = {
  docker: "/etc/docker/daemon.json",
  containerd: "/etc/containerd/config.toml",
  containerdDropIns: "/etc/containerd/conf.d",
  k3sTemplate: "/var/lib/rancher/k3s/agent/etc/containerd/config.toml.tmpl",
  k3sConfig: "/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
  rke2Template: "/var/lib/rancher/rke2/agent/etc/containerd/config.toml.tmpl",
  rke2Config: "/var/lib/rancher/rke2/agent/etc/containerd/config.toml",
  k3sSocket: "/run/k3s/containerd/containerd.sock",
} as const;

/** The CRI plugin table per containerd config version. */
const CRI_PLUGIN: Record<number, string> = {
  2: "io.containerd.grpc.v1.cri",
  3: "io.containerd.cri.v1.runtime",
};

/**
 * Checks the runtime configuration on the runner's host.
 *
 * @example
 * ```ts
 * const state = await checkRuntime(localRunner(), "auto");
 * state.findings.forEach((f) => console.log(f.check, f.severity, f.seen));
 * ```
 */
export async function checkRuntime(
  runner: CommandRunner,
  kind: RuntimeKind,
): Promise<RuntimeState> {
  const target = runner.target;
  const detected = kind === "auto" ? await detectRuntime(runner) : kind;
  kind = detected === "unknown" ? "auto" : detected;
  if (kind === "docker") return await checkDocker(runner, target);
  if (kind === "containerd") return await checkContainerd(runner, target);
  if (kind === "k3s" || kind === "rke2") {
    return await checkRancher(runner, kind, target);
  }
  return {
    runtime: "unknown",
    nvidiaConfigured: false,
    nvidiaDefault: false,
    toolkitEnv: [],
    findings: [{
      check: "nvidia.runtime",
      severity: "warning",
      target,
      seen:
        `no container runtime configuration found (looked for ${PATHS.k3sConfig}, ${PATHS.rke2Config}, ` +
        `${PATHS.containerd}, ${PATHS.docker})`,
      fix:
        "set nvidiaToolkit.runtime to docker, containerd, k3s or rke2, or let the GPU operator configure " +
        "the runtime (gpuOperator.toolkit.enabled: true)",
    }],
  };
}

const READ_FIX =
  "run the checks as a user that can read the runtime configuration " +
  "(e.g. root, or ssh as a user in the docker group)";

/** A message when a file exists but could not be read (permissions), else undefined. */
function unreadable(path: string, error?: string): string | undefined {
  return error && /Permission denied/i.test(error)
    ? `${path} exists but cannot be read: ${error}`
    : undefined;
}

async function exists(runner: CommandRunner, path: string): Promise<boolean> {
  const file = await readHostFile(runner, path);
  // An unreadable file still tells which runtime the host uses.
  return file.text !== undefined || unreadable(path, file.error) !== undefined;
}

async function detectRuntime(
  runner: CommandRunner,
): Promise<Exclude<RuntimeKind, "auto"> | "unknown"> {
  if (
    await exists(runner, PATHS.k3sConfig) ||
    await exists(runner, PATHS.k3sTemplate)
  ) return "k3s";
  if (
    await exists(runner, PATHS.rke2Config) ||
    await exists(runner, PATHS.rke2Template)
  ) return "rke2";
  if (await exists(runner, PATHS.containerd)) return "containerd";
  if (await exists(runner, PATHS.docker)) return "docker";
  return "unknown";
}

async function checkDocker(
  runner: CommandRunner,
  target: string,
): Promise<RuntimeState> {
  const state: RuntimeState = {
    runtime: "docker",
    nvidiaConfigured: false,
    nvidiaDefault: false,
    toolkitEnv: [],
    findings: [],
  };
  const file = await readHostFile(runner, PATHS.docker);
  const configure =
    "sudo nvidia-ctk runtime configure --runtime=docker --set-as-default && " +
    "sudo systemctl restart docker";
  if (file.text === undefined) {
    state.findings.push({
      check: "nvidia.runtime.docker",
      severity: "error",
      target,
      seen: unreadable(PATHS.docker, file.error) ??
        `${PATHS.docker} not found: docker has no nvidia runtime`,
      fix: unreadable(PATHS.docker, file.error) ? READ_FIX : configure,
    });
    return state;
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(file.text || "{}");
  } catch (error) {
    state.findings.push({
      check: "nvidia.runtime.docker",
      severity: "error",
      target,
      seen: `${PATHS.docker} is not valid JSON: ${(error as Error).message}`,
      fix: "fix the JSON syntax (docker refuses to start with it), then " +
        configure,
    });
    return state;
  }
  const runtimes = (config.runtimes ?? {}) as Record<string, { path?: string }>;
  const nvidia = runtimes.nvidia;
  state.nvidiaConfigured = Boolean(nvidia?.path);
  state.nvidiaDefault = config["default-runtime"] === "nvidia";
  if (state.nvidiaConfigured) state.configuredIn = PATHS.docker;
  state.findings.push(
    state.nvidiaConfigured
      ? {
        check: "nvidia.runtime.docker",
        severity: "ok",
        target,
        seen: `${PATHS.docker}: runtime nvidia -> ${nvidia!.path}`,
      }
      : {
        check: "nvidia.runtime.docker",
        severity: "error",
        target,
        seen: `${PATHS.docker} has no "runtimes.nvidia" (runtimes: ${
          Object.keys(runtimes).join(", ") || "none"
        })`,
        fix: configure,
      },
  );
  state.findings.push(
    defaultFinding(
      state,
      target,
      PATHS.docker,
      String(config["default-runtime"] ?? "runc"),
      configure,
    ),
  );
  return state;
}

function defaultFinding(
  state: RuntimeState,
  target: string,
  where: string,
  current: string,
  fix: string,
): Finding {
  if (state.nvidiaDefault) {
    return {
      check: "nvidia.runtime.default",
      severity: "ok",
      target,
      seen: `${where}: default runtime is nvidia`,
    };
  }
  return {
    check: "nvidia.runtime.default",
    severity: "warning",
    target,
    seen: `${where}: default runtime is ${current}, not nvidia`,
    fix:
      'pods without runtimeClassName nvidia will not see GPUs (device plugin: "did you set the ' +
      `default runtime to nvidia?\"): ${fix}`,
  };
}

interface ContainerdDoc {
  file: string;
  version: number;
  doc: Record<string, unknown>;
}

function criTable(d: ContainerdDoc): Record<string, unknown> | undefined {
  const plugins = d.doc.plugins as
    | Record<string, Record<string, unknown>>
    | undefined;
  return plugins?.[CRI_PLUGIN[d.version] ?? CRI_PLUGIN[2]]?.containerd as
    | Record<string, unknown>
    | undefined;
}

function parseContainerd(
  file: string,
  text: string,
  fallbackVersion: number,
): ContainerdDoc | string {
  try {
    const doc = parseToml(stripTemplate(text)) as Record<string, unknown>;
    const version = typeof doc.version === "number"
      ? doc.version
      : fallbackVersion;
    return { file, version, doc };
  } catch (error) {
    return `${file} is not valid TOML: ${
      (error as Error).message.split("\n")[0]
    }`;
  }
}

/**
 * Removes Go template actions (k3s `config.toml.tmpl` starts with
 * `{{ template "base" . }}`) so the TOML the user added can be parsed.
 */
export function stripTemplate(text: string): string {
  return text.split("\n").filter((line) => !/^\s*\{\{.*\}\}\s*$/.test(line))
    .join("\n")
    // A value such as `enable_selinux = {{ .NodeConfig.SELinux }}` must stay parseable.
    .replace(/\{\{[^}]*\}\}/g, "0");
}

/** Expands a containerd `imports` entry (a path or a `dir/*.toml` glob) against a listing. */
async function expandImport(
  runner: CommandRunner,
  pattern: string,
): Promise<string[]> {
  const slash = pattern.lastIndexOf("/");
  const dir = pattern.slice(0, slash);
  const base = pattern.slice(slash + 1);
  if (!base.includes("*")) return [pattern];
  const names = await listHostDir(runner, dir) ?? [];
  const re = new RegExp(
    `^${base.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*")}$`,
  );
  return names.filter((n) => re.test(n)).map((n) => `${dir}/${n}`);
}

async function checkContainerd(
  runner: CommandRunner,
  target: string,
): Promise<RuntimeState> {
  const state: RuntimeState = {
    runtime: "containerd",
    nvidiaConfigured: false,
    nvidiaDefault: false,
    toolkitEnv: [],
    findings: [],
  };
  const configure =
    "sudo nvidia-ctk runtime configure --runtime=containerd --set-as-default && " +
    "sudo systemctl restart containerd";
  const main = await readHostFile(runner, PATHS.containerd);
  if (main.text === undefined) {
    state.findings.push({
      check: "nvidia.runtime.containerd",
      severity: "error",
      target,
      seen: unreadable(PATHS.containerd, main.error) ??
        `${PATHS.containerd} not found`,
      fix: unreadable(PATHS.containerd, main.error) ? READ_FIX : configure,
    });
    return state;
  }
  // containerd treats a file without `version` as version 1, which has no CRI table we know.
  const parsed = parseContainerd(PATHS.containerd, main.text, 1);
  if (typeof parsed === "string") {
    state.findings.push({
      check: "nvidia.runtime.containerd",
      severity: "error",
      target,
      seen: parsed,
      fix: "fix the TOML syntax (containerd refuses to start with it), then " +
        configure,
    });
    return state;
  }
  const docs: ContainerdDoc[] = [parsed];
  const imports = Array.isArray(parsed.doc.imports)
    ? parsed.doc.imports as string[]
    : [];
  const imported = new Set<string>();
  for (const pattern of imports) {
    for (const path of await expandImport(runner, pattern)) {
      imported.add(path);
      const text = (await readHostFile(runner, path)).text;
      if (text === undefined) continue;
      const doc = parseContainerd(path, text, parsed.version);
      if (typeof doc === "string") {
        state.findings.push({
          check: "nvidia.runtime.containerd",
          severity: "error",
          target,
          seen: doc,
          fix: `fix or remove ${path}, then ${configure}`,
        });
      } else docs.push(doc);
    }
  }
  if (parsed.version < 2) {
    state.findings.push({
      check: "nvidia.runtime.containerd",
      severity: "error",
      target,
      seen:
        `${PATHS.containerd} has no \`version = 2\` or \`version = 3\` (containerd reads it as version 1)`,
      fix:
        "regenerate it with `containerd config default | sudo tee /etc/containerd/config.toml`, then " +
        configure,
    });
    return state;
  }
  // Later files override earlier ones, as containerd merges imports after the main file.
  let defaultName = "runc";
  let defaultFrom = PATHS.containerd as string;
  for (const d of docs) {
    const table = criTable(d);
    const runtimes = table?.runtimes as
      | Record<string, Record<string, unknown>>
      | undefined;
    if (runtimes?.nvidia) {
      state.nvidiaConfigured = true;
      state.configuredIn = d.file;
    }
    if (typeof table?.default_runtime_name === "string") {
      defaultName = table.default_runtime_name;
      defaultFrom = d.file;
    }
  }
  state.nvidiaDefault = defaultName === "nvidia";
  const dropIns = await listHostDir(runner, PATHS.containerdDropIns) ?? [];
  const orphan = dropIns.map((n) => `${PATHS.containerdDropIns}/${n}`)
    .filter((p) => p.endsWith(".toml") && !imported.has(p));
  if (!state.nvidiaConfigured && orphan.length > 0) {
    state.findings.push({
      check: "nvidia.runtime.containerd",
      severity: "error",
      target,
      seen: `${
        orphan.join(", ")
      } exist but ${PATHS.containerd} does not import them`,
      fix:
        `add \`imports = ["${PATHS.containerdDropIns}/*.toml"]\` at the top of ${PATHS.containerd} ` +
        "(nvidia-ctk 1.18+ does this), then `sudo systemctl restart containerd`",
    });
  } else {
    state.findings.push(
      state.nvidiaConfigured
        ? {
          check: "nvidia.runtime.containerd",
          severity: "ok",
          target,
          seen:
            `runtime nvidia configured in ${state.configuredIn} (config version ${parsed.version}, ` +
            `table plugins."${CRI_PLUGIN[parsed.version]}")`,
        }
        : {
          check: "nvidia.runtime.containerd",
          severity: "error",
          target,
          seen:
            `no runtime nvidia under plugins."${
              CRI_PLUGIN[parsed.version]
            }".containerd.runtimes in ` +
            docs.map((d) => d.file).join(", "),
          fix: configure,
        },
    );
  }
  state.findings.push(
    defaultFinding(state, target, defaultFrom, defaultName, configure),
  );
  return state;
}

async function checkRancher(
  runner: CommandRunner,
  kind: "k3s" | "rke2",
  target: string,
): Promise<RuntimeState> {
  const config = kind === "k3s" ? PATHS.k3sConfig : PATHS.rke2Config;
  const template = kind === "k3s" ? PATHS.k3sTemplate : PATHS.rke2Template;
  const state: RuntimeState = {
    runtime: kind,
    nvidiaConfigured: false,
    nvidiaDefault: false,
    // The operator's toolkit container must edit the embedded containerd's files.
    toolkitEnv: [
      { name: "CONTAINERD_CONFIG", value: template },
      { name: "CONTAINERD_SOCKET", value: PATHS.k3sSocket },
    ],
    findings: [],
  };
  const check = `nvidia.runtime.${kind}`;
  const restart = kind === "k3s"
    ? "sudo systemctl restart k3s (or k3s-agent)"
    : `sudo systemctl restart rke2-server (or rke2-agent)`;
  const templateFix =
    `start the ${kind} agent with \`--default-runtime=nvidia\` (k3s 1.27+, RKE2), or copy ` +
    `${config} to ${template} and add \`default_runtime_name = "nvidia"\` under its ` +
    `[plugins."io.containerd.grpc.v1.cri".containerd] table (never edit config.toml: ${kind} ` +
    `regenerates it), then ${restart}`;
  const generated = await readHostFile(runner, config);
  const tmpl = await readHostFile(runner, template);
  const docs: ContainerdDoc[] = [];
  for (
    const [file, text] of [[config, generated.text], [
      template,
      tmpl.text,
    ]] as const
  ) {
    if (text === undefined) continue;
    const doc = parseContainerd(file, text, 2);
    if (typeof doc === "string") {
      state.findings.push({
        check,
        severity: "error",
        target,
        seen: doc,
        fix: `fix ${file}, then ${restart}`,
      });
    } else docs.push(doc);
  }
  let defaultName = "runc";
  let defaultFrom = config as string;
  for (const d of docs) {
    const table = criTable(d);
    const runtimes = table?.runtimes as Record<string, unknown> | undefined;
    if (runtimes?.nvidia) {
      state.nvidiaConfigured = true;
      state.configuredIn ??= d.file;
    }
    if (typeof table?.default_runtime_name === "string") {
      defaultName = table.default_runtime_name;
      defaultFrom = d.file;
    }
  }
  state.nvidiaDefault = defaultName === "nvidia";
  if (generated.text === undefined && tmpl.text === undefined) {
    state.findings.push({
      check,
      severity: "error",
      target,
      seen:
        `neither ${config} nor ${template} exists: ${kind} has not started its containerd on this host`,
      fix: `start ${kind} on the node first, then re-run the checks`,
    });
    return state;
  }
  state.findings.push(
    state.nvidiaConfigured
      ? {
        check,
        severity: "ok",
        target,
        seen: `runtime nvidia configured in ${state.configuredIn}`,
      }
      : {
        check,
        severity: "error",
        target,
        seen: `no runtime nvidia in ${docs.map((d) => d.file).join(", ")}`,
        fix:
          `install nvidia-container-toolkit on the host and ${restart}: ${kind} adds the nvidia runtime ` +
          "to its generated config.toml when it finds nvidia-container-runtime",
      },
  );
  state.findings.push(
    state.nvidiaDefault
      ? {
        check: "nvidia.runtime.default",
        severity: "ok",
        target,
        seen: `${defaultFrom}: default runtime is nvidia`,
      }
      : {
        check: "nvidia.runtime.default",
        severity: "warning",
        target,
        seen: `${defaultFrom}: default runtime is ${defaultName}, not nvidia`,
        fix: templateFix,
      },
  );
  return state;
}

/** Kubeflow's controllers need these inotify limits (kubeflow/manifests#2087). */
export const INOTIFY_MINIMUMS = {
  "fs.inotify.max_user_instances": 1280,
  "fs.inotify.max_user_watches": 655360,
} as const;

/** Reads the inotify limits from `/proc/sys` and compares them with {@linkcode INOTIFY_MINIMUMS}. */
export async function checkInotify(runner: CommandRunner): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [key, minimum] of Object.entries(INOTIFY_MINIMUMS)) {
    const path = `/proc/sys/${key.replaceAll(".", "/")}`;
    const { text, error } = await readHostFile(runner, path);
    const value = Number.parseInt(text ?? "", 10);
    const fix =
      `sudo sysctl -w ${key}=${minimum} and persist it: echo ${key}=${minimum} | ` +
      "sudo tee -a /etc/sysctl.d/99-kubeflow.conf";
    if (Number.isNaN(value)) {
      findings.push({
        check: `host.${key}`,
        severity: "warning",
        target: runner.target,
        seen: `could not read ${path}: ${error ?? "not a number"}`,
        fix,
      });
    } else if (value < minimum) {
      findings.push({
        check: `host.${key}`,
        severity: "warning",
        target: runner.target,
        seen:
          `${key} = ${value}, below ${minimum} (Kubeflow pods fail with "too many open files")`,
        fix,
      });
    } else {
      findings.push({
        check: `host.${key}`,
        severity: "ok",
        target: runner.target,
        seen: `${key} = ${value} (>= ${minimum})`,
      });
    }
  }
  return findings;
}
