/**
 * The app's shared route types: `State` (what middleware puts on `ctx.state`)
 * and the typed `define` helpers.
 *
 * @example
 * ```ts
 * import { define } from "@/utils.ts";
 * export const handler = define.handlers({ GET: (ctx) => ctx.json(ctx.state.manager.list()) });
 * ```
 * @module
 */
import { createDefine } from "fresh";
import type { Manager } from "@/lib/jobpro/mod.ts";
import type { Config } from "@/lib/config.ts";

/** Per-request state: the engine, the configuration, and what the caller may see. */
export interface State {
  manager: Manager;
  config: Config;
  /**
   * "full" (the token, or no token configured) sees secrets in clear; "read"
   * (the read-only token) sees them as [redacted].
   */
  access: "full" | "read";
}

/** Typed identity helpers for routes, pages and middleware. */
export const define = createDefine<State>();
