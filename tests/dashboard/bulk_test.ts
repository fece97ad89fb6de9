/**
 * The dashboard's bulk model without a DOM: selecting rows and every
 * matching job, the request it makes, the question and the outcome it
 * tells; and a live job matching the view's tags.
 */
import { assertEquals } from "@std/assert";
import {
  bulkBody,
  MAX_SELECTED,
  NO_SELECTION,
  outcome,
  pageToggled,
  pruned,
  question,
  selectedCount,
  toggled,
} from "@/lib/dashboard/bulk.ts";
import { matches } from "@/lib/dashboard/job_events.ts";
import { MAX_BULK } from "@/lib/jobpro/mod.ts";
import { queryString } from "@/lib/client/api.ts";
import { jobView } from "./fixtures.ts";

const view = { status: "", type: "", q: "", tag: [] as string[] };

Deno.test("bulk model: rows checked one by one, a page at once, every matching job; unchecking one of those keeps the page", () => {
  let sel = toggled(NO_SELECTION, "a", true);
  sel = toggled(sel, "b", true);
  assertEquals(sel, { ids: ["a", "b"], matching: false });
  assertEquals(toggled(sel, "a", false).ids, ["b"]);
  assertEquals(pageToggled(sel, ["b", "c"], true).ids, ["a", "b", "c"]);
  assertEquals(pageToggled(sel, ["b", "c"], false), NO_SELECTION);
  const all = { ids: [], matching: true };
  assertEquals(selectedCount(all, 312), 312);
  assertEquals(selectedCount(sel, 312), 2);
  assertEquals(toggled(all, "b", false, ["a", "b", "c"]), {
    ids: ["a", "c"],
    matching: false,
  });
  assertEquals(pruned(sel, (id) => id !== "a").ids, ["b"]);
  assertEquals(pruned(sel, () => true), sel, "unchanged: the same object");
  assertEquals(MAX_SELECTED, MAX_BULK, "the API's limit");
});

Deno.test("bulk model: the request names the ids, or the view's filters (an empty one with all: true)", () => {
  assertEquals(bulkBody("pause", { ids: ["a"], matching: false }, view), {
    action: "pause",
    ids: ["a"],
  });
  const all = { ids: ["x"], matching: true };
  assertEquals(
    bulkBody("run", all, { ...view, tag: ["billing"], status: "paused" }),
    { action: "run", filter: { status: "paused", tag: ["billing"] } },
  );
  assertEquals(bulkBody("delete", all, view), {
    action: "delete",
    filter: {},
    all: true,
  });
});

Deno.test("bulk model: the question says how many; the outcome what was done and each failure's job and reason", () => {
  assertEquals(question("pause", 12), "Pause 12 jobs?");
  assertEquals(question("run", 1), "Run 1 job now?");
  assertEquals(question("delete", 1200), "Delete 1,200 jobs?");
  const names: Record<string, string> = { a: "Alpha", b: "Beta" };
  const told = outcome({
    action: "resume",
    matched: 3,
    succeeded: 1,
    failed: 2,
    results: [
      { id: "a", ok: true, status: "scheduled" },
      {
        id: "b",
        ok: false,
        code: "conflict",
        error: "cannot resume a job that is scheduled",
      },
      { id: "c", ok: false, code: "not_found", error: 'no job with id "c"' },
    ],
  }, (id) => names[id] ?? id);
  assertEquals(told, {
    notice: "Resumed 1 of 3 jobs",
    problem:
      '2 not resumed: Beta: cannot resume a job that is scheduled; c: no job with id "c"',
  });
  assertEquals(
    outcome(
      { action: "delete", matched: 0, succeeded: 0, failed: 0, results: [] },
      String,
    ),
    { notice: "No jobs match", problem: "" },
  );
});

Deno.test("live rows: a job matches a view with tags only when it has them all", () => {
  const job = jobView({ tags: ["billing", "nightly"] });
  const q = { status: "", type: "", q: "" };
  assertEquals(matches(job, { ...q, tag: ["billing"] }), true);
  assertEquals(matches(job, { ...q, tag: ["billing", "nightly"] }), true);
  assertEquals(matches(job, { ...q, tag: ["billing", "x"] }), false);
  assertEquals(matches(job, { ...q, tag: [] }), true);
  assertEquals(matches(job, q), true);
});

Deno.test("query strings: an array repeats its parameter, an empty one is left out", () => {
  assertEquals(
    queryString({ tag: ["a", "b.c"], q: "x" }, { tag: [] }),
    "?tag=a&tag=b.c&q=x",
  );
  assertEquals(queryString({ tag: [] }, { tag: [] }), "");
});
