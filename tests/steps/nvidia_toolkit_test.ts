import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch, throws } from "../_assert.ts";
import { fixtureRunner } from "../../lib/tools/host.ts";
import {
  blockingFindings,
  inspectNvidiaHost,
  type NvidiaHostReport,
  nvidiaToolkitStep,
  operatorChoices,
  parseCtkVersion,
  parseSmi,
  parseSmiCsv,
} from "../../lib/steps/nvidia_toolkit.ts";
import { OptionsError } from "../../lib/engine/options.ts";
import type { Finding, StepContext } from "../../lib/engine/types.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/host/", import.meta.url));

async function inspect(
  name: string,
  runtime?: "auto" | "k3s",
): Promise<NvidiaHostReport> {
  return await inspectNvidiaHost(name, await fixtureRunner(FIXTURES + name), {
    runtime: runtime ?? "auto",
    cudaVersion: "12.4",
  });
}

function finding(report: NvidiaHostReport, check: string): Finding {
  const found = report.findings.find((f) => f.check === check);
  assert(found, `no finding ${check} in ${JSON.stringify(report.findings)}`);
  return found;
}

Deno.test("nvidia-smi CSV: names, driver, memory per GPU", () => {
  const gpus = parseSmiCsv(
    "NVIDIA A100-SXM4-40GB, 570.172.08, 40960 MiB\nNVIDIA H100 80GB HBM3, 570.172.08, [N/A]\n",
  );
  assertEquals(gpus, [
    {
      name: "NVIDIA A100-SXM4-40GB",
      driverVersion: "570.172.08",
      memoryMiB: 40960,
    },
    {
      name: "NVIDIA H100 80GB HBM3",
      driverVersion: "570.172.08",
      memoryMiB: undefined,
    },
  ]);
});

Deno.test("nvidia-smi documented exit codes each map to a remediation", () => {
  for (const code of [2, 3, 4, 6, 9, 12, 13, 14, 15, 255]) {
    const state = parseSmi({ code, stdout: "", stderr: "" }, "n1");
    assertEquals(state.finding.severity, "error");
    assertMatch(state.finding.seen, new RegExp(`exit ${code}`));
    assert(
      state.finding.fix && state.finding.fix.length > 20,
      `fix for ${code}`,
    );
  }
  const unknown = parseSmi({ code: 42, stdout: "", stderr: "weird" }, "n1");
  assertMatch(unknown.finding.seen, /exited 42: weird/);
});

Deno.test("driver missing (127): warning, operator installs the driver", async () => {
  const report = await inspect("driver-missing");
  const f = finding(report, "nvidia.driver");
  assertEquals(f.severity, "warning");
  assertMatch(f.seen, /nvidia-smi not found.*exit 127/);
  assertMatch(f.fix!, /driver\.enabled: true/);
  assertEquals(report.driver.installed, false);
  const inotify = finding(report, "host.fs.inotify.max_user_instances");
  assertEquals(inotify.severity, "warning");
  assertMatch(inotify.seen, /= 128, below 1280/);
  assertMatch(inotify.fix!, /sysctl -w fs\.inotify\.max_user_instances=1280/);
  const choices = operatorChoices([report]);
  assertEquals([choices.driverEnabled, choices.toolkitEnabled], [true, true]);
});

Deno.test("driver not loaded (9): error with modprobe/dkms remediation", async () => {
  const report = await inspect("driver-not-loaded");
  const f = finding(report, "nvidia.driver");
  assertEquals(f.severity, "error");
  assertMatch(f.seen, /not loaded \(exit 9\).*couldn't communicate/);
  assertMatch(f.fix!, /modprobe nvidia/);
  assertMatch(f.fix!, /dkms/);
  assertEquals(blockingFindings(report.findings, "error").includes(f), true);
});

Deno.test("driver/library version mismatch: error, reboot or reload modules", async () => {
  const report = await inspect("library-mismatch");
  const f = finding(report, "nvidia.driver");
  assertEquals(f.severity, "error");
  assertMatch(f.seen, /version mismatch/);
  assertMatch(f.fix!, /reboot/);
  assertMatch(f.fix!, /rmmod nvidia_uvm/);
  assertEquals(report.driver.installed, true);
  assertEquals(report.driver.loaded, false);
});

Deno.test("toolkit missing: warning with install steps; operator keeps toolkit, skips driver", async () => {
  const report = await inspect("toolkit-missing");
  assertEquals(finding(report, "nvidia.driver").severity, "ok");
  const f = finding(report, "nvidia.toolkit");
  assertEquals(f.severity, "warning");
  assertMatch(f.seen, /nvidia-ctk not found/);
  assertMatch(f.fix!, /apt-get install -y nvidia-container-toolkit/);
  // Not a blocker: the operator's own toolkit will configure containerd.
  const runtime = finding(report, "nvidia.runtime.containerd");
  assertEquals(runtime.severity, "info");
  assertMatch(
    runtime.seen,
    /no runtime nvidia under plugins."io.containerd.grpc.v1.cri".*GPU operator's toolkit configures the runtime/,
  );
  assertEquals(blockingFindings(report.findings, "error"), []);
  const choices = operatorChoices([report]);
  assertEquals([choices.driverEnabled, choices.toolkitEnabled], [false, true]);
  assertMatch(
    choices.reasons.join("\n"),
    /driver\.enabled=false: host driver 535\.247\.01/,
  );
});

Deno.test("docker without nvidia runtime: error with nvidia-ctk configure", async () => {
  const report = await inspect("docker-no-nvidia");
  assertEquals(report.runtime.runtime, "docker");
  const f = finding(report, "nvidia.runtime.docker");
  assertEquals(f.severity, "error");
  assertMatch(f.seen, /no "runtimes.nvidia"/);
  assertMatch(
    f.fix!,
    /nvidia-ctk runtime configure --runtime=docker --set-as-default/,
  );
  const d = finding(report, "nvidia.runtime.default");
  assertEquals(d.severity, "warning");
  assertMatch(d.seen, /default runtime is runc/);
});

Deno.test("docker configured with nvidia as default runtime: ok", async () => {
  const report = await inspect("docker-nvidia-default");
  assertEquals(finding(report, "nvidia.runtime.docker").severity, "ok");
  assertEquals(finding(report, "nvidia.runtime.default").severity, "ok");
  assertEquals(report.runtime.nvidiaDefault, true);
});

Deno.test("containerd v3 drop-in configured: ok, operator installs neither driver nor toolkit", async () => {
  const report = await inspect("containerd-v3-dropin");
  const runtime = finding(report, "nvidia.runtime.containerd");
  assertEquals(runtime.severity, "ok");
  assertMatch(
    runtime.seen,
    /conf\.d\/99-nvidia\.toml.*version 3.*io\.containerd\.cri\.v1\.runtime/,
  );
  assertEquals(finding(report, "nvidia.runtime.default").severity, "ok");
  assertEquals(finding(report, "nvidia.cuda").severity, "ok");
  assertEquals(
    finding(report, "nvidia.toolkit").seen,
    "NVIDIA Container Toolkit 1.18.0",
  );
  assertMatch(
    finding(report, "nvidia.driver").seen,
    /2 x NVIDIA A100-SXM4-40GB \(40960 MiB\)/,
  );
  assertEquals(blockingFindings(report.findings, "warning"), []);
  const choices = operatorChoices([report]);
  assertEquals([choices.driverEnabled, choices.toolkitEnabled], [false, false]);
});

Deno.test("containerd drop-in present but not imported: error naming the import line", async () => {
  const report = await inspect("containerd-dropin-not-imported");
  const f = finding(report, "nvidia.runtime.containerd");
  assertEquals(f.severity, "error");
  assertMatch(
    f.seen,
    /99-nvidia\.toml exist but \/etc\/containerd\/config\.toml does not import/,
  );
  assertMatch(f.fix!, /imports = \["\/etc\/containerd\/conf\.d\/\*\.toml"\]/);
});

Deno.test("k3s template: nvidia runtime and default set, operator gets k3s paths when it installs the toolkit", async () => {
  const report = await inspect("k3s-template");
  assertEquals(report.runtime.runtime, "k3s");
  const f = finding(report, "nvidia.runtime.k3s");
  assertEquals(f.severity, "ok");
  const d = finding(report, "nvidia.runtime.default");
  assertEquals(d.severity, "ok");
  assertMatch(d.seen, /config\.toml\.tmpl: default runtime is nvidia/);
  assertEquals(report.runtime.toolkitEnv[1], {
    name: "CONTAINERD_SOCKET",
    value: "/run/k3s/containerd/containerd.sock",
  });
  // Same host, toolkit missing: the operator's toolkit must target k3s' containerd.
  const choices = operatorChoices([{
    ...report,
    toolkit: { installed: false },
  }]);
  assertEquals(choices.toolkitEnabled, true);
  assertEquals(choices.toolkitEnv.map((e) => e.name), [
    "CONTAINERD_CONFIG",
    "CONTAINERD_SOCKET",
  ]);
});

Deno.test("CUDA compatibility: old driver is an error naming the minimum", async () => {
  const report = await inspectNvidiaHost(
    "n",
    await fixtureRunner(FIXTURES + "toolkit-missing"),
    {
      cudaVersion: "13.0",
    },
  );
  const f = finding(report, "nvidia.cuda");
  assertEquals(f.severity, "error");
  assertMatch(f.seen, /535\.247\.01 is older than 580/);
});

Deno.test("nvidia-ctk version parsing", () => {
  const ok = parseCtkVersion({
    code: 0,
    stdout: "NVIDIA Container Toolkit CLI version 1.17.8\ncommit: abc\n",
    stderr: "",
  });
  assertEquals(ok.version, "1.17.8");
  assertEquals(
    parseCtkVersion({ code: 1, stdout: "", stderr: "boom" }).finding.severity,
    "error",
  );
});

Deno.test("step: plan findings are data; apply fails on blocking findings naming the fix", async () => {
  const ctx = {
    offline: true,
    outputs: {},
    log: { info() {}, warn() {}, debug() {} },
    workDir: "/tmp",
    signal: new AbortController().signal,
  } as StepContext;
  const step = nvidiaToolkitStep({
    hosts: [{ name: "gpu-1", fixture: FIXTURES + "driver-not-loaded" }],
  });
  const plan = await step.plan(ctx);
  assert(
    plan.findings.some((f) =>
      f.check === "nvidia.driver" && f.severity === "error"
    ),
  );
  assertMatch(plan.warnings.join("\n"), /gpu-1: nvidia\.driver/);
  let message = "";
  try {
    await step.apply(ctx, plan);
  } catch (error) {
    message = (error as Error).message;
  }
  assertMatch(
    message,
    /gpu-1: nvidia\.driver.*\n\s+fix: load the kernel module/,
  );
  const ok = nvidiaToolkitStep({
    hosts: [{ name: "gpu-1", fixture: FIXTURES + "containerd-v3-dropin" }],
  });
  const outputs = await ok.apply(ctx, await ok.plan(ctx));
  assertEquals(
    (outputs.choices as { driverEnabled: boolean }).driverEnabled,
    false,
  );
  const verify = await ok.verify(ctx);
  assert(verify.checks.length > 5 && verify.checks.every((c) => c.ok));
});

Deno.test("step options: unknown runtime and address+fixture rejected naming the field", () => {
  const e = throws(
    () =>
      nvidiaToolkitStep({ runtime: "podman" as "docker" }, {
        prefix: ["nvidiaToolkit"],
      }),
    OptionsError,
  );
  assertMatch(e.message, /nvidiaToolkit\.runtime: use one of "auto", "docker"/);
  const e2 = throws(
    () =>
      nvidiaToolkitStep({ hosts: [{ name: "a", address: "h", fixture: "f" }] }),
    OptionsError,
  );
  assertMatch(e2.message, /hosts\[0\].*either address/);
});

Deno.test("step options: a fixture that is not a recorded host is refused naming the file and field", async () => {
  const base = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${base}/fixtures/empty`, { recursive: true });
    const e = throws(
      () =>
        nvidiaToolkitStep({
          hosts: [
            { name: "a", fixture: FIXTURES + "containerd-v3-dropin" },
            { name: "b", fixture: "fixtures/no-such-host" },
            { name: "c", fixture: "fixtures/empty" },
          ],
        }, {
          source: "kfplan.yaml",
          prefix: ["gpu", "hostChecks"],
          baseDir: base,
        }),
      OptionsError,
    );
    assertEquals(e.issues.map((i) => i.path), [
      "gpu.hostChecks.hosts[1].fixture",
      "gpu.hostChecks.hosts[2].fixture",
    ]);
    assertMatch(
      e.issues[0].message,
      new RegExp(`^no recorded host at ${base}/fixtures/no-such-host `),
    );
    assertMatch(e.issues[1].message, /fixtures\/empty has no commands\.yaml/);
    assertMatch(e.message, /^invalid options in kfplan\.yaml:/);
    const one = throws(
      () =>
        nvidiaToolkitStep({ hosts: [{ name: "b", fixture: "no-such-host" }] }, {
          source: "kfplan.yaml",
          prefix: ["gpu", "hostChecks"],
          baseDir: base,
        }),
      OptionsError,
    );
    assertMatch(
      one.message,
      /^kfplan\.yaml: gpu\.hostChecks\.hosts\[0\]\.fixture: no recorded host at .*no-such-host/,
    );
    // Recorded hosts, relative to baseDir, pass.
    nvidiaToolkitStep({
      hosts: [{ name: "a", fixture: "host/toolkit-missing" }],
    }, { baseDir: `${FIXTURES}..` });
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("unreachable host: one error finding, no pile of failed checks", async () => {
  const calls: string[][] = [];
  const report = await inspectNvidiaHost("gpu-9", {
    target: "ssh:10.0.0.19",
    run(argv) {
      calls.push(argv);
      return Promise.resolve({
        code: 255,
        stdout: "",
        stderr:
          "ssh: connect to host 10.0.0.19 port 22: Connection timed out\n",
      });
    },
  });
  assertEquals(calls, [["true"]]);
  assertEquals(report.findings.length, 1);
  const f = report.findings[0];
  assertEquals([f.check, f.severity, f.target], [
    "host.reachable",
    "error",
    "gpu-9",
  ]);
  assertMatch(
    f.seen,
    /exit 255\): ssh: connect to host 10\.0\.0\.19 port 22: Connection timed out/,
  );
  assertMatch(f.fix!, /ssh -o BatchMode=yes/);
});

Deno.test("unreadable runtime config: says permission, not 'missing'", async () => {
  const runner = {
    target: "ssh:gpu-3",
    run(argv: string[]) {
      if (argv[0] === "cat" && argv[1] === "/etc/containerd/config.toml") {
        return Promise.resolve({
          code: 1,
          stdout: "",
          stderr: "cat: /etc/containerd/config.toml: Permission denied\n",
        });
      }
      if (argv[0] === "true") {
        return Promise.resolve({ code: 0, stdout: "", stderr: "" });
      }
      return Promise.resolve({
        code: 127,
        stdout: "",
        stderr: `${argv[0]}: not found`,
      });
    },
  };
  const report = await inspectNvidiaHost("gpu-3", runner, { inotify: false });
  assertEquals(report.runtime.runtime, "containerd");
  const f = finding(report, "nvidia.runtime.containerd");
  assertMatch(
    f.seen,
    /config\.toml exists but cannot be read: .*Permission denied/,
  );
  assertMatch(f.fix!, /run the checks as a user that can read/);
});

Deno.test("RKE2 (config v3): nvidia runtime found, not default: warning with the agent flag", async () => {
  const report = await inspect("rke2-not-default");
  assertEquals(report.runtime.runtime, "rke2");
  assertEquals(finding(report, "nvidia.runtime.rke2").severity, "ok");
  const d = finding(report, "nvidia.runtime.default");
  assertEquals(d.severity, "warning");
  assertMatch(
    d.seen,
    /rke2\/agent\/etc\/containerd\/config\.toml: default runtime is runc, not nvidia/,
  );
  assertMatch(d.fix!, /--default-runtime=nvidia/);
  assertMatch(d.fix!, /config\.toml\.tmpl/);
  assertMatch(
    finding(report, "nvidia.driver").seen,
    /4 x NVIDIA H100 80GB HBM3 \(81559 MiB\)/,
  );
  assertEquals(
    finding(report, "host.fs.inotify.max_user_watches").severity,
    "warning",
  );
});
