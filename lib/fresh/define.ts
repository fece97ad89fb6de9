/**
 * `createDefine<State>()`: typed identity helpers for routes, so `ctx.state`
 * and a page's `data` are typed without annotations.
 *
 * @example
 * ```tsx
 * // utils.ts
 * import { createDefine } from "fresh";
 * export interface State { user?: string }
 * export const define = createDefine<State>();
 *
 * // routes/hello.tsx
 * export const handler = define.handlers({ GET: () => page({ greeting: "hi" }) });
 * export default define.page<typeof handler>(({ data }) => <p>{data.greeting}</p>);
 * ```
 * @module
 */
import type { RouteHandler } from "./handlers.ts";
import type { Middleware } from "./middleware.ts";
import type { PageComponent } from "./page.ts";

/** The typed helpers `createDefine` returns; all are identity functions at run time. */
export interface Define<State> {
  /** Types a route's `handler` export with this app's `State`. */
  handlers<
    Data,
    H extends RouteHandler<Data, State> = RouteHandler<Data, State>,
  >(handlers: H): H;
  /** Types a page component; `define.page<typeof handler>` takes `data`'s type from the handler. */
  page<
    // deno-lint-ignore no-explicit-any
    H extends RouteHandler<any, State> = never,
    Data = [H] extends [never] ? undefined
      // deno-lint-ignore no-explicit-any
      : H extends RouteHandler<infer D, any> ? D
      : never,
  >(render: PageComponent<Data, State>): PageComponent<Data, State>;
  /** Types a middleware or an array of them. */
  middleware<M extends Middleware<State> | Middleware<State>[]>(
    middleware: M,
  ): M;
}

/**
 * Creates the typed `define` helpers for an app's `State`.
 *
 * @example
 * ```ts
 * export const define = createDefine<{ requestId: string }>();
 * export default define.middleware((ctx) => {
 *   ctx.state.requestId = crypto.randomUUID();
 *   return ctx.next();
 * });
 * ```
 */
export function createDefine<State>(): Define<State> {
  return {
    handlers: (handlers) => handlers,
    page: (render) => render,
    middleware: (middleware) => middleware,
  };
}
