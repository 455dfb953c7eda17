/**
 * `deno task hash-password`: reads a password (typed without echo, or piped on stdin)
 * and prints its bcrypt hash (bcryptjs, cost 12) for `dex.staticUsers[].hash`.
 * Replaces the web bcrypt generators the installation guides point to: the password
 * never leaves the machine.
 *
 * @example
 * ```sh
 * deno task hash-password                 # prompts twice, no echo
 * printf '%s' "$PASSWORD" | deno task hash-password
 * ```
 *
 * @module
 */

import { hashPassword } from "../lib/steps/kubeflow/dex.ts";

/** Reads one line from a terminal with echo off. */
async function readHidden(prompt: string): Promise<string> {
  const enc = new TextEncoder();
  await Deno.stderr.write(enc.encode(prompt));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buf = new Uint8Array(1);
  try {
    while (true) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      const c = buf[0];
      if (c === 3) throw new Error("cancelled");
      if (c === 13 || c === 10) break;
      if (c === 127 || c === 8) bytes.pop();
      else bytes.push(c);
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(enc.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

async function readPiped(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.replace(/\r?\n$/, "");
}

/** Entry point; returns the exit code. */
export async function main(): Promise<number> {
  let password: string;
  if (Deno.stdin.isTerminal()) {
    password = await readHidden("Password: ");
    const again = await readHidden("Again: ");
    if (password !== again) {
      console.error("hash-password: the two passwords differ");
      return 1;
    }
  } else {
    password = await readPiped();
  }
  if (password.length < 8) {
    console.error("hash-password: use at least 8 characters");
    return 1;
  }
  try {
    console.log(await hashPassword(password));
  } catch (e) {
    console.error(`hash-password: ${(e as Error).message}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) main().then(Deno.exit);
