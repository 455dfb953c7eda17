/**
 * A small command runner for host checks: run a command on this machine
 * ({@linkcode localRunner}), on another one over ssh ({@linkcode sshRunner}), or
 * replay recorded outputs ({@linkcode fixtureRunner}, for tests and for reviewing a
 * host's state captured elsewhere).
 *
 * Checks read files through the runner too (`cat`, `ls`), so the same check code
 * works for all three and the fixtures are plain copies of real files.
 *
 * @module
 */

import { parseYaml, stringifyYaml } from "../deps.ts";
import { dirname, join } from "node:path";

/** What one command did. `code` 127 means the program was not found. */
export interface CommandResult {
  /** Exit code: 0 on success, 127 program not found, 124 timed out, 255 ssh itself failed. */
  code: number;
  /** Standard output, decoded as UTF-8. */
  stdout: string;
  /** Standard error, decoded as UTF-8; a timeout appends `<program>: timed out`. */
  stderr: string;
}

/** Options for {@linkcode CommandRunner.run}. */
export interface HostRunOptions {
  /** Give up after this many milliseconds (the command is killed); default 30000. */
  timeoutMs?: number;
}

/** Runs commands on one host. */
export interface CommandRunner {
  /** Where commands run, for findings: `local`, `ssh:gpu-1`, `fixture:driver-missing`. */
  readonly target: string;
  /** Runs `argv` (no shell); resolves with the exit code, never rejects on a non-zero exit. */
  run(argv: string[], options?: HostRunOptions): Promise<CommandResult>;
}

/** The exit code shells use for "command not found". */
export const NOT_FOUND = 127;

/** The exit code of ssh itself failing (unreachable host, authentication). */
export const SSH_FAILED = 255;

/**
 * Runs commands on this machine. A program that does not exist yields code 127
 * and a shell-like message, as it would over ssh.
 *
 * @example
 * ```ts
 * const r = await localRunner().run(["uname", "-r"]);
 * console.log(r.code, r.stdout);
 * ```
 */
export function localRunner(): CommandRunner {
  return {
    target: "local",
    run: (argv, options) => spawn(argv, options),
  };
}

/** Options for {@linkcode sshRunner}. */
export interface SshRunnerOptions {
  /** `ssh` user; default from the ssh config. */
  user?: string;
  /** Port; default from the ssh config. */
  port?: number;
  /** Identity file. */
  identityFile?: string;
  /** Extra `-o` options such as `StrictHostKeyChecking=accept-new`. */
  sshOptions?: string[];
  /** The ssh program; default `ssh`. */
  ssh?: string;
}

/**
 * Runs commands on `host` over ssh in batch mode (no password prompts). ssh itself
 * failing (unreachable host, authentication) exits 255 and is reported as such.
 *
 * @example
 * ```ts
 * const runner = sshRunner("gpu-1", { user: "ubuntu" });
 * const r = await runner.run(["nvidia-smi", "-L"]);
 * ```
 */
export function sshRunner(
  host: string,
  options: SshRunnerOptions = {},
): CommandRunner {
  // BatchMode: never prompt; ConnectTimeout: an unreachable host fails in seconds.
  const base = [
    options.ssh ?? "ssh",
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=10",
  ];
  for (const o of options.sshOptions ?? []) base.push("-o", o);
  if (options.port) base.push("-p", String(options.port));
  if (options.identityFile) base.push("-i", options.identityFile);
  const destination = options.user ? `${options.user}@${host}` : host;
  return {
    target: `ssh:${host}`,
    run: (argv, runOptions) =>
      spawn(
        [...base, destination, "--", argv.map(shellQuote).join(" ")],
        runOptions,
      ),
  };
}

/** Quotes one argument for a POSIX shell (the remote side of ssh runs one). */
export function shellQuote(arg: string): string {
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'"'"'`)}'`;
}

async function spawn(
  argv: string[],
  options: HostRunOptions = {},
): Promise<CommandResult> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(),
    options.timeoutMs ?? 30_000,
  );
  try {
    const out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const decoder = new TextDecoder();
    return {
      code: controller.signal.aborted ? 124 : out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr) +
        (controller.signal.aborted ? `\n${argv[0]}: timed out` : ""),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return {
        code: NOT_FOUND,
        stdout: "",
        stderr: `${argv[0]}: command not found`,
      };
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** One recorded command in a fixture's `commands.yaml`. */
export interface RecordedCommand {
  /** The command line, arguments separated by single spaces. */
  command: string;
  /** Exit code to replay, e.g. 0, or 9 for `nvidia-smi` with the driver not loaded. */
  code: number;
  /** Standard output to replay; default empty. */
  stdout?: string;
  /** Standard error to replay; default empty. */
  stderr?: string;
}

/** Thrown by {@linkcode fixtureRunner} for a path that is not a recorded host. */
export class FixtureNotFoundError extends Error {
  /** The fixture directory as given. */
  readonly dir: string;

  /** `problem` says what is missing (see {@linkcode fixtureProblem}). */
  constructor(dir: string, problem: string) {
    super(problem);
    this.name = "FixtureNotFoundError";
    this.dir = dir;
  }
}

/**
 * Why `dir` is not a recorded host (no such directory, or no `commands.yaml` in it),
 * or `undefined` when it is one. A recording is never taken for a host with nothing
 * installed just because its path is wrong.
 */
export function fixtureProblem(dir: string): string | undefined {
  const hint =
    "(a recorded host is a directory holding commands.yaml and files/)";
  try {
    if (!Deno.statSync(dir).isDirectory) {
      return `${dir} is not a directory ${hint}`;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return `no recorded host at ${dir} ${hint}`;
  }
  try {
    Deno.statSync(join(dir, "commands.yaml"));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return `${dir} has no commands.yaml ${hint}`;
  }
  return undefined;
}

/**
 * Replays a recorded host from a directory:
 *
 * - `commands.yaml`: a list of {@linkcode RecordedCommand}s, matched on the exact
 *   command line;
 * - `files/`: a copy of the host's files at their absolute paths
 *   (`files/etc/docker/daemon.json`), served to `cat` and `ls -1`.
 *
 * Anything not recorded answers like a host without it: exit 127 for a program,
 * `No such file or directory` (exit 1, or 2 for `ls`) for a path. A directory that
 * does not exist or lacks `commands.yaml` is refused with
 * {@linkcode FixtureNotFoundError}: it is a wrong path, not a bare host.
 *
 * @example
 * ```ts
 * const runner = await fixtureRunner("tests/fixtures/host/containerd-v3-dropin");
 * const r = await runner.run(["nvidia-ctk", "--version"]);
 * ```
 */
export async function fixtureRunner(dir: string): Promise<CommandRunner> {
  const recorded = new Map<string, RecordedCommand>();
  const problem = fixtureProblem(dir);
  if (problem) throw new FixtureNotFoundError(dir, problem);
  const text = await Deno.readTextFile(join(dir, "commands.yaml"));
  const list = parseYaml(text) as RecordedCommand[] | null;
  for (const entry of list ?? []) recorded.set(entry.command, entry);
  const name = dir.replace(/\/+$/, "").split("/").pop();
  return {
    target: `fixture:${name}`,
    run(argv) {
      return Promise.resolve(replay(dir, recorded, argv));
    },
  };
}

function replay(
  dir: string,
  recorded: Map<string, RecordedCommand>,
  argv: string[],
): CommandResult {
  // A recorded host is reachable: the reachability probe always succeeds.
  if (argv.length === 1 && argv[0] === "true") {
    return { code: 0, stdout: "", stderr: "" };
  }
  const hit = recorded.get(argv.join(" "));
  if (hit) {
    return {
      code: hit.code,
      stdout: hit.stdout ?? "",
      stderr: hit.stderr ?? "",
    };
  }
  if (argv[0] === "cat" && argv.length === 2) {
    try {
      return {
        code: 0,
        stdout: Deno.readTextFileSync(join(dir, "files", argv[1])),
        stderr: "",
      };
    } catch {
      return {
        code: 1,
        stdout: "",
        stderr: `cat: ${argv[1]}: No such file or directory`,
      };
    }
  }
  if (argv[0] === "ls" && argv[1] === "-1" && argv.length === 3) {
    try {
      const names = [...Deno.readDirSync(join(dir, "files", argv[2]))].map((
        e,
      ) => e.name).sort();
      return {
        code: 0,
        stdout: names.map((n) => `${n}\n`).join(""),
        stderr: "",
      };
    } catch {
      return {
        code: 2,
        stdout: "",
        stderr: `ls: cannot access '${argv[2]}': No such file or directory`,
      };
    }
  }
  return {
    code: NOT_FOUND,
    stdout: "",
    stderr: `bash: ${argv[0]}: command not found`,
  };
}

/** A runner that remembers what it saw, to save it as a fixture. */
export interface RecordingRunner extends CommandRunner {
  /**
   * Writes what was run into `dir` in {@linkcode fixtureRunner}'s layout
   * (`commands.yaml`, `files/...`), so the host can be replayed and reviewed later.
   */
  save(dir: string): Promise<void>;
}

/**
 * Wraps a runner and records every command and file read, e.g. to capture a real GPU
 * node's state (`kfplan` host checks over ssh) as a test fixture.
 *
 * @example
 * ```ts
 * const recorder = recordingRunner(sshRunner("gpu-1"));
 * // ... run the checks with `recorder` ...
 * await recorder.save("tests/fixtures/host/gpu-1");
 * ```
 */
export function recordingRunner(inner: CommandRunner): RecordingRunner {
  const commands: RecordedCommand[] = [];
  const files = new Map<string, string>();
  const dirs = new Map<string, string[]>();
  return {
    target: inner.target,
    async run(argv, options) {
      const result = await inner.run(argv, options);
      if (argv.length === 1 && argv[0] === "true") return result;
      if (argv[0] === "cat" && argv.length === 2) {
        // A missing file is recorded by its absence.
        if (result.code === 0) files.set(argv[1], result.stdout);
      } else if (argv[0] === "ls" && argv[1] === "-1" && argv.length === 3) {
        if (result.code === 0) {
          dirs.set(argv[2], result.stdout.split("\n").filter(Boolean));
        }
      } else if (result.code !== NOT_FOUND) {
        commands.push({
          command: argv.join(" "),
          code: result.code,
          ...(result.stdout ? { stdout: result.stdout } : {}),
          ...(result.stderr ? { stderr: result.stderr } : {}),
        });
      }
      return result;
    },
    async save(dir) {
      await Deno.mkdir(join(dir, "files"), { recursive: true });
      for (const [path, names] of dirs) {
        await Deno.mkdir(join(dir, "files", path), { recursive: true });
        for (const name of names) {
          // Listed but never read: keep the name so the listing replays.
          const file = join(dir, "files", path, name);
          if (!files.has(`${path}/${name}`)) {
            await Deno.writeTextFile(file, "", { create: true });
          }
        }
      }
      for (const [path, text] of files) {
        await Deno.mkdir(dirname(join(dir, "files", path)), {
          recursive: true,
        });
        await Deno.writeTextFile(join(dir, "files", path), text);
      }
      await Deno.writeTextFile(
        join(dir, "commands.yaml"),
        `# Recorded from ${inner.target} by kfplan's recordingRunner.\n` +
          stringifyYaml(commands),
      );
    },
  };
}

/**
 * Reads a file on the runner's host; `undefined` when it does not exist or cannot be
 * read (the reason is in `error`).
 */
export async function readHostFile(
  runner: CommandRunner,
  path: string,
): Promise<{ text?: string; error?: string }> {
  const r = await runner.run(["cat", path]);
  if (r.code === 0) return { text: r.stdout };
  return { error: r.stderr.trim() || `cat exited ${r.code}` };
}

/** Lists a directory on the runner's host; `undefined` when it does not exist. */
export async function listHostDir(
  runner: CommandRunner,
  path: string,
): Promise<string[] | undefined> {
  const r = await runner.run(["ls", "-1", path]);
  if (r.code !== 0) return undefined;
  return r.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
}
