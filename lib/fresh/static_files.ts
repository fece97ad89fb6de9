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
import { contentType } from "./content_type.ts";
import type { Context } from "./context.ts";
import type { Middleware } from "./middleware.ts";
import { ASSET_QUERY } from "./runtime.ts";

const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * The static file middleware; requests it cannot answer go to `ctx.next()`.
 *
 * @example
 * ```ts
 * app.use(staticFiles());
 * ```
 */
export function staticFiles<State>(): Middleware<State> {
  return async (ctx) => {
    if (ctx.req.method !== "GET" && ctx.req.method !== "HEAD") {
      return ctx.next();
    }
    const path = safeRelativePath(ctx.url.pathname);
    if (path === null) return ctx.next();
    const served = path.startsWith(CHUNK_PREFIX.slice(1))
      ? await serveChunk(ctx, path)
      : await serveStatic(ctx, path);
    return served ?? ctx.next();
  };
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

async function serveStatic<State>(
  ctx: Context<State>,
  path: string,
): Promise<Response | null> {
  const real = await realPathInside(join(ctx.config.root, "static"), path);
  if (!real) return null;
  const file = await Deno.open(real).catch(() => null);
  if (!file) return null;
  const info = await file.stat();
  if (!info.isFile) {
    file.close();
    return null;
  }
  const etag = `W/"${info.size.toString(16)}-${
    (info.mtime?.getTime() ?? 0).toString(16)
  }"`;
  const headers = new Headers({
    "content-type": contentType(real),
    "etag": etag,
    "cache-control": ctx.url.searchParams.has(ASSET_QUERY)
      ? IMMUTABLE
      : "no-cache",
    "x-content-type-options": "nosniff",
  });
  if (etagMatches(ctx.req.headers.get("if-none-match"), etag)) {
    file.close();
    return new Response(null, { status: 304, headers });
  }
  headers.set("content-length", String(info.size));
  if (ctx.req.method === "HEAD") {
    file.close();
    return new Response(null, { headers });
  }
  return new Response(file.readable, { headers });
}

async function realPathInside(
  dir: string,
  path: string,
): Promise<string | null> {
  try {
    const realDir = await Deno.realPath(dir);
    const real = await Deno.realPath(join(realDir, path));
    return real.startsWith(realDir + sep) ? real : null;
  } catch {
    return null;
  }
}

function etagMatches(header: string | null, etag: string): boolean {
  if (!header) return false;
  const weak = (tag: string) => tag.trim().replace(/^W\//, "");
  return header.split(",").some((tag) =>
    tag.trim() === "*" || weak(tag) === weak(etag)
  );
}
