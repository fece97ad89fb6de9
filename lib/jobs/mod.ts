/**
 * In-process job functions, registered by name. Add your own with
 * `functions.register(name, fn, spec)` before the server starts; the spec
 * (a description and the params it reads) is what clients are shown.
 *
 * @example
 * ```ts
 * import { defaultRegistry } from "@/lib/jobs/mod.ts";
 * const fns = defaultRegistry();
 * fns.register("report", async (params, signal) => "done", {
 *   description: "Mails the weekly report",
 *   params: [{ name: "to", type: "string", required: true, description: "Who gets it" }],
 * });
 * ```
 * @module
 */
import { registerBuiltins } from "./builtins.ts";
import { createRegistry, type Registry } from "./registry.ts";

export type {
  FunctionContext,
  FunctionInfo,
  FunctionSpec,
  JobFunction,
  Params,
  Registry,
} from "./registry.ts";
export { createRegistry } from "./registry.ts";
export { registerBuiltins } from "./builtins.ts";

/**
 * A registry holding the built-ins (noop, log, sleep, fail, flaky).
 *
 * @example
 * ```ts
 * defaultRegistry().names(); // ["fail", "flaky", "log", "noop", "sleep"]
 * ```
 */
export function defaultRegistry(): Registry {
  return registerBuiltins(createRegistry());
}
