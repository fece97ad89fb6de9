/**
 * Shared helpers for the lib/fresh tests: the fixture app and request shortcuts.
 *
 * @module
 */
import { App, type FreshConfig, staticFiles } from "fresh";
import manifest from "./fixture/fresh.gen.ts";
import type { State } from "./fixture/utils.ts";

/** The fixture folder. */
export const FIXTURE = new URL("./fixture/", import.meta.url);

/**
 * The fixture app: static files, then its file routes.
 *
 * @example
 * ```ts
 * const handler = fixtureApp().handler();
 * ```
 */
export function fixtureApp(config: FreshConfig = {}): App<State> {
  return new App<State>(config).use(staticFiles()).fsRoutes(manifest);
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
