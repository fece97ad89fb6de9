/**
 * Tags and bulk actions through the REST API, on a real server with a real
 * DuckDB file: tags in the job JSON, refused with a 400 naming the tag and
 * its index, edited by PATCH, filtered by `GET /jobs?tag=`; `POST
 * /jobs/bulk` by ids and by filter, with each job's outcome, and its 400s.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import {
  call,
  manualJob,
  READ_TOKEN,
  TOKEN,
  waitFor,
  withServer,
} from "./helpers.ts";

Deno.test("tags: in the job's JSON, refused naming the tag and its index, and edited by PATCH", async () => {
  await withServer(async (jp) => {
    const made = await call(
      jp,
      "POST",
      "/jobs",
      manualJob("a", { tags: ["billing", "nightly"] }),
    );
    assertEquals(made.status, 201, made.text);
    assertEquals(made.body.tags, ["billing", "nightly"]);
    assertEquals(
      (await call(jp, "POST", "/jobs", manualJob("b"))).body.tags,
      [],
    );

    const bad = await call(
      jp,
      "POST",
      "/jobs",
      manualJob("c", { tags: ["ok", "x", "ok"] }),
    );
    assertEquals([bad.status, bad.body.error.field], [400, "tags.2"]);
    assertEquals(
      bad.body.error.message,
      'tags.2: "ok" is given twice (also at 0)',
    );
    const upper = await call(jp, "PATCH", "/jobs/a", { tags: ["Billing"] });
    assertEquals([upper.status, upper.body.error.field], [400, "tags.0"]);
    assertStringIncludes(
      upper.body.error.message,
      '"Billing" must be lowercase',
    );

    const patched = await call(jp, "PATCH", "/jobs/a", { tags: ["x"] });
    assertEquals([patched.status, patched.body.tags], [200, ["x"]]);
    assertEquals((await call(jp, "GET", "/jobs/a")).body.tags, ["x"]);
  });
});

Deno.test("tags: GET /jobs?tag= filters, several (repeated or a comma list) combining with AND; a bad tag is a 400 naming it", async () => {
  await withServer(async (jp) => {
    await call(
      jp,
      "POST",
      "/jobs",
      manualJob("a", { tags: ["billing", "nightly"] }),
    );
    await call(jp, "POST", "/jobs", manualJob("b", { tags: ["billing"] }));
    await call(jp, "POST", "/jobs", manualJob("c", { tags: ["nightly"] }));
    const ids = async (qs: string) => {
      const r = await call(jp, "GET", `/jobs?${qs}`);
      assertEquals(r.status, 200, r.text);
      return r.body.jobs.map((j: { id: string }) => j.id);
    };
    assertEquals(await ids("tag=billing"), ["a", "b"]);
    assertEquals(await ids("tag=billing&tag=nightly"), ["a"]);
    assertEquals(await ids("tag=billing,nightly"), ["a"]);
    assertEquals(await ids("tag=nightly&q=c"), ["c"]);
    assertEquals(await ids("tag=nobody"), []);
    assertEquals(await ids("tag="), ["a", "b", "c"]);
    const bad = await call(jp, "GET", "/jobs?tag=billing&tag=No%20Way");
    assertEquals([bad.status, bad.body.error.field], [400, "tag"]);
    assertStringIncludes(bad.body.error.message, 'tag: "No Way" must be');
    // The seed's table rows take the same filters.
    const rows = await fetch(`${jp.url}/jobs/get-table-rows?tag=nightly`);
    assertEquals(rows.headers.get("x-total-count"), "2");
    await rows.body?.cancel();
  });
});

Deno.test("bulk: POST /jobs/bulk by ids and by filter answers 200 with each job's outcome", async () => {
  await withServer(async (jp) => {
    for (const id of ["a", "b"]) {
      await call(jp, "POST", "/jobs", {
        ...manualJob(id, { tags: ["billing"] }),
        schedule: "0 0 * * *",
        autoStart: true,
      });
    }
    await call(jp, "POST", "/jobs", manualJob("c", { tags: ["billing"] }));
    const r = await call(jp, "POST", "/jobs/bulk", {
      action: "pause",
      filter: { tag: ["billing"] },
    });
    assertEquals(r.status, 200, r.text);
    assertEquals(r.body, {
      action: "pause",
      matched: 3,
      succeeded: 2,
      failed: 1,
      results: [
        { id: "a", ok: true, status: "paused" },
        { id: "b", ok: true, status: "paused" },
        {
          id: "c",
          ok: false,
          code: "conflict",
          error: "cannot pause a job that is created",
        },
      ],
    });
    assertEquals((await call(jp, "GET", "/jobs/a")).body.status, "paused");

    const ran = await call(jp, "POST", "/jobs/bulk", {
      action: "run",
      ids: ["c", "gone"],
    });
    assertEquals(ran.status, 200);
    assertEquals(ran.body.results[1], {
      id: "gone",
      ok: false,
      code: "not_found",
      error: 'no job with id "gone"',
    });
    const runId = ran.body.results[0].runId;
    assert(typeof runId === "number");
    await waitFor(async () =>
      (await call(jp, "GET", `/jobs/c/runs/${runId}`)).body.status ===
        "complete"
    );

    const deleted = await call(jp, "POST", "/jobs/bulk", {
      action: "delete",
      filter: { status: "paused" },
    });
    assertEquals(deleted.body.results.map((x: { id: string }) => x.id), [
      "a",
      "b",
    ]);
    assertEquals((await call(jp, "GET", "/jobs/a")).status, 404);
    assertEquals((await call(jp, "GET", "/jobs")).body.total, 1);
  });
});

Deno.test("bulk: malformed requests are 400s naming the field, and change nothing; the read-only token may not", async () => {
  await withServer(async (jp) => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    await call(jp, "POST", "/jobs", manualJob("a"), auth);
    const cases: [unknown, string][] = [
      [{ action: "pause", filter: {} }, "filter"],
      [{ action: "pause" }, "ids"],
      [{ action: "pause", ids: ["a"], filter: { q: "a" } }, "ids"],
      [{ action: "pause", ids: [] }, "ids"],
      [
        {
          action: "pause",
          ids: Array.from({ length: 1001 }, (_, i) => `${i}`),
        },
        "ids",
      ],
      [{ action: "pause", filter: { tag: "Caps" } }, "filter.tag"],
      [{ action: "archive", ids: ["a"] }, "action"],
      [{ action: "pause", ids: ["a"], extra: true }, "extra"],
    ];
    for (const [body, field] of cases) {
      const r = await call(jp, "POST", "/jobs/bulk", body, auth);
      assertEquals([r.status, r.body?.error?.field], [400, field], r.text);
    }
    const typed = await call(jp, "POST", "/jobs/bulk", "action=pause", {
      ...auth,
      "content-type": "text/plain",
    });
    assertEquals(typed.status, 415);
    const read = await call(
      jp,
      "POST",
      "/jobs/bulk",
      { action: "delete", filter: {}, all: true },
      { authorization: `Bearer ${READ_TOKEN}` },
    );
    assertEquals(read.status, 403);
    assertEquals(
      (await call(jp, "GET", "/jobs", undefined, auth)).body.total,
      1,
      "nothing deleted",
    );
  }, { JOBPRO_TOKEN: TOKEN, JOBPRO_READ_TOKEN: READ_TOKEN });
});
