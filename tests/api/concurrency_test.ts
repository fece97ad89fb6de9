/**
 * Concurrency over the REST API, on a real jobpro (random port, a DuckDB
 * file in a temp dir) started with JOBPRO_CONCURRENCY and
 * JOBPRO_MAX_CONCURRENT_RUNS: `GET/PUT /jobs/concurrency`, a job's
 * `concurrencyKey`, queued runs in the runs list (`status=queued`), the run
 * JSON and the job JSON, a queued run cancelled; bad input is a 400 naming
 * the field, and changes nothing. The runs are http actions against a real
 * local server that holds each request until the test lets it go.
 */
import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { localServer } from "../helpers.ts";
import { call, waitFor, withServer } from "./helpers.ts";

Deno.test("concurrency API: limits from the environment, set and read; queued runs shown and cancelled; bad input is a 400 naming the field", async () => {
  const held: (() => void)[] = [];
  const target = localServer(() =>
    new Promise<Response>((resolve) =>
      held.push(() => resolve(new Response("ok")))
    )
  );
  try {
    await withServer(async (jp) => {
      const start = await call(jp, "GET", "/jobs/concurrency");
      assertEquals(start.status, 200, start.text);
      assertEquals(start.body, {
        maxConcurrentRuns: 4,
        activeRuns: 0,
        queuedRuns: 0,
        keys: [{ key: "backups", limit: 1, running: 0, queued: 0 }],
      });

      // Bad input: 400 naming the field; nothing changed.
      const bad: [unknown, string, string][] = [
        [{ limits: { "Bad Key": 1 } }, "limits.Bad Key", "lowercase letters"],
        [
          { limits: { backups: 0 } },
          "limits.backups",
          "from 1 to 10000, got 0",
        ],
        [{ limits: { backups: 1.5 } }, "limits.backups", "whole number"],
        [{ limits: { backups: "2" } }, "limits.backups", 'got "2"'],
        [{ limits: [1] }, "limits", "is required"],
        [{}, "limits", "is required"],
        [{ limits: {}, extra: 1 }, "extra", "is not a known field"],
        [[], "body", "must be an object"],
      ];
      for (const [body, field, text] of bad) {
        const r = await call(jp, "PUT", "/jobs/concurrency", body);
        assertEquals(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
        assertEquals(r.body.error.field, field, r.text);
        assertStringIncludes(r.body.error.message, text);
      }
      const badJob = await call(jp, "POST", "/jobs", {
        id: "nope",
        name: "Nope",
        concurrencyKey: "Has Spaces",
        action: { type: "http", url: target.url },
      });
      assertEquals(badJob.status, 400, badJob.text);
      assertEquals(badJob.body.error.field, "concurrencyKey");
      assertStringIncludes(badJob.body.error.message, '"Has Spaces"');
      assertEquals((await call(jp, "GET", "/jobs/nope")).status, 404);
      assertEquals(
        (await call(jp, "GET", "/jobs/concurrency")).body,
        start.body,
      );

      for (const id of ["b1", "b2"]) {
        const made = await call(jp, "POST", "/jobs", {
          id,
          name: id,
          concurrencyKey: "backups",
          autoStart: false,
          action: { type: "http", url: `${target.url}/?job=${id}` },
        });
        assertEquals(made.status, 201, made.text);
        assertEquals(made.body.concurrencyKey, "backups");
      }
      const r1 = await call(jp, "POST", "/jobs/b1/run");
      assertEquals(r1.status, 200, r1.text);
      await waitFor(() => target.requests.length === 1, {
        what: "b1 at the target",
      });
      const r2 = await call(jp, "POST", "/jobs/b2/run");
      assertEquals(r2.body.run.status, "queued");
      const runId = r2.body.run.id;
      const list = await call(jp, "GET", "/jobs/b2/runs?status=queued");
      assertEquals(list.status, 200, list.text);
      assertEquals(list.body.total, 1);
      assertEquals(list.body.runs[0].id, runId);
      const one = await call(jp, "GET", `/jobs/b2/runs/${runId}`);
      assertEquals(one.body.status, "queued");
      const job = await call(jp, "GET", "/jobs/b2");
      assertEquals([job.body.activeRuns, job.body.queuedRuns], [1, 1]);
      const usage = await call(jp, "GET", "/jobs/concurrency");
      assertEquals(usage.body.keys, [{
        key: "backups",
        limit: 1,
        running: 1,
        queued: 1,
      }]);
      assertEquals(usage.body.queuedRuns, 1);

      const cancelled = await call(jp, "POST", `/jobs/b2/runs/${runId}/cancel`);
      assertEquals(cancelled.status, 200, cancelled.text);
      assertEquals(cancelled.body.status, "cancelled");
      assertEquals(cancelled.body.error, "cancelled by api");
      assertEquals(target.requests.length, 1, "the cancelled run never ran");

      // Raised: a new run of b2 starts beside b1's.
      const set = await call(jp, "PUT", "/jobs/concurrency", {
        limits: { backups: 2, reports: 3 },
      });
      assertEquals(set.status, 200, set.text);
      assertEquals(
        set.body.keys.map((
          k: { key: string; limit: number },
        ) => [k.key, k.limit]),
        [
          ["backups", 2],
          ["reports", 3],
        ],
      );
      const r3 = await call(jp, "POST", "/jobs/b2/run");
      assertEquals(r3.status, 200, r3.text);
      await waitFor(() => target.requests.length === 2, {
        what: "b2 at the target",
      });
      const removed = await call(jp, "PUT", "/jobs/concurrency", {
        limits: { reports: null },
      });
      assertEquals(removed.body.keys.map((k: { key: string }) => k.key), [
        "backups",
      ]);
      for (const let_go of held.splice(0)) let_go();
      await waitFor(async () =>
        (await call(jp, "GET", "/jobs/b2")).body.activeRuns === 0
      );
    }, { JOBPRO_CONCURRENCY: "backups=1", JOBPRO_MAX_CONCURRENT_RUNS: "4" });
  } finally {
    for (const let_go of held.splice(0)) let_go();
    await target.close();
  }
});

Deno.test("concurrency config: a bad JOBPRO_CONCURRENCY or JOBPRO_MAX_CONCURRENT_RUNS is refused at start, naming it", () => {
  const cfg = readConfig({
    PORT: "0",
    JOBPRO_CONCURRENCY: "backups=1, reports=2",
    JOBPRO_MAX_CONCURRENT_RUNS: "8",
  });
  assertEquals(cfg.concurrency, { backups: 1, reports: 2 });
  assertEquals(cfg.maxConcurrentRuns, 8);
  assertEquals(readConfig({ PORT: "0" }).maxConcurrentRuns, null);
  assertThrows(
    () => readConfig({ JOBPRO_CONCURRENCY: "backups" }),
    Error,
    'JOBPRO_CONCURRENCY: "backups" is not KEY=N',
  );
  assertThrows(
    () => readConfig({ JOBPRO_CONCURRENCY: "Backups=1" }),
    Error,
    'JOBPRO_CONCURRENCY: the key "Backups"',
  );
  assertThrows(
    () => readConfig({ JOBPRO_CONCURRENCY: "b=0" }),
    Error,
    "JOBPRO_CONCURRENCY: b: must be a whole number",
  );
  assertThrows(
    () => readConfig({ JOBPRO_MAX_CONCURRENT_RUNS: "0" }),
    Error,
    "JOBPRO_MAX_CONCURRENT_RUNS",
  );
});
