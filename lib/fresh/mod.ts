/**
 * `fresh`: the part of Fresh 2's API this project uses, on npm parts
 * (Preact, preact-render-to-string, esbuild). Every name exported here is
 * one Fresh 2 exports, with its signature, so moving to `jsr:@fresh/core` is
 * an import-map change (tests/fresh/api_surface_test.ts keeps it so). What
 * Fresh lacks lives in the app's web layer, `lib/web/`.
 *
 * @example
 * ```ts
 * import { App, createDefine, HttpError, page, staticFiles } from "fresh";
 *
 * const app = new App().use(staticFiles()).fsRoutes();
 * await app.listen({ port: 8000 });
 * ```
 * @module
 */
export { App, type ListenOptions } from "./app.ts";
export type { FreshConfig, ResolvedFreshConfig } from "./config.ts";
export type { Context } from "./context.ts";
export { createDefine, type Define } from "./define.ts";
export type {
  HandlerByMethod,
  HandlerFn,
  Method,
  RouteHandler,
} from "./handlers.ts";
export { HttpError } from "./http_error.ts";
export type { RouteConfig } from "./manifest.ts";
export type { Middleware } from "./middleware.ts";
export { page, type PageProps, type PageResponse } from "./page.ts";
export { staticFiles } from "./static_files.ts";

import type { Context } from "./context.ts";
/** Fresh 2's alias of {@linkcode Context}. */
export type FreshContext<State = Record<string, unknown>> = Context<State>;
