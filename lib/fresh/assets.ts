/**
 * Links a request to its app's built assets, so middlewares such as
 * `staticFiles()` can reach the island build without global state.
 *
 * @example
 * ```ts
 * attachAssets(ctx, { build: () => ensureBuild(options), buildId: "1" });
 * const build = await assetsOf(ctx)?.build();
 * ```
 * @module
 */
import type { IslandBuild } from "./build.ts";

/** The island build of an app, as a request sees it. */
export interface Assets {
  /** The build, or `null` when the app has no islands. */
  build(): Promise<IslandBuild | null>;
}

const attached = new WeakMap<object, Assets>();

/** Where built chunks are served: `/_fresh/js/<BUILD_ID>/<file>`. */
export const CHUNK_PREFIX = "/_fresh/js/";

/**
 * Attaches assets to a request context.
 *
 * @example
 * ```ts
 * attachAssets(ctx, { build: () => Promise.resolve(null) });
 * ```
 */
export function attachAssets(ctx: object, assets: Assets): void {
  attached.set(ctx, assets);
}

/**
 * The assets attached to a context, if any.
 *
 * @example
 * ```ts
 * const assets = assetsOf(ctx);
 * ```
 */
export function assetsOf(ctx: object): Assets | undefined {
  return attached.get(ctx);
}

/**
 * The URL of a built file.
 *
 * @example
 * ```ts
 * chunkUrl("island-Counter-X.js", "abc"); // "/_fresh/js/abc/island-Counter-X.js"
 * ```
 */
export function chunkUrl(file: string, buildId: string): string {
  return `${CHUNK_PREFIX}${encodeURIComponent(buildId)}/${file}`;
}
