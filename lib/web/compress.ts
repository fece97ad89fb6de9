/**
 * Response compression: brotli or gzip of JSON, HTML, JavaScript, CSS and
 * SVG answers when the client's Accept-Encoding takes it (brotli preferred,
 * `q=0` honoured), streamed chunk by chunk so a big answer is never held
 * twice in memory. Left as they are: event streams (they must stay live,
 * and a compressor holds bytes back), answers already encoded or marked
 * `Cache-Control: no-transform`, bodiless ones (HEAD, 204, 304) and bodies
 * under {@link MIN_COMPRESS_BYTES}. A body that ends within
 * {@link WHOLE_COMPRESS_BYTES} (most API answers) is compressed in one call
 * and sent with its length: a streaming encoder costs about 0.35 ms more per
 * answer, a fifth of a run-now call's CPU (measured by profiling 1,000 of
 * them). The first bytes are read to tell, no more.
 *
 * Brotli runs at quality {@link BROTLI_QUALITY}. Measured on `GET /jobs`
 * of 1,000 http jobs (911 KB of JSON) on this project's 2-core machine:
 * quality 4 gives 17 KB in about 6 ms, smaller and faster than gzip's
 * default level (24 KB, 10 ms); quality 5 gives 15 KB in 8 ms, 6 14 KB in
 * 14 ms, and 11 (the library's default) 12 KB in 5 s.
 *
 * @example
 * ```ts
 * app.use(compress()); // first, so it sees every answer
 * ```
 * @module
 */
import {
  brotliCompressSync,
  constants,
  createBrotliCompress,
  gzipSync,
} from "node:zlib";
import type { Context } from "fresh";

/** Bodies shorter than this go out as they are: compressing them saves nothing. */
export const MIN_COMPRESS_BYTES = 1024;

/** Bodies up to this long are compressed whole; longer ones stream. */
export const WHOLE_COMPRESS_BYTES = 64 * 1024;

/** Brotli's quality (0-11): fast enough to compress every answer as it is served. */
export const BROTLI_QUALITY = 4;

/** The media types worth compressing (text); everything else passes through. */
const COMPRESSIBLE =
  /^(application\/(json|javascript|[\w.+-]+\+json)|text\/(html|css|javascript)|image\/svg\+xml)\s*(;|$)/i;

/** An encoding this middleware writes. */
export type Encoding = "br" | "gzip";

/**
 * The encoding to answer in for an Accept-Encoding header: the one with the
 * highest weight, brotli before gzip on a tie; null for none (absent header,
 * `identity` only, or both weighted 0).
 *
 * @example
 * ```ts
 * chooseEncoding("gzip, br"); // "br"
 * chooseEncoding("br;q=0, gzip"); // "gzip"
 * chooseEncoding("*;q=0"); // null
 * ```
 */
export function chooseEncoding(header: string | null): Encoding | null {
  if (!header) return null;
  const weights = new Map<string, number>();
  for (const part of header.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (!name) continue;
    let q = 1;
    for (const p of params) {
      const m = p.trim().match(/^q=([0-9.]+)$/);
      if (m) q = Number(m[1]);
    }
    weights.set(name.trim(), Number.isFinite(q) ? q : 0);
  }
  const weight = (name: string) =>
    weights.get(name) ??
      (name === "gzip" ? weights.get("x-gzip") : undefined) ??
      weights.get("*") ?? 0;
  const br = weight("br"), gzip = weight("gzip");
  if (br <= 0 && gzip <= 0) return null;
  return br >= gzip ? "br" : "gzip";
}

/**
 * Whether an answer is one that is compressed when the client takes it (a
 * GET's; its HEAD says the same Vary).
 */
function eligible(res: Response): boolean {
  const h = res.headers;
  if (res.status < 200 || res.status === 204 || res.status === 206) {
    return false;
  }
  if (res.status === 304) return false;
  if (h.has("content-encoding") || h.has("content-range")) return false;
  if (/\bno-transform\b/i.test(h.get("cache-control") ?? "")) return false;
  return COMPRESSIBLE.test(h.get("content-type") ?? "");
}

/**
 * The middleware: compresses what the client takes, adds
 * `Vary: Accept-Encoding` to every answer that could have been.
 *
 * @example
 * ```ts
 * new App().use(compress()).use(staticFiles()).fsRoutes();
 * ```
 */
export function compress() {
  return async (ctx: Context<unknown>): Promise<Response> => {
    const res = await ctx.next();
    if (!eligible(res)) return res;
    const headers = new Headers(res.headers);
    addVary(headers, "Accept-Encoding");
    const init = { status: res.status, statusText: res.statusText, headers };
    const encoding = chooseEncoding(ctx.req.headers.get("accept-encoding"));
    const known = Number(res.headers.get("content-length") ?? NaN);
    if (ctx.req.method === "HEAD") {
      // The headers a GET would get: encoded when its length says it would be.
      if (encoding && known >= MIN_COMPRESS_BYTES) encoded(headers, encoding);
      return new Response(res.body, init);
    }
    if (!encoding || !res.body || known < MIN_COMPRESS_BYTES) {
      return new Response(res.body, init);
    }
    const { head, rest } = await peek(res.body, WHOLE_COMPRESS_BYTES);
    if (!rest) {
      // All of it was read: short, sent as read, or compressed in one call.
      const body = head.byteLength < MIN_COMPRESS_BYTES
        ? head
        : compressWhole(head, encoding);
      if (body !== head) encoded(headers, encoding);
      headers.set("content-length", String(body.byteLength));
      return new Response(body, init);
    }
    encoded(headers, encoding);
    const body = rest.pipeThrough(
      encoding === "br"
        ? brotliStream()
        : new CompressionStream("gzip") as TransformStream<
          Uint8Array,
          Uint8Array
        >,
    );
    return new Response(body, init);
  };
}

/** The headers of an answer sent in `encoding`. */
function encoded(headers: Headers, encoding: string) {
  headers.set("content-encoding", encoding);
  headers.delete("content-length");
  // Another encoding of the same content: the validator becomes weak.
  const etag = headers.get("etag");
  if (etag && !etag.startsWith("W/")) headers.set("etag", `W/${etag}`);
}

function addVary(h: Headers, name: string) {
  const vary = h.get("vary");
  const names = vary?.toLowerCase().split(/\s*,\s*/) ?? [];
  if (names.includes("*") || names.includes(name.toLowerCase())) return;
  h.set("vary", vary ? `${vary}, ${name}` : name);
}

/**
 * Reads a body until `min` bytes or its end. `rest` is null when it ended
 * before (`head` is all of it); otherwise a stream of everything, the bytes
 * read first included.
 */
async function peek(
  body: ReadableStream<Uint8Array>,
  min: number,
): Promise<
  { head: Uint8Array<ArrayBuffer>; rest: ReadableStream<Uint8Array> | null }
> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < min) {
    const { value, done } = await reader.read();
    if (done) {
      const head = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        head.set(c, at);
        at += c.byteLength;
      }
      return { head, rest: null };
    }
    chunks.push(value);
    size += value.byteLength;
  }
  const rest = new ReadableStream<Uint8Array>({
    pull: async (c) => {
      const next = chunks.shift();
      if (next) return c.enqueue(next);
      const { value, done } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    },
    cancel: (why) => reader.cancel(why),
  });
  return { head: new Uint8Array(), rest };
}

/** A whole body in `encoding`, in one call. */
function compressWhole(
  body: Uint8Array<ArrayBuffer>,
  encoding: Encoding,
): Uint8Array<ArrayBuffer> {
  const out = encoding === "br"
    ? brotliCompressSync(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength,
      },
    })
    : gzipSync(body);
  return new Uint8Array(out);
}

/**
 * node:zlib's brotli encoder as a web TransformStream: each chunk is written
 * to it and its output passed on; the stream's own backpressure holds the
 * writer while the reader is slow.
 */
function brotliStream(): TransformStream<Uint8Array, Uint8Array> {
  const z = createBrotliCompress({
    params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY },
  });
  let failed: Error | null = null;
  z.on("error", (e: Error) => (failed = e));
  return new TransformStream<Uint8Array, Uint8Array>({
    start(c) {
      z.on("data", (chunk: Uint8Array) => c.enqueue(new Uint8Array(chunk)));
    },
    transform: (chunk) =>
      new Promise<void>((resolve, reject) =>
        z.write(chunk, (e) => (e ?? failed) ? reject(e ?? failed) : resolve())
      ),
    flush: () =>
      new Promise<void>((resolve, reject) => {
        if (failed) return reject(failed);
        z.once("end", resolve);
        z.once("error", reject);
        z.end();
      }),
  });
}
