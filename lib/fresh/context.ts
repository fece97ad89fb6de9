/**
 * The one argument every middleware, handler and page gets: `ctx`.
 *
 * @example
 * ```ts
 * import type { Context } from "fresh";
 * function hello(ctx: Context<{ user: string }>): Response {
 *   return ctx.text(`hello ${ctx.state.user} from ${ctx.url.pathname}`);
 * }
 * ```
 * @module
 */
import type { VNode } from "preact";
import type { ResolvedFreshConfig } from "./config.ts";

/** The request context, shaped like Fresh 2's `Context`. */
export interface Context<State = Record<string, unknown>> {
  /** The incoming request. */
  readonly req: Request;
  /** `req.url`, parsed. */
  readonly url: URL;
  /** Named segments of the matched route, decoded (`/jobs/:id` → `{ id }`). */
  params: Record<string, string>;
  /** Per-request bag that middlewares fill for later handlers. */
  state: State;
  /** The app's resolved configuration. */
  readonly config: ResolvedFreshConfig;
  /** Connection info, with the client's `remoteAddr`. */
  readonly info: Deno.ServeHandlerInfo;
  /** The error being rendered, on `_error` and `_404` pages. */
  error: unknown;
  /** The pattern of the matched route, such as `/jobs/:id`, or `null`. */
  route: string | null;
  /** Runs the rest of the middleware chain and returns its response. */
  next(): Promise<Response>;
  /** A redirect to a path on this site (leading `//` is collapsed) or to a full URL. */
  redirect(pathOrUrl: string, status?: number): Response;
  /** Renders a vnode inside the route's `_app` and layouts. */
  render(vnode: VNode | null, init?: ResponseInit): Promise<Response>;
  /** A `text/plain` response. */
  text(content: string, init?: ResponseInit): Response;
  /** A `text/html` response from a string. */
  html(content: string, init?: ResponseInit): Response;
  /** A JSON response. */
  json(content: unknown, init?: ResponseInit): Response;
}

/** What {@linkcode createContext} needs besides the request. */
export interface ContextInit<State> {
  req: Request;
  info: Deno.ServeHandlerInfo;
  config: ResolvedFreshConfig;
  state: State;
  /** Renders a vnode for this context; the app supplies it. */
  render: (
    ctx: Context<State>,
    vnode: VNode | null,
    init?: ResponseInit,
  ) => Promise<Response>;
}

/**
 * Makes a fresh `ctx` for one request; `next` throws until the middleware
 * chain sets it.
 *
 * @example
 * ```ts
 * const ctx = createContext({ req, info, config, state: {}, render });
 * ```
 */
export function createContext<State>(init: ContextInit<State>): Context<State> {
  const ctx: Context<State> = {
    req: init.req,
    url: new URL(init.req.url),
    params: {},
    state: init.state,
    config: init.config,
    info: init.info,
    error: undefined,
    route: null,
    next: () =>
      Promise.reject(
        new Error("fresh: ctx.next() called with nothing left to run"),
      ),
    redirect: redirect,
    render: (vnode, responseInit) => init.render(ctx, vnode, responseInit),
    text: (content, responseInit) =>
      withType(content, "text/plain; charset=utf-8", responseInit),
    html: (content, responseInit) =>
      withType(content, "text/html; charset=utf-8", responseInit),
    json: (content, responseInit) => Response.json(content, responseInit),
  };
  return ctx;
}

/**
 * A redirect response. A path has runs of `/` and `\` collapsed, so `//evil.example`
 * stays on this site; a full URL is used as is.
 *
 * @example
 * ```ts
 * redirect("//evil.example/x").headers.get("location"); // "/evil.example/x"
 * ```
 */
export function redirect(pathOrUrl: string, status = 302): Response {
  let location = pathOrUrl;
  if (/^[\/\\]/.test(pathOrUrl)) {
    const cut = pathOrUrl.search(/[?#]/);
    const path = cut < 0 ? pathOrUrl : pathOrUrl.slice(0, cut);
    const rest = cut < 0 ? "" : pathOrUrl.slice(cut);
    location = path.replace(/[\/\\]+/g, "/") + rest;
  }
  return new Response(null, { status, headers: { location } });
}

function withType(
  content: string,
  type: string,
  init?: ResponseInit,
): Response {
  const headers = new Headers(init?.headers);
  if (!headers.has("content-type")) headers.set("content-type", type);
  return new Response(content, { ...init, headers });
}
