/**
 * File routes: turns a manifest's `./routes/...` modules into routes with
 * their URL pattern, `_middleware` chain, `_app`/`_layout` wrappers and
 * nearest `_error` page. Other files starting with `_` are ignored. `(group)` folders scope layouts and middlewares
 * without appearing in the URL; `index` is its folder; `[id]` is a parameter,
 * `[[id]]` an optional one and `[...rest]` a catch-all.
 *
 * @example
 * ```ts
 * const table = fsRouteTable(manifest.routes);
 * table.routes.map((r) => r.pattern.pattern); // ["/", "/jobs/events", "/jobs/:id", ...]
 * ```
 * @module
 */
import type { Manifest, RouteConfig, RouteModule } from "./manifest.ts";
import type { Middleware } from "./middleware.ts";
import type { RenderParts } from "./render.ts";
import {
  byRank,
  type CompiledPattern,
  compilePattern,
  escapeSegment,
} from "./router.ts";

// deno-lint-ignore no-explicit-any
type AnyMiddleware = Middleware<any>;

/** A page route from a file. */
export interface FsRoute {
  /** Its manifest key. */
  file: string;
  /** Its compiled URL pattern. */
  pattern: CompiledPattern;
  /** The module: `default`, `handler`, `config`. */
  module: RouteModule;
  /** Its folder under `routes/`, groups included (`""` for the root). */
  folder: string;
  /** `_middleware`s from the root folder down to its own. */
  middlewares: AnyMiddleware[];
  /** `_app` and layouts that wrap its page. */
  parts: RenderParts;
}

/** A `_404` or `_error` page and its wrappers. */
export interface SpecialPage {
  module: RouteModule;
  parts: RenderParts;
}

/** Everything the app needs from `routes/`. */
export interface FsRouteTable {
  /** Page and API routes, most specific first. */
  routes: FsRoute[];
  /** Root wrappers, for `ctx.render` outside file routes. */
  rootParts: RenderParts;
  /** Root `_middleware`s, run for requests no route matches. */
  rootMiddlewares: AnyMiddleware[];
  /** `routes/_404`, if any. */
  notFound: SpecialPage | null;
  /** The `_error` (or `_500`) page nearest to a folder, if any. */
  errorPageFor(folder: string): SpecialPage | null;
}

interface Folder {
  layout?: RouteModule;
  middleware?: RouteModule;
  error?: RouteModule;
}

/**
 * Builds the route table from a manifest's routes.
 *
 * @example
 * ```ts
 * const { routes, notFound } = fsRouteTable(manifest.routes);
 * ```
 */
export function fsRouteTable(files: Manifest["routes"]): FsRouteTable {
  const folders = new Map<string, Folder>();
  const pages: {
    file: string;
    segments: string[];
    folder: string;
    module: RouteModule;
  }[] = [];
  let app: RouteModule | undefined;
  let notFound: RouteModule | undefined;
  for (const [file, module] of Object.entries(files)) {
    const segments = fileSegments(file);
    const name = segments[segments.length - 1];
    const folder = segments.slice(0, -1).join("/");
    const slot = folders.get(folder) ?? {};
    folders.set(folder, slot);
    if (name === "_app" || name === "_404") {
      if (folder !== "") {
        throw new Error(`fresh: ${file}: ${name} belongs in routes/ itself`);
      }
      if (name === "_app") app = module;
      else notFound = module;
    } else if (name === "_layout") slot.layout = module;
    else if (name === "_middleware") slot.middleware = module;
    else if (name === "_error" || name === "_500") slot.error = module;
    else if (!name.startsWith("_")) {
      pages.push({ file, segments, folder, module });
    }
  }
  const appComponent = app ? component(app, "routes/_app") : null;
  const partsFor = (folder: string, config?: RouteConfig) =>
    renderParts(folders, folder, appComponent, config);
  const routes = pages.map(({ file, segments, folder, module }): FsRoute => {
    checkRouteModule(file, module);
    const pattern = compilePattern(
      module.config?.routeOverride ?? patternOf(segments),
    );
    return {
      file,
      pattern,
      module,
      folder,
      middlewares: middlewaresFor(folders, folder),
      parts: partsFor(folder, module.config),
    };
  }).sort((a, b) => byRank(a.pattern, b.pattern) || (a.file < b.file ? -1 : 1));
  return {
    routes,
    rootParts: partsFor(""),
    rootMiddlewares: middlewaresFor(folders, ""),
    notFound: notFound
      ? { module: notFound, parts: partsFor("", notFound.config) }
      : null,
    errorPageFor: (folder) => {
      for (const at of [...chain(folder)].reverse()) {
        const error = folders.get(at)?.error;
        if (error) return { module: error, parts: partsFor(at, error.config) };
      }
      return null;
    },
  };
}

/**
 * The URLPattern pathname for a route file's segments.
 *
 * @example
 * ```ts
 * patternOf(["(app)", "jobs", "[id]", "index"]); // "/jobs/:id"
 * patternOf(["files", "[...path]"]); // "/files/:path*"
 * ```
 */
export function patternOf(segments: string[]): string {
  const parts = segments.filter((s) => !/^\(.+\)$/.test(s));
  if (parts[parts.length - 1] === "index") parts.pop();
  let out = "";
  for (const part of parts) {
    const catchAll = part.match(/^\[\.\.\.(.+)\]$/);
    const optional = part.match(/^\[\[(.+)\]\]$/);
    const param = part.match(/^\[(.+)\]$/);
    if (catchAll) out += `/:${paramName(catchAll[1])}*`;
    else if (optional) out += `{/:${paramName(optional[1])}}?`;
    else if (param) out += `/:${paramName(param[1])}`;
    else out += `/${escapeSegment(part)}`;
  }
  return out || "/";
}

function fileSegments(file: string): string[] {
  const match = file.match(/^\.\/routes\/(.+)\.(tsx|ts|jsx|js|mts|mjs)$/);
  if (!match) {
    throw new Error(
      `fresh: manifest route key ${file} is not ./routes/<path>.<ext>`,
    );
  }
  return match[1].split("/");
}

function chain(folder: string): string[] {
  const parts = folder === "" ? [] : folder.split("/");
  return ["", ...parts.map((_, i) => parts.slice(0, i + 1).join("/"))];
}

function middlewaresFor(
  folders: Map<string, Folder>,
  folder: string,
): AnyMiddleware[] {
  return chain(folder).flatMap((at) => {
    const mod = folders.get(at)?.middleware;
    if (!mod) return [];
    const value = mod.default ?? mod.handler;
    const list = Array.isArray(value) ? value : [value];
    if (!list.every((fn) => typeof fn === "function")) {
      throw new Error(
        `fresh: routes/${
          at ? at + "/" : ""
        }_middleware must export a middleware or an array of them`,
      );
    }
    return list as AnyMiddleware[];
  });
}

function renderParts(
  folders: Map<string, Folder>,
  folder: string,
  app: RenderParts["app"],
  config?: RouteConfig,
): RenderParts {
  let layouts: RouteModule[] = [];
  for (const at of chain(folder)) {
    const layout = folders.get(at)?.layout;
    if (!layout) continue;
    if (layout.config?.skipInheritedLayouts) layouts = [];
    layouts.push(layout);
  }
  if (config?.skipInheritedLayouts) layouts = [];
  const skipApp = config?.skipAppWrapper ||
    layouts.some((l) => l.config?.skipAppWrapper);
  return {
    app: skipApp ? null : app,
    layouts: layouts.map((l) => component(l, "a _layout")),
  };
}

function component(
  module: RouteModule,
  what: string,
): NonNullable<RenderParts["app"]> {
  if (typeof module.default !== "function") {
    throw new Error(`fresh: ${what} must default-export a component`);
  }
  return module.default as NonNullable<RenderParts["app"]>;
}

function checkRouteModule(file: string, module: RouteModule) {
  if (module.default !== undefined && typeof module.default !== "function") {
    throw new Error(
      `fresh: ${file}: the default export must be a page component`,
    );
  }
  const handler = module.handler;
  if (
    handler !== undefined && typeof handler !== "function" &&
    (typeof handler !== "object" || handler === null)
  ) {
    throw new Error(
      `fresh: ${file}: handler must be a function or an object keyed by method`,
    );
  }
  if (module.default === undefined && handler === undefined) {
    throw new Error(
      `fresh: ${file} exports neither a page component nor a handler`,
    );
  }
}

function paramName(name: string): string {
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) {
    throw new Error(`fresh: route parameter [${name}] must be an identifier`);
  }
  return name;
}
