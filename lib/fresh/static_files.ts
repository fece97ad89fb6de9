/**
 * `staticFiles()`: serves `<root>/static/` at the site root with an ETag
 * (304 when `If-None-Match` matches) and the built island chunks under
 * `/_fresh/js/<BUILD_ID>/` with a year of immutable caching. Paths with `..`,
 * backslashes, NUL or undecodable escapes are never looked up, and a file
 * whose real path (after symlinks) leaves `static/` is not served.
 *
 * @example
 * ```ts
 * import { App, staticFiles } from "fresh";
 * const app = new App().use(staticFiles());
 * ```
 * @module
 */
import { join, sep } from "node:path";
import { assetsOf, CHUNK_PREFIX } from "./assets.ts";
import { ASSET_QUERY } from "./build_id.ts";
import { contentType } from "./content_type.ts";
import type { Context } from "./context.ts";
import type { Middleware } from "./middleware.ts";

const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * The static file middleware; requests it cannot answer go to `ctx.next()`.
 * `static/` is indexed once, on the first request (the dev server restarts on
 * change), so a request for a route never touches the file system.
 *
 * @example
 * ```ts
 * app.use(staticFiles());
 * ```
 */
export function staticFiles<State>(): Middleware<State> {
  let index: Promise<Map<string, StaticFile>> | null = null;
  return async (ctx) => {
    if (ctx.req.method !== "GET" && ctx.req.method !== "HEAD") {
      return ctx.next();
    }
    const pathname = ctx.url.pathname;
    // Most requests are routes: a path without escapes is looked up as is,
    // without decoding and splitting it.
    const path = pathname.includes("%") || pathname.includes("//") ||
        pathname.includes("/.")
      ? safeRelativePath(pathname)
      : pathname.slice(1);
    if (path === null) return ctx.next();
    if (path.startsWith(CHUNK_PREFIX.slice(1))) {
      return await serveChunk(ctx, path) ?? ctx.next();
    }
    index ??= indexStatic(join(ctx.config.root, "static"));
    const file = (await index).get(path);
    return file ? serveStatic(ctx, file) : ctx.next();
  };
}

/** A file under static/, read once. */
interface StaticFile {
  bytes: Uint8Array<ArrayBuffer>;
  etag: string;
  type: string;
}

/** Every regular file under `dir` whose real path stays inside it. */
async function indexStatic(dir: string): Promise<Map<string, StaticFile>> {
  const files = new Map<string, StaticFile>();
  let realDir: string;
  try {
    realDir = await Deno.realPath(dir);
  } catch {
    return files;
  }
  async function walk(rel: string) {
    for await (const entry of Deno.readDir(join(realDir, rel))) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const real = await Deno.realPath(join(realDir, relPath)).catch(() =>
        null
      );
      if (!real?.startsWith(realDir + sep)) continue;
      const info = await Deno.stat(real);
      if (info.isDirectory) await walk(relPath);
      else if (info.isFile) {
        const bytes = await Deno.readFile(real);
        const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", bytes));
        const etag = `W/"${
          [...hash.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0"))
            .join("")
        }"`;
        files.set(relPath, { bytes, etag, type: contentType(real) });
      }
    }
  }
  await walk("");
  return files;
}

/**
 * Decodes a URL pathname into a relative path, or `null` when it could
 * escape its folder (`..`, `.`, backslash, NUL, bad escapes).
 *
 * @example
 * ```ts
 * safeRelativePath("/css/app.css"); // "css/app.css"
 * safeRelativePath("/%2e%2e/secret"); // null
 * ```
 */
export function safeRelativePath(pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return null;
  const segments = decoded.split("/").filter((s) => s !== "");
  if (segments.some((s) => s === "." || s === "..")) return null;
  return segments.join("/");
}

async function serveChunk<State>(
  ctx: Context<State>,
  path: string,
): Promise<Response | null> {
  const [, , , file, ...rest] = path.split("/");
  if (!file || rest.length > 0) return null;
  const build = await assetsOf(ctx)?.build();
  const bytes = await build?.read(file);
  if (!bytes) return null;
  const headers = {
    "content-type": contentType(file),
    "cache-control": IMMUTABLE,
    "x-content-type-options": "nosniff",
  };
  return new Response(ctx.req.method === "HEAD" ? null : bytes, { headers });
}

function serveStatic<State>(ctx: Context<State>, file: StaticFile): Response {
  const headers = new Headers({
    "content-type": file.type,
    "etag": file.etag,
    "cache-control": ctx.url.searchParams.has(ASSET_QUERY)
      ? IMMUTABLE
      : "no-cache",
    "x-content-type-options": "nosniff",
  });
  if (etagMatches(ctx.req.headers.get("if-none-match"), file.etag)) {
    return new Response(null, { status: 304, headers });
  }
  headers.set("content-length", String(file.bytes.byteLength));
  return new Response(ctx.req.method === "HEAD" ? null : file.bytes, {
    headers,
  });
}

function etagMatches(header: string | null, etag: string): boolean {
  if (!header) return false;
  const weak = (tag: string) => tag.trim().replace(/^W\//, "");
  return header.split(",").some((tag) =>
    tag.trim() === "*" || weak(tag) === weak(etag)
  );
}
