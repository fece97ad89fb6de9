/**
 * The seed's routes, kept as aliases so its scripts and pages still run; each
 * is called on a real server.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { call, manualJob, openSse, waitFor, withServer } from "./helpers.ts";

const noop = { type: "function", name: "noop" };

Deno.test("POST /jobs/{start,pause,resume,stop}/:id operate like /jobs/:id/<op> and answer as the Go service did", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", {
      id: "p",
      name: "P",
      schedule: "0 0 * * *",
      autoStart: false,
      action: noop,
    });
    const steps: [string, string, string][] = [
      ["start", "started", "scheduled"],
      ["pause", "paused", "paused"],
      ["resume", "resumed", "scheduled"],
      ["stop", "stopped", "stopped"],
    ];
    for (const [op, answer, status] of steps) {
      const r = await call(jp, "POST", `/jobs/${op}/p`);
      assertEquals(
        [r.status, r.body],
        [200, { jobID: "p", status: answer }],
        op,
      );
      assertEquals((await call(jp, "GET", "/jobs/p")).body.status, status, op);
    }
    const refused = await call(jp, "POST", "/jobs/pause/p");
    assertEquals(refused.status, 409);
    assertEquals((await call(jp, "POST", "/jobs/start/nope")).status, 404);
    const get = await call(jp, "GET", "/jobs/start/p");
    assertEquals(get.status, 405);
    assertEquals(get.res.headers.get("allow"), "POST, OPTIONS");
  });
});

Deno.test("POST /jobs/start/:id on a job already started is a 200 that changes nothing (the native route says 409)", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", {
      id: "s",
      name: "S",
      schedule: "0 0 * * *",
      action: noop,
    });
    const before = (await call(jp, "GET", "/jobs/s")).body;
    assertEquals(before.status, "scheduled");
    const again = await call(jp, "POST", "/jobs/start/s");
    assertEquals([again.status, again.body], [200, {
      jobID: "s",
      status: "started",
    }]);
    const after = (await call(jp, "GET", "/jobs/s")).body;
    assertEquals([after.status, after.updatedAt, after.nextRunAt], [
      before.status,
      before.updatedAt,
      before.nextRunAt,
    ]);
    assertEquals((await call(jp, "POST", "/jobs/s/start")).status, 409);
  });
});

Deno.test("POST /jobs/run-now/:id runs the job; POST /jobs/reschedule/:id takes { schedule }, with or without a Content-Type", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("m", { schedule: "in 1h" }));
    const ran = await call(jp, "POST", "/jobs/run-now/m");
    assertEquals([ran.status, ran.body], [200, {
      jobID: "m",
      status: "triggered",
    }]);
    await waitFor(async () =>
      (await call(jp, "GET", "/jobs/m")).body.runCount === 1
    );
    const moved = await call(jp, "POST", "/jobs/reschedule/m", {
      schedule: "in 2h",
    });
    assertEquals([moved.status, moved.body], [200, {
      jobID: "m",
      status: "rescheduled",
    }]);
    assertEquals((await call(jp, "GET", "/jobs/m")).body.schedule, "in 2h");
    // The Go service's scripts sent the body without a Content-Type.
    const untyped = await fetch(`${jp.url}/jobs/reschedule/m`, {
      method: "POST",
      body: new Blob(['{"schedule": "in 3h"}']),
    });
    assertEquals(untyped.status, 200, await untyped.text());
    assertEquals((await call(jp, "GET", "/jobs/m")).body.schedule, "in 3h");
    const bad = await call(jp, "POST", "/jobs/reschedule/m", {});
    assertEquals([bad.status, bad.body.error.field], [400, "schedule"]);
  });
});

Deno.test("an empty schedule is a 400 on reschedule (native and alias), not a manual job run at once", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("later", { schedule: "in 2h" }));
    const before = (await call(jp, "GET", "/jobs/later")).body;
    for (const path of ["/jobs/reschedule/later", "/jobs/later/reschedule"]) {
      for (const schedule of ["", "   "]) {
        const r = await call(jp, "POST", path, { schedule });
        assertEquals([r.status, r.body.error.field], [400, "schedule"], path);
        assertStringIncludes(r.body.error.message, "is required");
      }
    }
    const after = (await call(jp, "GET", "/jobs/later")).body;
    assertEquals([after.schedule, after.nextRunAt, after.runCount], [
      before.schedule,
      before.nextRunAt,
      0,
    ]);
  });
});

Deno.test("GET /jobs/results/:id?offset= answers 10 runs as HTML rows and a load-more row", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", {
      ...manualJob("r"),
      action: { type: "function", name: "fail", params: { message: "<b>x" } },
    });
    for (let i = 0; i < 12; i++) await call(jp, "POST", "/jobs/r/run");
    await waitFor(async () =>
      (await call(jp, "GET", "/jobs/r")).body.runCount === 12
    );
    const first = await fetch(`${jp.url}/jobs/results/r`);
    assertMatch(first.headers.get("content-type")!, /^text\/html/);
    const html = await first.text();
    assertEquals(html.match(/<tr class="run"/g)?.length, 10);
    assertStringIncludes(html, "Load more (10 / 12)");
    assertStringIncludes(html, 'href="/jobs/results/r?offset=10"');
    assertStringIncludes(html, "&lt;b>x", "error text is escaped");
    assertMatch(html, /\d+ ms/);
    const ids = [...html.matchAll(/data-run="(\d+)"/g)].map((m) => +m[1]);
    assert(ids[0] > ids[9], "newest first");

    const second = await (await fetch(`${jp.url}/jobs/results/r?offset=10`))
      .text();
    assertEquals(second.match(/<tr class="run"/g)?.length, 2);
    assert(!second.includes("Load more"), "nothing more to load");
    const bad = await call(jp, "GET", "/jobs/results/r?offset=-1");
    assertEquals([bad.status, bad.body.error.field], [400, "offset"]);
    assertEquals((await call(jp, "GET", "/jobs/results/nope")).status, 404);
  });
});

Deno.test("GET /jobs/history/:id answers the last 10 runs as a JSON array", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("h"));
    for (let i = 0; i < 11; i++) await call(jp, "POST", "/jobs/h/run");
    await waitFor(async () =>
      (await call(jp, "GET", "/jobs/h")).body.runCount === 11
    );
    const r = await call(jp, "GET", "/jobs/history/h");
    assertEquals(r.status, 200);
    assert(Array.isArray(r.body));
    assertEquals(r.body.length, 10);
    assertEquals(r.body[0].id, 11);
    assertEquals(r.body[0].jobId, "h");
    assertEquals((await call(jp, "GET", "/jobs/history/nope")).status, 404);
  });
});

Deno.test("GET /jobs/get-table-rows answers the job table's rows as HTML", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("a", { name: "Alpha <i>" }));
    await call(jp, "POST", "/jobs", {
      id: "b",
      name: "Beta",
      schedule: "*/15 * * * * *",
      action: noop,
    });
    const res = await fetch(`${jp.url}/jobs/get-table-rows`);
    assertMatch(res.headers.get("content-type")!, /^text\/html/);
    const html = await res.text();
    assertEquals(html.match(/<tr /g)?.length, 2);
    assertStringIncludes(html, 'id="job-a"');
    assertStringIncludes(html, "Alpha &lt;i>");
    assertStringIncludes(html, 'title="Every 15 seconds"');
    assertStringIncludes(html, "badge-scheduled");
    const filtered = await (await fetch(`${jp.url}/jobs/get-table-rows?q=bet`))
      .text();
    assertEquals(filtered.match(/<tr /g)?.length, 1);
    assertStringIncludes(filtered, 'id="job-b"');
  });
});

Deno.test("GET /jobs/update-notify streams every change as an event named job-update", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("u"));
    const client = await openSse(`${jp.url}/jobs/update-notify`);
    try {
      await client.until(() => client.events.length > 0, "hello");
      await call(jp, "POST", "/jobs/u/run");
      await client.until(
        () =>
          client.events.slice(1).some((e) =>
            e.event === "job-update" && JSON.parse(e.data).runCount === 1
          ),
        "the job after its run",
      );
      await call(jp, "DELETE", "/jobs/u");
      await client.until(
        () =>
          client.events.slice(1).some((e) =>
            JSON.parse(e.data).deleted === true
          ),
        "the deletion",
      );
      const names = new Set(client.events.slice(1).map((e) => e.event));
      assertEquals([...names], ["job-update"]);
      assert(client.events.slice(1).every((e) => e.id !== null), "ids");
    } finally {
      await client.close();
    }
  });
});
