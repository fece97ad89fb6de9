/**
 * The island build: esbuild bundles the client runtime and every island file
 * (ESM, code splitting, Preact deduplicated, minified in production) into
 * content-addressed chunks. `dev.ts build` writes them to `_fresh/` with a
 * snapshot; at start-up an app reuses that snapshot when its inputs are
 * unchanged, else it builds in memory.
 *
 * @example
 * ```ts
 * const build = await ensureBuild({ root: Deno.cwd(), islands: ["./islands/Counter.tsx"], mode: "production" });
 * build.snapshot.islands["./islands/Counter.tsx"]; // "island-Counter-5XQH3V2K.js"
 * ```
 * @module
 */
import type * as Esbuild from "esbuild";
import { existsSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Mode } from "./config.ts";
import {
  type ImportMap,
  loadImportMap,
  npmToBare,
  resolveImport,
} from "./import_map.ts";

/** What `_fresh/snapshot.json` records about a build. */
export interface BuildSnapshot {
  /** Format version. */
  version: 1;
  /** Changes whenever a chunk or a static file changes. */
  buildId: string;
  /** The mode it was built for. */
  mode: Mode;
  /** File name of the client runtime chunk. */
  runtime: string;
  /** Island file (manifest key) → its chunk's file name. */
  islands: Record<string, string>;
  /** Every output file name. */
  files: string[];
  /** Source files (relative to the root) → SHA-256, to detect a stale build. */
  inputs: Record<string, string>;
}

/** A finished build: its snapshot and a reader for its files. */
export interface IslandBuild {
  snapshot: BuildSnapshot;
  /** The bytes of an output file, or `null` when the build has no such file. */
  read(file: string): Promise<Uint8Array<ArrayBuffer> | null>;
}

/** What to build. */
export interface BuildOptions {
  /** The project folder. */
  root: string;
  /** Island files as manifest keys (`./islands/Counter.tsx`). */
  islands: string[];
  /** Minify in production. */
  mode: Mode;
  /** Write chunks and the snapshot into `<root>/_fresh/` instead of keeping them in memory. */
  write?: boolean;
}

const VERSION = 1;
const RUNTIME_ENTRY = fileURLToPath(
  new URL("./client/boot.ts", import.meta.url),
);
const builds = new Map<string, Promise<IslandBuild>>();
let esbuildQueue: Promise<unknown> = Promise.resolve();

/**
 * The build for these options, made once per process: the `_fresh/` snapshot
 * when it is fresh, else a new in-memory build.
 *
 * @example
 * ```ts
 * const { snapshot } = await ensureBuild({ root, islands, mode: "production" });
 * ```
 */
export function ensureBuild(options: BuildOptions): Promise<IslandBuild> {
  const key = JSON.stringify([
    resolve(options.root),
    options.mode,
    [...options.islands].sort(),
  ]);
  let build = builds.get(key);
  if (!build) {
    build = loadBuild(options).then((found) =>
      found ?? buildIslands({ ...options, write: false })
    );
    build.catch(() => builds.delete(key));
    builds.set(key, build);
  }
  return build;
}

/**
 * Reads `<root>/_fresh/snapshot.json` and returns the build it describes, or
 * `null` when it is missing, for another mode or island set, or any input changed.
 *
 * @example
 * ```ts
 * const build = await loadBuild({ root, islands, mode: "production" });
 * ```
 */
export async function loadBuild(
  options: BuildOptions,
): Promise<IslandBuild | null> {
  const dir = join(options.root, "_fresh");
  let snapshot: BuildSnapshot;
  try {
    snapshot = JSON.parse(await Deno.readTextFile(join(dir, "snapshot.json")));
  } catch {
    return null;
  }
  const fresh = snapshot.version === VERSION &&
    snapshot.mode === options.mode &&
    sameSet(Object.keys(snapshot.islands), options.islands) &&
    snapshot.files.every((file) => existsSync(join(dir, "js", file))) &&
    await inputsUnchanged(options.root, snapshot.inputs);
  return fresh ? diskBuild(snapshot, join(dir, "js")) : null;
}

/**
 * Bundles the runtime and islands with esbuild.
 *
 * @example
 * ```ts
 * await buildIslands({ root, islands: ["./islands/Counter.tsx"], mode: "production", write: true });
 * ```
 */
export async function buildIslands(
  options: BuildOptions,
): Promise<IslandBuild> {
  const root = resolve(options.root);
  const importMap = await loadImportMap(root);
  const entries = entryPoints(root, options.islands);
  const result = await runEsbuild(root, entries, options.mode, importMap);
  const outputs = new Map(
    result.outputFiles.map((
      f,
    ) => [basename(f.path), f.contents as Uint8Array<ArrayBuffer>]),
  );
  const byEntry = entryOutputs(root, result.metafile);
  const files = [...outputs.keys()].sort();
  const snapshot: BuildSnapshot = {
    version: VERSION,
    buildId: await buildIdOf(root, files),
    mode: options.mode,
    runtime: byEntry.get(RUNTIME_ENTRY)!,
    islands: Object.fromEntries(
      options.islands.map((key) => [key, byEntry.get(join(root, key))!]),
    ),
    files,
    inputs: await hashInputs(root, result.metafile, importMap),
  };
  if (options.write) {
    await writeBuild(root, snapshot, outputs);
    return diskBuild(snapshot, join(root, "_fresh", "js"));
  }
  return {
    snapshot,
    read: (file) => Promise.resolve(outputs.get(file) ?? null),
  };
}

/**
 * A build id from the chunk names and the static files' sizes and times, so
 * `asset()` URLs change when either does. `DENO_DEPLOYMENT_ID` wins when set.
 *
 * @example
 * ```ts
 * const id = await buildIdOf(Deno.cwd(), []);
 * ```
 */
export async function buildIdOf(
  root: string,
  files: string[],
): Promise<string> {
  const deployment = envVar("DENO_DEPLOYMENT_ID");
  if (deployment) return deployment;
  const parts = [...files];
  for await (const entry of walkFiles(join(root, "static"))) {
    const info = await Deno.stat(entry);
    parts.push(
      `${relative(root, entry)}:${info.size}:${info.mtime?.getTime()}`,
    );
  }
  return (await sha256(parts.sort().join("\n"))).slice(0, 16);
}

function entryPoints(root: string, islands: string[]): Record<string, string> {
  const entries: Record<string, string> = { "fresh-runtime": RUNTIME_ENTRY };
  for (const key of islands) {
    const base = `island-${
      key.replace(/^\.\/islands\//, "").replace(/\.[^./]+$/, "").replace(
        /[^A-Za-z0-9_-]+/g,
        "-",
      )
    }`;
    let name = base;
    for (let i = 1; name in entries; i++) name = `${base}-${i}`;
    entries[name] = join(root, key);
  }
  return entries;
}

function runEsbuild(
  root: string,
  entries: Record<string, string>,
  mode: Mode,
  importMap: ImportMap,
): Promise<Esbuild.BuildResult<{ write: false; metafile: true }>> {
  const run = async () => {
    const esbuild = await import("esbuild");
    try {
      return await esbuild.build({
        entryPoints: entries,
        absWorkingDir: root,
        outdir: join(root, "_fresh", "js"),
        bundle: true,
        splitting: true,
        format: "esm",
        platform: "browser",
        target: ["es2022"],
        minify: mode === "production",
        write: false,
        metafile: true,
        entryNames: "[name]-[hash]",
        chunkNames: "chunk-[hash]",
        jsx: "automatic",
        jsxImportSource: "preact",
        define: { "process.env.NODE_ENV": JSON.stringify(mode) },
        logLevel: "silent",
        plugins: [denoResolver(importMap)],
      });
    } finally {
      await esbuild.stop();
    }
  };
  // One esbuild service at a time: stop() after each build must not cut another short.
  const result = esbuildQueue.then(run, run);
  esbuildQueue = result.catch(() => {});
  return result;
}

function denoResolver(importMap: ImportMap): Esbuild.Plugin {
  return {
    name: "fresh-deno-resolver",
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === importMap || args.kind === "entry-point") {
          return undefined;
        }
        let specifier = resolveImport(importMap, args.path) ?? args.path;
        if (/^(jsr|https?):/.test(specifier)) {
          return {
            errors: [{
              text:
                `${args.path} (${specifier}) cannot be bundled for the browser; use npm:`,
            }],
          };
        }
        if (specifier.startsWith("file:")) specifier = fileURLToPath(specifier);
        if (specifier.startsWith("npm:")) specifier = npmToBare(specifier);
        if (specifier === args.path) return undefined;
        if (specifier.startsWith("/")) return { path: specifier };
        return await build.resolve(specifier, {
          kind: args.kind,
          resolveDir: importMap.baseDir,
          importer: args.importer,
          pluginData: importMap,
        });
      });
    },
  };
}

function entryOutputs(
  root: string,
  metafile: Esbuild.Metafile,
): Map<string, string> {
  const byEntry = new Map<string, string>();
  for (const [output, info] of Object.entries(metafile.outputs)) {
    if (info.entryPoint) {
      byEntry.set(resolve(root, info.entryPoint), basename(output));
    }
  }
  return byEntry;
}

async function hashInputs(
  root: string,
  metafile: Esbuild.Metafile,
  importMap: ImportMap,
) {
  const paths = Object.keys(metafile.inputs).filter((p) =>
    !p.includes("node_modules/")
  );
  if (importMap.file) paths.push(relative(root, importMap.file));
  const inputs: Record<string, string> = {};
  for (const path of paths.sort()) {
    inputs[path] = await sha256(await Deno.readFile(resolve(root, path)));
  }
  return inputs;
}

async function inputsUnchanged(
  root: string,
  inputs: Record<string, string>,
): Promise<boolean> {
  for (const [path, hash] of Object.entries(inputs)) {
    try {
      if (await sha256(await Deno.readFile(resolve(root, path))) !== hash) {
        return false;
      }
    } catch {
      return false;
    }
  }
  return true;
}

async function writeBuild(
  root: string,
  snapshot: BuildSnapshot,
  outputs: Map<string, Uint8Array<ArrayBuffer>>,
) {
  const dir = join(root, "_fresh");
  await Deno.remove(dir, { recursive: true }).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
  await Deno.mkdir(join(dir, "js"), { recursive: true });
  for (const [file, contents] of outputs) {
    await Deno.writeFile(join(dir, "js", file), contents);
  }
  await Deno.writeTextFile(
    join(dir, "snapshot.json"),
    JSON.stringify(snapshot, null, 2) + "\n",
  );
}

function diskBuild(snapshot: BuildSnapshot, dir: string): IslandBuild {
  const files = new Set(snapshot.files);
  return {
    snapshot,
    read: (file) =>
      files.has(file) ? Deno.readFile(join(dir, file)) : Promise.resolve(null),
  };
}

async function* walkFiles(dir: string): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walkFiles(path);
    else if (entry.isFile) yield path;
  }
}

async function sha256(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string"
    ? new TextEncoder().encode(data)
    : data;
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length &&
    [...a].sort().join("\n") === [...b].sort().join("\n");
}

function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}
