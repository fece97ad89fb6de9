import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import {
  createManager,
  definitionsOf,
  fetchJobs,
  JobproError,
  loadDefinitions,
  openDuckDBStore,
  readJobsFile,
} from "@/lib/jobpro/mod.ts";
import { localServer, waitFor } from "../helpers.ts";

const SEED = new URL("../fixtures/seed_jobs.json", import.meta.url).pathname;

Deno.test("the seed's job file loads: types, statuses and actions as the Go service had them", async () => {
  const m = await createManager({
    store: await openDuckDBStore(":memory:"),
    log: () => {},
  });
  try {
    const report = await loadDefinitions(m, await readJobsFile(SEED), {
      backendUrl: "http://localhost:8080",
    });
    assertEquals(report.failed, []);
    assertEquals(report.loaded, [
      "periodicJob1",
      "periodicJob2",
      "onetimeJob1",
      "manualJob",
    ]);
    const p = m.get("periodicJob1");
    assertEquals([p.type, p.status, p.schedule, p.scheduleText], [
      "periodic",
      "scheduled",
      "*/14 * * * * *",
      "Every 14 seconds",
    ]);
    const once = m.get("onetimeJob1");
    assertEquals([once.type, once.status], ["onetime", "scheduled"]);
    const due = Date.parse(once.nextRunAt!) - Date.now();
    assertEquals(due > 25_000 && due <= 30_000, true, `due in ${due} ms`);
    const manual = m.get("manualJob");
    assertEquals([manual.type, manual.status, manual.scheduleText], [
      "onetime",
      "created",
      "manual",
    ]);
  } finally {
    await m.shutdown();
  }
});

Deno.test("TriggerEndpoint becomes an http GET on the backend; MaxRunTime a timeout", async () => {
  const backend = localServer(() => new Response("done"));
  const m = await createManager({
    store: await openDuckDBStore(":memory:"),
    log: () => {},
  });
  try {
    const defs = [{
      Id: "cleanup",
      Name: "Cleanup",
      IsPeriodic: false,
      Schedule: "",
      MaxRunTime: 30,
      RetryCount: 2,
      AutoStart: false,
      TriggerEndpoint: "/tasks/cleanup",
    }];
    const report = await loadDefinitions(m, defs, { backendUrl: backend.url });
    assertEquals(report.loaded, ["cleanup"]);
    const job = m.get("cleanup");
    assertEquals(job.action, {
      type: "http",
      method: "GET",
      url: `${backend.url}/tasks/cleanup`,
    });
    assertEquals([job.timeoutMs, job.retries], [30_000, 2]);
    await m.runNow("cleanup");
    await waitFor(() => m.get("cleanup").runCount === 1);
    assertEquals(m.get("cleanup").lastRun?.status, "complete");
    assertEquals(new URL(backend.requests[0].url).pathname, "/tasks/cleanup");
  } finally {
    await m.shutdown();
    await backend.close();
  }
});

Deno.test("a bad definition is reported with its id and reason; the rest load; upsert keeps runtime status", async () => {
  const m = await createManager({
    store: await openDuckDBStore(":memory:"),
    log: () => {},
  });
  try {
    const defs = [
      {
        ID: "good",
        Name: "Good",
        IsPeriodic: true,
        Schedule: "0 * * * * *",
        AutoStart: true,
      },
      {
        ID: "bad",
        Name: "Bad",
        IsPeriodic: true,
        Schedule: "in 5m",
        AutoStart: true,
      },
      {
        ID: "worse",
        Name: "Worse",
        IsPeriodic: true,
        Schedule: "99 * * * * *",
        AutoStart: true,
      },
      {
        id: "native",
        name: "Native",
        schedule: "@hourly",
        action: { type: "function", name: "noop" },
      },
    ];
    const report = await loadDefinitions(m, defs, {
      backendUrl: "http://localhost:8080",
    });
    assertEquals(report.loaded, ["good", "native"]);
    assertEquals(report.failed.map((f) => f.id), ["bad", "worse"]);
    assertStringIncludes(report.failed[0].reason, "not a cron expression");
    assertStringIncludes(report.failed[1].reason, "second field");

    await m.pause("good");
    const again = await loadDefinitions(m, [{
      ...defs[0],
      Name: "Good, renamed",
    }], { backendUrl: "http://x" });
    assertEquals(again.loaded, ["good"]);
    assertEquals([m.get("good").name, m.get("good").status], [
      "Good, renamed",
      "paused",
    ]);
  } finally {
    await m.shutdown();
  }
});

Deno.test("a job source URL's envelope: success false is an error naming the reason", () => {
  assertEquals(
    definitionsOf({ success: true, error: "", jobs: [{ ID: "a" }] }).length,
    1,
  );
  const err = (() => {
    try {
      definitionsOf({ success: false, error: "backend down", jobs: [] });
    } catch (e) {
      return e as JobproError;
    }
  })();
  assertStringIncludes(err!.message, "backend down");
});

Deno.test("an unreadable or malformed jobs file is a clear error", async () => {
  await assertRejects(
    () => readJobsFile("/nonexistent/jobs.json"),
    JobproError,
    "cannot read",
  );
  const tmp = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(tmp, "{oops");
  await assertRejects(() => readJobsFile(tmp), JobproError, "not valid JSON");
  await Deno.remove(tmp);
});

Deno.test("JOBPRO_JOBS_URL: definitions fetched from the seed's { success, error, jobs } endpoint", async () => {
  const backend = localServer(() =>
    Response.json({
      success: true,
      error: "",
      jobs: [{
        ID: "remote",
        Name: "Remote",
        IsPeriodic: true,
        Schedule: "*/20 * * * * *",
        AutoStart: true,
      }],
    })
  );
  const down = localServer(() => new Response("oops", { status: 502 }));
  const m = await createManager({
    store: await openDuckDBStore(":memory:"),
    log: () => {},
  });
  try {
    const report = await loadDefinitions(
      m,
      await fetchJobs(`${backend.url}/jobs/config`),
      { backendUrl: backend.url },
    );
    assertEquals(report.loaded, ["remote"]);
    assertEquals(m.get("remote").scheduleText, "Every 20 seconds");
    await assertRejects(
      () => fetchJobs(`${down.url}/jobs/config`),
      JobproError,
      "answered 502",
    );
  } finally {
    await m.shutdown();
    await backend.close();
    await down.close();
  }
});

Deno.test("the Go service's robfig schedules load as they are: @every, CRON_TZ=, TZ=, '?' and long steps", async () => {
  const m = await createManager({
    store: await openDuckDBStore(":memory:"),
    log: () => {},
  });
  try {
    const seed = (id: string, schedule: string) => ({
      ID: id,
      Name: id,
      IsPeriodic: true,
      Schedule: schedule,
      AutoStart: true,
      TriggerEndpoint: "",
    });
    const report = await loadDefinitions(m, [
      seed("every5m", "@every 5m"),
      seed("every90m", "@every 1h30m"),
      seed("berlin", "CRON_TZ=Europe/Berlin 0 30 2 * * *"),
      seed("tokyo", "TZ=Asia/Tokyo 0 0 9 ? * MON-FRI"),
      seed("q", "? ? ? * * ?"),
      seed("january", "0 0 0 1 */15 *"),
    ], { backendUrl: "http://localhost:8080" });
    assertEquals(report.failed, []);
    assertEquals(report.loaded.length, 6);
    for (const id of report.loaded) {
      // Armed: scheduled, or running a tick already ("q" fires every second).
      const { type, status } = m.get(id);
      assertEquals(type, "periodic", id);
      assert(
        status === "scheduled" || status === "running",
        `${id}: ${status}`,
      );
    }
    assertEquals(m.get("every90m").scheduleText, "Every 1 hour 30 minutes");
    assertEquals(m.get("berlin").timezone, "Europe/Berlin");
    assertEquals(m.get("tokyo").timezone, "Asia/Tokyo");
    assertEquals(new Date(m.get("january").nextRunAt!).getUTCMonth(), 0);
  } finally {
    await m.shutdown();
  }
});
