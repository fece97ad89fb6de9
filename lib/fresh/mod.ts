/**
 * `fresh`: the part of Fresh 2's API this project uses, on npm parts
 * (Preact, preact-render-to-string, esbuild). Shapes follow Fresh 2, so moving
 * to `jsr:@fresh/core` later is an import-map change plus small edits.
 *
 * @example
 * ```ts
 * import { App, createDefine, HttpError, page, staticFiles } from "fresh";
 * import manifest from "./fresh.gen.ts";
 *
 * const app = new App().use(staticFiles()).fsRoutes(manifest);
 * await app.listen({ port: 8000 });
 * ```
 * @module
 */
export { App, type ListenOptions, type RequestHandler } from "./app.ts";
export type { FreshConfig, Mode, ResolvedFreshConfig } from "./config.ts";
export type { Context } from "./context.ts";
export { csp, type CspOptions } from "./csp.ts";
export { createDefine, type Define } from "./define.ts";
export type {
  HandlerByMethod,
  HandlerFn,
  Handlers,
  Method,
  RouteHandler,
} from "./handlers.ts";
export { HttpError, type HttpErrorOptions } from "./http_error.ts";
export type { Manifest, RouteConfig, RouteModule } from "./manifest.ts";
export type { Middleware } from "./middleware.ts";
export { parseAccept, prefersHtml, wantsJson } from "./negotiate.ts";
export {
  page,
  type PageComponent,
  type PageProps,
  type PageResponse,
} from "./page.ts";
export {
  formatComment,
  formatEvent,
  sse,
  type SseCleanup,
  type SseMessage,
  type SseOptions,
  type SseStream,
} from "./sse.ts";
export { staticFiles } from "./static_files.ts";

import type { Context } from "./context.ts";
/** Fresh 2's alias of {@linkcode Context}. */
export type FreshContext<State = Record<string, unknown>> = Context<State>;
