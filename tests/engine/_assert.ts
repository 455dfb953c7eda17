/**
 * Assertions for the engine and CLI tests, over `node:assert/strict` (JSR's
 * `@std/assert` is unreachable). `throws` and `rejects` return the error.
 *
 * @module
 */

import assertNode from "node:assert/strict";

/** Asserts a truthy value. */
export function assert(value: unknown, message?: string): asserts value {
  assertNode.ok(value, message as string);
}

/** Deep strict equality. */
export function assertEquals(
  actual: unknown,
  expected: unknown,
  message?: string,
): void {
  assertNode.deepStrictEqual(actual, expected, message as string);
}

/** Deep strict inequality. */
export function assertNotEquals(
  actual: unknown,
  expected: unknown,
  message?: string,
): void {
  assertNode.notDeepStrictEqual(actual, expected, message as string);
}

/** String matches a pattern. */
export function assertMatch(
  actual: string,
  pattern: RegExp,
  message?: string,
): void {
  assertNode.match(actual, pattern, message as string);
}

/** String does not match a pattern. */
export function assertNotMatch(
  actual: string,
  pattern: RegExp,
  message?: string,
): void {
  assertNode.doesNotMatch(actual, pattern, message as string);
}

/** Asserts that `fn` throws an instance of `type` and returns it. */
export function throws<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
): E {
  try {
    fn();
  } catch (error) {
    if (error instanceof type) return error;
    throw new assertNode.AssertionError({
      message: `expected ${type.name}, got ${String(error)}`,
    });
  }
  throw new assertNode.AssertionError({
    message: `expected ${type.name} to be thrown`,
  });
}

/** Asserts that `fn` rejects with an instance of `type` and returns it. */
export async function rejects<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof type) return error;
    throw new assertNode.AssertionError({
      message: `expected ${type.name}, got ${String(error)}`,
    });
  }
  throw new assertNode.AssertionError({
    message: `expected ${type.name} to be rejected`,
  });
}
