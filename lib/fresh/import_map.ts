/**
 * Reads the project's `deno.json` import map so esbuild resolves island
 * imports (`preact`, `fresh/runtime`, `@/components/x.tsx`, `npm:` specifiers)
 * the way Deno does.
 *
 * @example
 * ```ts
 * const map = await loadImportMap("/app");
 * resolveImport(map, "preact/hooks"); // "npm:/preact@10.27.2/hooks"
 * ```
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** An import map and the folder its relative targets are resolved from. */
export interface ImportMap {
  /** Absolute folder of the `deno.json`. */
  baseDir: string;
  /** Absolute path of the `deno.json`, or `null` when none was found. */
  file: string | null;
  /** Its `imports`. */
  imports: Record<string, string>;
}

/**
 * Finds the nearest `deno.json` at or above `dir` and reads its imports.
 *
 * @example
 * ```ts
 * const { imports } = await loadImportMap(Deno.cwd());
 * ```
 */
export async function loadImportMap(dir: string): Promise<ImportMap> {
  for (let at = resolve(dir);; at = dirname(at)) {
    const file = join(at, "deno.json");
    if (existsSync(file)) {
      const config = JSON.parse(await Deno.readTextFile(file));
      return { baseDir: at, file, imports: config.imports ?? {} };
    }
    if (dirname(at) === at) {
      return { baseDir: resolve(dir), file: null, imports: {} };
    }
  }
}

/**
 * Applies the import map: an exact key wins, else the longest key ending in
 * `/` that prefixes the specifier. Relative targets become absolute paths.
 * Returns `null` when nothing matches.
 *
 * @example
 * ```ts
 * resolveImport({ baseDir: "/app", file: null, imports: { "@/": "./" } }, "@/x.ts"); // "/app/x.ts"
 * ```
 */
export function resolveImport(
  map: ImportMap,
  specifier: string,
): string | null {
  let target = map.imports[specifier];
  if (target === undefined) {
    const prefix = Object.keys(map.imports)
      .filter((key) => key.endsWith("/") && specifier.startsWith(key))
      .sort((a, b) => b.length - a.length)[0];
    if (prefix === undefined) return null;
    target = map.imports[prefix] + specifier.slice(prefix.length);
  }
  return target.startsWith("./") || target.startsWith("../")
    ? join(map.baseDir, target)
    : target;
}

/**
 * Turns an `npm:` specifier into the bare name node resolution understands.
 *
 * @example
 * ```ts
 * npmToBare("npm:/preact@10.27.2/hooks"); // "preact/hooks"
 * ```
 */
export function npmToBare(specifier: string): string {
  const match = specifier.match(
    /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@[^/]*)?(\/.*)?$/,
  );
  if (!match) throw new Error(`fresh: cannot bundle ${specifier}`);
  return match[1] + (match[2] ?? "");
}
