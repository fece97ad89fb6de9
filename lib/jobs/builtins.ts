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

const message = (
  description: string,
  fallback: string,
): FunctionParam => ({
  name: "message",
  title: "Message",
  type: "string",
  required: false,
  description,
  default: fallback,
});

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
      params: [message("The text to log", "hello from jobpro")],
    },
  },
  sleep: {
    fn: sleep,
    spec: {
      description:
        "Waits, then succeeds; stopping the run or its timeout ends the wait.",
      params: [{
        name: "ms",
        title: "Sleep (ms)",
        type: "number",
        required: false,
        description: "How long to wait, in milliseconds",
        default: 1000,
        minimum: 0,
      }],
    },
  },
  fail: {
    fn: fail,
    spec: {
      description: "Always fails, with the given message as the run's error.",
      params: [message("The run's error", "failed on purpose")],
    },
  },
  flaky: {
    fn: flaky,
    spec: {
      description:
        "Fails at random with the given probability; otherwise succeeds.",
      params: [
        {
          name: "rate",
          title: "Failure rate (0–1)",
          type: "number",
          required: false,
          description: "The probability that a run fails",
          default: 0.3,
          minimum: 0,
          maximum: 1,
        },
        message("The error of a run that fails", "flaky: failed this time"),
      ],
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
