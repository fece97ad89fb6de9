/**
 * The shape of `fresh.gen.ts`: every route and island module of a project,
 * imported statically, keyed by path. `lib/fresh/dev/manifest.ts` writes it.
 *
 * @example
 * ```ts
 * import * as $index from "./routes/index.tsx";
 * const manifest = {
 *   routes: { "./routes/index.tsx": $index },
 *   islands: {},
 *   baseUrl: import.meta.url,
 * } satisfies Manifest;
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

/** A route module as the manifest holds it; checked at registration. */
export interface RouteModule {
  /** The page component, the `_app`/`_layout` component, or the `_middleware`. */
  default?: unknown;
  /** `handler` export: a function, or an object keyed by method; `_middleware` may use it too. */
  handler?: unknown;
  /** Route options. */
  config?: RouteConfig;
}

/** The generated manifest. */
export interface Manifest {
  /** Route modules keyed by `./routes/...` paths. */
  routes: Record<string, RouteModule>;
  /** Island modules keyed by `./islands/...` paths. */
  islands: Record<string, Record<string, unknown>>;
  /** `import.meta.url` of the manifest file; its folder is the project root. */
  baseUrl: string;
}
