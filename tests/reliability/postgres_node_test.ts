/**
 * One jobpro node on PostgreSQL, end to end: real jobpro processes (the
 * start task's command line) on a real PostgreSQL from npm
 * (tests/pg/server.ts, one server for this file, a schema per test).
 *
 * - `JOBPRO_DB=postgres://...` selects PostgreSQL; a bad URL and an
 *   unreachable server are each a one-line message and a non-zero exit,
 *   not a stack trace. A second node on the same schema joins the first.
 * - Jobs created over the API run and are recorded in PostgreSQL: an
 *   every-second job, run-now, pause, delete, the runs list and stats.
 * - SIGKILL mid-run, then a restart: the interrupted run is failed
 *   "interrupted", no tick ran twice, every job is still there.
 * - PostgreSQL stopped for a few seconds: writes and the reads that need the
 *   database answer 503, /healthz says why, nothing starts, the process
 *   lives; started again, everything works without a restart.
 *
 * Every wait polls with a deadline.
 */
import { assert, assertEquals } from "@std/assert";
import { type PgServer, query, startPostgres } from "../pg/server.ts";
import {
  allRuns,
  type ApiRun,
  type Proc,
  startProcess,
  waitFor,
} from "./helpers.ts";

const noop = { type: "function", name: "noop" } as const;

let serverOnce: Promise<PgServer> | undefined;
/** This file's PostgreSQL, started by the first test that needs it. */
const server = () => serverOnce ??= startPostgres();

let schemas = 0;
/** The environment of a node on a schema of its own. */
async function nodeEnv(): Promise<Record<string, string>> {
  const s = await server();
  return {
    JOBPRO_DB: s.url(),
    JOBPRO_PG_SCHEMA: `node_${Deno.pid}_${++schemas}`,
  };
}

/** An every-second job (`every`) or a manual one (`manual`): the create's answer. */
function createJob(
  node: Proc,
  id: string,
  kind: "every" | "manual",
  action: unknown = noop,
) {
  return node.api("POST", "/jobs", {
    id,
    name: id,
    action,
    ...(kind === "every"
      ? { schedule: "* * * * * *" }
      : { schedule: "", autoStart: false }),
  });
}

/** A process that must exit by itself: its exit code and what it wrote. */
async function refused(env: Record<string, string>) {
  const p = await startProcess(env, { healthy: false });
  const deadline = setTimeout(() => p.kill(), 30_000);
  const { code } = await p.exited;
  clearTimeout(deadline);
  return { code, log: p.log().trim() };
}

/** Every tick a job's schedule ran, once each (a tick run twice is the bug). */
function assertTicksOnce(runs: ApiRun[], what: string) {
  const ticks = runs.filter((r) => r.trigger === "schedule").map((r) =>
    r.scheduledFor
  );
  assertEquals(new Set(ticks).size, ticks.length, `${what}: no tick ran twice`);
}

const stopAll = async (procs: Proc[]) => {
  for (const p of procs) if (!p.dead) await p.kill();
};

Deno.test({
  name:
    "postgres node: a bad URL and an unreachable server are refused with a message and a non-zero exit",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const bad = await refused({ JOBPRO_DB: "postgres:///jobs" });
    assertEquals(bad.code, 2, bad.log);
    assertEquals(
      bad.log,
      "[jobpro] configuration: JOBPRO_DB is not a usable PostgreSQL URL: it names no host; write it as postgres://user:password@host:5432/database",
    );
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = (l.addr as Deno.NetAddr).port;
    l.close();
    const gone = await refused({
      JOBPRO_DB: `postgresql://jobpro:secret@127.0.0.1:${closedPort}/jobs`,
    });
    assertEquals(gone.code, 1, gone.log);
    assert(
      gone.log.startsWith(
        `[jobpro] cannot start: cannot open the PostgreSQL database 127.0.0.1:${closedPort}/jobs:`,
      ),
      gone.log,
    );
    assert(!gone.log.includes("secret"), "the password is never shown");

    for (const r of [bad, gone]) {
      assert(!/^\s+at /m.test(r.log), `no stack trace: ${r.log}`);
    }
  },
});

Deno.test({
  name:
    "postgres node: a second node on the schema joins the first: both answer for every job, and a stopped node's jobs go on",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await nodeEnv();
    const first = await startProcess(env);
    const procs = [first];
    try {
      const r = await createJob(first, "shared", "every");
      assertEquals(r.status, 201, r.text);
      const second = await startProcess(env);
      procs.push(second);
      assertEquals((await second.api("GET", "/jobs/shared")).status, 200);
      const made = await createJob(second, "made-on-second", "manual");
      assertEquals(made.status, 201, made.text);
      await waitFor(
        async () =>
          (await first.api("GET", "/jobs/made-on-second")).status === 200,
        { what: "the first node sees the second's job" },
      );
      assertEquals((await first.stop()).code, 0);
      const stoppedAt = Date.now();
      await waitFor(
        async () =>
          (await allRuns(second, "shared")).some((t) =>
            Date.parse(t.startedAt) > stoppedAt + 1000
          ),
        { what: "the job ticks on the second node", timeoutMs: 15_000 },
      );
      assertTicksOnce(await allRuns(second, "shared"), "shared");
      assertEquals((await second.stop()).code, 0);
    } finally {
      await stopAll(procs);
    }
  },
});

Deno.test({
  name:
    "postgres node: an every-second job runs and is recorded in PostgreSQL; run-now, pause, delete, runs and stats answer",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const env = await nodeEnv();
    const procs: Proc[] = [];
    try {
      const node = await startProcess(env);
      procs.push(node);
      assert(
        node.log().includes(
          `(database PostgreSQL 127.0.0.1:${
            new URL(env.JOBPRO_DB).port
          }/postgres, schema ${env.JOBPRO_PG_SCHEMA})`,
        ),
        node.log(),
      );
      for (const [id, kind] of [["tick", "every"], ["manual", "manual"]]) {
        const r = await createJob(node, id, kind as "every" | "manual");
        assertEquals(r.status, 201, r.text);
      }
      await waitFor(
        async () =>
          (await allRuns(node, "tick")).filter((r) => r.status === "complete")
            .length >= 2,
        { what: "two ticks run", timeoutMs: 15_000 },
      );

      const now = await node.api("POST", "/jobs/manual/run");
      assertEquals(now.status, 200, now.text);
      const runId = now.body.run.id;
      await waitFor(
        async () =>
          (await node.api("GET", `/jobs/manual/runs/${runId}`)).body?.status ===
            "complete",
        { what: "the manual run to end" },
      );

      const page = await node.api("GET", "/jobs/tick/runs?limit=1");
      assertEquals(page.status, 200, page.text);
      assertEquals(page.body.runs.length, 1);
      assert(page.body.total >= 2, page.text);
      const stats = await node.api("GET", "/jobs/tick/stats");
      assertEquals(stats.status, 200, stats.text);
      assert(stats.body.runs >= 2, stats.text);
      assertEquals(stats.body.successRate, 100);

      const paused = await node.api("POST", "/jobs/tick/pause");
      assertEquals([paused.status, paused.body?.status], [200, "paused"]);
      const before = (await allRuns(node, "tick")).length;
      const pausedAt = Date.now();
      // Two tick times pass with no run.
      await waitFor(() => Date.now() > pausedAt + 2_100, { timeoutMs: 5_000 });
      assertEquals((await allRuns(node, "tick")).length, before, "paused");

      const del = await node.api("DELETE", "/jobs/manual");
      assertEquals(del.status, 204, del.text);
      assertEquals((await node.api("GET", "/jobs/manual")).status, 404);

      // It is all in PostgreSQL, in the node's schema.
      const s = env.JOBPRO_PG_SCHEMA;
      const { rows } = await query(
        env.JOBPRO_DB,
        `SELECT (SELECT count(*) FROM ${s}.runs WHERE job_id = 'tick')::int AS runs,
          (SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM ${s}.jobs) AS jobs,
          (SELECT count(*) FROM ${s}.runs WHERE job_id = 'manual')::int AS gone`,
      );
      assertEquals(rows[0], { runs: before, jobs: "tick:paused", gone: 0 });
      assertTicksOnce(await allRuns(node, "tick"), "tick");
      assertEquals((await node.stop()).code, 0);
    } finally {
      await stopAll(procs);
    }
  },
});

Deno.test({
  name:
    "postgres node: SIGKILL mid-run, then a restart: the run is failed 'interrupted', no tick ran twice, every job is there",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The last stop does not wait for the 60 s run.
    const env = { ...await nodeEnv(), JOBPRO_SHUTDOWN_GRACE_MS: "200" };
    const procs: Proc[] = [];
    try {
      const first = await startProcess(env);
      procs.push(first);
      for (
        const [id, action] of [
          ["tick", noop],
          ["slow", {
            type: "function",
            name: "sleep",
            params: { ms: 60_000 },
          }],
        ] as const
      ) {
        const r = await createJob(first, id, "every", action);
        assertEquals(r.status, 201, r.text);
      }
      const going = await waitFor(async () => {
        const runs = await allRuns(first, "slow");
        return runs.length === 1 && runs[0].status === "running" && runs[0];
      }, { what: "the slow run recorded as running", timeoutMs: 15_000 });
      await waitFor(async () => (await allRuns(first, "tick")).length >= 2, {
        what: "two ticks",
        timeoutMs: 15_000,
      });
      await first.kill();
      const second = await startProcess(env);
      procs.push(second);
      // The dead node's run is the reaper's: any node ends it once it sees
      // the node gone (its connection, or its lease at the latest).
      const slow = await waitFor(async () => {
        const runs = await allRuns(second, "slow");
        return runs.find((r) => r.id === going.id)?.status !== "running" &&
          runs;
      }, { what: "the killed node's run ended" });
      const ended = slow.find((r) => r.id === going.id);
      assertEquals(
        [ended?.status, ended?.error],
        ["failed", "interrupted"],
        JSON.stringify(slow),
      );
      assertEquals(
        slow.filter((r) => r.status === "running" && r.id <= going.id),
        [],
        "no run of the killed process is left running",
      );
      const upAt = second.startedAt;
      await waitFor(
        async () =>
          (await allRuns(second, "tick")).filter((r) =>
            Date.parse(r.startedAt) >= upAt && r.status === "complete"
          ).length >= 2,
        { what: "ticks after the restart", timeoutMs: 15_000 },
      );
      assertTicksOnce(await allRuns(second, "tick"), "tick");
      assertTicksOnce(await allRuns(second, "slow"), "slow");
      const jobs = (await second.api("GET", "/jobs")).body.jobs;
      assertEquals(
        jobs.map((j: { id: string }) => j.id).sort(),
        ["slow", "tick"],
      );
      const job = (await second.api("GET", "/jobs/slow")).body;
      assert(job.runCount >= 1 && job.status !== "failed", JSON.stringify(job));
      assertEquals((await second.stop()).code, 0);
    } finally {
      await stopAll(procs);
    }
  },
});

Deno.test({
  name:
    "postgres node: PostgreSQL stopped for a few seconds: 503s and a reason while down, nothing starts, no crash; started again, everything works",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const pgServer = await server();
    const env = await nodeEnv();
    const procs: Proc[] = [];
    try {
      const node = await startProcess(env);
      procs.push(node);
      const r = await createJob(node, "tick", "every");
      assertEquals(r.status, 201, r.text);
      await waitFor(async () => (await allRuns(node, "tick")).length >= 1, {
        what: "a first tick",
        timeoutMs: 15_000,
      });

      await pgServer.stop("fast");
      const downAt = Date.now();
      const health = await waitFor(async () => {
        const h = await node.api("GET", "/healthz");
        return h.status === 503 && h.body;
      }, { what: "/healthz to say 503" });
      assertEquals(health.status, "unavailable");
      assert(/database/.test(health.reason), JSON.stringify(health));
      // While it stays down (a few seconds), every write and every read
      // that needs the database is a 503; what is in memory still answers.
      let writes = 0;
      while (Date.now() < downAt + 3_000) {
        assert(!node.dead, `the process died:\n${node.log()}`);
        const create = await createJob(
          node,
          `while-down-${writes++}`,
          "manual",
        );
        assertEquals(create.status, 503, create.text);
        assertEquals(create.body?.error?.code, "unavailable", create.text);
        for (const path of ["/jobs/tick/runs", "/jobs/tick/stats"]) {
          const read = await node.api("GET", path);
          assertEquals(read.status, 503, `${path}: ${read.text}`);
        }
        const runNow = await node.api("POST", "/jobs/tick/run");
        assertEquals(runNow.status, 503, runNow.text);
        assertEquals((await node.api("GET", "/jobs/tick")).status, 200);
        assertEquals((await node.api("GET", "/healthz")).status, 503);
        await new Promise((res) => setTimeout(res, 200));
      }
      await pgServer.start();
      const upAt = Date.now();
      await waitFor(
        async () => (await node.api("GET", "/healthz")).status === 200,
        {
          what: "/healthz to say 200 again",
          timeoutMs: 20_000,
        },
      );
      const after = await createJob(node, "after", "manual");
      assertEquals(after.status, 201, after.text);
      await waitFor(
        async () =>
          (await allRuns(node, "tick")).some((t) =>
            Date.parse(t.startedAt) >= upAt && t.status === "complete"
          ),
        { what: "ticks recorded again", timeoutMs: 15_000 },
      );
      const runs = await allRuns(node, "tick");
      assertEquals(
        runs.filter((t) =>
          Date.parse(t.startedAt) > downAt + 500 &&
          Date.parse(t.startedAt) < upAt
        ),
        [],
        "nothing started while the database was down",
      );
      assertTicksOnce(runs, "tick");
      for (let i = 0; i < writes; i++) {
        assertEquals(
          (await node.api("GET", `/jobs/while-down-${i}`)).status,
          404,
          "a 503 changed nothing",
        );
      }
      assert(!node.dead);
      assertEquals((await node.stop()).code, 0);
    } finally {
      await stopAll(procs);
    }
  },
});
