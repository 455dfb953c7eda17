/**
 * Reading secret option values (`{ env }` / `{ file }`) at plan or apply time.
 * Values are returned to the caller only; errors name the option and the source,
 * never the value.
 *
 * @module
 */

import { OptionsError } from "../../engine/options.ts";
import type { SecretRef } from "./options.ts";

/** Options for {@linkcode readSecret}. */
export interface ReadSecretOptions {
  /** Option path for errors, e.g. `kubeflow.oidcClient.secret`. */
  field: string;
  /** Config file named in errors. */
  source?: string;
  /** Environment to read from; default `Deno.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * Returns the secret's value. A file's single trailing newline is dropped (editors
 * add one). Throws {@linkcode OptionsError} naming the field when the variable is
 * unset or empty or the file unreadable.
 *
 * @example
 * ```ts
 * const secret = await readSecret({ env: "KF_CLIENT_SECRET" }, { field: "oidcClient.secret" });
 * ```
 */
export async function readSecret(
  ref: SecretRef,
  options: ReadSecretOptions,
): Promise<string> {
  let value: string | undefined;
  if ("env" in ref) {
    value = options.env ? options.env[ref.env] : Deno.env.get(ref.env);
    if (!value) {
      throw new OptionsError([{
        path: options.field,
        message:
          `environment variable ${ref.env} is not set or empty (export it before plan/apply)`,
      }], options.source);
    }
  } else {
    try {
      value = (await Deno.readTextFile(ref.file)).replace(/\r?\n$/, "");
    } catch (e) {
      throw new OptionsError([{
        path: options.field,
        message: `cannot read secret file ${ref.file}: ${(e as Error).name}`,
      }], options.source);
    }
    if (!value) {
      throw new OptionsError([{
        path: options.field,
        message: `secret file ${ref.file} is empty`,
      }], options.source);
    }
  }
  return value;
}

/** Where a secret came from, for messages: `env KF_SECRET` or `file /path`. */
export function describeSecretRef(ref: SecretRef): string {
  return "env" in ref ? `env ${ref.env}` : `file ${ref.file}`;
}

/**
 * A short, non-reversible digest for plans and annotations: sha256 truncated to 12
 * hex characters, salted with a purpose label so equal secrets in different roles
 * do not look equal.
 */
export async function saltedSecretDigest(
  value: string,
  purpose = "kfplan",
): Promise<string> {
  const bytes = new TextEncoder().encode(`${purpose}\0${value}`);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash.slice(0, 6), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}
