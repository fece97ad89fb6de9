/**
 * The built-in job functions: `noop`, `log`, `sleep`, `fail` and `flaky`,
 * each registered with its description and the params it reads.
 *
 * @example
 * ```ts
 * const fns = createRegistry();
 * registerBuiltins(fns);
 * await fns.get("sleep")!({ ms: 10 }, AbortSignal.timeout(1000));
 * ```
 * @module
 */
import type {
  FunctionParam,
  FunctionSpec,
  JobFunction,
  Params,
  Registry,
} from "./registry.ts";
import { escapeControl } from "../jobpro/text.ts";

/** A param with the default its function uses, of type `T`. */
type ParamWith<T> = FunctionParam & { default: T };

const message = (
  description: string,
  fallback: string,
): ParamWith<string> => ({
  name: "message",
  title: "Message",
  type: "string",
  required: false,
  description,
  default: fallback,
});

// Each param's default is written once, here: the spec shows it (the form,
// GET /jobs/functions) and the function falls back to it.

const LOG_MESSAGE = message("The text to log", "hello from jobpro");

const SLEEP_MS: ParamWith<number> = {
  name: "ms",
  title: "Sleep (ms)",
  type: "number",
  required: false,
  description: "How long to wait, in milliseconds",
  default: 1000,
  minimum: 0,
};

const FAIL_MESSAGE = message("The run's error", "failed on purpose");

const FLAKY_RATE: ParamWith<number> = {
  name: "rate",
  title: "Failure rate (0–1)",
  type: "number",
  required: false,
  description: "The probability that a run fails",
  default: 0.3,
  minimum: 0,
  maximum: 1,
};

const FLAKY_MESSAGE = message(
  "The error of a run that fails",
  "flaky: failed this time",
);

/** The param's string, or its default when it is not a string. */
function text(params: Params, p: ParamWith<string>): string {
  const v = params[p.name];
  return typeof v === "string" ? v : p.default;
}

/** The param as it is given, or its default when it is left out (null or absent). */
function given(params: Params, p: FunctionParam): unknown {
  return params[p.name] ?? p.default;
}

/** Does nothing; the cheapest possible run. */
export function noop(): string {
  return "ok";
}

/**
 * Writes `params.message` (default `LOG_MESSAGE.default`) to the log, as one
 * line (control characters escaped), and returns it as the run's message.
 */
export function log(params: Params): string {
  const message = text(params, LOG_MESSAGE);
  console.log(escapeControl(message));
  return message;
}

/** Waits `params.ms` milliseconds (default `SLEEP_MS.default`), or until the run is aborted. */
export function sleep(params: Params, signal: AbortSignal): Promise<string> {
  const ms = Number(given(params, SLEEP_MS));
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

/** Always fails, with `params.message` (default `FAIL_MESSAGE.default`). */
export function fail(params: Params): never {
  throw new Error(text(params, FAIL_MESSAGE));
}

/**
 * Fails at random with probability `params.rate`, with `params.message`
 * (defaults `FLAKY_RATE.default` and `FLAKY_MESSAGE.default`); otherwise ok.
 * The example job that "fails now and then" uses it.
 */
export function flaky(params: Params): string {
  const rate = Number(given(params, FLAKY_RATE));
  if (Math.random() < rate) throw new Error(text(params, FLAKY_MESSAGE));
  return "flaky: ok this time";
}

/** Every built-in with what it says of itself. */
const BUILTINS: Record<string, { fn: JobFunction; spec: FunctionSpec }> = {
  noop: {
    fn: noop,
    spec: {
      description: "Does nothing and succeeds: the cheapest possible run.",
      params: [],
    },
  },
  log: {
    fn: log,
    spec: {
      description:
        "Writes a message to the server's log as one line and makes it the run's message.",
      params: [LOG_MESSAGE],
    },
  },
  sleep: {
    fn: sleep,
    spec: {
      description:
        "Waits, then succeeds; stopping the run or its timeout ends the wait.",
      params: [SLEEP_MS],
    },
  },
  fail: {
    fn: fail,
    spec: {
      description: "Always fails, with the given message as the run's error.",
      params: [FAIL_MESSAGE],
    },
  },
  flaky: {
    fn: flaky,
    spec: {
      description:
        "Fails at random with the given probability; otherwise succeeds.",
      params: [FLAKY_RATE, FLAKY_MESSAGE],
    },
  },
};

/**
 * Registers every built-in on `registry`, with its description and params.
 *
 * @example
 * ```ts
 * registerBuiltins(createRegistry());
 * ```
 */
export function registerBuiltins(registry: Registry): Registry {
  for (const [name, { fn, spec }] of Object.entries(BUILTINS)) {
    registry.register(name, fn, spec);
  }
  return registry;
}
