/**
 * HTTP: autocannon on loopback, 50 connections, 10 s per route, against the
 * jobpro server with 10,000 jobs and against a bare Deno.serve baseline.
 *
 * ```sh
 * deno run -A bench/http.ts
 * ```
 * @module
 */
import autocannon from "autocannon";
import { spawn, spawnServer } from "./process.ts";

/** Requests per second, p99 latency and errors of one load. */
export interface Load {
  rps: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/**
 * Loads `url` for `seconds` with 50 connections.
 *
 * @example
 * ```ts
 * await load("http://127.0.0.1:8000/healthz");
 * ```
 */
export async function load(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    seconds?: number;
  } = {},
): Promise<Load> {
  const r = await autocannon({
    url,
    connections: 50,
    duration: opts.seconds ?? 10,
    method: (opts.method ?? "GET") as "GET" | "POST",
    headers: opts.headers,
  });
  return {
    rps: Math.round(r.requests.average),
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

/** The three routes and the baseline, measured one after another in this run. */
export async function httpBench(seconds = 10) {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-bench-" });
  try {
    await using base = await spawn("bench/baseline_server.ts", [], {});
    const baseline = await load(`${base.url}/`, { seconds });
    await base.stop();
    await using srv = await spawnServer(["--jobs", "10000"], {
      JOBPRO_DB: `${dir}/h.duckdb`,
    });
    const json = { accept: "application/json" };
    const healthz = await load(`${srv.url}/healthz`, { seconds });
    const list = await load(`${srv.url}/jobs?limit=50`, {
      seconds,
      headers: json,
    });
    const run = await load(`${srv.url}/jobs/job-1/run`, {
      seconds,
      method: "POST",
      headers: json,
    });
    return { baseline, healthz, list, run };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) console.log(await httpBench(Number(Deno.args[0] ?? 10)));
