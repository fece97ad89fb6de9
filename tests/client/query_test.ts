/**
 * The one reader of the list views' query strings: what the API refuses
 * with a 400 is exactly what the pages quietly replace by their defaults.
 */
import { assertEquals } from "@std/assert";
import {
  QUERY,
  readJobsQuery,
  readRunsQuery,
  readRunsView,
} from "@/lib/client/query.ts";

const params = (s: string) => new URLSearchParams(s);

Deno.test("runs query: defaults, a full query, the cap on limit", () => {
  assertEquals(readRunsQuery(params("")), {
    query: { status: undefined, offset: 0, limit: QUERY.runLimit },
    problems: [],
  });
  assertEquals(
    readRunsQuery(params("status=failed&offset=20&limit=5")).query,
    { status: "failed", offset: 20, limit: 5 },
  );
  assertEquals(readRunsQuery(params("limit=99999")).query.limit, 1000);
  assertEquals(readRunsQuery(params("offset=&status=")).problems, []);
});

Deno.test("runs query: each bad value is named, and read as its default", () => {
  const r = readRunsQuery(params("status=done&offset=-1&limit=1e3"));
  assertEquals(r.query, { status: undefined, offset: 0, limit: 10 });
  assertEquals(r.problems, [
    {
      name: "status",
      message:
        'status: must be one of queued, running, complete, failed, cancelled, got "done"',
    },
    {
      name: "offset",
      message: 'offset: must be a non-negative integer, got "-1"',
    },
    {
      name: "limit",
      message: 'limit: must be a non-negative integer, got "1e3"',
    },
  ]);
});

Deno.test("jobs query: every filter, and the problems of bad ones", () => {
  assertEquals(
    readJobsQuery(
      params(
        "status=paused&type=onetime&q=back&tag=billing&sort=name&order=desc&offset=3",
      ),
      50,
    ).query,
    {
      status: "paused",
      type: "onetime",
      q: "back",
      tags: ["billing"],
      sort: "name",
      order: "desc",
      offset: 3,
      limit: 50,
    },
  );
  const bad = readJobsQuery(params("sort=size&type=daily&limit=x"));
  assertEquals(bad.query.limit, QUERY.jobLimit);
  assertEquals(bad.problems.map((p) => p.name), ["type", "sort", "limit"]);
});

Deno.test("jobs query: tags repeated or as a comma list combine, once each; a bad one is named", () => {
  assertEquals(
    readJobsQuery(params("tag=billing&tag=nightly,team.data&tag=billing"))
      .query.tags,
    ["billing", "nightly", "team.data"],
  );
  assertEquals(readJobsQuery(params("tag=&tag=")).query.tags, undefined);
  const bad = readJobsQuery(params("tag=ok,Bad Tag"));
  assertEquals(bad.query.tags, ["ok"]);
  assertEquals(bad.problems, [{
    name: "tag",
    message:
      `tag: "Bad Tag" must be lowercase letters, digits, '_', '.' or '-', starting with a letter or digit`,
  }]);
  const long = "x".repeat(33);
  assertEquals(
    readJobsQuery(params(`tag=${long}`)).problems[0].message,
    `tag: "${long}" must be at most 32 characters (this one has 33)`,
  );
});

Deno.test("the job page's view: the runs query plus the run shown, lenient", () => {
  assertEquals(readRunsView(params("status=failed&offset=40&run=7"), 20), {
    status: "failed",
    offset: 40,
    limit: 20,
    run: 7,
  });
  assertEquals(readRunsView(params("status=x&offset=y&run=0&limit=3"), 20), {
    status: "",
    offset: 0,
    limit: 20,
    run: null,
  });
});
