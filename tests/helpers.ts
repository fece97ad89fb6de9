/**
 * Shared test helpers: temp databases, waiting with a deadline, engine events.
 *
 * @example
 * ```ts
 * await waitFor(() => manager.get("a").runCount > 0);
 * ```
 * @module
 */
import type { Delivered, EventBus } from "@/lib/jobpro/mod.ts";

/** A fresh DuckDB file path in a new temp dir, removed by `cleanup`. */
export async function tempDb(): Promise<
  { path: string; dir: string; cleanup(): Promise<void> }
> {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-test-" });
  return {
    dir,
    path: `${dir}/jobs.duckdb`,
    cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** A value that passed an `if`. */
export type Truthy<T> = Exclude<T, false | 0 | "" | null | undefined>;

/**
 * Polls `check` until it returns a truthy value or the deadline passes.
 *
 * @example
 * ```ts
 * const job = await waitFor(() => manager.get("a").status === "complete" && manager.get("a"));
 * ```
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 20, what = "condition" } = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as Truthy<T>;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${
      last ? `: ${last}` : ""
    }`,
  );
}

/**
 * Resolves with the first event matching `match`, or rejects at the deadline.
 *
 * @example
 * ```ts
 * const e = await nextEvent(manager.events, (e) => e.type === "run-finished");
 * ```
 */
export function nextEvent(
  bus: EventBus,
  match: (e: Delivered) => boolean,
  timeoutMs = 10_000,
): Promise<Delivered> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no matching event within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = bus.subscribe((e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      stop();
      resolve(e);
    });
  });
}

/** What a {@link localServer} saw of one request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: Headers;
}

/** A real local HTTP server answering with `handler`, on a random port. */
export function localServer(
  handler: (req: Request) => Response | Promise<Response>,
): { url: string; requests: SeenRequest[]; close(): Promise<void> } {
  const requests: SeenRequest[] = [];
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => {
      requests.push({ method: req.method, url: req.url, headers: req.headers });
      return handler(req);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close: () => server.shutdown(),
  };
}
