/**
 * The current build id, shared by the server (set when the island build is
 * ready) and the browser (set by `boot`). `asset()` and chunk URLs use it.
 *
 * @example
 * ```ts
 * setBuildId("3f2a9c");
 * getBuildId(); // "3f2a9c"
 * ```
 * @module
 */

let current = "";

/** The query parameter `asset()` adds; `staticFiles()` caches such requests for a year. */
export const ASSET_QUERY = "__frsh_c";

/**
 * The build id, or `""` before one is known.
 *
 * @example
 * ```ts
 * const id = getBuildId();
 * ```
 */
export function getBuildId(): string {
  return current;
}

/**
 * Records the build id.
 *
 * @example
 * ```ts
 * setBuildId("dev");
 * ```
 */
export function setBuildId(id: string): void {
  current = id;
}
