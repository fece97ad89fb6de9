/**
 * Live updates: 500 SSE clients connected while jobs produce 200 updates a
 * second for 30 s (a steady stream of run-now calls on 200 no-op jobs). Delivery latency = client receipt minus the
 * event's commit (publish) time, matched by event id; server RSS at the start
 * and end of the window.
 *
 * ```sh
 * deno run -A bench/sse.ts
 * ```
 * @module
 */
import type { Observed } from "./server.ts";
import { spawnServer } from "./process.ts";
import { percentile, round, rssOfPid } from "./stats.ts";

/** What one client saw: [event id, receipt time] of job-update events. */
type Seen = [number, number][];

const ID = [10, 105, 100, 58, 32]; // "\nid: "

function findId(buf: Uint8Array, from: number): number {
  for (
    let i = buf.indexOf(10, from);
    i !== -1 && i + 4 < buf.length;
    i = buf.indexOf(10, i + 1)
  ) {
    if (
      buf[i + 1] === ID[1] && buf[i + 2] === ID[2] && buf[i + 3] === ID[3] &&
      buf[i + 4] === ID[4]
    ) return i;
  }
  return -1;
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Opens one SSE stream and records job-update receipts until `signal` aborts. */
async function client(
  url: string,
  seen: Seen,
  signal: AbortSignal,
  ready: () => void,
) {
  const res = await fetch(`${url}/jobs/events?types=job-update,job-deleted`, {
    signal,
  });
  ready();
  const reader = res.body!.getReader();
  signal.addEventListener("abort", () => reader.cancel().catch(() => {}), {
    once: true,
  });
  // Kept cheap, on bytes: the stream carries only job-update/job-deleted (see
  // ?types), so every "\nid: " line is one delivery; its receipt time is the
  // chunk's. A line split across chunks is carried over.
  let carry = new Uint8Array(0);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const now = Date.now();
      const buf = carry.length ? concatBytes(carry, value) : value;
      let end = 0;
      for (let i = findId(buf, 0); i !== -1; i = findId(buf, end)) {
        let n = 0, j = i + 5;
        for (; j < buf.length && buf[j] !== 10; j++) n = n * 10 + (buf[j] - 48);
        if (j >= buf.length) break; // the line goes on in the next chunk
        seen.push([n, now]);
        end = j;
      }
      carry = buf.slice(Math.max(end, buf.length - 64));
    }
  } catch {
    // aborted at the end of the window
  }
}

/**
 * Produces `rate` job updates a second for `seconds`: a steady stream of
 * `POST /jobs/:id/run` over the jobs (each no-op run is one job-update).
 */
async function drive(url: string, jobs: number, rate: number, seconds: number) {
  const end = Date.now() + seconds * 1000;
  const pending: Promise<unknown>[] = [];
  let i = 0;
  for (let due = Date.now(); due < end; due += 1000 / rate) {
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      fetch(`${url}/jobs/job-${i++ % jobs}/run`, { method: "POST" }).then((r) =>
        r.body?.cancel()
      ),
    );
  }
  await Promise.all(pending);
}

/** The result of the live-update benchmark. */
export interface SseResult {
  clients: number;
  events: number;
  deliveries: number;
  p50: number;
  p99: number;
  rssStartMb: number;
  rssEndMb: number;
}

/**
 * Runs the benchmark: `jobs` every-second jobs, `clients` streams, `seconds` long.
 *
 * @example
 * ```ts
 * await sseBench({ clients: 50, seconds: 5 });
 * ```
 */
export async function sseBench(
  { clients = 500, jobs = 200, rate = 200, seconds = 30, warmup = 10 } = {},
): Promise<SseResult> {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-bench-" });
  const out = `${dir}/observed.json`;
  try {
    const srv = await spawnServer(["--jobs", String(jobs)], {
      JOBPRO_DB: `${dir}/s.duckdb`,
      BENCH_OUT: out,
    });
    const ac = new AbortController();
    const seen: Seen[] = [];
    let connected = 0;
    const streams = Array.from({ length: clients }, () => {
      const s: Seen = [];
      seen.push(s);
      return client(srv.url, s, ac.signal, () => connected++);
    });
    while (connected < clients) await new Promise((r) => setTimeout(r, 50));
    // Warm up under the same load first: the server's memory grows for the
    // first ~10 s (buffers of 500 connections) and is flat after; the window
    // measures that it stays flat.
    await drive(srv.url, jobs, rate, warmup);
    const from = Date.now();
    const rssStartMb = rssOfPid(srv.pid);
    await drive(srv.url, jobs, rate, seconds);
    const rssEndMb = rssOfPid(srv.pid);
    const to = Date.now();
    ac.abort();
    await Promise.allSettled(streams);
    await srv.stop();
    const observed: Observed = JSON.parse(await Deno.readTextFile(out));
    const latency: number[] = [];
    const ids = new Set<number>();
    for (const s of seen) {
      for (const [id, at] of s) {
        const committed = observed.commits[id];
        if (committed === undefined || committed < from || committed > to) {
          continue;
        }
        latency.push(at - committed);
        ids.add(id);
      }
    }
    return {
      clients,
      events: ids.size,
      deliveries: latency.length,
      p50: round(percentile(latency, 0.5)),
      p99: round(percentile(latency, 0.99)),
      rssStartMb: round(rssStartMb),
      rssEndMb: round(rssEndMb),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  console.log(
    await sseBench({
      clients: Number(Deno.args[0] ?? 500),
      seconds: Number(Deno.args[1] ?? 30),
    }),
  );
}
