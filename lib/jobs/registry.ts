/**
 * The registry of in-process job functions: the `function` action calls one of
 * these by name, with the job's `params` and the run's AbortSignal. Each
 * function may come with a description and the params it takes, as plain
 * data, so clients (the dashboard's form) can list what the server has.
 *
 * @example
 * ```ts
 * const fns = createRegistry();
 * fns.register("hello", () => "hi", { description: "Says hi", params: [] });
 * await fns.get("hello")?.({}, new AbortController().signal);
 * fns.describe(); // [{ name: "hello", description: "Says hi", params: [] }]
 * ```
 * @module
 */

/** Params as given in the job's action: plain JSON. */
export type Params = Record<string, unknown>;

/** What a job function may use besides its params and signal. */
export interface FunctionContext {
  /**
   * Writes a line to the run's output: watchers of the run see it at once
   * (live output), and the last 64 KiB stay with the run once it ends.
   * Strings go as they are, anything else as JSON, joined by spaces.
   */
  log(...parts: unknown[]): void;
}

/**
 * A job function. Its return value (a string, or anything JSON) becomes the
 * run's message; a throw fails the run. Long work must honor `signal`;
 * `ctx.log` writes to the run's output.
 */
export type JobFunction = (
  params: Params,
  signal: AbortSignal,
  /** Always given when the engine runs it (optional for direct callers). */
  ctx?: FunctionContext,
) => unknown | Promise<unknown>;

/** The JSON type of a function's parameter. */
export type ParamType = "string" | "number" | "integer" | "boolean";

/** One parameter a function reads from its `params`. */
export interface FunctionParam {
  /** The key in `params`. */
  name: string;
  type: ParamType;
  /** Whether the function fails without it. */
  required: boolean;
  /** What it does, in a sentence. */
  description: string;
  /** A short label for a form, such as "Sleep (ms)"; the name when absent. */
  title?: string;
  /** What the function uses when it is left out. */
  default?: string | number | boolean;
  /** The least value a number may have. */
  minimum?: number;
  /** The greatest value a number may have. */
  maximum?: number;
}

/** What a function says of itself when it is registered. */
export interface FunctionSpec {
  /** What it does, in a sentence or two. */
  description: string;
  /** The params it reads; any others are passed through and ignored. */
  params: FunctionParam[];
}

/** A registered function as clients see it. */
export interface FunctionInfo {
  name: string;
  /** Empty when it was registered without a spec. */
  description: string;
  /** The params it takes; null when it was registered without a spec (any JSON object). */
  params: FunctionParam[] | null;
}

/** Functions by name. */
export interface Registry {
  /**
   * Adds or replaces a function; `spec` describes it and its params. Throws
   * when the spec names a param twice.
   */
  register(name: string, fn: JobFunction, spec?: FunctionSpec): void;
  /** The function of that name, if any. */
  get(name: string): JobFunction | undefined;
  /** Every registered name, sorted. */
  names(): string[];
  /** Every function's name, description and params, sorted by name (copies). */
  describe(): FunctionInfo[];
}

function checkSpec(name: string, spec: FunctionSpec): void {
  const seen = new Set<string>();
  for (const p of spec.params) {
    if (seen.has(p.name)) {
      throw new Error(
        `function "${name}": param "${p.name}" is described twice`,
      );
    }
    seen.add(p.name);
  }
}

/**
 * Creates an empty registry.
 *
 * @example
 * ```ts
 * const fns = createRegistry();
 * fns.register("noop", () => undefined);
 * fns.names(); // ["noop"]
 * fns.describe(); // [{ name: "noop", description: "", params: null }]
 * ```
 */
export function createRegistry(): Registry {
  const fns = new Map<string, { fn: JobFunction; spec?: FunctionSpec }>();
  const names = () => [...fns.keys()].sort();
  return {
    register(name, fn, spec) {
      if (spec) checkSpec(name, spec);
      fns.set(name, { fn, spec: spec && structuredClone(spec) });
    },
    get: (name) => fns.get(name)?.fn,
    names,
    describe: () =>
      names().map((name) => {
        const spec = fns.get(name)!.spec;
        return {
          name,
          description: spec?.description ?? "",
          params: spec ? structuredClone(spec.params) : null,
        };
      }),
  };
}
