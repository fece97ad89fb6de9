/**
 * The HTTP server, with the limits that keep a hostile or broken client from
 * taking the process down or making an answer lie: a cap on open connections
 * below the file descriptor limit (connections beyond it are closed at once),
 * a deadline for a request's headers and one for the whole request, an idle
 * timeout between requests on a kept-alive connection, accept errors
 * (EMFILE and the like) that are logged, never fatal, and a request body that
 * must arrive whole before the app sees the request: a body cut short or
 * malformed is a 400 and one over the limit a 413, and in neither case does
 * the request do anything.
 *
 * `Deno.serve` has none of these knobs, so requests are served by Deno's
 * `node:http` server and bridged to the web-standard handler Fresh's
 * `app.handler()` returns: a `Request` in (its signal aborted when the client
 * goes away), a `Response` out (streamed with backpressure when it is an
 * event stream).
 *
 * @example
 * ```ts
 * const server = await serve(app.handler(), { hostname: "127.0.0.1", port: 0 });
 * console.log(server.addr.port);
 * await server.shutdown();
 * ```
 * @module
 */
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { concat } from "./bytes.ts";

/** What the server calls for each request (Fresh's `app.handler()`). */
export type Handler = (
  req: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Promise<Response>;

/** Where to listen, and the limits. */
export interface ServeOptions {
  hostname: string;
  port: number;
  /** Open connections at most; more are closed at once (default: from the descriptor limit). */
  maxConnections?: number;
  /** A request's headers must arrive within this (default 10 s). */
  headersTimeoutMs?: number;
  /** A whole request, body included, must arrive within this (default 30 s). */
  requestTimeoutMs?: number;
  /** A kept-alive connection with no request is closed after this (default 10 s). */
  idleTimeoutMs?: number;
  /** Largest request body, in bytes (default 64 KiB); larger ones are a 413. */
  maxBodyBytes?: number;
  /**
   * Paths whose bodies may be larger (a document of many jobs to apply, a
   * ping's output), and their limits; the first that matches counts.
   */
  largeBodies?: readonly LargeBodies[];
  /** Where problems are reported (a handler that threw, an accept error). */
  log?: (message: string) => void;
}

/** Paths whose bodies may be larger than the request limit, and their limit. */
export interface LargeBodies {
  /** Paths (no trailing slash), or patterns a path must match. */
  paths: readonly (string | RegExp)[];
  maxBytes: number;
  /** The setting named in the 413's message (absent: the limit is fixed). */
  variable?: string;
}

/** A listening server. */
export interface Server {
  addr: Deno.NetAddr;
  /** The cap on open connections in force. */
  readonly maxConnections: number;
  /** Connections open now. */
  readonly connections: number;
  /** Connections closed at once because the cap was reached, since start. */
  readonly refused: number;
  /** Stops accepting, lets requests in progress end (up to `graceMs`), then closes the rest. */
  shutdown(graceMs?: number): Promise<void>;
}

/** Descriptors left for everything but inbound connections (the store, runs' pipes, logs). */
const RESERVED_DESCRIPTORS = 256;

/**
 * The soft limit on open file descriptors, from /proc (Linux), or a
 * conservative 1024 where it cannot be read.
 *
 * @example
 * ```ts
 * descriptorLimit(); // 1024 under `ulimit -n 1024`
 * ```
 */
export function descriptorLimit(): number {
  try {
    const limits = Deno.readTextFileSync("/proc/self/limits");
    const m = limits.match(/^Max open files\s+(\d+|unlimited)/m);
    if (m) return m[1] === "unlimited" ? 1_048_576 : Number(m[1]);
  } catch { /* not Linux, or not readable */ }
  return 1024;
}

/**
 * The default cap on open connections: what the descriptor limit leaves
 * after {@link RESERVED_DESCRIPTORS} and the outbound calls' own cap.
 *
 * @example
 * ```ts
 * defaultMaxConnections(1024, 256); // 512
 * ```
 */
export function defaultMaxConnections(
  limit = descriptorLimit(),
  outbound = 0,
): number {
  return Math.max(16, limit - RESERVED_DESCRIPTORS - outbound);
}

/** What the server needs while it serves. */
interface Serving {
  handler: Handler;
  maxBodyBytes: number;
  largeBodies?: ServeOptions["largeBodies"];
  log: (m: string) => void;
  /** The body being received on a socket: told when the socket's parser fails. */
  receiving: WeakMap<Socket, (why: string) => void>;
}

/**
 * Starts serving `handler`; resolves once listening, rejects when the
 * address cannot be bound.
 *
 * @example
 * ```ts
 * const server = await serve(handler, { hostname: "127.0.0.1", port: 8000 });
 * ```
 */
export function serve(handler: Handler, opts: ServeOptions): Promise<Server> {
  const server = createServer({
    headersTimeout: opts.headersTimeoutMs ?? 10_000,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    keepAliveTimeout: opts.idleTimeoutMs ?? 10_000,
    // How often the two deadlines above are checked.
    connectionsCheckingInterval: 1000,
  });
  const serving: Serving = {
    handler,
    maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024,
    largeBodies: opts.largeBodies,
    log: opts.log ?? ((m) => console.error(`[jobpro] ${m}`)),
    receiving: new WeakMap(),
  };
  // A client may half-close after sending its request (or part of it) and
  // still read the answer: a cut-off body is answered with a 400, not dropped.
  (server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
  const maxConnections = opts.maxConnections ?? defaultMaxConnections();
  server.maxConnections = maxConnections;
  const sockets = new Set<Socket>();
  let refused = 0;
  let acceptFailing = false;
  server.on("connection", (socket: Socket) => {
    acceptFailing = false;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("drop", () => refused++);
  let accepted = 0; // connections taken or refused: the accept loop is alive
  server.on("connection", () => accepted++);
  server.on("drop", () => accepted++);
  server.on("clientError", (e: Error & { code?: string }, socket: Socket) => {
    clientError(serving, e, socket);
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    respond(serving, req, res).catch((e) => {
      serving.log(`request ${req.method} ${loggedUrl(req.url)} failed: ${e}`);
      res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    const onListenError = (e: Error) => reject(e);
    server.once("error", onListenError);
    server.listen(opts.port, opts.hostname, () => {
      server.off("error", onListenError);
      // From now on an error is an accept failure (out of descriptors, ...):
      // say so once per episode and go on serving.
      server.on("error", (e: Error) => {
        if (!acceptFailing) {
          serving.log(`accepting a connection failed: ${e.message}`);
        }
        acceptFailing = true;
      });
      const a = server.address() as AddressInfo;
      const watchdog = watchAccepting(server, a, () => accepted, serving.log);
      resolve({
        addr: { transport: "tcp", hostname: a.address, port: a.port },
        maxConnections,
        get connections() {
          return sockets.size;
        },
        get refused() {
          return refused;
        },
        shutdown: (graceMs = 5000) => {
          clearInterval(watchdog);
          return close(server, sockets, graceMs);
        },
      });
    });
  });
}

/** How often the accept loop is checked, and how long an accept may take. */
const WATCH_EVERY_MS = 5000;
const ACCEPT_WITHIN_MS = 2000;

/**
 * Deno's node:http stops accepting for good after an accept fails for want
 * of file descriptors (and says nothing). So every few seconds the server
 * connects to itself; when nothing at all was accepted meanwhile, it listens
 * again on the same address.
 */
function watchAccepting(
  server: ReturnType<typeof createServer>,
  addr: AddressInfo,
  accepted: () => number,
  log: (m: string) => void,
): ReturnType<typeof setInterval> {
  const host = addr.address === "0.0.0.0"
    ? "127.0.0.1"
    : addr.address === "::"
    ? "::1"
    : addr.address;
  let checking = false;
  const timer = setInterval(() => {
    if (checking || !server.listening) return;
    checking = true;
    const before = accepted();
    const probe = connect({ port: addr.port, host });
    probe.on("error", () => {}); // out of descriptors here too: next time
    probe.once("close", () => (checking = false));
    setTimeout(() => {
      const stuck = accepted() === before && !probe.destroyed &&
        probe.readyState === "open";
      probe.destroy();
      if (!stuck || !server.listening) return;
      log(
        `the server stopped accepting connections (out of file descriptors?); listening again on ${host}:${addr.port}`,
      );
      server.close();
      server.listen(addr.port, addr.address);
    }, ACCEPT_WITHIN_MS);
  }, WATCH_EVERY_MS);
  Deno.unrefTimer(timer as unknown as number);
  return timer;
}

async function close(
  server: ReturnType<typeof createServer>,
  sockets: Set<Socket>,
  graceMs: number,
): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  server.closeIdleConnections();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    closed,
    new Promise((r) => (timer = setTimeout(r, graceMs))),
  ]);
  clearTimeout(timer);
  for (const s of sockets) s.destroy();
  await closed;
}

/**
 * A request the parser could not read. While a request's body is being
 * received on the socket, that request answers (its body was cut short);
 * otherwise the answer is node's own: 408 for a deadline, 431 for headers
 * too large, 400 for the rest.
 */
function clientError(
  serving: Serving,
  e: Error & { code?: string },
  socket: Socket,
) {
  const receiving = serving.receiving.get(socket);
  if (receiving) return receiving(e.code ?? e.message);
  if (!socket.writable) return socket.destroy();
  const status = e.code === "ERR_HTTP_REQUEST_TIMEOUT"
    ? "408 Request Timeout"
    : e.code === "HPE_HEADER_OVERFLOW"
    ? "431 Request Header Fields Too Large"
    : "400 Bad Request";
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  socket.destroySoon?.();
}

/** A Host header value: a name or address and an optional port, nothing else. */
const HOST = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Methods a web Request refuses to carry. */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/** Why a request never reaches the app. */
type Refusal = {
  status: 400 | 405 | 408 | 413;
  code: string;
  message: string;
};

const malformed: Refusal = {
  status: 400,
  code: "bad_request",
  message: "the request line or its headers are malformed",
};

/** The URL the app sees, or a refusal. */
function urlOf(req: IncomingMessage): string | Refusal {
  const host = req.headers.host || "localhost";
  let target = req.url ?? "/";
  if (!HOST.test(host)) return malformed;
  // An absolute-form target keeps its path; the Host header names the site.
  if (!target.startsWith("/")) {
    try {
      const abs = new URL(target);
      target = abs.pathname + abs.search;
    } catch {
      return malformed;
    }
  }
  // Concatenated, not resolved: "//jobs" is a path here, not a host.
  return `http://${host}${target}`;
}

/** Whether the request says it carries a body. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return (length !== undefined && length !== "0") ||
    req.headers["transfer-encoding"] !== undefined;
}

/**
 * Receives the whole body, at most `max` bytes: the bytes, or why not (cut
 * short, malformed, or too large, in which case the rest is not read).
 */
function receive(
  serving: Serving,
  req: IncomingMessage,
): Promise<Uint8Array<ArrayBuffer> | Refusal> {
  const path = (req.url ?? "/").replace(/[?#].*$/, "").replace(/\/+$/, "");
  const large = serving.largeBodies?.find((l) =>
    l.paths.some((p) => typeof p === "string" ? p === path : p.test(path))
  );
  const max = large?.maxBytes ?? serving.maxBodyBytes;
  const setting = large ? large.variable : "JOBPRO_MAX_BODY_BYTES";
  const tooLarge: Refusal = {
    status: 413,
    code: "too_large",
    message: `the body is larger than ${max} bytes${
      setting ? ` (${setting})` : ""
    }`,
  };
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > max) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let settled = false;
    const ended = () => {
      if (!req.complete) cut(); // half-closed before the body was whole
    };
    const settle = (value: Uint8Array<ArrayBuffer> | Refusal) => {
      if (settled) return;
      settled = true;
      serving.receiving.delete(req.socket);
      req.socket.off("end", ended);
      resolve(value);
    };
    const cut = () =>
      settle({
        status: 400,
        code: "bad_request",
        message:
          `the request body was incomplete: the connection ended after ${size}${
            Number.isFinite(declared) ? ` of ${declared}` : ""
          } bytes`,
      });
    serving.receiving.set(req.socket, (why) => {
      if (why === "HPE_INVALID_EOF_STATE") return cut(); // ended mid-body
      settle(
        why === "ERR_HTTP_REQUEST_TIMEOUT"
          ? {
            status: 408,
            code: "timeout",
            message: "the request body did not arrive in time",
          }
          : {
            status: 400,
            code: "bad_request",
            message: `the request body is malformed (${why})`,
          },
      );
    });
    req.socket.once("end", ended);
    req.on("data", (chunk: Uint8Array) => {
      size += chunk.byteLength;
      if (size > max) {
        req.pause();
        return settle(tooLarge);
      }
      chunks.push(chunk);
    });
    req.once("end", () => {
      if (!req.complete) return cut();
      settle(concat(chunks));
    });
    req.once("aborted", cut);
    req.once("error", cut);
    req.once("close", () => {
      if (!req.complete) cut();
    });
  });
}

/** The request as the app sees it, or why it never gets there. */
async function toRequest(
  serving: Serving,
  req: IncomingMessage,
  signal: AbortSignal,
): Promise<Request | Refusal> {
  const method = req.method ?? "GET";
  if (FORBIDDEN_METHODS.has(method.toUpperCase())) {
    return {
      status: 405,
      code: "method_not_allowed",
      message: `${method} is not served here`,
    };
  }
  const url = urlOf(req);
  if (typeof url !== "string") return url;
  const withBody = method !== "GET" && method !== "HEAD" && hasBody(req);
  const body = withBody ? await receive(serving, req) : null;
  if (body !== null && !(body instanceof Uint8Array)) return body;
  try {
    const headers = new Headers();
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
    return new Request(url, { method, headers, signal, body });
  } catch {
    return malformed;
  }
}

const isEventStream = (res: Response) =>
  (res.headers.get("content-type") ?? "").startsWith("text/event-stream");

async function respond(
  serving: Serving,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const aborter = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) aborter.abort(new Error("client went away"));
  });
  const request = await toRequest(serving, req, aborter.signal);
  let response: Response;
  if (!(request instanceof Request)) {
    response = refusal(request);
  } else {
    try {
      response = await serving.handler(request, infoOf(req, res));
    } catch (e) {
      serving.log(
        `request ${req.method} ${loggedUrl(req.url)} failed: ${
          (e as Error).message
        }`,
      );
      response = new Response("internal error\n", { status: 500 });
    }
  }
  try {
    await send(res, response, req.method === "HEAD");
  } catch (e) {
    if (!res.destroyed) {
      serving.log(
        `writing the answer to ${req.method} ${
          loggedUrl(req.url)
        } failed: ${e}`,
      );
      res.destroy();
    }
  }
  // The client half-closed: nothing more will come on this connection.
  if (req.socket.readableEnded && !req.socket.destroyed) req.socket.end();
}

/**
 * The answer to a request that never reaches the app: the error contract's
 * JSON and the headers every answer carries; the connection is closed, since
 * what remains on it cannot be trusted.
 */
function refusal(r: Refusal): Response {
  const headers: Record<string, string> = {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    connection: "close",
  };
  if (r.status === 405) {
    headers.allow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
  }
  const field = r.status === 400 && r.message.includes("body")
    ? { field: "body" }
    : {};
  return new Response(
    JSON.stringify({ error: { code: r.code, message: r.message, ...field } }),
    { status: r.status, headers },
  );
}

function infoOf(
  req: IncomingMessage,
  res: ServerResponse,
): Deno.ServeHandlerInfo<Deno.NetAddr> {
  return {
    remoteAddr: {
      transport: "tcp",
      hostname: req.socket.remoteAddress ?? "",
      port: req.socket.remotePort ?? 0,
    },
    completed: new Promise((r) => res.once("close", () => r())),
  };
}

async function send(
  res: ServerResponse,
  response: Response,
  head: boolean,
): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length) res.setHeader("set-cookie", cookies);
  if (!response.body || head) {
    await response.body?.cancel().catch(() => {});
    res.end();
    return;
  }
  if (!isEventStream(response) && !response.headers.has("content-length")) {
    // A whole answer: sent with its length, as Deno.serve does.
    const bytes = new Uint8Array(await response.arrayBuffer());
    res.setHeader("content-length", bytes.byteLength);
    res.end(bytes);
    return;
  }
  await stream(res, response.body);
}

/**
 * Copies a streamed body with backpressure; stops when the client goes,
 * which for a stream includes closing its side of the connection (with
 * half-open sockets allowed, that is all a departing client may send).
 */
async function stream(
  res: ServerResponse,
  body: ReadableStream<Uint8Array>,
): Promise<void> {
  res.flushHeaders();
  const reader = body.getReader();
  const gone = () => void reader.cancel().catch(() => {});
  const hungUp = () => res.destroy();
  res.once("close", gone);
  res.socket?.once("end", hungUp);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || res.destroyed) break;
      if (!res.write(value)) await drained(res);
    }
  } catch {
    // The body failed (a dropped slow client): end the connection.
    res.destroy();
    return;
  } finally {
    res.off("close", gone);
    res.socket?.off("end", hungUp);
  }
  if (!res.destroyed) res.end();
}

/** Resolves when the response can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const go = () => {
      res.off("drain", go);
      res.off("close", go);
      resolve();
    };
    res.once("drain", go);
    res.once("close", go);
  });
}

/**
 * A request's target as logs show it: a ping key in the query (`?key=`,
 * which lets anyone ping that job) is blanked out.
 *
 * @example
 * ```ts
 * loggedUrl("/jobs/a/ping?key=s3cret"); // "/jobs/a/ping?key=[redacted]"
 * ```
 */
export function loggedUrl(url: string | undefined): string {
  return (url ?? "/").replace(/([?&]key=)[^&#]*/gi, "$1[redacted]");
}
