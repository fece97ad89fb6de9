/**
 * Middlewares: functions of `ctx` that return a response, usually by calling
 * `ctx.next()` and adjusting what comes back.
 *
 * @example
 * ```ts
 * import type { Middleware } from "fresh";
 * const timing: Middleware = async (ctx) => {
 *   const start = performance.now();
 *   const res = await ctx.next();
 *   res.headers.set("server-timing", `app;dur=${performance.now() - start}`);
 *   return res;
 * };
 * ```
 * @module
 */
import type { Context } from "./context.ts";

/** A middleware or handler: takes `ctx`, returns a response. */
export type Middleware<State = Record<string, unknown>> = (
  ctx: Context<State>,
) => Response | Promise<Response>;

/**
 * Runs `chain` in order: each entry's `ctx.next()` calls the following one.
 *
 * @example
 * ```ts
 * const res = await runMiddlewares(ctx, [logger, (ctx) => ctx.text("hi")]);
 * ```
 */
export function runMiddlewares<State>(
  ctx: Context<State>,
  chain: Middleware<State>[],
): Promise<Response> {
  const step = (i: number): Promise<Response> => {
    const fn = chain[i];
    if (!fn) {
      return Promise.reject(
        new Error("fresh: ctx.next() called with nothing left to run"),
      );
    }
    ctx.next = () => step(i + 1);
    try {
      return Promise.resolve(fn(ctx));
    } catch (err) {
      return Promise.reject(err);
    }
  };
  return step(0);
}
