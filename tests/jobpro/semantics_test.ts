import { emptyBatch } from "@/lib/jobpro/store.ts";
import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import {
  type Clock,
  createManager,
  JobproError,
  type Manager,
  openDuckDBStore,
  type Run,
} from "@/lib/jobpro/mod.ts";
import { localServer, tempDb, waitFor } from "../helpers.ts";

const noop = { type: "function", name: "noop" } as const;
const sleep = (ms: number) =>
  ({ type: "function", name: "sleep", params: { ms } }) as const;

async function open(
  path: string,
  opts: { clock?: Clock; allowShell?: boolean; maxRunsPerJob?: number } = {},
) {
  return await createManager({
    store: await openDuckDBStore(path),
    log: () => {},
    killGraceMs: 300,
    ...opts,
  });
}

async function withManager(
  fn: (m: Manager) => Promise<void>,
  opts: { allowShell?: boolean } = {},
) {
  const db = await tempDb();
  const m = await open(db.path, opts);
  try {
    await fn(m);
  } finally {
    await m.shutdown({ graceMs: 3000 });
    await db.cleanup();
  }
}

const offsetClock = (ms: number): Clock => ({ now: () => Date.now() + ms });

Deno.test("overlap skip: a tick that finds the previous run going is skipped and counted", async () => {
  await withManager(async (m) => {
    let maxActive = 0;
    m.events.subscribe((e) => {
      if (e.type === "job-update") {
        maxActive = Math.max(maxActive, e.job.activeRuns);
      }
    });
    await m.create({
      id: "s",
      name: "s",
      schedule: "* * * * * *",
      action: sleep(2200),
    });
    await waitFor(() => m.get("s").skippedRuns >= 1, {
      what: "a skipped tick",
    });
    assertEquals(maxActive <= 1, true, "never two runs at once");
  });
});

Deno.test("overlap allow: runs may go side by side", async () => {
  await withManager(async (m) => {
    await m.create({
      id: "a",
      name: "a",
      schedule: "* * * * * *",
      overlap: "allow",
      action: sleep(2500),
    });
    await waitFor(() => m.get("a").activeRuns >= 2, {
      what: "two runs at once",
    });
    assertEquals(m.get("a").skippedRuns, 0);
  });
});

Deno.test("overlap replace: the running one is aborted when the next tick starts", async () => {
  await withManager(async (m) => {
    await m.create({
      id: "r",
      name: "r",
      schedule: "* * * * * *",
      overlap: "replace",
      action: sleep(60_000),
    });
    const replaced = await waitFor(async () => {
      const { runs } = await m.runs("r", { status: "cancelled" });
      return runs[0];
    }, { what: "a replaced run" });
    assertEquals(replaced.error, "replaced by a newer run");
  });
});

Deno.test("shell: output tails kept, non-zero exit fails, and timeout kills the whole process group", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withManager(async (m) => {
      await m.create({
        id: "sh",
        name: "sh",
        schedule: "",
        autoStart: false,
        action: {
          type: "shell",
          command: ["sh", "-c", "echo out; echo err >&2; exit 3"],
        },
      });
      const run = await m.runNow("sh");
      const done = await waitFor(async () => {
        const r = await m.run("sh", run.id);
        return r.status !== "running" && r;
      });
      assertEquals(done.status, "failed");
      assertStringIncludes(done.error!, "exit code 3");
      assertStringIncludes(done.output!, "out");
      assertStringIncludes(done.output!, "[stderr] err");

      const pidFile = `${dir}/child.pid`;
      await m.create({
        id: "hang",
        name: "hang",
        schedule: "",
        autoStart: false,
        timeoutMs: 300,
        action: {
          type: "shell",
          command: ["sh", "-c", `sleep 30 & echo $! > ${pidFile}; wait`],
        },
      });
      const hang = await m.runNow("hang");
      const ended = await waitFor(async () => {
        const r = await m.run("hang", hang.id);
        return r.status !== "running" && r;
      });
      assertEquals(ended.status, "failed");
      assertEquals(ended.error, "timed out after 300 ms");
      const pid = Number((await Deno.readTextFile(pidFile)).trim());
      await waitFor(() => {
        try {
          Deno.kill(pid, "SIGCONT"); // signal 0 is not offered; SIGCONT is harmless
          return false;
        } catch {
          return true; // gone
        }
      }, { what: `grandchild ${pid} killed` });
    }, { allowShell: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shell: a program that ignores SIGTERM gets SIGKILL after the grace period", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withManager(async (m) => {
      const pidFile = `${dir}/stubborn.pid`;
      await m.create({
        id: "stubborn",
        name: "stubborn",
        schedule: "",
        autoStart: false,
        timeoutMs: 200,
        action: {
          type: "shell",
          command: [
            "sh",
            "-c",
            `trap '' TERM; echo $$ > ${pidFile}; while :; do sleep 0.05; done`,
          ],
        },
      });
      const run = await m.runNow("stubborn");
      const ended = await waitFor(async () => {
        const r = await m.run("stubborn", run.id);
        return r.status !== "running" && r;
      });
      assertEquals([ended.status, ended.error], [
        "failed",
        "timed out after 200 ms",
      ]);
      const pid = Number((await Deno.readTextFile(pidFile)).trim());
      await waitFor(() => {
        try {
          Deno.kill(pid, "SIGCONT");
          return false;
        } catch {
          return true;
        }
      }, { what: `process ${pid} killed despite ignoring SIGTERM` });
    }, { allowShell: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("retries back off exponentially from retryDelayMs", async () => {
  await withManager(async (m) => {
    await m.create({
      id: "b",
      name: "b",
      schedule: "",
      autoStart: true,
      retries: 2,
      retryDelayMs: 200,
      action: { type: "function", name: "fail" },
    });
    await waitFor(() => m.get("b").status === "failed");
    const { runs } = await m.runs("b");
    const [a1, a2, a3] = runs.slice().reverse().map((r) =>
      Date.parse(r.startedAt)
    );
    // Jitter is 0.5x..1.5x: the first wait is at least 100 ms, the second at least 200 ms.
    assertGreaterOrEqual(a2 - a1, 100);
    assertGreaterOrEqual(a3 - a2, 200);
    assertEquals(runs.map((r) => r.attempt), [3, 2, 1]);
  });
});

Deno.test("http action: method, headers, body and expectStatus; the body's head is kept", async () => {
  const server = localServer(async (req) => {
    const body = await req.text();
    return new Response(
      `got ${req.method} ${req.headers.get("x-token")} ${body}`,
      { status: 202 },
    );
  });
  try {
    await withManager(async (m) => {
      await m.create({
        id: "h",
        name: "h",
        schedule: "",
        autoStart: false,
        action: {
          type: "http",
          method: "POST",
          url: `${server.url}/hook`,
          headers: { "x-token": "abc" },
          body: "payload",
          expectStatus: 202,
        },
      });
      const run = await m.runNow("h");
      const r = await waitFor(async () => {
        const r = await m.run("h", run.id);
        return r.status !== "running" && r;
      });
      assertEquals(r.status, "complete");
      assertStringIncludes(r.output!, "HTTP 202");
      assertStringIncludes(r.output!, "got POST abc payload");
      await m.update("h", {
        action: { type: "http", url: `${server.url}/hook`, expectStatus: 200 },
      });
      const again = await m.runNow("h");
      const r2 = await waitFor(async () => {
        const r = await m.run("h", again.id);
        return r.status !== "running" && r;
      });
      assertEquals(r2.status, "failed");
      assertStringIncludes(r2.error!, "expected 200");
    });
  } finally {
    await server.close();
  }
});

Deno.test("an http action against a port nobody answers fails fast and cleanly", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await withManager(async (m) => {
    await m.create({
      id: "x",
      name: "x",
      schedule: "",
      autoStart: false,
      action: { type: "http", url: `http://127.0.0.1:${port}/` },
    });
    const run = await m.runNow("x");
    const r = await waitFor(async () => {
      const r = await m.run("x", run.id);
      return r.status !== "running" && r;
    });
    assertEquals(r.status, "failed");
    assertStringIncludes(r.error!, "failed");
  });
});

Deno.test("a one-time job whose time has passed when it starts runs at once", async () => {
  await withManager(async (m) => {
    await m.create({
      id: "late",
      name: "late",
      schedule: "2020-01-15 14:30:00 PST",
      action: noop,
    });
    await waitFor(() => m.get("late").status === "complete");
    assertEquals(m.get("late").runCount, 1);
  });
});

Deno.test("reschedule: one-time jobs that are created or scheduled only", async () => {
  await withManager(async (m) => {
    await m.create({
      id: "o",
      name: "o",
      schedule: "in 1h",
      autoStart: false,
      action: noop,
    });
    const j = await m.reschedule("o", "2099-01-15T14:30:00Z");
    assertEquals([j.status, j.schedule], ["created", "2099-01-15T14:30:00Z"]);
    await m.start("o");
    const s = await m.reschedule("o", "2099-01-16 14:30:00 EST");
    assertEquals(s.nextRunAt, "2099-01-16T19:30:00.000Z");
    const bad = await assertRejects(
      () => m.reschedule("o", "tomorrow-ish"),
      JobproError,
    );
    assertEquals(bad.code, "invalid");
    assertEquals(
      m.get("o").nextRunAt,
      "2099-01-16T19:30:00.000Z",
      "a refused reschedule changes nothing",
    );
    await m.create({ id: "p", name: "p", schedule: "0 0 * * *", action: noop });
    assertEquals(
      (await assertRejects(() => m.reschedule("p", "in 5m"), JobproError)).code,
      "conflict",
    );
    await m.stop("o");
    assertEquals(
      (await assertRejects(() => m.reschedule("o", "in 5m"), JobproError)).code,
      "conflict",
    );
  });
});

Deno.test("PATCH re-plans the next run; a bad edit changes nothing", async () => {
  await withManager(async (m) => {
    await m.create({ id: "e", name: "e", schedule: "0 0 * * *", action: noop });
    const before = m.get("e").nextRunAt!;
    const after = await m.update("e", {
      schedule: "0 12 * * *",
      timezone: "America/New_York",
      retries: 2,
    });
    assert(after.nextRunAt !== before);
    assertEquals(
      new Date(after.nextRunAt!).getUTCHours() % 24 === 17 ||
        new Date(after.nextRunAt!).getUTCHours() === 16,
      true,
    );
    assertEquals(after.retries, 2);
    const err = await assertRejects(
      () => m.update("e", { timezone: "Mars/Base" }),
      JobproError,
    );
    assertEquals(err.field, "timezone");
    assertEquals(m.get("e").timezone, "America/New_York");
    assertEquals(
      (await assertRejects(() => m.update("e", { id: "other" }), JobproError))
        .field,
      "id",
    );
  });
});

Deno.test("restart: catchUp once runs one startup run for missed ticks; skip resumes from now", async () => {
  const db = await tempDb();
  try {
    let m = await open(db.path);
    await m.create({
      id: "once",
      name: "once",
      schedule: "0 * * * *",
      catchUp: "once",
      action: noop,
    });
    await m.create({
      id: "skip",
      name: "skip",
      schedule: "0 * * * *",
      catchUp: "skip",
      action: noop,
    });
    await m.shutdown();
    // Down for about three hours (back at five past an hour, so the minute
    // added below stays within that hour): several hourly ticks were missed.
    const hour = 3_600_000;
    const back = Math.floor(Date.now() / hour) * hour + 3 * hour + 5 * 60_000;
    const away = back - Date.now();
    m = await open(db.path, { clock: offsetClock(away) });
    try {
      await waitFor(() => m.get("once").runCount === 1, {
        what: "startup run",
      });
      const { runs } = await m.runs("once");
      assertEquals(runs[0].trigger, "startup");
      assertEquals(m.get("skip").runCount, 0);
      assert(Date.parse(m.get("skip").nextRunAt!) > Date.now() + away - 1000);
    } finally {
      await m.shutdown();
    }
    m = await open(db.path, { clock: offsetClock(away + 60_000) });
    try {
      assertEquals(
        m.get("once").runCount,
        1,
        "no second startup run when no tick was missed",
      );
    } finally {
      await m.shutdown();
    }
  } finally {
    await db.cleanup();
  }
});

Deno.test("restart: a one-time job that came due while down runs exactly once", async () => {
  const db = await tempDb();
  try {
    let m = await open(db.path);
    await m.create({ id: "due", name: "due", schedule: "in 1h", action: noop });
    await m.shutdown();
    m = await open(db.path, { clock: offsetClock(2 * 3_600_000) });
    try {
      await waitFor(() => m.get("due").status === "complete");
      assertEquals(m.get("due").runCount, 1);
    } finally {
      await m.shutdown();
    }
    m = await open(db.path, { clock: offsetClock(3 * 3_600_000) });
    try {
      assertEquals([m.get("due").status, m.get("due").runCount], [
        "complete",
        1,
      ]);
      assertEquals((await m.runs("due")).total, 1);
    } finally {
      await m.shutdown();
    }
  } finally {
    await db.cleanup();
  }
});

Deno.test("retention: runs older than the limit and beyond the per-job cap are pruned at start", async () => {
  const db = await tempDb();
  try {
    // The job first: a store keeps no runs of a job it does not hold.
    const first = await open(db.path);
    await first.create({
      id: "a",
      name: "a",
      schedule: "",
      autoStart: false,
      action: noop,
    });
    await first.shutdown();
    const store = await openDuckDBStore(db.path);
    const day = 86_400_000;
    const run = (id: number, jobId: string, age: number): Run => ({
      id,
      jobId,
      trigger: "schedule",
      attempt: 1,
      scheduledFor: null,
      startedAt: Date.now() - age,
      endedAt: Date.now() - age + 5,
      durationMs: 5,
      status: "complete",
      message: "ok",
      error: null,
      output: null,
    });
    const old = [1, 2, 3].map((i) => run(i, "a", 8 * day));
    const recent = [4, 5, 6, 7, 8].map((i) => run(i, "a", day));
    await store.write({
      ...emptyBatch(),
      started: [],
      finished: [...old, ...recent],
    });
    await store.close();
    const m = await open(db.path, { maxRunsPerJob: 3 });
    try {
      // Pruning runs in the background after start.
      const { runs } = await waitFor(async () => {
        const page = await m.runs("a", { limit: 100 });
        return page.total === 3 && page;
      }, { what: "pruning" });
      assertEquals(runs.map((r) => r.id), [8, 7, 6]);
    } finally {
      await m.shutdown();
    }
  } finally {
    await db.cleanup();
  }
});

Deno.test("shutdown lets running runs finish within the grace, then aborts the rest, records them, and closes the store", async () => {
  const db = await tempDb();
  try {
    const m = await open(db.path);
    for (const [id, ms] of [["short", 300], ["long", 60_000]] as const) {
      await m.create({
        id,
        name: id,
        schedule: "",
        autoStart: false,
        action: sleep(ms),
      });
    }
    const short = await m.runNow("short");
    const long = await m.runNow("long");
    const t0 = Date.now();
    await m.shutdown({ graceMs: 1000 });
    const took = Date.now() - t0;
    assert(took >= 1000, `the grace was kept (${took} ms)`);
    assert(took < 4000, `the long run honored its abort (${took} ms)`);
    const store = await openDuckDBStore(db.path);
    try {
      const s = await store.getRun("short", short.id);
      assertEquals(s?.status, "complete", "a run inside the grace finishes");
      const r = await store.getRun("long", long.id);
      assertEquals([r?.status, r?.error], [
        "cancelled",
        "server shutting down",
      ]);
    } finally {
      await store.close();
    }
  } finally {
    await db.cleanup();
  }
});
