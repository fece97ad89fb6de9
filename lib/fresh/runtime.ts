/**
 * `fresh/runtime`: helpers usable on the server and in islands.
 *
 * @example
 * ```tsx
 * import { asset, Head, IS_BROWSER } from "fresh/runtime";
 * export default function Logo() {
 *   return <><Head><title>jobpro</title></Head><img src={asset("/logo.svg")} data-browser={IS_BROWSER} /></>;
 * }
 * ```
 * @module
 */
import { ASSET_QUERY, getBuildId } from "./build_id.ts";

export { Head } from "./head.ts";

/** `true` when running in a browser, `false` on the server. */
export const IS_BROWSER: boolean = typeof document !== "undefined";

/**
 * Appends the build id as a query (`?__frsh_c=<id>`) to a site-absolute path, so
 * a changed file is fetched again and unchanged ones can be cached for good.
 * Other URLs are returned unchanged.
 *
 * @example
 * ```ts
 * asset("/styles.css"); // "/styles.css?__frsh_c=3f2a9c"
 * ```
 */
export function asset(path: string): string {
  const id = getBuildId();
  if (!id || !path.startsWith("/") || path.startsWith("//")) return path;
  const url = new URL(path, "http://localhost");
  if (url.searchParams.has(ASSET_QUERY)) return path;
  url.searchParams.set(ASSET_QUERY, id);
  return url.pathname + url.search + url.hash;
}
