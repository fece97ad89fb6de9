/**
 * Overload: a real jobpro process with many jobs (a tenth of them ticking
 * every second), many Server-Sent Events clients and a steady API load. No
 * API answer is an error, no every-second tick is missed (noop runs never
 * overlap, so the overlap policy skips none), no event stream is dropped, and
 * the server's memory is flat (max within 20% of min) over the second half.
 * Alongside, the jobs that misbehave: an action that hangs forever (a
 * function and a shell program) is cut by its timeout, an http action to a
 * port that accepts but never answers too, one to a closed port fails at
 * once, and a job that always fails backs off as configured without holding
 * up the others.
 *
 * Scale: `JOBPRO_OVERLOAD_JOBS` / `_SSE` / `_SECONDS`: 2,000 jobs, 50 clients,
 * 12 s in CI; 10,000 jobs, 200 clients, 60 s with JOBPRO_SOAK=1.
 * tests/jobpro/semantics_test.ts covers the same misbehaving actions on an
 * idle engine ("a timeout aborts...", "retries back off exponentially...",
 * "an http action against a port nobody answers fails fast and cleanly").
 */
import { assert, assertEquals } from "@std/assert";
import {
  allRuns,
  type ApiRun,
  freePort,
  pool,
  type Proc,
  rssMb,
  scale,
  seeded,
  startProcess,
  tempDb,
  testSeed,
  waitFor,
} from "./helpers.ts";

const JOBS = scale("JOBPRO_OVERLOAD_JOBS", 2000, 10_000);
const CLIENTS = scale("JOBPRO_OVERLOAD_SSE", 50, 200);
const SECONDS = scale("JOBPRO_OVERLOAD_SECONDS", 12, 60);
/** API requests per second, all workers together. */
const API_RATE = scale("JOBPRO_OVERLOAD_API_RATE", 100, 200);
/** Periodic jobs: every second, every 10 s and every minute (spread over their period). */
const EVERY_1S = Math.round(JOBS / 50);
const EVERY_10S = Math.round((JOBS * 9) / 50);
const EVERY_60S = Math.round((JOBS * 3) / 10);
const TICKERS = EVERY_1S + EVERY_10S + EVERY_60S;

/** A cheap event-stream reader: bytes and the last event id, nothing parsed. */
async function lightClient(url: string) {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  assertEquals(res.status, 200);
  const state = { bytes: 0, lastId: -1, ended: false, error: "" };
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let tail = "";
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        state.bytes += value.byteLength;
        const text = tail + decoder.decode(value, { stream: true });
        const at = text.lastIndexOf("\nid: ");
        if (at !== -1) {
          const m = text.slice(at + 5).match(/^(\d+)\n/);
          if (m) state.lastId = Number(m[1]);
        }
        tail = text.slice(-64);
      }
    } catch (e) {
      if (!ac.signal.aborted) state.error = String(e);
    } finally {
      if (!ac.signal.aborted) state.ended = true;
    }
  })();
  return {
    state,
    async close() {
      ac.abort();
      await reader.cancel().catch(() => {});
      await pump;
    },
  };
}

function percentile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

Deno.test({
  name:
    `overload: ${JOBS} jobs (${TICKERS} periodic, ${EVERY_1S} every second), ${CLIENTS} event streams and ${API_RATE} API calls/s for ${SECONDS} s: no error, no missed tick, flat memory; hung, failing and unreachable actions are contained`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const seed = testSeed(11);
    const rand = seeded(seed);
    const db = await tempDb();
    // A port that accepts connections and never answers.
    const blackhole = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      try {
        for await (const c of blackhole) held.push(c);
      } catch { /* closed */ }
    })();
    const closedPort = freePort();
    let p: Proc | null = null;
    const clients: Awaited<ReturnType<typeof lightClient>>[] = [];
    try {
      p = await startProcess({
        JOBPRO_DB: db.path,
        JOBPRO_ALLOW_SHELL: "1",
        JOBPRO_SHUTDOWN_GRACE_MS: "2000",
      });
      const proc = p;
      // ---- the jobs ----
      const noop = { type: "function", name: "noop" };
      const special = [
        {
          id: "hang-function",
          schedule: "*/4 * * * * *",
          timeoutMs: 1000,
          action: {
            type: "function",
            name: "sleep",
            params: { ms: 3_600_000 },
          },
        },
        {
          id: "hang-shell",
          schedule: "*/4 * * * * *",
          timeoutMs: 1000,
          action: { type: "shell", command: ["sleep", "3600"] },
        },
        {
          id: "hang-http",
          schedule: "*/4 * * * * *",
          timeoutMs: 1000,
          action: {
            type: "http",
            url: `http://127.0.0.1:${
              (blackhole.addr as Deno.NetAddr).port
            }/never`,
          },
        },
        {
          id: "closed-port",
          schedule: "*/2 * * * * *",
          timeoutMs: 10_000,
          action: { type: "http", url: `http://127.0.0.1:${closedPort}/` },
        },
        {
          id: "always-fails",
          schedule: "*/6 * * * * *",
          retries: 3,
          retryDelayMs: 300,
          action: { type: "function", name: "fail" },
        },
      ];
      const defs: Record<string, unknown>[] = special.map((s) => ({
        name: s.id,
        ...s,
      }));
      /** Ticker id → [period s, offset s]. */
      const cadence = new Map<string, [number, number]>();
      for (let i = 0; i < JOBS - special.length; i++) {
        const kind = i < TICKERS ? "tick" : ["idle", "manual", "slow"][i % 3];
        const [period, offset] = i < EVERY_1S
          ? [1, 0]
          : i < EVERY_1S + EVERY_10S
          ? [10, i % 10]
          : [60, i % 60];
        const id = `${kind}-${i}`;
        if (kind === "tick") cadence.set(id, [period, offset]);
        defs.push({
          id,
          name: `${kind} ${i}`,
          schedule: kind === "tick"
            ? (period === 1 ? "* * * * * *" : `${offset}/${period} * * * * *`)
            : kind === "idle"
            ? "2099-01-15 14:30:00 PST"
            : kind === "slow"
            ? "0 */5 * * * *"
            : "",
          autoStart: kind !== "manual",
          action: noop,
        });
      }
      const t0 = Date.now();
      await pool(defs, 16, async (d) => {
        const r = await proc.api("POST", "/jobs", d);
        assertEquals(r.status, 201, r.text);
      });
      const createSeconds = (Date.now() - t0) / 1000;
      // ---- event streams ----
      for (let i = 0; i < CLIENTS; i++) {
        clients.push(
          await lightClient(
            `${proc.url}/jobs/events${
              i % 2 ? "?types=job-update,job-deleted" : ""
            }`,
          ),
        );
      }
      // ---- steady API load ----
      const ids = defs.map((d) => String(d.id));
      const manual = ids.filter((id) => id.startsWith("manual-"));
      const idle = ids.filter((id) => id.startsWith("idle-"));
      const slow = ids.filter((id) => id.startsWith("slow-"));
      const paused = new Set<string>();
      const statuses: Record<string, number> = {};
      const errors: string[] = [];
      const latencies: number[] = [];
      let calls = 0;
      const loadStart = Date.now();
      const loadEnd = loadStart + SECONDS * 1000;
      const rss: [number, number][] = [];
      const sampler = setInterval(() => {
        try {
          rss.push([Date.now(), rssMb(proc.pid)]);
        } catch { /* exited */ }
      }, 500);
      const pickOf = (xs: string[]) => xs[Math.floor(rand() * xs.length)];
      const WORKERS = 4;
      const worker = async (w: number) => {
        const perWorkerMs = 1000 / (API_RATE / WORKERS);
        let due = loadStart + w * (perWorkerMs / WORKERS);
        while (Date.now() < loadEnd) {
          const wait = due - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          due += perWorkerMs;
          const dice = rand();
          let method = "GET", path: string, body: unknown;
          if (dice < 0.25) {
            path = `/jobs?limit=100&offset=${Math.floor(rand() * JOBS)}`;
          } else if (dice < 0.45) path = `/jobs/${pickOf(ids)}`;
          else if (dice < 0.6) {
            path = `/jobs/${pickOf(ids.slice(0, EVERY_1S))}/runs?limit=20`;
          } else if (dice < 0.75) {
            method = "POST";
            path = `/jobs/${pickOf(manual)}/run`;
          } else if (dice < 0.85) {
            method = "PATCH";
            path = `/jobs/${pickOf(idle)}`;
            body = { retries: Math.floor(rand() * 5) };
          } else if (dice < 0.95) {
            const id = pickOf(slow);
            method = "POST";
            path = `/jobs/${id}/${paused.has(id) ? "resume" : "pause"}`;
            if (paused.has(id)) paused.delete(id);
            else paused.add(id);
          } else path = "/jobs?status=paused&limit=10";
          const t = performance.now();
          try {
            const r = await proc.api(method, path, body);
            latencies.push(performance.now() - t);
            calls++;
            statuses[r.status] = (statuses[r.status] ?? 0) + 1;
            if (r.status >= 300) {
              errors.push(
                `${method} ${path}: ${r.status} ${r.text.slice(0, 200)}`,
              );
            }
          } catch (e) {
            errors.push(`${method} ${path}: ${e}`);
          }
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
      clearInterval(sampler);
      const loadSeconds = (Date.now() - loadStart) / 1000;

      // ---- streams: none dropped, all current ----
      const lastIds = clients.map((c) => c.state.lastId);
      const dropped = clients.filter((c) => c.state.ended || c.state.error);
      const sseBytes = clients.reduce((n, c) => n + c.state.bytes, 0);
      for (const c of clients) await c.close();
      clients.length = 0;

      // ---- ticks: every second of the window ran on every ticker ----
      const windowFrom = Math.ceil((loadStart + 2000) / 1000) * 1000;
      const windowTo = Math.floor((loadEnd - 2000) / 1000) * 1000;
      const tickers = ids.filter((id) => id.startsWith("tick-"));
      let missed = 0, doubled = 0, expected = 0;
      const missedExamples: string[] = [];
      const lateness: number[] = [];
      await pool(tickers, 8, async (id) => {
        const runs = await allRuns(proc, id);
        const ticks = new Map<number, number>();
        for (const r of runs) {
          if (r.trigger !== "schedule") continue;
          const at = Date.parse(r.scheduledFor!);
          ticks.set(at, (ticks.get(at) ?? 0) + 1);
          if (at >= windowFrom && at <= windowTo) {
            lateness.push(Date.parse(r.startedAt) - at);
          }
        }
        const [period, offset] = cadence.get(id)!;
        for (let s = windowFrom; s <= windowTo; s += 1000) {
          if ((s / 1000) % period !== offset) continue;
          expected++;
          const n = ticks.get(s) ?? 0;
          if (n === 0) {
            missed++;
            if (missedExamples.length < 5) {
              missedExamples.push(`${id} @ ${new Date(s).toISOString()}`);
            }
          }
          if (n > 1) doubled++;
        }
      });

      // ---- the misbehaving jobs ----
      const runsOf = async (id: string) =>
        (await allRuns(proc, id)).filter((r) => r.status !== "running");
      const hangs: Record<string, ApiRun[]> = {};
      for (const id of ["hang-function", "hang-shell", "hang-http"]) {
        hangs[id] = await runsOf(id);
        assert(hangs[id].length >= 1, `${id} ran`);
        for (const r of hangs[id]) {
          assertEquals(
            [r.status, r.error],
            ["failed", "timed out after 1000 ms"],
            `${id} run ${r.id}`,
          );
          assert(
            r.durationMs! >= 990 && r.durationMs! < 3000,
            `${id} run ${r.id} was cut after ${r.durationMs} ms`,
          );
        }
      }
      const refused = await runsOf("closed-port");
      assert(refused.length >= 2, "closed-port ran");
      for (const r of refused) {
        assertEquals(r.status, "failed");
        assert(/failed/.test(r.error ?? ""), r.error ?? "");
        // Refused at once, not held until its 10 s timeout (no timed
        // assertion: a loaded machine may take a while to start it).
        assert(!/timed out/.test(r.error ?? ""), r.error ?? "");
      }
      const fails = (await runsOf("always-fails")).reverse();
      const firsts = fails.filter((r) => r.trigger === "schedule");
      assert(firsts.length >= 1, "always-fails ran");
      const gaps: number[] = [];
      for (const first of firsts) {
        const chain = [first];
        for (const r of fails) {
          if (r.trigger === "retry" && r.id > chain.at(-1)!.id) {
            if (r.attempt !== chain.length + 1) break;
            chain.push(r);
            if (chain.length === 4) break;
          }
        }
        if (Date.parse(first.startedAt) > loadEnd - 6000) continue; // cut short
        assertEquals(
          chain.map((r) => r.attempt),
          [1, 2, 3, 4],
          `always-fails tries 1 + 3 retries after ${first.scheduledFor}`,
        );
        for (let a = 1; a < chain.length; a++) {
          const gap = Date.parse(chain[a].startedAt) -
            Date.parse(chain[a - 1].endedAt!);
          const base = 300 * 2 ** (a - 1);
          assert(
            gap >= base * 0.5 - 20 && gap <= base * 1.5 + 1000,
            `retry ${a + 1} came ${gap} ms after the failure; between ${
              base * 0.5
            } and ${base * 1.5} ms was configured`,
          );
          gaps.push(gap);
        }
      }

      // ---- memory over the second half ----
      const half = rss.filter(([t]) =>
        t >= loadStart + (loadEnd - loadStart) / 2
      )
        .map(([, mb]) => mb);
      const lo = Math.min(...half), hi = Math.max(...half);
      const figures = {
        seed,
        jobs: JOBS,
        tickers: {
          every1s: EVERY_1S,
          every10s: EVERY_10S,
          every60s: EVERY_60S,
        },
        sseClients: CLIENTS,
        seconds: SECONDS,
        createSeconds: Math.round(createSeconds * 10) / 10,
        apiCalls: calls,
        apiPerSecond: Math.round(calls / loadSeconds),
        apiP50Ms: Math.round(percentile(latencies, 0.5)),
        apiP99Ms: Math.round(percentile(latencies, 0.99)),
        statuses,
        ticksChecked: expected,
        missedTicks: missed,
        doubledTicks: doubled,
        latenessP50Ms: percentile(lateness, 0.5),
        latenessP99Ms: percentile(lateness, 0.99),
        latenessMaxMs: Math.max(...lateness),
        sseMB: Math.round(sseBytes / 1e5) / 10,
        sseDropped: dropped.length,
        rssMb: {
          min: Math.round(lo),
          max: Math.round(hi),
          start: Math.round(rss[0]?.[1] ?? 0),
        },
        hangRuns: Object.fromEntries(
          Object.entries(hangs).map(([k, v]) => [k, v.length]),
        ),
        closedPortMaxMs: Math.max(...refused.map((r) => r.durationMs!)),
        retryGapsMs: gaps,
      };
      console.log(`[overload] ${JSON.stringify(figures)}`);
      assertEquals(errors.slice(0, 10), [], `${errors.length} API errors`);
      assertEquals(dropped.length, 0, "event streams dropped");
      const newest = Math.max(...lastIds);
      assert(
        lastIds.every((id, i) => id > 0 && (i % 2 === 1 || newest - id < 5000)),
        `event streams fell behind: ${lastIds.slice(0, 20)}`,
      );
      assertEquals(missed, 0, `missed ticks, e.g. ${missedExamples}`);
      assertEquals(doubled, 0, "ticks run twice");
      assert(
        hi <= lo * 1.2,
        `memory over the second half went from ${lo.toFixed(0)} to ${
          hi.toFixed(0)
        } MB (more than 20%)`,
      );
      assertEquals(
        (await proc.stop()).code,
        0,
        "a graceful stop after the load",
      );
      // Nothing is left running after the graceful stop.
      const again = await startProcess({ JOBPRO_DB: db.path });
      try {
        await waitFor(async () =>
          (await again.api("GET", "/jobs/hang-function")).status === 200
        );
        const interrupted = (await allRuns(again, "hang-function")).filter((
          r,
        ) => r.error === "interrupted");
        assertEquals(
          interrupted,
          [],
          "a graceful stop leaves no run to mark interrupted",
        );
      } finally {
        await again.stop();
      }
    } finally {
      for (const c of clients) await c.close();
      if (p && !p.dead) await p.kill();
      for (const c of held) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      blackhole.close();
      await accepting;
      await db.cleanup();
    }
  },
});
