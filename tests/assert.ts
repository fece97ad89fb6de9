/**
 * A local stand-in for `jsr:@std/assert`, which the npm registry does not carry.
 *
 * Same names, same semantics for the parts this project uses, built on
 * `node:assert`. The import map names it `@std/assert`, so moving to the real
 * package is an import-map change.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * assertEquals({ a: 1 }, { a: 1 });
 * ```
 * @module
 */
import nodeAssert from "node:assert";

/** Thrown by every assertion here when it fails. */
export class AssertionError extends Error {
  /** @param message what did not hold */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function rethrow(fn: () => void, msg?: string): void {
  try {
    fn();
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    throw new AssertionError(msg ? `${msg}: ${text}` : text);
  }
}

/** Asserts that `expr` is truthy. */
export function assert(expr: unknown, msg = ""): asserts expr {
  if (!expr) {
    throw new AssertionError(msg || "Expected expression to be truthy");
  }
}

/** Asserts deep equality (structural, like `@std/assert`'s `equal`). */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  rethrow(() => nodeAssert.deepStrictEqual(actual, expected), msg);
}

/** Asserts deep inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  rethrow(() => nodeAssert.notDeepStrictEqual(actual, expected), msg);
}

/** Asserts `Object.is` equality. */
export function assertStrictEquals<T>(
  actual: unknown,
  expected: T,
  msg?: string,
): asserts actual is T {
  rethrow(() => nodeAssert.strictEqual(actual, expected), msg);
}

/** Asserts that a value is neither null nor undefined. */
export function assertExists<T>(
  actual: T,
  msg?: string,
): asserts actual is NonNullable<T> {
  if (actual === undefined || actual === null) {
    throw new AssertionError(
      msg ?? `Expected actual: "${actual}" to not be null or undefined`,
    );
  }
}

/** Asserts that `actual` matches the regular expression. */
export function assertMatch(actual: string, expected: RegExp, msg?: string) {
  if (!expected.test(actual)) {
    throw new AssertionError(
      msg ?? `Expected actual: "${actual}" to match: "${expected}"`,
    );
  }
}

/** Asserts that `actual` contains `expected`. */
export function assertStringIncludes(
  actual: string,
  expected: string,
  msg?: string,
): void {
  if (!actual.includes(expected)) {
    throw new AssertionError(
      msg ?? `Expected actual: "${actual}" to contain: "${expected}"`,
    );
  }
}

/** Asserts that every item of `expected` is deep-equal to some item of `actual`. */
export function assertArrayIncludes<T>(
  actual: ArrayLike<T>,
  expected: ArrayLike<T>,
  msg?: string,
): void {
  const all = Array.from(actual);
  const missing = Array.from(expected).filter((e) =>
    !all.some((a) => isDeepEqual(a, e))
  );
  if (missing.length) {
    throw new AssertionError(
      msg ??
        `Expected actual to include: ${JSON.stringify(missing)}; actual: ${
          JSON.stringify(all)
        }`,
    );
  }
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    nodeAssert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

/** Asserts that `actual` has at least the properties of `expected`, deeply. */
export function assertObjectMatch(
  actual: Record<PropertyKey, unknown>,
  expected: Record<PropertyKey, unknown>,
  msg?: string,
): void {
  rethrow(() => nodeAssert.partialDeepStrictEqual(actual, expected), msg);
}

/** Asserts `actual > expected`. */
export function assertGreater<T>(actual: T, expected: T, msg?: string) {
  if (!(actual > expected)) {
    throw new AssertionError(msg ?? `Expect ${actual} > ${expected}`);
  }
}

/** Asserts `actual >= expected`. */
export function assertGreaterOrEqual<T>(actual: T, expected: T, msg?: string) {
  if (!(actual >= expected)) {
    throw new AssertionError(msg ?? `Expect ${actual} >= ${expected}`);
  }
}

/** Asserts `actual < expected`. */
export function assertLess<T>(actual: T, expected: T, msg?: string) {
  if (!(actual < expected)) {
    throw new AssertionError(msg ?? `Expect ${actual} < ${expected}`);
  }
}

/** Asserts `actual <= expected`. */
export function assertLessOrEqual<T>(actual: T, expected: T, msg?: string) {
  if (!(actual <= expected)) {
    throw new AssertionError(msg ?? `Expect ${actual} <= ${expected}`);
  }
}

/** Asserts that `actual` is an instance of `expectedType`. */
// deno-lint-ignore no-explicit-any
export function assertInstanceOf<T extends abstract new (...args: any) => any>(
  actual: unknown,
  expectedType: T,
  msg?: string,
): asserts actual is InstanceType<T> {
  if (!(actual instanceof expectedType)) {
    throw new AssertionError(
      msg ?? `Expected object to be an instance of "${expectedType.name}"`,
    );
  }
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

function checkError<E extends Error>(
  e: unknown,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
): E {
  if (ErrorClass && !(e instanceof ErrorClass)) {
    throw new AssertionError(
      `Expected error to be instance of "${ErrorClass.name}", but was "${
        (e as Error)?.constructor?.name
      }": ${(e as Error)?.message}`,
    );
  }
  if (msgIncludes !== undefined) {
    const m = (e as Error)?.message ?? String(e);
    if (!m.includes(msgIncludes)) {
      throw new AssertionError(
        `Expected error message to include "${msgIncludes}", but got "${m}"`,
      );
    }
  }
  return e as E;
}

/** Asserts that `fn` throws; returns the error. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
): E {
  try {
    fn();
  } catch (e) {
    return checkError(e, ErrorClass, msgIncludes);
  }
  throw new AssertionError(msg ?? "Expected function to throw.");
}

/** Asserts that `fn` returns a promise that rejects; returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, ErrorClass, msgIncludes);
  }
  throw new AssertionError(msg ?? "Expected function to reject.");
}

/** Fails unconditionally. */
export function fail(msg?: string): never {
  throw new AssertionError(
    msg ? `Failed assertion: ${msg}` : "Failed assertion.",
  );
}

/** Marks code that must not be reached. */
export function unreachable(msg?: string): never {
  throw new AssertionError(msg ?? "Unreachable");
}
