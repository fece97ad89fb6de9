/**
 * The registry of in-process job functions: the `function` action calls one of
 * these by name, with the job's `params` and the run's AbortSignal.
 *
 * @example
 * ```ts
 * const fns = createRegistry();
 * fns.register("hello", () => "hi");
 * await fns.get("hello")?.({}, new AbortController().signal);
 * ```
 * @module
 */

/** Params as given in the job's action: plain JSON. */
export type Params = Record<string, unknown>;

/**
 * A job function. Its return value (a string, or anything JSON) becomes the
 * run's message; a throw fails the run. Long work must honor `signal`.
 */
export type JobFunction = (
  params: Params,
  signal: AbortSignal,
) => unknown | Promise<unknown>;

/** Functions by name. */
export interface Registry {
  /** Adds or replaces a function. */
  register(name: string, fn: JobFunction): void;
  /** The function of that name, if any. */
  get(name: string): JobFunction | undefined;
  /** Every registered name, sorted. */
  names(): string[];
}

/**
 * Creates an empty registry.
 *
 * @example
 * ```ts
 * const fns = createRegistry();
 * fns.register("noop", () => undefined);
 * fns.names(); // ["noop"]
 * ```
 */
export function createRegistry(): Registry {
  const fns = new Map<string, JobFunction>();
  return {
    register: (name, fn) => void fns.set(name, fn),
    get: (name) => fns.get(name),
    names: () => [...fns.keys()].sort(),
  };
}
