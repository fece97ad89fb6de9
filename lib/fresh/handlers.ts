/**
 * Route handlers: one function for every method, or an object keyed by method.
 *
 * @example
 * ```ts
 * import { page, type RouteHandler } from "fresh";
 * export const handler: RouteHandler<{ n: number }> = {
 *   GET: () => page({ n: 1 }),
 *   POST: (ctx) => ctx.json({ ok: true }, { status: 201 }),
 * };
 * ```
 * @module
 */
import type { Context } from "./context.ts";
import type { PageResponse } from "./page.ts";

/** HTTP methods a handler object may answer. */
export type Method =
  | "GET"
  | "HEAD"
  | "POST"
  | "PUT"
  | "PATCH"
  | "DELETE"
  | "OPTIONS";

/** The methods, in the order an `Allow` header lists them. */
export const METHODS: readonly Method[] = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
];

/** A handler: returns a `Response` or `page(data)`. */
export type HandlerFn<Data = unknown, State = Record<string, unknown>> = (
  ctx: Context<State>,
) => Response | PageResponse<Data> | Promise<Response | PageResponse<Data>>;

/** Handlers keyed by method; a missing method answers 405. */
export type HandlerByMethod<Data = unknown, State = Record<string, unknown>> = {
  [M in Method]?: HandlerFn<Data, State>;
};

/** A route's `handler` export. */
export type RouteHandler<Data = unknown, State = Record<string, unknown>> =
  | HandlerFn<Data, State>
  | HandlerByMethod<Data, State>;

/**
 * The methods a handler object answers, in `Allow` order.
 *
 * @example
 * ```ts
 * methodsOf({ GET: () => new Response() }); // ["GET"]
 * ```
 */
export function methodsOf(handler: object): Method[] {
  return METHODS.filter((m) =>
    typeof (handler as Record<string, unknown>)[m] === "function"
  );
}
