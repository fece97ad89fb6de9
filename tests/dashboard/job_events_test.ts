/**
 * The dashboard's event rules without a DOM: what a batch of
 * `/jobs/events` does to the jobs table's rows, a row's history and the
 * job page's run list. Events are written as the server writes them.
 */
import { assertEquals } from "@std/assert";
import type { JobView, RunView } from "@/lib/jobpro/runtime.ts";
import {
  applyToRows,
  jobOf,
  readBatch,
  type Rows,
  type WireEvent,
  withRun,
  withRunsInView,
} from "@/lib/dashboard/job_events.ts";
import { CREATED, jobView, runView } from "./fixtures.ts";

const T0 = Date.parse(CREATED);

const job = (id: string, more: Partial<JobView> = {}) =>
  jobView({ id, name: id, type: "periodic", ...more });
const run = (id: number, jobId: string, status = "running") =>
  runView(id, jobId, status as RunView["status"]);

const updated = (j: JobView): WireEvent => ({
  type: "job-update",
  data: JSON.stringify(j),
});
const deleted = (id: string): WireEvent => ({
  type: "job-deleted",
  data: JSON.stringify({ id }),
});
const ran = (r: RunView): WireEvent => ({
  type: r.status === "running" ? "run-started" : "run-finished",
  data: JSON.stringify(r),
});
const all = { job: () => true, run: () => true };

const QUERY = {
  status: "",
  type: "",
  q: "",
  sort: "createdAt",
  order: "asc",
  offset: 0,
  limit: 50,
};

Deno.test("jobOf reads the job of an event without parsing it", () => {
  assertEquals(jobOf(updated(job("a"))), "a");
  assertEquals(jobOf(deleted("b")), "b");
  assertEquals(jobOf(ran(run(3, "c"))), "c");
  assertEquals(jobOf({ type: "job-update", data: "{}" }), undefined);
});

Deno.test("a batch keeps each job's newest news; a delete cancels earlier updates", () => {
  const b = readBatch([
    updated(job("a", { name: "old" })),
    updated(job("b")),
    updated(job("a", { name: "new" })),
    deleted("b"),
    ran(run(1, "a")),
    { type: "something-else", data: "not json" },
    ran(run(1, "a", "complete")),
  ], all);
  assertEquals([...b.updated.keys()], ["a"]);
  assertEquals(b.updated.get("a")?.name, "new");
  assertEquals([...b.deleted], ["b"]);
  assertEquals(b.runs.map((r) => [r.id, r.status]), [
    [1, "running"],
    [1, "complete"],
  ]);
});

Deno.test("jobs and runs of no interest are passed over, unparsed", () => {
  const b = readBatch([
    updated(job("a")),
    { type: "job-update", data: '{"id":"skip", broken' },
    ran(run(2, "skip")),
    ran(run(3, "a")),
  ], { job: (id) => id === "a", run: (id) => id === "a" });
  assertEquals([...b.updated.keys()], ["a"]);
  assertEquals(b.runs.map((r) => r.id), [3]);
});

Deno.test("rows: shown jobs replaced, deleted ones removed with the total", () => {
  const rows: Rows = { jobs: [job("a"), job("b")], total: 2, query: QUERY };
  const change = applyToRows(
    rows,
    readBatch(
      [updated(job("a", { status: "paused" })), deleted("b")],
      all,
    ),
    T0,
  );
  assertEquals(change.rows.jobs.map((j) => [j.id, j.status]), [
    ["a", "paused"],
  ]);
  assertEquals(change.rows.total, 1);
  assertEquals(change.updated, ["a"]);
});

Deno.test("rows: a new matching job is appended on the last page in creation order", () => {
  const rows: Rows = { jobs: [job("a")], total: 1, query: QUERY };
  const fresh = job("n", { createdAt: new Date(T0 + 1000).toISOString() });
  const change = applyToRows(rows, readBatch([updated(fresh)], all), T0);
  assertEquals(change.rows.jobs.map((j) => j.id), ["a", "n"]);
  assertEquals([change.rows.total, change.appended], [2, ["n"]]);
});

Deno.test("rows: a new job elsewhere is counted, an old or unmatched one ignored", () => {
  const byName: Rows = {
    jobs: [job("a")],
    total: 1,
    query: { ...QUERY, sort: "name" },
  };
  const later = new Date(T0 + 1000).toISOString();
  const change = applyToRows(
    byName,
    readBatch([
      updated(job("n", { createdAt: later })),
      updated(job("old", { createdAt: new Date(T0 - 1).toISOString() })),
    ], all),
    T0,
  );
  assertEquals(change.elsewhere, ["n"]);
  assertEquals(change.ignored, ["old"]);
  assertEquals(change.rows, byName, "nothing shown changed");
  const filtered = applyToRows(
    { ...byName, query: { ...QUERY, status: "scheduled" } },
    readBatch(
      [updated(job("paused", { createdAt: later, status: "paused" }))],
      all,
    ),
    T0,
  );
  assertEquals(filtered.ignored, ["paused"]);
});

Deno.test("rows: a full last page counts a new job elsewhere instead of growing", () => {
  const rows: Rows = {
    jobs: [job("a"), job("b")],
    total: 2,
    query: { ...QUERY, limit: 2 },
  };
  const fresh = job("n", { createdAt: new Date(T0 + 1).toISOString() });
  const change = applyToRows(rows, readBatch([updated(fresh)], all), T0);
  assertEquals([change.appended, change.elsewhere], [[], ["n"]]);
  assertEquals(change.rows.jobs.length, 2);
});

Deno.test("a row's history: replace, add on top at its size, never older ones", () => {
  const h = { runs: [run(5, "a"), run(4, "a")], total: 9, loading: false };
  assertEquals(
    withRun(h, run(5, "a", "failed"), 10).runs.map((r) => r.status),
    ["failed", "running"],
  );
  const added = withRun(h, run(6, "a"), 2);
  assertEquals([added.runs.map((r) => r.id), added.total], [[6, 5], 10]);
  assertEquals(withRun(h, run(3, "a"), 10), h);
  assertEquals(withRun({ runs: [], total: 0 }, run(1, "a"), 10).total, 1);
});

Deno.test("the job page's runs: the filter, the first page only, the count", () => {
  const shown = [run(2, "a", "failed")];
  const page = { status: "failed", offset: 0, limit: 2 };
  const r = withRunsInView(shown, page, [
    run(3, "a"),
    run(3, "a", "failed"),
    run(4, "a", "failed"),
    run(1, "a", "failed"),
  ]);
  assertEquals(r.runs.map((x) => x.id), [4, 3]);
  assertEquals(r.added, 2);
  const later = withRunsInView(shown, { ...page, offset: 20 }, [
    run(9, "a", "failed"),
  ]);
  assertEquals([later.runs, later.added], [shown, 1]);
});
