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

/** Per-request state: the engine and the configuration. */
export interface State {
  manager: Manager;
  config: Config;
}

/** Typed identity helpers for routes, pages and middleware. */
export const define = createDefine<State>();
