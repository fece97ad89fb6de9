/**
 * Crash: jobpro as a child process with 200 jobs (periodic every second,
 * one-time, retrying; function, http and shell actions), loaded with API
 * calls and SIGKILLed at random moments, again and again, on the same DuckDB
 * file. After each restart, from the API: every job created with a 2xx exists
 * with its last acknowledged status and definition; no run id appears twice;
 * no run of a dead process is still `running` (they are failed "interrupted");
 * no periodic tick has two runs; no one-time job has two scheduled runs; every
 * run the server acknowledged (a `POST /jobs/:id/run` answer, a committed
 * `run-started`/`run-finished` event) is there, with the status it was
 * acknowledged with. At the end, after every one-time job's time: each ran
 * exactly once (its http target saw at most one request), and the actions
 * observed from outside (http hits, shell lines) are matched to recorded runs
 * to count the runs lost in the last group-commit window before a kill.
 *
 * Scale: `JOBPRO_CRASH_KILLS` (5 in CI, 20 with JOBPRO_SOAK=1);
 * `JOBPRO_SEED` repeats the kill moments and the load.
 */
import { assert, assertEquals } from "@std/assert";
import { DuckDBInstance } from "@duckdb/node-api";
import { openDuckDBStore } from "@/lib/jobpro/mod.ts";
import {
  allJobs,
  allRuns,
  type ApiRun,
  localServer,
  openSse,
  pool,
  type Proc,
  randInt,
  scale,
  seeded,
  type SseClient,
  startProcess,
  tempDb,
  testSeed,
  waitFor,
} from "./helpers.ts";

const KILLS = scale("JOBPRO_CRASH_KILLS", 5, 20);
/** A lost run must have ended this close before a kill (the commit window plus one write). */
const LOST_WINDOW_MS = 2000;
const ARMED = ["scheduled", "running"];

type Group =
  | "periodic-noop"
  | "periodic-sleep"
  | "periodic-http"
  | "periodic-shell"
  | "periodic-retry"
  | "ops"
  | "onetime-http"
  | "onetime-retry"
  | "onetime-sleep"
  | "manual"
  | "load";

/** What the test knows about one job, from the answers it got. */
interface Known {
  id: string;
  group: Group;
  onetime: boolean;
  /** Due time of a one-time job (epoch ms). */
  dueAt?: number;
  /** Whether its creation was answered 2xx (false: sent, never answered). */
  created: "acked" | "doubt";
  deleted: "no" | "acked" | "doubt";
  /** Statuses it may have, from the last acknowledged operation (and one in doubt). */
  statuses: string[] | null;
  /** `retries` values it may have. */
  retries: number[];
  busy: boolean;
}

interface Hit {
  jobId: string;
  at: number;
}

interface Cycle {
  cycle: number;
  upMs: number;
  apiCalls: number;
  inDoubt: number;
  /** Runs whose start was acknowledged (event) and whose end was not, at the kill. */
  goingAtKill: number;
  interrupted: number;
  runsAfter: number;
}

Deno.test({
  name:
    `crash: ${KILLS} SIGKILLs under load on one DuckDB file lose no acknowledged job or run and run nothing twice`,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const seed = testSeed(20240115);
    const rand = seeded(seed);
    console.log(`[crash] seed ${seed} (JOBPRO_SEED=${seed} repeats it)`);
    const db = await tempDb();
    const evidence = `${db.dir}/evidence`;
    await Deno.mkdir(evidence);
    const hits: Hit[] = [];
    const target = localServer((req) => {
      const m = new URL(req.url).pathname.match(/^\/hit\/(.+)$/);
      if (m) hits.push({ jobId: decodeURIComponent(m[1]), at: Date.now() });
      return new Response("ok");
    });
    const env = {
      JOBPRO_DB: db.path,
      JOBPRO_ALLOW_SHELL: "1",
      JOBPRO_SHUTDOWN_GRACE_MS: "2000",
    };
    const known = new Map<string, Known>();
    const ackedRuns = new Map<number, { jobId: string; status: string }>();
    const killTimes: number[] = [];
    const cycles: Cycle[] = [];
    const procs: Proc[] = [];
    let proc: Proc | null = null;
    let sse: SseClient | null = null;
    let apiCalls = 0;
    let seen = { runs: 0, interrupted: 0, startup: 0 };
    try {
      proc = await startProcess(env);
      procs.push(proc);
      // ---- 200 jobs ----
      const t0 = Date.now();
      const campaignMs = KILLS * 4500;
      const defs: [Group, Record<string, unknown>][] = [];
      const http = (id: string) => ({
        type: "http",
        url: `${target.url}/hit/${id}`,
      });
      const add = (
        group: Group,
        n: number,
        def: (id: string, i: number) => Record<string, unknown>,
      ) => {
        for (let i = 0; i < n; i++) {
          const id = `${group}-${i}`;
          defs.push([group, { id, name: id, ...def(id, i) }]);
        }
      };
      const every = "* * * * * *";
      const noop = { type: "function", name: "noop" };
      add("periodic-noop", 50, (_, i) => ({
        schedule: every,
        action: noop,
        catchUp: i % 2 ? "once" : "skip",
      }));
      add("periodic-sleep", 10, () => ({
        schedule: every,
        action: { type: "function", name: "sleep", params: { ms: 1500 } },
      }));
      add("periodic-http", 20, (id) => ({ schedule: every, action: http(id) }));
      add("periodic-shell", 10, (id) => ({
        schedule: "*/2 * * * * *",
        action: {
          type: "shell",
          command: ["sh", "-c", `date +%s%3N >> ${evidence}/${id}`],
        },
      }));
      add("periodic-retry", 10, () => ({
        schedule: "*/3 * * * * *",
        action: { type: "function", name: "fail" },
        retries: 2,
        retryDelayMs: 300,
      }));
      add("ops", 20, () => ({ schedule: every, action: noop, retries: 0 }));
      const dueAt = (i: number, n: number) =>
        t0 + 3000 + Math.round((i / n) * campaignMs);
      const iso = (ms: number) => new Date(ms).toISOString();
      add("onetime-http", 40, (id, i) => ({
        schedule: iso(dueAt(i, 40)),
        action: http(id),
      }));
      add("onetime-retry", 10, (_, i) => ({
        schedule: iso(dueAt(i + 0.5, 10)),
        action: { type: "function", name: "fail" },
        retries: 1,
        retryDelayMs: 500,
      }));
      add("onetime-sleep", 10, (_, i) => ({
        schedule: iso(dueAt(i + 0.25, 10)),
        action: { type: "function", name: "sleep", params: { ms: 800 } },
      }));
      add("manual", 20, (id) => ({
        schedule: "",
        autoStart: false,
        action: http(id),
      }));
      assertEquals(defs.length, 200);
      await pool(defs, 8, async ([group, def]) => {
        const r = await proc!.api("POST", "/jobs", def);
        assertEquals(r.status, 201, r.text);
        const onetime = group.startsWith("onetime");
        known.set(String(def.id), {
          id: String(def.id),
          group,
          onetime,
          dueAt: onetime ? Date.parse(String(def.schedule)) : undefined,
          created: "acked",
          deleted: "no",
          statuses: group === "manual"
            ? ["created"]
            : group.startsWith("periodic") || group === "ops"
            ? ARMED
            : null,
          retries: [Number(def.retries ?? 0)],
          busy: false,
        });
      });

      // ---- kill, restart, check; KILLS times ----
      let loadSeq = 0;
      for (let cycle = 1; cycle <= KILLS; cycle++) {
        const p = proc!;
        sse = await openSse(
          `${p.url}/jobs/events?types=run-started,run-finished`,
        );
        // Load until the kill.
        let killed = false;
        const callsBefore = apiCalls;
        const doubt: (() => void)[] = [];
        const call = async (
          method: string,
          path: string,
          body?: unknown,
        ) => {
          apiCalls++;
          return await p.api(method, path, body);
        };
        const pick = (pred: (k: Known) => boolean) => {
          const all = [...known.values()].filter((k) =>
            !k.busy && k.deleted === "no" && k.created === "acked" && pred(k)
          );
          return all.length ? all[randInt(0, all.length - 1, rand)] : null;
        };
        /** Runs one operation on `k`; a call that never gets an answer leaves it in doubt. */
        const op = async (
          k: Known,
          send: () => Promise<{ status: number; body: unknown }>,
          onAck: (body: unknown) => void,
          onDoubt: () => void,
        ) => {
          k.busy = true;
          try {
            const r = await send();
            if (r.status >= 200 && r.status < 300) onAck(r.body);
            else if (!killed) {
              throw new Error(
                `${k.id}: unexpected ${r.status} ${JSON.stringify(r.body)}`,
              );
            }
          } catch (e) {
            if (!killed) throw e;
            doubt.push(onDoubt);
          } finally {
            k.busy = false;
          }
        };
        const worker = async () => {
          while (!killed) {
            const dice = rand();
            if (dice < 0.25) {
              const k = pick((k) => k.group === "manual");
              if (!k) continue;
              await op(
                k,
                () => call("POST", `/jobs/${k.id}/run`),
                (b) => {
                  const run = (b as { run: { id: number } }).run;
                  ackedRuns.set(run.id, { jobId: k.id, status: "any" });
                },
                () => {},
              );
            } else if (dice < 0.4) {
              const id = `load-${cycle}-${loadSeq++}`;
              const periodic = rand() < 0.5;
              const k: Known = {
                id,
                group: "load",
                onetime: !periodic,
                created: "doubt",
                deleted: "no",
                statuses: periodic ? ARMED : ["created"],
                retries: [0],
                busy: false,
              };
              known.set(id, k);
              await op(
                k,
                () =>
                  call("POST", "/jobs", {
                    id,
                    name: id,
                    schedule: periodic ? "*/5 * * * * *" : "",
                    autoStart: periodic,
                    action: noop,
                  }),
                () => (k.created = "acked"),
                () => {},
              );
            } else if (dice < 0.5) {
              const k = pick((k) => k.group === "load");
              if (!k) continue;
              await op(
                k,
                () => call("DELETE", `/jobs/${k.id}`),
                () => (k.deleted = "acked"),
                () => (k.deleted = "doubt"),
              );
            } else if (dice < 0.8) {
              const k = pick((k) => k.group === "ops");
              if (!k) continue;
              const now = k.statuses!;
              const choices: [string, string[]][] = now.includes("paused")
                ? [["resume", ARMED], ["stop", ["stopped"]]]
                : now.includes("stopped")
                ? [["start", ARMED]]
                : [["pause", ["paused"]], ["stop", ["stopped"]], [
                  "patch",
                  ARMED,
                ]];
              const [name, after] =
                choices[randInt(0, choices.length - 1, rand)];
              if (name === "patch") {
                const retries = randInt(0, 9, rand);
                const before = k.retries;
                await op(
                  k,
                  () => call("PATCH", `/jobs/${k.id}`, { retries }),
                  () => (k.retries = [retries]),
                  () => (k.retries = [...before, retries]),
                );
              } else {
                const before = now;
                await op(
                  k,
                  () => call("POST", `/jobs/${k.id}/${name}`),
                  () => (k.statuses = after),
                  () => (k.statuses = [...new Set([...before, ...after])]),
                );
              }
            } else {
              const k = pick(() => true);
              if (!k) continue;
              const path = rand() < 0.5
                ? `/jobs/${k.id}/runs?limit=20`
                : `/jobs?limit=50&offset=${randInt(0, 200, rand)}`;
              try {
                const r = await call("GET", path);
                if (!killed && r.status !== 200) {
                  throw new Error(`GET ${path}: ${r.status} ${r.text}`);
                }
              } catch (e) {
                if (!killed) throw e;
              }
            }
          }
        };
        const upMs = randInt(1200, 4000, rand);
        // A worker's failure is kept until the kill, not left unhandled.
        const workers = Array.from(
          { length: 4 },
          () => worker().then(() => null, (e: unknown) => e),
        );
        await new Promise((r) => setTimeout(r, upMs));
        // From here on, a request that fails was cut by the kill.
        killed = true;
        await p.kill();
        killTimes.push(Date.now());
        const failed = (await Promise.all(workers)).find((e) => e !== null);
        if (failed) throw failed;
        for (const d of doubt) d();
        await sse.close();
        // Runs the server acknowledged through committed events.
        const going = new Set<number>();
        for (const e of sse.events) {
          if (e.event !== "run-started" && e.event !== "run-finished") continue;
          const id = JSON.parse(e.data).id;
          if (e.event === "run-started") going.add(id);
          else going.delete(id);
        }
        for (const e of sse.events) {
          if (e.event !== "run-started" && e.event !== "run-finished") continue;
          const run = JSON.parse(e.data);
          const prev = ackedRuns.get(run.id);
          if (e.event === "run-finished" || !prev) {
            ackedRuns.set(run.id, {
              jobId: run.jobId,
              status: e.event === "run-finished" ? run.status : "started",
            });
          }
        }
        sse = null;
        proc = await startProcess(env);
        procs.push(proc);
        const checked = await check(proc, cycle);
        cycles.push({
          cycle,
          upMs,
          apiCalls: apiCalls - callsBefore,
          inDoubt: doubt.length,
          goingAtKill: going.size,
          interrupted: checked.interrupted,
          runsAfter: checked.runs,
        });
        seen = checked;
      }

      // ---- the end: every one-time job's time has come and gone ----
      const lastDue = Math.max(
        ...[...known.values()].map((k) => k.dueAt ?? 0),
      );
      await waitFor(async () => {
        if (Date.now() < lastDue + 1000) return false;
        const jobs = await allJobs(proc!);
        return jobs.every((j) =>
          j.type !== "onetime" || j.schedule === "" ||
          !["scheduled", "running"].includes(j.status)
        );
      }, {
        timeoutMs: campaignMs + 60_000,
        intervalMs: 200,
        what: "every one-time job to be done",
      });
      const final = await check(proc!, KILLS + 1, { final: true });
      seen = final;
      const status = await proc!.stop();
      assertEquals(status.code, 0, "a graceful stop exits 0");
      await checkFile(db.path, known);

      console.log(
        `[crash] ${
          JSON.stringify({
            seed,
            kills: KILLS,
            jobs: [...known.values()].filter((k) => k.deleted === "no").length,
            apiCalls,
            ackedRunsChecked: ackedRuns.size,
            runs: seen.runs,
            interrupted: seen.interrupted,
            startupRuns: seen.startup,
            observedExecutions: final.observed,
            lostRuns: final.lost.length,
            lostMaxMsBeforeKill: final.lost.length
              ? Math.max(...final.lost.map((l) => l.beforeKillMs))
              : null,
            cycles,
          })
        }`,
      );
    } finally {
      await sse?.close();
      for (const p of procs) if (!p.dead) await p.kill();
      await target.close();
      await db.cleanup();
    }

    /** Checks every invariant against what a freshly started process serves. */
    async function check(
      p: Proc,
      cycle: number,
      { final = false } = {},
    ) {
      const where = `after restart ${cycle}`;
      // What was seen from outside before the runs are read: each of these
      // executions had its run started (and queried) by then.
      const snapshotAt = Date.now();
      const observed: Hit[] = [...hits];
      for await (const f of Deno.readDir(evidence)) {
        const text = await Deno.readTextFile(`${evidence}/${f.name}`);
        for (const line of text.split("\n").filter(Boolean)) {
          const at = Number(line);
          if (at <= snapshotAt) observed.push({ jobId: f.name, at });
        }
      }
      const jobs = new Map(
        (await allJobs(p)).map((j) => [j.id as string, j]),
      );
      for (const k of known.values()) {
        const job = jobs.get(k.id);
        if (k.created === "doubt" && job) k.created = "acked";
        if (k.deleted === "doubt") k.deleted = job ? "no" : "acked";
        if (k.created === "doubt" && !job) {
          known.delete(k.id); // its creation never committed
          continue;
        }
        if (k.deleted === "acked") {
          assert(!job, `${where}: ${k.id} was deleted (204) but is back`);
          continue;
        }
        assert(job, `${where}: ${k.id} was created (201) but is gone`);
        if (k.statuses) {
          assert(
            k.statuses.includes(job.status),
            `${where}: ${k.id} is ${job.status}, expected one of ${k.statuses}`,
          );
          if (
            k.statuses.length > 1 && !k.statuses.every((s) => ARMED.includes(s))
          ) {
            k.statuses = ARMED.includes(job.status) ? ARMED : [job.status];
          }
        }
        assert(
          k.retries.includes(job.retries),
          `${where}: ${k.id} has retries ${job.retries}, expected ${k.retries}`,
        );
        k.retries = [job.retries];
      }
      for (const id of jobs.keys()) {
        assert(known.has(id), `${where}: job ${id} was never created`);
      }
      // Runs.
      const runsOf = new Map<string, ApiRun[]>();
      await pool([...jobs.keys()], 8, async (id) => {
        runsOf.set(id, await allRuns(p, id));
      });
      const ids = new Map<number, ApiRun>();
      let runs = 0, interrupted = 0, startup = 0;
      for (const [jobId, list] of runsOf) {
        const k = known.get(jobId)!;
        const ticks = new Set<string>();
        let scheduled = 0;
        for (const r of list) {
          runs++;
          const dup = ids.get(r.id);
          assert(
            !dup,
            `${where}: run id ${r.id} appears twice: ${
              JSON.stringify(dup)
            } and ${JSON.stringify(r)}`,
          );
          ids.set(r.id, r);
          if (r.error === "interrupted") interrupted++;
          if (r.trigger === "startup") startup++;
          assert(
            r.status !== "running" || Date.parse(r.startedAt) >= p.startedAt,
            `${where}: run ${r.id} of ${jobId} from a dead process is still running: ${
              JSON.stringify(r)
            }`,
          );
          if (r.trigger === "schedule") {
            scheduled++;
            if (!k.onetime) {
              assert(
                !ticks.has(r.scheduledFor!),
                `${where}: tick ${r.scheduledFor} of ${jobId} ran twice`,
              );
              ticks.add(r.scheduledFor!);
              // A tick from before the kill (maybe run, its record lost) is
              // never run by the next process.
              const lastKill = killTimes.at(-1);
              if (
                lastKill !== undefined &&
                Date.parse(r.startedAt) >= p.startedAt
              ) {
                assert(
                  Date.parse(r.scheduledFor!) > lastKill,
                  `${where}: ${jobId} ran tick ${r.scheduledFor}, from before the kill at ${
                    new Date(lastKill).toISOString()
                  }`,
                );
              }
            }
          }
        }
        if (k.onetime && k.group !== "load") {
          assert(
            scheduled <= 1,
            `${where}: one-time job ${jobId} has ${scheduled} scheduled runs: ${
              JSON.stringify(list)
            }`,
          );
          if (final) {
            assertEquals(
              scheduled,
              1,
              `${where}: one-time job ${jobId} (due ${
                new Date(k.dueAt!).toISOString()
              }) ran ${scheduled} times`,
            );
            const attempts = list.filter((r) =>
              r.trigger === "schedule" || r.trigger === "retry"
            ).length;
            const budget = 1 + k.retries[0];
            assert(
              attempts <= budget,
              `${where}: one-time job ${jobId} made ${attempts} attempts, at most ${budget} allowed`,
            );
          }
        }
      }
      for (const [id, acked] of ackedRuns) {
        const r = ids.get(id);
        const job = known.get(acked.jobId);
        if (!job || job.deleted !== "no") continue;
        assert(r, `${where}: acknowledged run ${id} of ${acked.jobId} is gone`);
        assertEquals(r.jobId, acked.jobId, `${where}: run ${id}'s job`);
        if (!["any", "started"].includes(acked.status)) {
          assertEquals(
            r.status,
            acked.status,
            `${where}: run ${id} was acknowledged ${acked.status}`,
          );
        }
      }
      if (!final) return { runs, interrupted, startup, observed: 0, lost: [] };

      // External evidence: every http request and shell line is one
      // execution; match each to a recorded run of its job.
      observed.sort((a, b) => a.at - b.at);
      const lost: { jobId: string; at: number; beforeKillMs: number }[] = [];
      const used = new Set<number>();
      const SLACK = 25;
      for (const h of observed) {
        const k = known.get(h.jobId);
        if (!k || k.deleted !== "no") continue;
        const candidates = (runsOf.get(h.jobId) ?? []).filter((r) =>
          !used.has(r.id) && Date.parse(r.startedAt) - SLACK <= h.at &&
          (r.endedAt === null || Date.parse(r.endedAt) + SLACK >= h.at)
        ).sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
        if (candidates.length) {
          used.add(candidates[0].id);
          continue;
        }
        const kill = killTimes.find((t) => t >= h.at);
        lost.push({
          jobId: h.jobId,
          at: h.at,
          beforeKillMs: kill === undefined ? Infinity : kill - h.at,
        });
      }
      for (const l of lost) {
        assert(
          l.beforeKillMs <= LOST_WINDOW_MS,
          `an execution of ${l.jobId} at ${
            new Date(l.at).toISOString()
          } has no run, and it was ${l.beforeKillMs} ms before a kill (not in the last commit window)`,
        );
      }
      // An http one-time job's target saw it at most once, ever.
      for (const k of known.values()) {
        if (k.group !== "onetime-http") continue;
        const n = hits.filter((h) => h.jobId === k.id).length;
        assert(n <= 1, `one-time job ${k.id} was executed ${n} times`);
      }
      // A completed http or shell run was seen from outside.
      for (const [jobId, list] of runsOf) {
        const k = known.get(jobId)!;
        if (
          !["periodic-http", "onetime-http", "manual", "periodic-shell"]
            .includes(k.group)
        ) continue;
        for (const r of list) {
          if (
            r.status === "complete" &&
            Date.parse(r.endedAt!) < snapshotAt - 100
          ) {
            assert(
              used.has(r.id),
              `run ${r.id} of ${jobId} completed but its action was never seen`,
            );
          }
        }
      }
      return { runs, interrupted, startup, observed: observed.length, lost };
    }
  },
});

/** The file itself, opened after a graceful stop: the same jobs, no run twice, none left running. */
async function checkFile(path: string, known: Map<string, Known>) {
  const store = await openDuckDBStore(path);
  try {
    const ids = (await store.loadJobs()).map((s) => s.job.id).sort();
    const expected = [...known.values()].filter((k) => k.deleted === "no")
      .map((k) => k.id).sort();
    assertEquals(ids, expected, "the jobs in the file");
    assertEquals(
      (await store.recoverInterrupted(Date.now())).length,
      0,
      "nothing is left running after a graceful stop",
    );
  } finally {
    await store.close();
  }
  const instance = await DuckDBInstance.create(path);
  const c = await instance.connect();
  try {
    const dups = (await c.runAndReadAll(
      `SELECT id, count(*)::INTEGER AS n FROM (SELECT id FROM runs UNION ALL SELECT id FROM runs_running)
       GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 5`,
    )).getRowObjectsJson();
    assertEquals(dups, [], "run ids stored twice in the file");
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}
