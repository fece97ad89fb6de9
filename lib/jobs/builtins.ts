/**
 * The built-in job functions: `noop`, `log`, `sleep` and `fail`.
 *
 * @example
 * ```ts
 * const fns = createRegistry();
 * registerBuiltins(fns);
 * await fns.get("sleep")!({ ms: 10 }, AbortSignal.timeout(1000));
 * ```
 * @module
 */
import type { Params, Registry } from "./registry.ts";
import { escapeControl } from "../jobpro/text.ts";

function text(params: Params, key: string, fallback: string): string {
  const v = params[key];
  return typeof v === "string" ? v : fallback;
}

/** Does nothing; the cheapest possible run. */
export function noop(): string {
  return "ok";
}

/**
 * Writes `params.message` to the log, as one line (control characters
 * escaped), and returns it as the run's message.
 */
export function log(params: Params): string {
  const message = text(params, "message", "hello from jobpro");
  console.log(escapeControl(message));
  return message;
}

/** Waits `params.ms` milliseconds (default 1000), or until the run is aborted. */
export function sleep(params: Params, signal: AbortSignal): Promise<string> {
  const ms = Number(params.ms ?? 1000);
  if (!Number.isFinite(ms) || ms < 0) {
    throw new Error(
      `sleep: ms must be a non-negative number, got ${params.ms}`,
    );
  }
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(`slept ${ms} ms`);
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Always fails, with `params.message`. */
export function fail(params: Params): never {
  throw new Error(text(params, "message", "failed on purpose"));
}

/**
 * Fails at random with probability `params.rate` (default 0.3); otherwise ok.
 * The example job that "fails now and then" uses it.
 */
export function flaky(params: Params): string {
  const rate = Number(params.rate ?? 0.3);
  if (Math.random() < rate) {
    throw new Error(text(params, "message", "flaky: failed this time"));
  }
  return "flaky: ok this time";
}

/**
 * Registers every built-in on `registry`.
 *
 * @example
 * ```ts
 * registerBuiltins(createRegistry());
 * ```
 */
export function registerBuiltins(registry: Registry): Registry {
  registry.register("noop", noop);
  registry.register("log", log);
  registry.register("sleep", sleep);
  registry.register("fail", fail);
  registry.register("flaky", flaky);
  return registry;
}
