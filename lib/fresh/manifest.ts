/**
 * A project's file routes and islands as loaded modules, keyed by path
 * (`./routes/index.tsx`). `loadManifest()` (fs_crawl.ts) makes one from the
 * folders; tests may hand an app one directly with `setManifest()` (app.ts).
 * Neither is Fresh API: Fresh 2's Builder keeps the same in its build cache.
 *
 * @example
 * ```ts
 * const manifest: Manifest = {
 *   routes: { "./routes/index.tsx": { default: () => null } },
 *   islands: {},
 * };
 * ```
 * @module
 */

/** A route file's `config` export. */
export interface RouteConfig {
  /** A URLPattern pathname used instead of the one from the file path, such as `/jobs/:id/log`. */
  routeOverride?: string;
  /** Skip the `_layout`s of parent folders (on a layout: skip the ones above it). */
  skipInheritedLayouts?: boolean;
  /** Render without `_app`. */
  skipAppWrapper?: boolean;
}

/** A route module; checked at registration. */
export interface RouteModule {
  /** The page component, the `_app`/`_layout` component, or the `_middleware`. */
  default?: unknown;
  /** `handler` export: a function, or an object keyed by method; `_middleware` may use it too. */
  handler?: unknown;
  /** Route options. */
  config?: RouteConfig;
}

/** The route and island modules of a project. */
export interface Manifest {
  /** Route modules keyed by `./routes/...` paths. */
  routes: Record<string, RouteModule>;
  /** Island modules keyed by `./islands/...` paths. */
  islands: Record<string, Record<string, unknown>>;
}
