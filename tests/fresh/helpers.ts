/**
 * Shared helpers for the lib/fresh tests: the fixture app and request shortcuts.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { App, type FreshConfig, staticFiles } from "fresh";
import type { State } from "./fixture/utils.ts";

/** The fixture folder. */
export const FIXTURE = new URL("./fixture/", import.meta.url);

/** The fixture folder as a path, for `app.config.root`. */
export const FIXTURE_ROOT = fileURLToPath(FIXTURE);

/**
 * A new app rooted at the fixture folder, so its file routes are the fixture's.
 *
 * @example
 * ```ts
 * const app = fixtureRooted().use(csp()).fsRoutes();
 * ```
 */
export function fixtureRooted(config: FreshConfig = {}): App<State> {
  const app = new App<State>(config);
  app.config.root = FIXTURE_ROOT;
  return app;
}

/**
 * The fixture app: static files, then its file routes.
 *
 * @example
 * ```ts
 * const handler = fixtureApp().handler();
 * ```
 */
export function fixtureApp(config: FreshConfig = {}): App<State> {
  return fixtureRooted(config).use(staticFiles()).fsRoutes();
}

/**
 * Serves a handler on a free loopback port until `fn` settles.
 *
 * @example
 * ```ts
 * await serving(fixtureApp().handler(), async (base) => { await fetch(`${base}/`); });
 * ```
 */
export async function serving(
  handler: (req: Request, info: Deno.ServeHandlerInfo) => Promise<Response>,
  fn: (base: string, port: number) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    signal: controller.signal,
    onListen() {},
  }, handler);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, server.addr.port);
  } finally {
    controller.abort();
    await server.finished;
  }
}

/**
 * Sends a request to a handler and reads the body as text.
 *
 * @example
 * ```ts
 * const { res, body } = await send(handler, "/jobs", { headers: { accept: "text/html" } });
 * ```
 */
export async function send(
  handler: (req: Request) => Promise<Response>,
  path: string,
  init?: RequestInit,
): Promise<{ res: Response; body: string }> {
  const res = await handler(
    new Request(new URL(path, "http://localhost"), init),
  );
  return { res, body: await res.text() };
}

/** Accept header of a browser navigation. */
export const BROWSER = {
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
};

/**
 * Polls `check` until it returns a truthy value, or throws after `timeoutMs`.
 *
 * @example
 * ```ts
 * await waitFor(() => cleaned, 5_000, "cleanup ran");
 * ```
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
