/**
 * Parsers for `nvidia-smi` and `nvidia-ctk` output, and the mapping of their failures
 * to findings with remediation. Pure functions: the runner lives in
 * `lib/tools/host.ts`.
 *
 * @module
 */

import type { Finding } from "../../engine/types.ts";
import type { CommandResult } from "../../tools/host.ts";

/** The `nvidia-smi` query kfplan runs: one CSV line per GPU. */
export const SMI_QUERY = [
  "nvidia-smi",
  "--query-gpu=name,driver_version,memory.total",
  "--format=csv,noheader",
];

/** One GPU as `nvidia-smi` reports it. */
export interface GpuInfo {
  /** GPU model, e.g. `Tesla T4`. */
  name: string;
  /** Driver version, e.g. `535.183.01`. */
  driverVersion: string;
  /** Total memory in MiB, when reported. */
  memoryMiB?: number;
}

/** What the driver check found. */
export interface DriverState {
  /** `nvidia-smi` exists on the host. */
  installed: boolean;
  /** The kernel driver answered (exit 0). */
  loaded: boolean;
  /** e.g. `550.54.15`. */
  version?: string;
  /** GPUs `nvidia-smi` listed; empty when the driver is missing or not loaded. */
  gpus: GpuInfo[];
  /** The `nvidia.driver` check result, with a remediation when not ok. */
  finding: Finding;
}

/** Documented `nvidia-smi` exit codes (nvidia-smi(1) "RETURN VALUE"). */
const EXIT_CODES: Record<number, { seen: string; fix: string }> = {
  2: {
    seen: "nvidia-smi rejected its arguments (exit 2: invalid argument)",
    fix: "the driver is too old for `--query-gpu`; upgrade the NVIDIA driver",
  },
  3: {
    seen: "the requested operation is not supported on this GPU (exit 3)",
    fix: "check the GPU model against the driver's supported products list",
  },
  4: {
    seen: "nvidia-smi lacks permission (exit 4: no permission)",
    fix:
      "run the check as root (ssh user with sudo) or fix /dev/nvidia* permissions",
  },
  6: {
    seen: "nvidia-smi found no such GPU (exit 6: not found)",
    fix:
      "check `lspci | grep -i nvidia`; the GPU may be absent or passed through elsewhere",
  },
  9: {
    seen: "NVIDIA driver is not loaded (exit 9)",
    fix:
      "load the kernel module with `sudo modprobe nvidia` and check `dmesg | grep -i nvidia`; " +
      "with Secure Boot the module must be signed; after a kernel upgrade rebuild it (`dkms status`, " +
      "`sudo dkms autoinstall`) or reinstall the driver package, then reboot",
  },
  12: {
    seen: "NVML shared library not found (exit 12)",
    fix:
      "reinstall the driver user-space libraries (`libnvidia-compute-<version>`) matching the kernel module",
  },
  13: {
    seen: "NVML function not implemented by this driver (exit 13)",
    fix: "upgrade the NVIDIA driver",
  },
  14: {
    seen: "GPU infoROM is corrupted (exit 14)",
    fix:
      "the GPU needs service: contact the vendor; do not schedule work on it",
  },
  15: {
    seen: "GPU has fallen off the bus or is otherwise inaccessible (exit 15)",
    fix:
      "check power, cooling and PCIe seating (`dmesg | grep -i xid`), then reboot the node",
  },
  255: {
    seen: "nvidia-smi failed with an internal driver error (exit 255)",
    fix:
      "check `dmesg | grep -i nvidia` and the driver installation; reinstall the driver if needed",
  },
};

/**
 * Interprets the result of {@linkcode SMI_QUERY}: GPUs, driver version, and a finding
 * with a remediation for each documented failure.
 *
 * @example
 * ```ts
 * const state = parseSmi({ code: 0, stdout: "Tesla T4, 535.183.01, 15360 MiB\n", stderr: "" }, "gpu-1");
 * state.gpus[0].name; // "Tesla T4"
 * ```
 */
export function parseSmi(result: CommandResult, target?: string): DriverState {
  const check = "nvidia.driver";
  const text = `${result.stdout}\n${result.stderr}`;
  const message = firstLine(text);
  if (result.code === 127) {
    return {
      installed: false,
      loaded: false,
      gpus: [],
      finding: {
        check,
        severity: "warning",
        target,
        seen:
          "nvidia-smi not found: no NVIDIA driver is installed on the host (exit 127)",
        fix:
          "either let the GPU operator install the driver (gpuOperator.driver.enabled: true, the default " +
          "when no host driver is found), or install it on the host (e.g. `sudo apt install " +
          "nvidia-driver-570-server` or `sudo ubuntu-drivers install --gpgpu`) and reboot",
      },
    };
  }
  if (/Driver\/library version mismatch/i.test(text)) {
    return {
      installed: true,
      loaded: false,
      gpus: [],
      finding: {
        check,
        severity: "error",
        target,
        seen: `driver/library version mismatch: ${message}`,
        fix:
          "the driver packages were upgraded but the old kernel module is still loaded: reboot the node, " +
          "or unload and reload it (`sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia`)",
      },
    };
  }
  if (result.code === 0) {
    const gpus = parseSmiCsv(result.stdout);
    if (gpus.length === 0) {
      return {
        installed: true,
        loaded: true,
        gpus,
        finding: {
          check,
          severity: "error",
          target,
          seen: "nvidia-smi ran but listed no GPU",
          fix:
            "check `lspci | grep -i nvidia`; the GPU may be missing or bound to vfio-pci",
        },
      };
    }
    const version = gpus[0].driverVersion;
    const names = summarizeNames(gpus);
    return {
      installed: true,
      loaded: true,
      version,
      gpus,
      finding: {
        check,
        severity: "ok",
        target,
        seen: `driver ${version}, ${gpus.length} GPU${
          gpus.length > 1 ? "s" : ""
        }: ${names}`,
      },
    };
  }
  const known = EXIT_CODES[result.code];
  const couldNotCommunicate = /couldn't communicate with the NVIDIA driver/i
    .test(text);
  const entry = known ?? (couldNotCommunicate ? EXIT_CODES[9] : undefined);
  return {
    installed: true,
    loaded: false,
    gpus: [],
    finding: {
      check,
      severity: "error",
      target,
      seen: entry
        ? `${entry.seen}${message ? `: ${message}` : ""}`
        : `nvidia-smi exited ${result.code}${message ? `: ${message}` : ""}`,
      fix: entry?.fix ??
        "run `nvidia-smi` on the host and check `dmesg | grep -i nvidia` for the driver's error",
    },
  };
}

/**
 * Parses `nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader`.
 * Fields are split from the right, so a name containing a comma survives.
 */
export function parseSmiCsv(stdout: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of stdout.split("\n")) {
    const parts = line.trim().split(/,\s*/);
    if (parts.length < 3 || !parts[0]) continue;
    const memory = parts.pop()!;
    const driverVersion = parts.pop()!;
    const mib = /^(\d+)\s*MiB$/i.exec(memory);
    gpus.push({
      name: parts.join(", "),
      driverVersion,
      memoryMiB: mib ? Number(mib[1]) : undefined,
    });
  }
  return gpus;
}

function summarizeNames(gpus: GpuInfo[]): string {
  const counts = new Map<string, { n: number; mib?: number }>();
  for (const gpu of gpus) {
    const entry = counts.get(gpu.name) ?? { n: 0, mib: gpu.memoryMiB };
    entry.n++;
    counts.set(gpu.name, entry);
  }
  return [...counts].map(([name, { n, mib }]) =>
    `${n} x ${name}${mib !== undefined ? ` (${mib} MiB)` : ""}`
  ).join(", ");
}

function firstLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).find(Boolean) ?? "";
}

/** What the toolkit check found. */
export interface ToolkitState {
  /** `nvidia-ctk` exists on the host (it did not exit 127). */
  installed: boolean;
  /** e.g. `1.17.8`. */
  version?: string;
  /** The `nvidia.toolkit` check result, with a remediation when not ok. */
  finding: Finding;
}

/** `nvidia-ctk` 1.18 is the first to write containerd drop-ins under `conf.d`. */
export const TOOLKIT_DROPIN_VERSION = "1.18.0";

/**
 * Interprets `nvidia-ctk --version`, which prints
 * `NVIDIA Container Toolkit CLI version 1.17.8` and a commit line.
 */
export function parseCtkVersion(
  result: CommandResult,
  target?: string,
): ToolkitState {
  const check = "nvidia.toolkit";
  if (result.code === 127) {
    return {
      installed: false,
      finding: {
        check,
        severity: "warning",
        target,
        seen:
          "nvidia-ctk not found: the NVIDIA Container Toolkit is not installed on the host",
        fix:
          "either let the GPU operator install it (gpuOperator.toolkit.enabled: true), or install it: add " +
          "NVIDIA's apt repository (https://nvidia.github.io/libnvidia-container) and run " +
          "`sudo apt-get install -y nvidia-container-toolkit`, then `sudo nvidia-ctk runtime configure " +
          "--runtime=containerd --set-as-default` and restart the runtime",
      },
    };
  }
  const match = /version\s+v?(\d+\.\d+\.\d+[\w.+-]*)/i.exec(result.stdout);
  if (result.code !== 0 || !match) {
    return {
      installed: true,
      finding: {
        check,
        severity: "error",
        target,
        seen: `nvidia-ctk --version exited ${result.code}: ${
          firstLine(`${result.stderr}\n${result.stdout}`) ||
          "no version printed"
        }`,
        fix:
          "reinstall the toolkit: `sudo apt-get install --reinstall nvidia-container-toolkit`",
      },
    };
  }
  return {
    installed: true,
    version: match[1],
    finding: {
      check,
      severity: "ok",
      target,
      seen: `NVIDIA Container Toolkit ${match[1]}`,
    },
  };
}

/** Compares dotted versions numerically: negative, zero or positive like `sort`. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((p) => Number.parseInt(p, 10));
  const pb = b.split(/[.+-]/).map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.isNaN(pa[i]) || pa[i] === undefined ? 0 : pa[i];
    const y = Number.isNaN(pb[i]) || pb[i] === undefined ? 0 : pb[i];
    if (x !== y) return x - y;
  }
  return 0;
}

/** Minimum driver branch for each CUDA major version (NVIDIA's CUDA release notes). */
export const CUDA_MIN_DRIVER: Record<number, number> = {
  11: 450,
  12: 525,
  13: 580,
};

/**
 * Checks that the host driver can run containers built for `cudaVersion` (e.g. `12.4`).
 */
export function checkCudaCompat(
  cudaVersion: string,
  driverVersion: string | undefined,
  options: { target?: string } = {},
): Finding {
  const target = options.target;
  const check = "nvidia.cuda";
  const major = Number.parseInt(cudaVersion, 10);
  const minimum = CUDA_MIN_DRIVER[major];
  if (minimum === undefined) {
    return {
      check,
      severity: "warning",
      target,
      seen: `no known driver minimum for CUDA ${cudaVersion}`,
      fix: `use one of CUDA ${
        Object.keys(CUDA_MIN_DRIVER).join(", ")
      }.x or check NVIDIA's CUDA release notes`,
    };
  }
  if (!driverVersion) {
    return {
      check,
      severity: "info",
      target,
      seen:
        `CUDA ${cudaVersion} needs driver >= ${minimum}; no host driver to compare`,
    };
  }
  const branch = Number.parseInt(driverVersion, 10);
  if (branch < minimum) {
    return {
      check,
      severity: "error",
      target,
      seen:
        `driver ${driverVersion} is older than ${minimum}, the minimum for CUDA ${major}.x`,
      fix:
        `upgrade the host driver to >= ${minimum} (or use CUDA images of a lower major version)`,
    };
  }
  return {
    check,
    severity: "ok",
    target,
    seen:
      `driver ${driverVersion} supports CUDA ${cudaVersion} (needs >= ${minimum})`,
  };
}
