/**
 * Every canonical route of the REST API against a real server on port 0 with
 * a real DuckDB file.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import type { Jobpro } from "@/main.ts";
import {
  call,
  localServer,
  manualJob,
  waitFor,
  withServer,
} from "./helpers.ts";

Deno.test("REST flow: create, read, operate, runs, delete", async () => {
  const target = localServer(() => new Response("pong"));
  try {
    await withServer(async (jp) => {
      const created = await call(jp, "POST", "/jobs", {
        id: "ping",
        name: "Ping",
        schedule: "",
        autoStart: false,
        action: { type: "http", url: `${target.url}/ping` },
      });
      assertEquals(created.status, 201);
      assertEquals(created.res.headers.get("location"), "/jobs/ping");
      for (
        const key of [
          "id",
          "name",
          "type",
          "schedule",
          "timezone",
          "action",
          "status",
          "nextRunAt",
          "lastRun",
          "createdAt",
          "updatedAt",
        ]
      ) {
        assert(key in created.body, `job JSON has ${key}`);
      }
      assertEquals([created.body.type, created.body.status], [
        "onetime",
        "created",
      ]);

      const one = await call(jp, "GET", "/jobs/ping");
      assertEquals(one.body.name, "Ping");
      const list = await call(jp, "GET", "/jobs");
      assertEquals(list.body.total, 1);
      assertEquals(list.body.jobs[0].id, "ping");

      const ran = await call(jp, "POST", "/jobs/ping/run");
      assertEquals(ran.status, 200);
      assertEquals(ran.body.id, "ping");
      await waitFor(async () =>
        (await call(jp, "GET", "/jobs/ping")).body.runCount === 1
      );
      assertEquals(target.requests.length, 1);
      assertEquals(new URL(target.requests[0].url).pathname, "/ping");

      for (let i = 0; i < 2; i++) await call(jp, "POST", "/jobs/ping/run");
      await waitFor(async () =>
        (await call(jp, "GET", "/jobs/ping")).body.runCount === 3
      );
      const runs = await call(jp, "GET", "/jobs/ping/runs?offset=0&limit=2");
      assertEquals(runs.body.total, 3);
      assertEquals(runs.body.runs.length, 2);
      assert(runs.body.runs[0].id > runs.body.runs[1].id, "newest first");
      for (
        const key of [
          "id",
          "jobId",
          "trigger",
          "attempt",
          "scheduledFor",
          "startedAt",
          "endedAt",
          "durationMs",
          "status",
          "message",
          "error",
        ]
      ) {
        assert(key in runs.body.runs[0], `run JSON has ${key}`);
      }
      const page2 = await call(jp, "GET", "/jobs/ping/runs?offset=2&limit=2");
      assertEquals(page2.body.runs.length, 1);

      await call(jp, "PATCH", "/jobs/ping", { schedule: "0 0 * * *" });
      assertEquals(
        (await call(jp, "POST", "/jobs/ping/start")).body.status,
        "scheduled",
      );
      assertEquals(
        (await call(jp, "POST", "/jobs/ping/pause")).body.status,
        "paused",
      );
      assertEquals(
        (await call(jp, "POST", "/jobs/ping/resume")).body.status,
        "scheduled",
      );
      assertEquals(
        (await call(jp, "POST", "/jobs/ping/stop")).body.status,
        "stopped",
      );

      const del = await fetch(`${jp.url}/jobs/ping`, { method: "DELETE" });
      assertEquals(del.status, 204);
      assertEquals((await call(jp, "GET", "/jobs/ping")).status, 404);
    });
  } finally {
    await target.close();
  }
});

Deno.test("GET /healthz answers 200 with the store and scheduler up", async () => {
  await withServer(async (jp) => {
    const r = await call(jp, "GET", "/healthz");
    assertEquals(r.status, 200);
    assertEquals(r.body.status, "ok");
  });
});

Deno.test("GET /jobs serves the dashboard to a browser and JSON otherwise", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", {
      id: "h",
      name: "Hello <b>",
      schedule: "*/15 * * * * *",
      action: { type: "function", name: "noop" },
    });
    const html = await fetch(`${jp.url}/jobs`, {
      headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
    });
    assertStringIncludes(html.headers.get("content-type")!, "text/html");
    const text = await html.text();
    assertStringIncludes(text, "Hello &lt;b>");
    assertStringIncludes(text, "Every 15 seconds");
    assertStringIncludes(text, "frsh:island:JobsTable");
    for (const src of text.matchAll(/(?:src|href)="(\/[^"]+)"/g)) {
      const asset = await fetch(jp.url + src[1].replaceAll("&amp;", "&"));
      assertEquals(asset.status, 200, `asset ${src[1]} is served by the app`);
      await asset.body?.cancel();
    }
    assert(
      !/https?:\/\/(?!127\.0\.0\.1)/.test(
        text.replace(/"url":"http:\/\/[^"]*"/g, ""),
      ),
      "no external URLs",
    );
    const page = await fetch(`${jp.url}/jobs/h`, {
      headers: { accept: "text/html" },
    });
    assertStringIncludes(await page.text(), "Every 15 seconds");
    const json = await call(jp, "GET", "/jobs/h");
    assertEquals(json.body.id, "h");
  });
});

/** Runs a job `n` times through the API and waits until all are recorded. */
async function runTimes(jp: Jobpro, id: string, n: number) {
  for (let i = 0; i < n; i++) {
    assertEquals((await call(jp, "POST", `/jobs/${id}/run`)).status, 200);
  }
  await waitFor(async () =>
    (await call(jp, "GET", `/jobs/${id}`)).body.runCount === n
  );
}

Deno.test("GET /jobs: status, type and q filters, sort and order, offset/limit with total", async () => {
  await withServer(async (jp) => {
    const noop = { type: "function", name: "noop" };
    await call(jp, "POST", "/jobs", manualJob("alpha", { name: "Zeta" }));
    await call(jp, "POST", "/jobs", {
      id: "beta",
      name: "Backup nightly",
      schedule: "0 3 * * *",
      action: noop,
    });
    await call(jp, "POST", "/jobs", {
      id: "gamma",
      name: "Alpha report",
      schedule: "0 4 * * *",
      action: noop,
    });
    await call(jp, "POST", "/jobs/gamma/pause");

    const ids = async (query: string) => {
      const r = await call(jp, "GET", `/jobs${query}`);
      assertEquals(r.status, 200, query);
      return { ids: r.body.jobs.map((j: { id: string }) => j.id), ...r.body };
    };
    assertEquals((await ids("?status=paused")).ids, ["gamma"]);
    assertEquals((await ids("?status=scheduled")).ids, ["beta"]);
    assertEquals((await ids("?type=onetime")).ids, ["alpha"]);
    assertEquals((await ids("?type=periodic&sort=name")).ids, [
      "gamma",
      "beta",
    ]);
    // q matches the id or the name, in any case.
    assertEquals((await ids("?q=ALPH&sort=name")).ids, ["gamma", "alpha"]);
    assertEquals((await ids("?q=nightly")).ids, ["beta"]);
    assertEquals((await ids("?sort=name&order=desc")).ids, [
      "alpha",
      "beta",
      "gamma",
    ]);
    const page = await ids("?sort=name&offset=1&limit=1");
    assertEquals([page.ids, page.total, page.offset, page.limit], [
      ["beta"],
      3,
      1,
      1,
    ]);
    assertEquals((await ids("?limit=1000")).limit, 1000);
    // Above the maximum is a 400 that names it, not a silent cut to 1000:
    // a script paging with limit=5000 would think it had every job.
    for (const path of ["/jobs?limit=5000", "/jobs/beta/runs?limit=1001"]) {
      const over = await call(jp, "GET", path);
      assertEquals(
        [over.status, over.body.error.field, over.body.error.message],
        [
          400,
          "limit",
          "limit: must be at most 1000, got " + path.split("=")[1],
        ],
        path,
      );
    }
  });
});

Deno.test("GET /jobs/:id/runs filters by status and pages with total; GET /jobs/:id/runs/:runId has the output", async () => {
  const target = localServer(() => new Response("pong body"));
  try {
    await withServer(async (jp) => {
      await call(jp, "POST", "/jobs", manualJob("ok"));
      await call(jp, "POST", "/jobs", {
        ...manualJob("web"),
        action: { type: "http", url: `${target.url}/x` },
      });
      await call(jp, "POST", "/jobs", {
        ...manualJob("bad"),
        action: { type: "function", name: "fail", params: { message: "no" } },
      });
      await runTimes(jp, "ok", 3);
      await runTimes(jp, "bad", 2);
      await runTimes(jp, "web", 1);

      const all = await call(jp, "GET", "/jobs/ok/runs?limit=2");
      assertEquals([all.body.total, all.body.runs.length, all.body.limit], [
        3,
        2,
        2,
      ]);
      const rest = await call(jp, "GET", "/jobs/ok/runs?offset=2");
      assertEquals([rest.body.runs.length, rest.body.offset], [1, 2]);
      const failed = await call(jp, "GET", "/jobs/bad/runs?status=failed");
      assertEquals(failed.body.total, 2);
      assert(
        failed.body.runs.every((r: { status: string }) =>
          r.status === "failed"
        ),
      );
      const none = await call(jp, "GET", "/jobs/bad/runs?status=complete");
      assertEquals([none.body.total, none.body.runs], [0, []]);
      assert(!("output" in all.body.runs[0]), "the list leaves output out");

      const runId = (await call(jp, "GET", "/jobs/web/runs")).body.runs[0].id;
      const one = await call(jp, "GET", `/jobs/web/runs/${runId}`);
      assertEquals(one.status, 200);
      assertEquals([one.body.id, one.body.jobId], [runId, "web"]);
      assertStringIncludes(one.body.output, "pong body");
      assertEquals(
        (await call(jp, "GET", `/jobs/ok/runs/${runId}`)).status,
        404,
      );
      assertEquals(
        (await call(jp, "GET", "/jobs/web/runs/999999")).status,
        404,
      );
    });
  } finally {
    await target.close();
  }
});

Deno.test("GET /jobs/:id/stats: runs, successRate, durations and last times from DuckDB", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("s"));
    const empty = await call(jp, "GET", "/jobs/s/stats");
    assertEquals(empty.body, {
      runs: 0,
      successRate: null,
      avgDurationMs: null,
      p50DurationMs: null,
      p95DurationMs: null,
      lastRunAt: null,
      lastFailureAt: null,
    });
    await runTimes(jp, "s", 3);
    await call(jp, "PATCH", "/jobs/s", {
      action: { type: "function", name: "fail", params: { message: "x" } },
    });
    await call(jp, "POST", "/jobs/s/run");
    await waitFor(async () =>
      (await call(jp, "GET", "/jobs/s/stats")).body.runs === 4
    );
    const stats = (await call(jp, "GET", "/jobs/s/stats")).body;
    assertEquals(stats.successRate, 75);
    for (const key of ["avgDurationMs", "p50DurationMs", "p95DurationMs"]) {
      assert(typeof stats[key] === "number" && stats[key] >= 0, key);
    }
    assert(Date.parse(stats.lastFailureAt) >= Date.parse(stats.lastRunAt) - 1);
    assertEquals((await call(jp, "GET", "/jobs/nope/stats")).status, 404);
  });
});

Deno.test("GET /jobs/schedule previews cron, one-time and manual schedules", async () => {
  await withServer(async (jp) => {
    const cron = await call(
      jp,
      "GET",
      `/jobs/schedule?expr=${
        encodeURIComponent("*/15 * * * * *")
      }&from=2024-01-01T00:00:00Z&count=2`,
    );
    assertEquals(cron.body, {
      type: "periodic",
      description: "Every 15 seconds",
      next: ["2024-01-01T00:00:15.000Z", "2024-01-01T00:00:30.000Z"],
    });
    const once = await call(
      jp,
      "GET",
      `/jobs/schedule?expr=${encodeURIComponent("2024-01-15 14:30:00 PST")}`,
    );
    assertEquals([once.body.type, once.body.next], [
      "onetime",
      ["2024-01-15T22:30:00.000Z"],
    ]);
    assertEquals((await call(jp, "GET", "/jobs/schedule")).body.type, "manual");
    const bad = await call(jp, "GET", "/jobs/schedule?expr=61+*+*+*+*");
    assertEquals([bad.status, bad.body.error.field], [400, "schedule"]);
    const many = await call(
      jp,
      "GET",
      "/jobs/schedule?expr=*+*+*+*+*&count=101",
    );
    assertEquals([many.status, many.body.error.field], [400, "count"]);
    const from = await call(
      jp,
      "GET",
      "/jobs/schedule?expr=*+*+*+*+*&from=soon",
    );
    assertEquals([from.status, from.body.error.field], [400, "from"]);
  });
});

Deno.test("POST /jobs/:id/reschedule moves a one-time job; a periodic one is a 409", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("once", { schedule: "in 1h" }));
    const moved = await call(jp, "POST", "/jobs/once/reschedule", {
      schedule: "2099-01-01T00:00:00Z",
    });
    assertEquals(moved.status, 200);
    assertEquals(moved.body.schedule, "2099-01-01T00:00:00Z");
    await call(jp, "POST", "/jobs", {
      id: "cron",
      name: "C",
      schedule: "0 0 * * *",
      action: { type: "function", name: "noop" },
    });
    const refused = await call(jp, "POST", "/jobs/cron/reschedule", {
      schedule: "in 5m",
    });
    assertEquals(refused.status, 409);
    for (
      const [body, field] of [
        [{}, "schedule"],
        [{ schedule: 5 }, "schedule"],
        [{ schedule: "in 5m", when: 1 }, "when"],
        [[], "body"],
      ] as const
    ) {
      const r = await call(jp, "POST", "/jobs/once/reschedule", body);
      assertEquals([r.status, r.body.error.field], [400, field], `${body}`);
    }
  });
});

Deno.test("GET /jobs/openapi.json and GET /metrics answer with their types", async () => {
  await withServer(async (jp) => {
    const doc = await call(jp, "GET", "/jobs/openapi.json");
    assertEquals(doc.status, 200);
    assertEquals(doc.body.openapi, "3.1.0");
    const metrics = await fetch(`${jp.url}/metrics`);
    assertMatch(metrics.headers.get("content-type")!, /^text\/plain/);
    assertStringIncludes(await metrics.text(), "jobpro_jobs{");
  });
});
