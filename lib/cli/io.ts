/**
 * The terminal a command talks to. Commands take a {@linkcode CliIO} so tests (and
 * scripts) can run them with captured output and a scripted stdin.
 *
 * @module
 */

/** Where a command writes and reads. */
export interface CliIO {
  /** Writes text to standard output as is. */
  out(text: string): void;
  /** Writes text to standard error as is. */
  err(text: string): void;
  /** Whether stdout is a terminal (live display, colours). */
  stdoutIsTerminal: boolean;
  /** Whether stdin is a terminal (confirmation prompts). */
  stdinIsTerminal: boolean;
  /** Reads one line from stdin; `null` at end of input. */
  readLine(): Promise<string | null>;
  /** Environment lookups (`NO_COLOR`, `CI`). */
  env(name: string): string | undefined;
}

/**
 * The process's real stdin/stdout/stderr.
 *
 * @example
 * ```ts
 * const io = denoIO();
 * io.out("hello\n");
 * ```
 */
export function denoIO(): CliIO {
  const encoder = new TextEncoder();
  return {
    out: (text) => writeAll(Deno.stdout, encoder.encode(text)),
    err: (text) => writeAll(Deno.stderr, encoder.encode(text)),
    stdoutIsTerminal: Deno.stdout.isTerminal(),
    stdinIsTerminal: Deno.stdin.isTerminal(),
    readLine: () => readLineFromStdin(),
    env: (name) => Deno.env.get(name),
  };
}

function writeAll(
  stream: { writeSync(p: Uint8Array): number },
  bytes: Uint8Array,
): void {
  let n = 0;
  while (n < bytes.length) n += stream.writeSync(bytes.subarray(n));
}

async function readLineFromStdin(): Promise<string | null> {
  const buf = new Uint8Array(1);
  const bytes: number[] = [];
  while (true) {
    const n = await Deno.stdin.read(buf);
    if (n === null) {
      return bytes.length
        ? new TextDecoder().decode(new Uint8Array(bytes))
        : null;
    }
    if (buf[0] === 10) {
      return new TextDecoder().decode(new Uint8Array(bytes)).replace(/\r$/, "");
    }
    bytes.push(buf[0]);
  }
}

/** An in-memory {@linkcode CliIO} for tests and scripts. */
export interface CapturedIO extends CliIO {
  /** Everything written to stdout. */
  stdout(): string;
  /** Everything written to stderr. */
  stderr(): string;
}

/**
 * A {@linkcode CliIO} that records output and answers prompts from `input` lines.
 *
 * @example
 * ```ts
 * const io = capturedIO({ stdinIsTerminal: true, input: ["yes"] });
 * ```
 */
export function capturedIO(
  options: {
    stdoutIsTerminal?: boolean;
    stdinIsTerminal?: boolean;
    input?: string[];
    env?: Record<string, string>;
  } = {},
): CapturedIO {
  let out = "";
  let err = "";
  const input = [...(options.input ?? [])];
  return {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    stdoutIsTerminal: options.stdoutIsTerminal ?? false,
    stdinIsTerminal: options.stdinIsTerminal ?? false,
    readLine: () => Promise.resolve(input.length ? input.shift()! : null),
    env: (name) => options.env?.[name],
    stdout: () => out,
    stderr: () => err,
  };
}
