/**
 * `App`: middlewares, routes and file routes behind one request handler.
 * File routes are found under `<app.config.root>/routes/` the first time
 * they are needed (see fs_crawl.ts), so no generated manifest is involved.
 *
 * @example
 * ```ts
 * import { App, staticFiles } from "fresh";
 *
 * export const app = new App<{ user?: string }>()
 *   .use(staticFiles())
 *   .get("/health", (ctx) => ctx.json({ ok: true }))
 *   .fsRoutes();
 * await app.listen({ port: 8000 });
 * ```
 * @module
 */
import type { VNode } from "preact";
import { attachAssets, chunkUrl } from "./assets.ts";
import { buildIdOf, ensureBuild, type IslandBuild } from "./build.ts";
import { setBuildId } from "./build_id.ts";
import {
  type FreshConfig,
  resolveConfig,
  type ResolvedFreshConfig,
} from "./config.ts";
import { type Context, createContext } from "./context.ts";
import { loadManifest } from "./fs_crawl.ts";
import {
  type FsRoute,
  type FsRouteTable,
  fsRouteTable,
  type SpecialPage,
} from "./fs_routes.ts";
import { type HandlerFn, METHODS, methodsOf } from "./handlers.ts";
import { HttpError, statusText } from "./http_error.ts";
import {
  type Island,
  islandsFromManifest,
  registerIslands,
} from "./islands.ts";
import type { Manifest } from "./manifest.ts";
import { type Middleware, runMiddlewares } from "./middleware.ts";
import { isPageResponse } from "./page.ts";
import { type IslandAssets, renderPage, type RenderParts } from "./render.ts";
import {
  byRank,
  type CompiledPattern,
  compilePattern,
  matchPattern,
} from "./router.ts";

/**
 * Options of {@linkcode App.listen}: `Deno.serve`'s TCP and TLS options
 * (`port`, `hostname`, `signal` to stop, `onListen` for the bound address,
 * `cert`/`key`), plus a `remoteAddress` that Fresh prints and ignores.
 */
export type ListenOptions =
  & Partial<Deno.ServeTcpOptions & Deno.TlsCertifiedKeyPem>
  & { remoteAddress?: string };

/** The request handler `app.handler()` returns, fit for `Deno.serve`. */
export type RequestHandler = (
  req: Request,
  info?: Deno.ServeHandlerInfo,
) => Promise<Response>;

interface Route<State> {
  pattern: CompiledPattern;
  /** Methods answered, or `"*"` for all. */
  methods: Set<string> | "*";
  middlewares: Middleware<State>[];
  handle: (ctx: Context<State>, method: string) => Promise<Response>;
  fs?: FsRoute;
}

interface Use<State> {
  prefix: string | null;
  middlewares: Middleware<State>[];
}

const LOCAL_INFO: Deno.ServeHandlerInfo = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
  completed: Promise.resolve(),
};

const manifests = new WeakMap<object, Manifest>();

/**
 * Gives an app the file routes and islands of `manifest` instead of the ones
 * under its root: for tests with routes that exist only in memory. Not Fresh
 * API (Fresh 2 tests apply a Builder snapshot instead); call it before the
 * app's first request.
 *
 * @example
 * ```ts
 * const app = new App().fsRoutes();
 * setManifest(app, { routes: { "./routes/index.ts": { handler: () => new Response("hi") } }, islands: {} });
 * ```
 */
export function setManifest<State>(app: App<State>, manifest: Manifest): void {
  manifests.set(app, manifest);
}

/** A Fresh application. */
export class App<State = Record<string, unknown>> {
  /**
   * The resolved configuration, which every request sees as `ctx.config`.
   * `root` may be changed before the first request.
   */
  config: ResolvedFreshConfig;
  #uses: Use<State>[] = [];
  #routes: Route<State>[] = [];
  #fsRoutes = false;
  #ready: Promise<Route<State>[]> | null = null;
  #table: FsRouteTable | null = null;
  #islands: Island[] = [];
  #build: Promise<IslandBuild | null> | null = null;
  #current = new WeakMap<Context<State>, Route<State>>();
  #allow = new WeakMap<Context<State>, string>();

  /** @param config mode and base path; see {@linkcode FreshConfig} */
  constructor(config: FreshConfig = {}) {
    this.config = resolveConfig(config);
  }

  /**
   * Adds middlewares for every request, or for a path prefix (`/jobs` covers
   * `/jobs` and `/jobs/...`). They run in order, before file `_middleware`s.
   *
   * @example
   * ```ts
   * app.use(staticFiles()).use("/api", requireToken);
   * ```
   */
  use(...middlewares: Middleware<State>[]): this;
  use(prefix: string, ...middlewares: Middleware<State>[]): this;
  use(first: string | Middleware<State>, ...rest: Middleware<State>[]): this {
    const prefix = typeof first === "string" ? first.replace(/\/+$/, "") : null;
    const middlewares = typeof first === "string" ? rest : [first, ...rest];
    this.#uses.push({ prefix, middlewares });
    return this;
  }

  /**
   * Answers GET (and HEAD) on a URLPattern pathname; earlier functions act as middlewares.
   *
   * @example
   * ```ts
   * app.get("/jobs/:id", (ctx) => ctx.json({ id: ctx.params.id }));
   * ```
   */
  get(path: string, ...handlers: Middleware<State>[]): this {
    return this.#add(["GET"], path, handlers);
  }

  /**
   * Answers POST on a path.
   *
   * @example
   * ```ts
   * app.post("/jobs", (ctx) => ctx.json({ created: true }, { status: 201 }));
   * ```
   */
  post(path: string, ...handlers: Middleware<State>[]): this {
    return this.#add(["POST"], path, handlers);
  }

  /**
   * Answers PUT on a path.
   *
   * @example
   * ```ts
   * app.put("/jobs/:id", (ctx) => ctx.json({ replaced: ctx.params.id }));
   * ```
   */
  put(path: string, ...handlers: Middleware<State>[]): this {
    return this.#add(["PUT"], path, handlers);
  }

  /**
   * Answers PATCH on a path.
   *
   * @example
   * ```ts
   * app.patch("/jobs/:id", (ctx) => ctx.json({ patched: ctx.params.id }));
   * ```
   */
  patch(path: string, ...handlers: Middleware<State>[]): this {
    return this.#add(["PATCH"], path, handlers);
  }

  /**
   * Answers DELETE on a path.
   *
   * @example
   * ```ts
   * app.delete("/jobs/:id", () => new Response(null, { status: 204 }));
   * ```
   */
  delete(path: string, ...handlers: Middleware<State>[]): this {
    return this.#add(["DELETE"], path, handlers);
  }

  /**
   * Answers every method on a path.
   *
   * @example
   * ```ts
   * app.all("/echo", (ctx) => ctx.text(ctx.req.method));
   * ```
   */
  all(path: string, ...handlers: Middleware<State>[]): this {
    return this.#add("*", path, handlers);
  }

  /**
   * Adds the routes, layouts, middlewares, error pages and islands under
   * `<app.config.root>/routes/` and `islands/`. They are found and imported
   * on the first request (or by `listen()`); a file that fails to load fails
   * that request and every later one, naming the file. Only the default
   * pattern, `"*"` (the site root), is supported.
   *
   * @example
   * ```ts
   * const app = new App().use(staticFiles()).fsRoutes();
   * ```
   */
  fsRoutes(pattern = "*"): this {
    if (pattern !== "*") {
      throw new Error(`fresh: fsRoutes("${pattern}"): only "*" is supported`);
    }
    if (this.#fsRoutes) throw new Error("fresh: fsRoutes() may be called once");
    this.#fsRoutes = true;
    return this;
  }

  /**
   * The request handler: `Deno.serve(app.handler())`, or call it directly in tests.
   *
   * @example
   * ```ts
   * const res = await app.handler()(new Request("http://localhost/jobs"));
   * ```
   */
  handler(): RequestHandler {
    let routes: Route<State>[] | null = null;
    return async (req, info = LOCAL_INFO) => {
      routes ??= await this.#prepareRoutes();
      const ctx = createContext<State>({
        req,
        info,
        config: this.config,
        state: {} as State,
        render: (c, vnode, init) => this.#render(c, vnode, init),
      });
      attachAssets(ctx, { build: () => this.#prepare() });
      let res: Response;
      try {
        res = await this.#dispatch(ctx, routes);
      } catch (err) {
        res = await this.#errorResponse(ctx, err);
      }
      res = withAllow(res, this.#allow.get(ctx));
      return req.method === "HEAD" && res.body ? withoutBody(res) : res;
    };
  }

  /**
   * Loads the file routes and builds the islands (or loads `_fresh/`), then
   * serves with `Deno.serve`, resolving once it listens. Without a `port`
   * it takes the first free one from 8000 to 8019; `signal` stops it.
   *
   * @example
   * ```ts
   * const stop = new AbortController();
   * await app.listen({ port: 8000, signal: stop.signal, onListen: ({ port }) => console.log(port) });
   * stop.abort();
   * ```
   */
  async listen(options: ListenOptions = {}): Promise<void> {
    const handler = this.handler();
    await this.#prepareRoutes();
    const { remoteAddress: _, ...serve } = options;
    if (serve.port !== undefined) {
      Deno.serve(serve as Deno.ServeTcpOptions, handler);
      return;
    }
    for (let port = 8000;; port++) {
      try {
        Deno.serve({ ...serve, port } as Deno.ServeTcpOptions, handler);
        return;
      } catch (err) {
        if (!(err instanceof Deno.errors.AddrInUse) || port === 8019) throw err;
      }
    }
  }

  /** The routes, most specific first, once the file routes are loaded and the islands built. */
  #prepareRoutes(): Promise<Route<State>[]> {
    this.#ready ??= (async () => {
      if (this.#fsRoutes) {
        this.#addFsRoutes(
          manifests.get(this) ?? await loadManifest(this.config.root),
        );
      }
      // A failed island build surfaces where islands are needed.
      await this.#prepare().catch(() => {});
      return [...this.#routes].sort((a, b) => byRank(a.pattern, b.pattern));
    })();
    return this.#ready;
  }

  #addFsRoutes(manifest: Manifest) {
    this.#table = fsRouteTable(manifest.routes);
    for (const route of this.#table.routes) {
      this.#routes.push(this.#fsRoute(route));
    }
    this.#islands = islandsFromManifest(manifest.islands);
    registerIslands(this.#islands);
  }

  #add(
    methods: string[] | "*",
    path: string,
    handlers: Middleware<State>[],
  ): this {
    const last = handlers[handlers.length - 1];
    if (!last) throw new Error(`fresh: no handler for ${path}`);
    this.#routes.push({
      pattern: compilePattern(path),
      methods: methods === "*" ? "*" : new Set(methods),
      middlewares: handlers.slice(0, -1),
      handle: (ctx) => Promise.resolve(last(ctx)),
    });
    return this;
  }

  #prepare(): Promise<IslandBuild | null> {
    this.#build ??= (async () => {
      const { root, mode } = this.config;
      if (this.#islands.length === 0) {
        setBuildId(await buildIdOf(root, []));
        return null;
      }
      const build = await ensureBuild({
        root,
        mode,
        islands: [...new Set(this.#islands.map((i) => i.file))],
      });
      setBuildId(build.snapshot.buildId);
      return build;
    })();
    return this.#build;
  }

  #dispatch(ctx: Context<State>, routes: Route<State>[]): Promise<Response> {
    const method = ctx.req.method;
    const pathname = ctx.url.pathname;
    // The first route (most specific) that matches and answers the method;
    // every match is only collected when none does (for HEAD, 404 and 405).
    let hit:
      | { route: Route<State>; params: Record<string, string> }
      | undefined;
    for (const route of routes) {
      if (!answers(route, method)) continue;
      const params = matchPattern(route.pattern, pathname);
      if (params) {
        hit = { route, params };
        break;
      }
    }
    const matched = hit ? [hit] : routes.flatMap((route) => {
      const params = matchPattern(route.pattern, pathname);
      return params ? [{ route, params }] : [];
    });
    hit ??= method === "HEAD"
      ? matched.find((m) => answers(m.route, "GET"))
      : undefined;
    const uses = this.#uses.filter((u) => covers(u.prefix, ctx.url.pathname))
      .flatMap((u) => u.middlewares);
    if (hit) {
      ctx.params = hit.params;
      ctx.route = hit.route.pattern.pattern;
      this.#current.set(ctx, hit.route);
      const used = answers(hit.route, method) ? method : "GET";
      return runMiddlewares(ctx, [
        ...uses,
        ...hit.route.middlewares,
        (c) => hit.route.handle(c, used),
      ]);
    }
    const near = matched[0]?.route;
    if (near) {
      this.#current.set(ctx, near);
      this.#allow.set(ctx, allowOf(matched.map((m) => m.route)));
    }
    // OPTIONS, where no route answers it itself: which methods the path takes.
    const fail: Middleware<State> = () => {
      if (near && method === "OPTIONS") {
        return new Response(null, {
          status: 204,
          headers: { allow: this.#allow.get(ctx)! },
        });
      }
      throw new HttpError(near ? 405 : 404);
    };
    return runMiddlewares(ctx, [
      ...uses,
      ...(near?.middlewares ?? this.#table?.rootMiddlewares ?? []),
      fail,
    ]);
  }

  #render(
    ctx: Context<State>,
    vnode: VNode | null,
    init?: ResponseInit,
  ): Promise<Response> {
    const parts = this.#current.get(ctx)?.fs?.parts ?? this.#table?.rootParts ??
      { app: null, layouts: [] };
    return renderPage(ctx, parts, vnode, {
      status: init?.status,
      headers: init?.headers,
    }, this.#assets());
  }

  #assets(): IslandAssets {
    return {
      chunks: async () => {
        const build = await this.#prepare();
        if (!build) {
          throw new Error(
            "fresh: islands were rendered but the app has none registered",
          );
        }
        return {
          runtime: build.snapshot.runtime,
          islands: build.snapshot.islands,
          buildId: build.snapshot.buildId,
        };
      },
      url: chunkUrl,
    };
  }

  async #errorResponse(ctx: Context<State>, err: unknown): Promise<Response> {
    const status = err instanceof HttpError ? err.status : 500;
    if (status >= 500) {
      console.error(
        `fresh: ${ctx.req.method} ${ctx.url.pathname} failed:`,
        err,
      );
    }
    ctx.error = err;
    try {
      return await this.#errorPage(ctx, err, status);
    } catch (second) {
      console.error(
        `fresh: the error page for ${ctx.url.pathname} failed too:`,
        second,
      );
      return defaultErrorResponse(err);
    }
  }

  async #errorPage(
    ctx: Context<State>,
    err: unknown,
    status: number,
  ): Promise<Response> {
    const folder = this.#current.get(ctx)?.fs?.folder ?? "";
    const page = (status === 404 ? this.#table?.notFound : null) ??
      this.#table?.errorPageFor(folder);
    if (!page) return defaultErrorResponse(err);
    const handler = pickHandler<State>(page.module.handler, ctx.req.method);
    if (handler) {
      const result = await handler(ctx);
      if (result instanceof Response) return result;
      return this.#renderSpecial(
        ctx,
        page,
        result.data,
        result.status ?? status,
        result.headers,
      );
    }
    if (!page.module.default) return defaultErrorResponse(err);
    return this.#renderSpecial(ctx, page, undefined, status);
  }

  #fsRoute(route: FsRoute): Route<State> {
    const { handler, default: page } = route.module;
    const methods = typeof handler === "function" ? "*" : new Set([
      ...(handler ? methodsOf(handler as Record<string, unknown>) : []),
      ...(page ? ["GET"] : []),
    ]);
    const renderWith = (
      ctx: Context<State>,
      init: { data?: unknown; status?: number; headers?: HeadersInit },
    ) => {
      if (!page) {
        throw new Error(
          `fresh: ${route.file}: handler returned page() but the file has no page component`,
        );
      }
      return renderPage(
        ctx,
        route.parts,
        page as RenderParts["app"],
        init,
        this.#assets(),
      );
    };
    return {
      pattern: route.pattern,
      methods,
      middlewares: route.middlewares,
      fs: route,
      handle: async (ctx, method) => {
        const fn = pickHandler<State>(handler, method, false);
        if (!fn) return renderWith(ctx, {});
        const result = await fn(ctx);
        if (result instanceof Response) return result;
        if (isPageResponse(result)) return renderWith(ctx, result);
        throw new Error(
          `fresh: ${route.file}: the ${method} handler returned neither a Response nor page()`,
        );
      },
    };
  }

  #renderSpecial(
    ctx: Context<State>,
    page: SpecialPage,
    data: unknown,
    status: number,
    headers?: HeadersInit,
  ) {
    const component = page.module.default as RenderParts["app"];
    return renderPage(
      ctx,
      page.parts,
      component,
      { data, status, headers },
      this.#assets(),
    );
  }
}

/**
 * Fresh's answer for an error without an error page: the `HttpError`'s
 * message as text with its status, else a bare 500.
 */
function defaultErrorResponse(err: unknown): Response {
  return err instanceof HttpError
    ? new Response(err.message || statusText(err.status), {
      status: err.status,
    })
    : new Response(statusText(500), { status: 500 });
}

/** A 405 for a path whose routes do not answer the method lists the ones they do. */
function withAllow(res: Response, allow: string | undefined): Response {
  if (!allow || res.status !== 405 || res.headers.has("allow")) return res;
  try {
    res.headers.set("allow", allow);
    return res;
  } catch {
    const copy = new Response(res.body, res);
    copy.headers.set("allow", allow);
    return copy;
  }
}

function answers<State>(route: Route<State>, method: string): boolean {
  return route.methods === "*" || route.methods.has(method);
}

function allowOf<State>(routes: Route<State>[]): string {
  const allowed = new Set<string>();
  for (const route of routes) {
    for (const method of route.methods === "*" ? METHODS : route.methods) {
      allowed.add(method);
    }
  }
  if (allowed.has("GET")) allowed.add("HEAD");
  allowed.add("OPTIONS"); // answered for every path a route matches
  return METHODS.filter((m) => allowed.has(m)).join(", ");
}

function covers(prefix: string | null, pathname: string): boolean {
  return prefix === null || prefix === "" || pathname === prefix ||
    pathname.startsWith(`${prefix}/`);
}

function pickHandler<State>(
  handler: unknown,
  method: string,
  fallbackToGet = true,
): HandlerFn<unknown, State> | null {
  if (typeof handler === "function") {
    return handler as HandlerFn<unknown, State>;
  }
  if (typeof handler !== "object" || handler === null) return null;
  const byMethod = handler as Record<
    string,
    HandlerFn<unknown, State> | undefined
  >;
  return byMethod[method] ?? (fallbackToGet ? byMethod.GET ?? null : null);
}

function withoutBody(res: Response): Response {
  res.body?.cancel().catch(() => {});
  return new Response(null, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}
