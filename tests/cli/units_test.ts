/** The CLI's pure parts, in-process: tables, flags to JSON. */
import { assertEquals, assertThrows } from "@std/assert";
import { cell, pairs, table } from "@/cli/table.ts";
import {
  actionFromFlags,
  fieldsFromFlags,
  JOB_OPTIONS,
  parse,
  parseDuration,
} from "@/cli/args.ts";
import { CliError, EXIT, exitCodeForStatus } from "@/cli/errors.ts";
import { jobPath, queryString } from "@/lib/client/api.ts";
import { eventJobId } from "@/cli/render.ts";

Deno.test("table aligns columns, right-aligns numbers, and makes cells safe", () => {
  const rows = [{ id: "a", n: 3 }, { id: "long\nid\u001b[31m", n: 12 }];
  assertEquals(
    table(rows, [
      { header: "ID", value: (r) => r.id },
      { header: "N", value: (r) => String(r.n), align: "right" },
    ]),
    "ID             N\na              3\nlong id [31m  12",
  );
  assertEquals(cell("abcdef", 4), "abc…");
  assertEquals(
    pairs([["id", "a"], ["skipped", undefined], ["status", "ok"]]),
    "id      a\nstatus  ok",
  );
});

Deno.test("durations, action and field flags, usage errors", () => {
  assertEquals(
    ["1500", "250ms", "30s", "2m", "1.5h"].map((d) => parseDuration(d, "x")),
    [1500, 250, 30_000, 120_000, 5_400_000],
  );
  const err = assertThrows(() => parseDuration("soon", "--timeout"), CliError);
  assertEquals(err.exitCode, EXIT.usage);

  const { values } = parse(
    [
      "--http",
      "http://x/",
      "--method",
      "post",
      "--header",
      "A: 1",
      "--header",
      "B:2",
      "--retries",
      "3",
      "--no-start",
    ],
    JOB_OPTIONS,
  );
  assertEquals(actionFromFlags(values), {
    type: "http",
    url: "http://x/",
    method: "POST",
    headers: { A: "1", B: "2" },
  });
  assertEquals(fieldsFromFlags(values, false), {
    retries: 3,
    autoStart: false,
  });
  const base = { type: "function", name: "sleep", params: { ms: 1 } };
  assertEquals(
    actionFromFlags(parse(["--params", '{"ms":5}'], JOB_OPTIONS).values, base),
    { type: "function", name: "sleep", params: { ms: 5 } },
  );
  assertEquals(
    fieldsFromFlags(
      parse(["--timezone", "", "--timeout", "none"], JOB_OPTIONS).values,
      true,
    ),
    { timezone: null, timeoutMs: null },
  );
  assertThrows(() => parse(["--nope"], JOB_OPTIONS), CliError);
});

Deno.test("paths, queries, exit codes for statuses, event job ids", () => {
  assertEquals(jobPath("a b/c", "runs", 7), "/jobs/a%20b%2Fc/runs/7");
  assertEquals(
    queryString({ q: "x y", limit: 5, status: undefined }),
    "?q=x+y&limit=5",
  );
  assertEquals(
    [400, 401, 403, 404, 409, 413, 500, 503].map(exitCodeForStatus),
    [4, 6, 6, 3, 4, 4, 1, 1],
  );
  assertEquals(eventJobId("run-finished", { id: 3, jobId: "a" }), "a");
  assertEquals(eventJobId("job-update", { id: "b" }), "b");
});
