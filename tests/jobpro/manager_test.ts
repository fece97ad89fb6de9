import { emptyBatch } from "@/lib/jobpro/store.ts";
import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import {
  createManager,
  JobproError,
  type Manager,
  openDuckDBStore,
} from "@/lib/jobpro/mod.ts";
import { localServer, nextEvent, tempDb, waitFor } from "../helpers.ts";

const noop = { type: "function", name: "noop" } as const;

async function withManager(
  fn: (m: Manager, path: string) => Promise<void>,
  opts: { allowShell?: boolean } = {},
) {
  const db = await tempDb();
  const manager = await createManager({
    store: await openDuckDBStore(db.path),
    log: (l, m) => l === "error" && console.error(m),
    ...opts,
  });
  try {
    await fn(manager, db.path);
  } finally {
    await manager.shutdown({ graceMs: 2000 });
    await db.cleanup();
  }
}

Deno.test("a periodic job runs on its schedule and its runs are recorded", async () => {
  await withManager(async (m) => {
    const job = await m.create({
      id: "tick",
      name: "Tick",
      schedule: "* * * * * *",
      action: noop,
    });
    assertEquals(job.type, "periodic");
    assertEquals(job.status, "scheduled");
    assert(job.nextRunAt);
    const due = Date.parse(job.nextRunAt);
    assert(
      due > Date.now() - 50 && due <= Date.now() + 1000,
      "next run within a second",
    );
    const e = await nextEvent(m.events, (e) => e.type === "run-finished");
    assert(e.type === "run-finished");
    assertEquals(e.run.status, "complete");
    assertEquals(e.run.trigger, "schedule");
    assertEquals(e.run.scheduledFor, job.nextRunAt);
    const { runs, total } = await m.runs("tick");
    assertGreaterOrEqual(total, 1);
    assertEquals(runs[0].jobId, "tick");
    assertEquals(m.get("tick").lastRun?.status, "complete");
    assertGreaterOrEqual(m.get("tick").runCount, 1);
  });
});

Deno.test("a one-time job runs once at its time and completes", async () => {
  await withManager(async (m) => {
    const at = new Date(Date.now() + 300).toISOString();
    const job = await m.create({
      id: "once",
      name: "Once",
      schedule: at,
      action: noop,
    });
    assertEquals(job.type, "onetime");
    assertEquals(job.status, "scheduled");
    const done = await waitFor(() =>
      m.get("once").status === "complete" && m.get("once")
    );
    assertEquals(done.runCount, 1);
    assertEquals(done.nextRunAt, null);
    const { runs } = await m.runs("once");
    assertEquals(runs.length, 1);
    assertGreaterOrEqual(Date.parse(runs[0].startedAt), Date.parse(at));
  });
});

Deno.test("relative one-time schedules count from the start", async () => {
  await withManager(async (m) => {
    const before = Date.now();
    const job = await m.create({
      name: "Later",
      schedule: "in 30s",
      action: noop,
    });
    const due = Date.parse(job.nextRunAt!);
    assert(due >= before + 30_000 && due <= Date.now() + 30_000);
    assertEquals(job.id, "later");
  });
});

Deno.test("a manual job runs only when started or run now", async () => {
  await withManager(async (m) => {
    const job = await m.create({
      id: "man",
      name: "Manual",
      schedule: "",
      autoStart: false,
      action: noop,
    });
    assertEquals([job.type, job.status, job.nextRunAt], [
      "onetime",
      "created",
      null,
    ]);
    const run = await m.runNow("man");
    assertEquals(run.trigger, "manual");
    await waitFor(() => m.get("man").runCount === 1);
    assertEquals(
      m.get("man").status,
      "created",
      "run now leaves the status alone",
    );
    await m.start("man");
    await waitFor(() => m.get("man").status === "complete");
    assertEquals(m.get("man").runCount, 2);
  });
});

Deno.test("pause, resume, stop follow the status table; illegal moves change nothing", async () => {
  await withManager(async (m) => {
    await m.create({ id: "p", name: "P", schedule: "0 0 * * *", action: noop });
    assertEquals((await m.pause("p")).status, "paused");
    assertEquals(m.get("p").nextRunAt, null);
    const err = await assertRejects(() => m.pause("p"), JobproError);
    assertEquals(err.code, "conflict");
    assertStringIncludes(err.message, "paused");
    assertEquals(m.get("p").status, "paused");
    const resumed = await m.resume("p");
    assertEquals(resumed.status, "scheduled");
    assert(resumed.nextRunAt);
    assertEquals((await m.stop("p")).status, "stopped");
    assertEquals((await m.start("p")).status, "scheduled");

    await m.create({ id: "o", name: "O", schedule: "in 1h", action: noop });
    assertEquals(
      (await m.stop("o")).status,
      "cancelled",
      "stopping a one-time job that has not run cancels it",
    );
    const r = await assertRejects(() => m.resume("o"), JobproError);
    assertEquals(r.code, "conflict");
  });
});

Deno.test("delete removes the job and its runs", async () => {
  await withManager(async (m) => {
    await m.create({
      id: "d",
      name: "D",
      schedule: "",
      autoStart: false,
      action: noop,
    });
    await m.runNow("d");
    await waitFor(() => m.get("d").runCount === 1);
    const gone = nextEvent(
      m.events,
      (e) => e.type === "job-deleted" && e.id === "d",
    );
    await m.delete("d");
    await gone;
    const err = await assertRejects(() => m.runs("d"), JobproError);
    assertEquals(err.code, "not_found");
    assertEquals(m.list().total, 0);
  });
});

Deno.test("bad input is refused naming the field, and nothing is created", async () => {
  await withManager(async (m) => {
    const cases: [unknown, string][] = [
      [{ name: "x", schedule: "61 * * * *", action: noop }, "schedule"],
      [{ name: "x", schedule: "next tuesday-ish", action: noop }, "schedule"],
      [{ name: "", action: noop }, "name"],
      [
        { name: "x", action: { type: "function", name: "nope" } },
        "action.name",
      ],
      [{ name: "x", action: { type: "http", url: "not a url" } }, "action.url"],
      [
        { name: "x", action: { type: "shell", command: ["true"] } },
        "action.type",
      ],
      [{ name: "x", action: noop, bogus: 1 }, "bogus"],
      [{ name: "x" }, "action"],
      [{ name: "x", action: noop, timeoutMs: -5 }, "timeoutMs"],
    ];
    for (const [body, field] of cases) {
      const err = await assertRejects(() => m.create(body), JobproError);
      assertEquals(err.code, "invalid", JSON.stringify(body));
      assertEquals(err.field, field, `${JSON.stringify(body)}: ${err.message}`);
      assertStringIncludes(err.message, field);
    }
    assertEquals(m.list().total, 0);
    await m.create({ id: "dup", name: "x", action: noop, autoStart: false });
    const dup = await assertRejects(
      () => m.create({ id: "dup", name: "y", action: noop }),
      JobproError,
    );
    assertEquals(dup.code, "duplicate");
    assertEquals(m.get("dup").name, "x");
  });
});

Deno.test("http actions: 2xx completes, 400+ fails, output is kept", async () => {
  const server = localServer((req) =>
    new URL(req.url).pathname === "/ok"
      ? new Response("all good")
      : new Response("nope", { status: 503 })
  );
  try {
    await withManager(async (m) => {
      await m.create({
        id: "ok",
        name: "ok",
        schedule: "",
        autoStart: false,
        action: { type: "http", url: `${server.url}/ok` },
      });
      await m.create({
        id: "bad",
        name: "bad",
        schedule: "",
        autoStart: false,
        action: {
          type: "http",
          method: "POST",
          url: `${server.url}/bad`,
          body: "{}",
        },
      });
      const ok = await m.runNow("ok");
      const bad = await m.runNow("bad");
      await waitFor(() =>
        m.get("ok").runCount === 1 && m.get("bad").runCount === 1
      );
      const okRun = await m.run("ok", ok.id);
      assertEquals(okRun.status, "complete");
      assertStringIncludes(okRun.output!, "all good");
      const badRun = await m.run("bad", bad.id);
      assertEquals(badRun.status, "failed");
      assertStringIncludes(badRun.error!, "503");
      assertStringIncludes(badRun.output!, "nope");
      assertEquals(server.requests.map((r) => r.method).sort(), [
        "GET",
        "POST",
      ]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("a timeout aborts the run and says after how long", async () => {
  await withManager(async (m) => {
    await m.create({
      id: "slow",
      name: "slow",
      schedule: "",
      autoStart: false,
      timeoutMs: 100,
      action: { type: "function", name: "sleep", params: { ms: 30_000 } },
    });
    const run = await m.runNow("slow");
    const r = await waitFor(async () => {
      const r = await m.run("slow", run.id);
      return r.status !== "running" && r;
    });
    assertEquals(r.status, "failed");
    assertEquals(r.error, "timed out after 100 ms");
    assert(r.durationMs! >= 100 && r.durationMs! < 5000);
  });
});

Deno.test("retries: each attempt is its own run, numbered, with trigger retry", async () => {
  await withManager(async (m) => {
    await m.create({
      id: "r",
      name: "r",
      schedule: new Date(Date.now() + 50).toISOString(),
      retries: 2,
      retryDelayMs: 20,
      action: { type: "function", name: "fail", params: { message: "boom" } },
    });
    const job = await waitFor(() =>
      m.get("r").status === "failed" && m.get("r")
    );
    assertEquals(job.runCount, 3);
    const { runs } = await m.runs("r");
    assertEquals(runs.map((r) => [r.attempt, r.trigger, r.status, r.error]), [
      [3, "retry", "failed", "boom"],
      [2, "retry", "failed", "boom"],
      [1, "schedule", "failed", "boom"],
    ]);
  });
});

Deno.test("restart restores every job with its status; interrupted runs are marked", async () => {
  const db = await tempDb();
  try {
    let m = await createManager({
      store: await openDuckDBStore(db.path),
      log: () => {},
    });
    await m.create({ id: "a", name: "A", schedule: "0 0 * * *", action: noop });
    await m.create({ id: "b", name: "B", schedule: "0 0 * * *", action: noop });
    await m.pause("b");
    await m.create({
      id: "long",
      name: "Long",
      schedule: "",
      autoStart: false,
      action: { type: "function", name: "sleep", params: { ms: 60_000 } },
    });
    const run = await m.runNow("long");
    await waitFor(async () => (await m.runs("long")).total === 1);
    // Simulate a crash: the store closes under the manager without ending the run.
    const store2Path = db.path;
    await m.shutdown({ graceMs: 0 }).catch(() => {});
    // The graceful path ends runs as cancelled; a crash leaves them running.
    // Write a running row directly to model what a killed process leaves.
    const raw = await openDuckDBStore(store2Path);
    await raw.write({
      ...emptyBatch(),
      started: [{
        ...(await raw.getRun("long", run.id))!,
        id: 999,
        status: "running",
        endedAt: null,
        durationMs: null,
      }],
      finished: [],
    });
    await raw.close();

    m = await createManager({
      store: await openDuckDBStore(db.path),
      log: () => {},
    });
    try {
      assertEquals(m.get("a").status, "scheduled");
      assertEquals(m.get("b").status, "paused");
      const r = await m.run("long", 999);
      assertEquals([r.status, r.error], ["failed", "interrupted"]);
      assertMatch(m.get("a").nextRunAt!, /T00:00:00.000Z$/);
    } finally {
      await m.shutdown();
    }
  } finally {
    await db.cleanup();
  }
});

Deno.test("a second process cannot open the same database file", async () => {
  const db = await tempDb();
  const m = await createManager({
    store: await openDuckDBStore(db.path),
    log: () => {},
  });
  try {
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { openDuckDBStore } from "${new URL(
          "../../lib/jobpro/mod.ts",
          import.meta.url,
        )}";
         try { await openDuckDBStore(${
          JSON.stringify(db.path)
        }); } catch (e) { console.log(e.message); Deno.exit(3); }`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(child.code, 3, new TextDecoder().decode(child.stderr));
    assertStringIncludes(
      new TextDecoder().decode(child.stdout),
      "in use by another process",
    );
  } finally {
    await m.shutdown();
    await db.cleanup();
  }
});

Deno.test("http actions: each request names its run (job, run, attempt, trigger, tick, idempotency key); the user's own headers win", async () => {
  const server = localServer((req) =>
    new URL(req.url).pathname === "/flaky"
      ? new Response("later", { status: 503 })
      : new Response("ok")
  );
  const seen = (path: string) =>
    server.requests.filter((r) => new URL(r.url).pathname === path);
  const ids = (h: Headers) => ({
    job: h.get("x-jobpro-job"),
    run: h.get("x-jobpro-run"),
    attempt: h.get("x-jobpro-attempt"),
    trigger: h.get("x-jobpro-trigger"),
    scheduledFor: h.get("x-jobpro-scheduled-for"),
    key: h.get("idempotency-key"),
  });
  try {
    await withManager(async (m) => {
      await m.create({
        id: "tick",
        name: "tick",
        schedule: "* * * * * *",
        action: { type: "http", method: "POST", url: `${server.url}/tick` },
      });
      await m.create({
        id: "mine",
        name: "mine",
        schedule: "",
        autoStart: false,
        action: {
          type: "http",
          url: `${server.url}/mine`,
          headers: { "Idempotency-Key": "my-key", "X-Jobpro-Trigger": "own" },
        },
      });
      await m.create({
        id: "flaky",
        name: "flaky",
        schedule: new Date(Date.now() + 50).toISOString(),
        retries: 1,
        retryDelayMs: 20,
        action: { type: "http", url: `${server.url}/flaky` },
      });
      const manual = await m.runNow("mine");
      await waitFor(() =>
        seen("/tick").length >= 1 && seen("/mine").length === 1 &&
        m.get("flaky").status === "failed"
      );

      const tick = ids(seen("/tick")[0].headers);
      const tickRun = await m.run("tick", Number(tick.run));
      const at = Date.parse(tickRun.scheduledFor!);
      assertEquals(tick, {
        job: "tick",
        run: String(tickRun.id),
        attempt: "1",
        trigger: "schedule",
        scheduledFor: new Date(at).toISOString(),
        key: `tick:${at}:1`,
      });
      assertEquals(at % 1000, 0, "an every-second tick is a whole second");

      assertEquals(ids(seen("/mine")[0].headers), {
        job: "mine",
        run: String(manual.id),
        attempt: "1",
        trigger: "own",
        scheduledFor: null,
        key: "my-key",
      });

      const { runs } = await m.runs("flaky");
      const flaky = seen("/flaky").map((r) => ids(r.headers));
      assertEquals(flaky.length, 2);
      for (const [i, trigger] of [[0, "schedule"], [1, "retry"]] as const) {
        const run = runs.find((r) => r.attempt === i + 1)!;
        const at = Date.parse(run.scheduledFor!);
        assertEquals(flaky[i], {
          job: "flaky",
          run: String(run.id),
          attempt: String(i + 1),
          trigger,
          scheduledFor: new Date(at).toISOString(),
          key: `flaky:${at}:${i + 1}`,
        });
      }
    });
  } finally {
    await server.close();
  }
});
