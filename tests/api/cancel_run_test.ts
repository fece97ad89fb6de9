/**
 * `POST /jobs/:id/runs/:runId/cancel` on a real jobpro (random port, a
 * DuckDB file in a temp dir): a program's process group is ended (the
 * process and its child are gone afterwards), an http action's request is
 * aborted (the target, a real TCP server that never answers, sees its
 * socket closed), the run ends cancelled with who asked, and the job keeps
 * its schedule and status; 404 for an unknown job or run, 409 once the run
 * has ended. Waits poll with a deadline or wait for the answer; no sleeps.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { call, READ_TOKEN, TOKEN, waitFor, withServer } from "./helpers.ts";

/** Whether a process is running (a zombie no init has reaped is not). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // pid (comm) state ...: the state follows the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

Deno.test("cancel: a program's process group gets SIGTERM; the run ends cancelled by api; a periodic job keeps its schedule and status", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-cancel-" });
  try {
    await withServer(async (jp) => {
      // sh starts a child sleep and waits: both are in the run's process group.
      const script =
        `sleep 30 & echo $! > ${dir}/child; echo $$ > ${dir}/sh; wait`;
      const made = await call(jp, "POST", "/jobs", {
        id: "long",
        name: "Long",
        schedule: "0 0 3 * * *",
        autoStart: true,
        action: { type: "shell", command: ["sh", "-c", script] },
      });
      assertEquals(made.status, 201, made.text);
      const ran = await call(jp, "POST", "/jobs/long/run");
      assertEquals(ran.status, 200, ran.text);
      const runId = ran.body.run.id;
      const pids = await waitFor(async () => {
        const read = (f: string) =>
          Deno.readTextFile(`${dir}/${f}`).then((t) => Number(t.trim()));
        const [sh, child] = await Promise.all([read("sh"), read("child")]);
        return sh && child && [sh, child];
      }, { what: "the program and its child started" });
      for (const pid of pids) assert(await alive(pid), `${pid} runs`);

      const r = await call(jp, "POST", `/jobs/long/runs/${runId}/cancel`);
      assertEquals(r.status, 200, r.text);
      assertEquals(r.body.id, runId);
      assertEquals(r.body.status, "cancelled");
      assertEquals(r.body.error, "cancelled by api");
      assert(r.body.endedAt !== null);
      for (const pid of pids) {
        await waitFor(async () => !(await alive(pid)), {
          what: `process ${pid} gone`,
        });
      }

      // As stored, and the job goes on as it was.
      const got = await call(jp, "GET", `/jobs/long/runs/${runId}`);
      assertEquals(got.body.status, "cancelled");
      assertEquals(got.body.error, "cancelled by api");
      const job = await call(jp, "GET", "/jobs/long");
      assertEquals(job.body.status, "scheduled");
      assertEquals(job.body.nextRunAt, made.body.nextRunAt);
      assertEquals(job.body.activeRuns, 0);
      assertEquals(job.body.lastRun.status, "cancelled");

      // Ended: 409, saying how it ended; unknown run or job: 404 naming it.
      const again = await call(jp, "POST", `/jobs/long/runs/${runId}/cancel`);
      assertEquals(again.status, 409, again.text);
      assertEquals(again.body.error.code, "conflict");
      assertStringIncludes(again.body.error.message, `run ${runId}`);
      assertStringIncludes(again.body.error.message, "has already ended");
      const noRun = await call(jp, "POST", "/jobs/long/runs/9999/cancel");
      assertEquals(noRun.status, 404, noRun.text);
      assertEquals(noRun.body.error.message, 'job "long" has no run 9999');
      const noJob = await call(jp, "POST", "/jobs/nope/runs/1/cancel");
      assertEquals(noJob.status, 404, noJob.text);
      assertStringIncludes(noJob.body.error.message, '"nope"');
      const bad = await call(jp, "POST", "/jobs/long/runs/x/cancel");
      assertEquals(bad.status, 400, bad.text);
    }, { JOBPRO_ALLOW_SHELL: "1" });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

/**
 * A real TCP server that reads each request and never answers; `closed`
 * resolves once a client's socket has closed.
 */
function silentServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connected = () => {};
  let closed = () => {};
  const seen = {
    connected: new Promise<void>((r) => (connected = r)),
    closed: new Promise<void>((r) => (closed = r)),
  };
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      connected();
      (async () => {
        const buf = new Uint8Array(4096);
        // Reads whatever comes; EOF (or a reset) is the client going away.
        while ((await conn.read(buf).catch(() => null)) !== null);
        closed();
      })();
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    ...seen,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed already */ }
      }
      await serving;
    },
  };
}

Deno.test("cancel: an http run's request is aborted (its socket is closed); a one-time job ends cancelled; the dashboard is named", async () => {
  const target = silentServer();
  try {
    await withServer(async (jp) => {
      const made = await call(jp, "POST", "/jobs", {
        id: "hang",
        name: "Hang",
        schedule: "in 1h",
        autoStart: true,
        retries: 2,
        action: { type: "http", url: `${target.url}/never` },
      });
      assertEquals(made.status, 201, made.text);
      const ran = await call(jp, "POST", "/jobs/hang/run");
      const runId = ran.body.run.id;
      await target.connected;
      // What a browser on this site sends.
      const r = await call(
        jp,
        "POST",
        `/jobs/hang/runs/${runId}/cancel`,
        undefined,
        { origin: jp.url },
      );
      assertEquals(r.status, 200, r.text);
      assertEquals(r.body.status, "cancelled");
      assertEquals(r.body.error, "cancelled by dashboard");
      await target.closed;
      // Not retried: a cancelled run is no failure.
      const runs = await call(jp, "GET", "/jobs/hang/runs");
      assertEquals(runs.body.total, 1);
      // A one-time job whose run ends cancelled is cancelled (status.ts,
      // finish), as after any cancelled run.
      const job = await call(jp, "GET", "/jobs/hang");
      assertEquals(job.body.activeRuns, 0);
      assertEquals(job.body.status, "cancelled");
    });
  } finally {
    await target.close();
  }
});

Deno.test("cancel: with JOBPRO_TOKEN the bearer token is the api; the read-only token cannot cancel", async () => {
  await withServer(async (jp) => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const made = await call(jp, "POST", "/jobs", {
      id: "nap",
      name: "Nap",
      schedule: "",
      autoStart: false,
      action: { type: "function", name: "sleep", params: { ms: 60_000 } },
    }, auth);
    const ran = await call(jp, "POST", "/jobs/nap/run", undefined, auth);
    const path = `/jobs/nap/runs/${ran.body.run.id}/cancel`;
    assertEquals((await call(jp, "POST", path)).status, 401);
    const read = await call(jp, "POST", path, undefined, {
      authorization: `Bearer ${READ_TOKEN}`,
    });
    assertEquals(read.status, 403, read.text);
    const r = await call(jp, "POST", path, undefined, auth);
    assertEquals(r.status, 200, r.text);
    assertEquals(r.body.error, "cancelled by api");
    // A manual job stays as it was.
    const job = await call(jp, "GET", "/jobs/nap", undefined, auth);
    assertEquals(job.body.status, made.body.status);
  }, { JOBPRO_TOKEN: TOKEN, JOBPRO_READ_TOKEN: READ_TOKEN });
});
