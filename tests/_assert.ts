/**
 * Small assertion helpers for the tests (JSR's `@std/assert` is unreachable here):
 * `assert`, `assertEquals`/`assertNotEquals` (deep, via node:assert), `assertMatch`/
 * `assertNotMatch`, `throws`/`assertThrows` and `rejects`/`assertRejects` (which return
 * the error so tests can inspect it).
 *
 * @module
 */

import { deepStrictEqual, notDeepStrictEqual } from "node:assert";

/** Throws when `condition` is falsy. */
export function assert(
  condition: unknown,
  message = "assertion failed",
): asserts condition {
  if (!condition) throw new Error(message);
}

/** Deep strict equality. */
export function assertEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
  if (message === undefined) deepStrictEqual(actual, expected);
  else deepStrictEqual(actual, expected, message);
}

/** Deep strict inequality. */
export function assertNotEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
  if (message === undefined) notDeepStrictEqual(actual, expected);
  else notDeepStrictEqual(actual, expected, message);
}

/** Throws unless `text` matches `pattern`. */
export function assertMatch(
  text: string,
  pattern: RegExp,
  message?: string,
): void {
  if (!pattern.test(text)) {
    throw new Error(
      message ?? `${JSON.stringify(text)} does not match ${pattern}`,
    );
  }
}

/** Throws when `text` matches `pattern`. */
export function assertNotMatch(
  text: string,
  pattern: RegExp,
  message?: string,
): void {
  if (pattern.test(text)) {
    throw new Error(message ?? `${JSON.stringify(text)} matches ${pattern}`);
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E> = new (...args: any[]) => E;

function expectedError<E extends Error>(
  e: unknown,
  type: ErrorClass<E> | undefined,
  includes: string | undefined,
): E {
  if (type && !(e instanceof type)) {
    throw new Error(
      `expected ${type.name}, got ${e instanceof Error ? e.stack : e}`,
    );
  }
  if (includes && !(e as Error).message.includes(includes)) {
    throw new Error(
      `expected message to include ${JSON.stringify(includes)}: ${
        (e as Error).message
      }`,
    );
  }
  return e as E;
}

/**
 * Resolves with the error `fn` rejects with; throws when it resolves, rejects with
 * another type, or (when given) the message lacks `includes`.
 */
export async function rejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  type?: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    return expectedError(e, type, includes);
  }
  throw new Error(`expected a rejection${type ? ` with ${type.name}` : ""}`);
}

/** Alias of {@linkcode rejects}. */
export const assertRejects = rejects;

/**
 * Returns the error `fn` throws; throws when it does not throw, throws another type,
 * or (when given) the message lacks `includes`.
 */
export function throws<E extends Error = Error>(
  fn: () => unknown,
  type?: ErrorClass<E>,
  includes?: string,
): E {
  try {
    fn();
  } catch (e) {
    return expectedError(e, type, includes);
  }
  throw new Error(`expected ${type ? type.name : "an error"} to be thrown`);
}

/** Alias of {@linkcode throws}. */
export const assertThrows = throws;
