/**
 * Route discovery: the modules under a project's `routes/` and `islands/`,
 * found by walking the folders and loaded with `import()`. Fresh 2's Builder
 * does the same walk; here an app does it itself the first time it is asked
 * for (its first request, or `listen()`), so a new route file is served
 * without a generated manifest. Test files (`*_test.ts`, `*.test.tsx`),
 * `.d.ts` files and dot-files are left out.
 *
 * @example
 * ```ts
 * const { routes, islands } = await crawlFsItems(Deno.cwd());
 * const manifest = await loadManifest(Deno.cwd());
 * ```
 * @module
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Manifest, RouteModule } from "./manifest.ts";

/** The route and island files of a project, as `./routes/index.tsx` keys. */
export interface FsItems {
  routes: string[];
  islands: string[];
}

const MODULE = /\.(tsx|ts|jsx|js|mts|mjs)$/;
const SKIP = /(_test|\.test|\.d)\.(tsx|ts|jsx|js|mts|mjs)$/;

/**
 * Lists a project's route and island modules, sorted. A missing folder has none.
 *
 * @example
 * ```ts
 * await crawlFsItems("/app"); // { routes: ["./routes/index.tsx"], islands: [] }
 * ```
 */
export async function crawlFsItems(root: string): Promise<FsItems> {
  return {
    routes: (await listModules(root, "routes")).sort(),
    islands: (await listModules(root, "islands")).sort(),
  };
}

/**
 * Imports every route and island module of a project. Throws when the
 * project has no `routes/` folder (the app was started from another folder),
 * or when a module fails to load, naming the file.
 *
 * @example
 * ```ts
 * const manifest = await loadManifest("/app");
 * Object.keys(manifest.routes); // ["./routes/_app.tsx", "./routes/index.tsx"]
 * ```
 */
export async function loadManifest(root: string): Promise<Manifest> {
  if (!await isDirectory(join(root, "routes"))) {
    throw new Error(
      `fresh: no routes/ folder in ${root}; start the app from its project folder`,
    );
  }
  const { routes, islands } = await crawlFsItems(root);
  const load = async (key: string) => {
    try {
      return [key, await import(pathToFileURL(join(root, key)).href)] as const;
    } catch (err) {
      throw new Error(`fresh: cannot load ${key}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  };
  return {
    routes: Object.fromEntries(
      await Promise.all(routes.map(load)),
    ) as Record<string, RouteModule>,
    islands: Object.fromEntries(await Promise.all(islands.map(load))),
  };
}

async function listModules(root: string, folder: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (relative: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(join(root, relative)));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = `${relative}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (
        entry.isFile && MODULE.test(entry.name) && !SKIP.test(entry.name)
      ) out.push(`./${path}`);
    }
  };
  await walk(folder);
  return out;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}
