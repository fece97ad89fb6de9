/**
 * The `jobs` CLI as a user runs it: a real child process
 * (`deno run ... cli/jobs.ts`) against a real jobpro server on a random port
 * with a temp DuckDB file. Waiting is polling with deadlines, never sleeps.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import type { Jobpro } from "@/main.ts";
import { localServer, waitFor } from "../helpers.ts";
import {
  assertExit,
  jobs,
  jobsJson,
  request,
  spawnJobs,
  withServer,
} from "./helpers.ts";

/** The API's parsed body, whatever the status. */
async function api(jp: Jobpro, method: string, path: string, body?: unknown) {
  return (await request(jp, method, path, body)).body;
}

Deno.test("help prints usage; usage errors exit 2 and send nothing", async () => {
  await withServer(async (jp) => {
    const help = await jobs(jp.url, ["help"]);
    assertExit(help, 0);
    for (const cmd of ["list", "add", "watch", "run", "Exit codes"]) {
      assertStringIncludes(help.stdout, cmd);
    }
    const addHelp = await jobs(jp.url, ["add", "--help"]);
    assertExit(addHelp, 0);
    assertStringIncludes(addHelp.stdout, "Usage: jobs add");
    assertStringIncludes(addHelp.stdout, "--retry-delay");
    assertStringIncludes(
      (await jobs(jp.url, ["help", "runs"])).stdout,
      "RUN_ID",
    );

    assertExit(await jobs(jp.url, []), 2, /Usage: jobs <command>/);
    assertExit(
      await jobs(jp.url, ["frobnicate"]),
      2,
      /unknown command "frobnicate"/,
    );
    assertExit(
      await jobs(jp.url, ["list", "--bogus"]),
      2,
      /Unknown option '--bogus'/,
    );
    assertExit(await jobs(jp.url, ["show"]), 2, /jobs show: missing ID/);
    assertExit(
      await jobs(jp.url, ["show", "a", "b"]),
      2,
      /unexpected argument "b"/,
    );
    assertExit(
      await jobs(jp.url, ["list", "--limit", "ten"]),
      2,
      /--limit: must be a non-negative integer/,
    );
    assertExit(
      await jobs(jp.url, ["add", "--name", "X"]),
      2,
      /needs an action/,
    );
    assertExit(
      await jobs(jp.url, ["add", "--function", "noop"]),
      2,
      /--name is required/,
    );
    assertExit(
      await jobs(jp.url, [
        "add",
        "--name",
        "X",
        "--http",
        "http://x/",
        "--function",
        "noop",
      ]),
      2,
      /give only one/,
    );
    assertExit(
      await jobs(jp.url, [
        "add",
        "--name",
        "X",
        "--function",
        "noop",
        "--params",
        "{oops",
      ]),
      2,
      /--params: not valid JSON/,
    );
    assertExit(
      await jobs(jp.url, ["add", "--name", "X", "--shell", '"echo"']),
      2,
      /--shell/,
    );
    assertExit(
      await jobs(jp.url, [
        "add",
        "--name",
        "X",
        "--function",
        "noop",
        "--method",
        "POST",
      ]),
      2,
      /--method: only for http actions; this one is function/,
    );
    assertExit(
      await jobs(jp.url, [
        "add",
        "--name",
        "X",
        "--function",
        "noop",
        "--timeout",
        "soon",
      ]),
      2,
      /--timeout: must be a duration/,
    );
    assertExit(
      await jobs(jp.url, ["add", "--file", "/nonexistent/jobs.json"]),
      2,
      /cannot read/,
    );
    assertExit(
      await jobs(jp.url, ["run", "a", "--wait-timeout", "1s"]),
      2,
      /needs --wait/,
    );
    assertExit(
      await jobs(jp.url, ["runs", "a", "latest"]),
      2,
      /RUN_ID must be a run number/,
    );
    assertExit(await jobs(jp.url, ["edit", "a"]), 2, /nothing to change/);
    assertExit(await jobs("not a url", ["list"]), 2, /is not a URL/);

    const err = await jobs(jp.url, ["show", "--json"]);
    assertExit(err, 2);
    assertEquals(JSON.parse(err.stderr).error.code, "usage");
    assertEquals((await api(jp, "GET", "/jobs")).total, 0, "nothing was sent");
  });
});

Deno.test("add from flags, list, show, edit, delete: tables and --json", async () => {
  const target = localServer(() => new Response("pong"));
  try {
    await withServer(async (jp) => {
      const created = await jobsJson(jp.url, [
        "add",
        "--id",
        "ping",
        "--name",
        "Ping",
        "--schedule",
        "*/30 * * * * *",
        "--timezone",
        "Europe/Berlin",
        "--http",
        `${target.url}/ping`,
        "--method",
        "post",
        "--header",
        "X-Test: yes",
        "--body",
        "{}",
        "--timeout",
        "30s",
        "--retries",
        "2",
        "--retry-delay",
        "1500",
        "--overlap",
        "allow",
        "--catch-up",
        "once",
        "--no-start",
      ]);
      assertEquals(created, {
        ...created,
        id: "ping",
        name: "Ping",
        type: "periodic",
        schedule: "*/30 * * * * *",
        timezone: "Europe/Berlin",
        action: {
          type: "http",
          url: `${target.url}/ping`,
          method: "POST",
          headers: { "X-Test": "yes" },
          body: "{}",
        },
        timeoutMs: 30_000,
        retries: 2,
        retryDelayMs: 1500,
        overlap: "allow",
        catchUp: "once",
        autoStart: false,
        status: "created",
      });
      const fn = await jobs(jp.url, [
        "add",
        "--name",
        "Sleepy",
        "--function",
        "sleep",
        "--params",
        '{"ms":5}',
      ]);
      assertExit(fn, 0);
      assertMatch(fn.stdout, /^created sleepy {2}scheduled/);
      const sh = await jobsJson(jp.url, [
        "add",
        "--id",
        "echo",
        "--name",
        "Echo",
        "--shell",
        '["echo","hi"]',
        "--no-start",
      ]);
      assertEquals(sh.action, { type: "shell", command: ["echo", "hi"] });
      const echoed = await jobs(jp.url, ["run", "echo", "--wait"]);
      assertExit(echoed, 0);
      assertMatch(echoed.stdout, /^echo #\d+ complete after .*\nhi$/m);

      const table = await jobs(jp.url, ["list"]);
      assertExit(table, 0);
      const [header, ...rows] = table.stdout.trimEnd().split("\n");
      assertMatch(
        header,
        /^ID\s+NAME\s+TYPE\s+STATUS\s+SCHEDULE\s+NEXT RUN\s+LAST RUN\s+RUNS\s+OK%$/,
      );
      assertEquals(rows.length, 3);
      assert(
        rows.some((r) => /^ping\s+Ping\s+periodic\s+created\s+\*\/30/.test(r)),
        table.stdout,
      );

      const page = await jobsJson<{ jobs: { id: string }[]; total: number }>(
        jp.url,
        ["list", "--sort", "name", "--limit", "2"],
      );
      assertEquals(page.total, 3);
      assertEquals(page.jobs.map((j) => j.id), ["echo", "ping"]);
      const paged = await jobs(jp.url, [
        "list",
        "--sort",
        "name",
        "--limit",
        "2",
      ]);
      assertStringIncludes(paged.stdout, "(1-2 of 3 jobs)");
      const filtered = await jobsJson<{ jobs: { id: string }[] }>(jp.url, [
        "list",
        "--status",
        "created",
        "--type",
        "periodic",
        "--q",
        "pin",
      ]);
      assertEquals(filtered.jobs.map((j) => j.id), ["ping"]);
      assertExit(
        await jobs(jp.url, ["list", "--status", "sleeping"]),
        4,
        /status: must be one of/,
      );
      assertEquals(
        (await jobs(jp.url, ["list", "--q", "zzz"])).stdout.trim(),
        "no jobs",
      );

      const shown = await jobs(jp.url, ["show", "ping"]);
      assertExit(shown, 0);
      assertMatch(shown.stdout, /^id\s+ping$/m);
      assertMatch(
        shown.stdout,
        /^action\s+http POST http:\/\/127\.0\.0\.1:\d+\/ping$/m,
      );
      assertMatch(
        shown.stdout,
        /^schedule\s+\*\/30 \* \* \* \* \* — Every 30 seconds$/m,
      );
      assertEquals((await jobsJson(jp.url, ["show", "ping"])).name, "Ping");

      const edited = await jobsJson(jp.url, [
        "edit",
        "ping",
        "--name",
        "Ping 2",
        "--retries",
        "0",
        "--timezone",
        "",
        "--timeout",
        "none",
      ]);
      assertEquals([
        edited.name,
        edited.retries,
        edited.timezone,
        edited.timeoutMs,
      ], ["Ping 2", 0, null, null]);
      const methodOnly = await jobsJson<{ action: Record<string, unknown> }>(
        jp.url,
        ["edit", "ping", "--method", "GET"],
      );
      assertEquals(methodOnly.action, {
        type: "http",
        url: `${target.url}/ping`,
        method: "GET",
        headers: { "X-Test": "yes" },
        body: "{}",
      });
      const toFunction = await jobsJson<{ action: unknown }>(jp.url, [
        "edit",
        "ping",
        "--function",
        "noop",
      ]);
      assertEquals(toFunction.action, { type: "function", name: "noop" });
      assertExit(
        await jobs(jp.url, ["edit", "ping", "--body", "x"]),
        2,
        /--body: only for http actions/,
      );
      // --start sets autoStart and starts the job (issue 15).
      const plain = await jobs(jp.url, ["edit", "ping", "--start"]);
      assertExit(plain, 0);
      assertMatch(plain.stdout, /^updated ping {2}(scheduled|running) /);
      assertEquals((await api(jp, "GET", "/jobs/ping")).autoStart, true);
      const viaFile = await jobsJson(jp.url, ["edit", "ping", "--file", "-"], {
        stdin: '{"retries":4}',
      });
      assertEquals(viaFile.retries, 4);

      const deleted = await jobs(jp.url, ["delete", "ping"]);
      assertExit(deleted, 0);
      assertEquals(deleted.stdout.trim(), "deleted ping");
      assertEquals(await jobsJson(jp.url, ["delete", "echo"]), {
        id: "echo",
        deleted: true,
      });
      assertExit(
        await jobs(jp.url, ["show", "ping"]),
        3,
        /no job with id "ping"/,
      );
      assertExit(await jobs(jp.url, ["delete", "ping"]), 3);
      assertExit(await jobs(jp.url, ["edit", "ping", "--name", "x"]), 3);
    }, { JOBPRO_ALLOW_SHELL: "1" });
  } finally {
    await target.close();
  }
});

Deno.test("add --file: one job, an array, { jobs }, stdin; all or nothing, the bad job named", async () => {
  await withServer(async (jp) => {
    const dir = await Deno.makeTempDir({ prefix: "jobpro-cli-" });
    try {
      const one = `${dir}/one.json`;
      await Deno.writeTextFile(
        one,
        JSON.stringify({
          id: "one",
          name: "One",
          action: { type: "function", name: "noop" },
          autoStart: false,
        }),
      );
      const created = await jobsJson(jp.url, ["add", "--file", one]);
      assertEquals(created.id, "one");

      const many = `${dir}/many.json`;
      await Deno.writeTextFile(
        many,
        JSON.stringify([
          {
            id: "two",
            name: "Two",
            action: { type: "function", name: "noop" },
            autoStart: false,
          },
          {
            id: "bad",
            name: "Bad",
            schedule: "99 * * * *",
            action: { type: "function", name: "noop" },
          },
          {
            id: "three",
            name: "Three",
            action: { type: "function", name: "noop" },
            autoStart: false,
          },
        ]),
      );
      // A bad second job: nothing of the file is created.
      const r = await jobs(jp.url, ["add", "--file", many, "--json"]);
      assertExit(r, 4);
      assertEquals(r.stdout.trim(), "");
      const err = JSON.parse(r.stderr);
      assertEquals([err.error.code, err.error.field, err.error.exitCode], [
        "invalid",
        "jobs.1.schedule",
        4,
      ]);
      const human = await jobs(jp.url, ["add", "--file", many]);
      assertExit(human, 4, /jobs add: jobs\.1 \(id "bad"\): schedule: /);
      assertEquals((await api(jp, "GET", "/jobs")).total, 1);

      const wrapped = await jobsJson<{ id: string }[]>(jp.url, [
        "add",
        "--file",
        "-",
      ], {
        stdin: JSON.stringify({
          jobs: [{
            id: "four",
            name: "Four",
            action: { type: "function", name: "noop" },
          }],
        }),
      });
      assertEquals(wrapped.map((j) => j.id), ["four"]);
      assertExit(
        await jobs(jp.url, ["add", "--file", "-"], { stdin: "[1," }),
        2,
        /not valid JSON/,
      );
      assertExit(
        await jobs(jp.url, ["add", "--file", one, "--name", "x"]),
        2,
        /--file and job flags/,
      );
      assertEquals((await api(jp, "GET", "/jobs")).total, 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("exit codes: not found 3, invalid and conflict 4 with the API's message, unreachable 1", async () => {
  await withServer(async (jp) => {
    const bad = await jobs(jp.url, [
      "add",
      "--name",
      "Bad",
      "--function",
      "noop",
      "--schedule",
      "61 * * * *",
    ]);
    assertExit(
      bad,
      4,
      /jobs add: schedule: minute field: 61 is out of range 0-59/,
    );
    const badJson = await jobs(jp.url, [
      "add",
      "--name",
      "Bad",
      "--function",
      "noop",
      "--schedule",
      "in forever",
      "--json",
    ]);
    assertExit(badJson, 4);
    assertEquals(JSON.parse(badJson.stderr).error.field, "schedule");

    await jobsJson(jp.url, [
      "add",
      "--id",
      "a",
      "--name",
      "A",
      "--function",
      "noop",
      "--no-start",
    ]);
    assertExit(
      await jobs(jp.url, [
        "add",
        "--id",
        "a",
        "--name",
        "A",
        "--function",
        "noop",
      ]),
      4,
      /already/,
    );
    assertExit(
      await jobs(jp.url, [
        "add",
        "--id",
        "events",
        "--name",
        "E",
        "--function",
        "noop",
      ]),
      4,
      /reserved/,
    );
    assertExit(
      await jobs(jp.url, [
        "add",
        "--name",
        "O",
        "--function",
        "noop",
        "--overlap",
        "sometimes",
      ]),
      4,
      /overlap/,
    );
    assertExit(
      await jobs(jp.url, ["pause", "a"]),
      4,
      /jobs pause: cannot pause/,
    );
    assertExit(
      await jobs(jp.url, ["show", "nope"]),
      3,
      /jobs show: no job with id "nope"/,
    );
    assertExit(await jobs(jp.url, ["runs", "nope"]), 3);
    assertExit(await jobs(jp.url, ["runs", "a", "999"]), 3, /no run 999/);
    assertExit(await jobs(jp.url, ["run", "nope", "--wait"]), 3);
    assertExit(await jobs(jp.url, ["watch", "nope"]), 3);

    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const down = await jobs(`http://127.0.0.1:${port}`, ["list"]);
    assertExit(down, 1, /cannot reach http:\/\/127\.0\.0\.1:\d+\/jobs/);
    assertExit(
      await jobs(`http://127.0.0.1:${port}`, ["watch"]),
      1,
      /cannot reach/,
    );
  });
});

Deno.test("start, stop, pause, resume, reschedule, stats, schedule preview", async () => {
  await withServer(async (jp) => {
    await jobsJson(jp.url, [
      "add",
      "--id",
      "tick",
      "--name",
      "Tick",
      "--function",
      "noop",
      "--schedule",
      "0 0 * * *",
      "--no-start",
    ]);
    const started = await jobs(jp.url, ["start", "tick"]);
    assertExit(started, 0);
    assertMatch(started.stdout, /^tick {2}scheduled {2}next run in /);
    assertEquals((await jobsJson(jp.url, ["pause", "tick"])).status, "paused");
    assertEquals(
      (await jobsJson(jp.url, ["resume", "tick"])).status,
      "scheduled",
    );
    assertEquals((await jobsJson(jp.url, ["stop", "tick"])).status, "stopped");
    assertMatch((await jobs(jp.url, ["stop", "tick"])).stderr, /jobs stop: /);

    await jobsJson(jp.url, [
      "add",
      "--id",
      "later",
      "--name",
      "Later",
      "--function",
      "noop",
      "--schedule",
      "in 1h",
    ]);
    const moved = await jobsJson<{ schedule: string; nextRunAt: string }>(
      jp.url,
      ["reschedule", "later", "in 2h"],
    );
    assertEquals(moved.schedule, "in 2h");
    assert(Date.parse(moved.nextRunAt) > Date.now() + 90 * 60_000);
    assertExit(await jobs(jp.url, ["reschedule", "later", "whenever"]), 4);

    const stats = await jobsJson(jp.url, ["stats", "tick"]);
    assertEquals([stats.runs, stats.successRate], [0, null]);
    assertMatch((await jobs(jp.url, ["stats", "tick"])).stdout, /^runs\s+0$/m);

    const preview = await jobsJson<{ type: string; next: string[] }>(jp.url, [
      "schedule",
      "*/15 * * * * *",
      "--count",
      "3",
    ]);
    assertEquals([preview.type, preview.next.length], ["periodic", 3]);
    const text = await jobs(jp.url, [
      "schedule",
      "0 9 * * MON-FRI",
      "--timezone",
      "America/New_York",
    ]);
    assertExit(text, 0);
    assertMatch(text.stdout, /^type\s+periodic$/m);
    assertExit(
      await jobs(jp.url, ["schedule", "61 * * * *"]),
      4,
      /minute field/,
    );
  });
});

Deno.test("run, run --wait success and failure, runs list and one run", async () => {
  await withServer(async (jp) => {
    await jobsJson(jp.url, [
      "add",
      "--id",
      "ok",
      "--name",
      "OK",
      "--function",
      "sleep",
      "--params",
      '{"ms":50}',
      "--no-start",
    ]);
    await jobsJson(jp.url, [
      "add",
      "--id",
      "boom",
      "--name",
      "Boom",
      "--function",
      "fail",
      "--params",
      '{"message":"it broke"}',
      "--no-start",
    ]);
    await jobsJson(jp.url, [
      "add",
      "--id",
      "long",
      "--name",
      "Long",
      "--function",
      "sleep",
      "--params",
      '{"ms":60000}',
      "--no-start",
    ]);

    const started = await jobs(jp.url, ["run", "ok"]);
    assertExit(started, 0);
    assertMatch(started.stdout, /^started run #\d+ of ok$/m);
    const startedJson = await jobsJson<
      { id: string; run: { id: number; jobId: string } }
    >(jp.url, ["run", "ok"]);
    assertEquals([startedJson.id, startedJson.run.jobId], ["ok", "ok"]);

    const waited = await jobs(jp.url, ["run", "ok", "--wait"]);
    assertExit(waited, 0);
    assertMatch(
      waited.stdout,
      /^ok #\d+ complete after \d+(\.\d)? m?s: slept 50 ms$/m,
    );
    const waitedJson = await jobsJson<
      { id: number; status: string; message: string }
    >(jp.url, [
      "run",
      "ok",
      "--wait",
      "--wait-timeout",
      "30s",
    ]);
    assertEquals([waitedJson.status, waitedJson.message], [
      "complete",
      "slept 50 ms",
    ]);

    const failed = await jobs(jp.url, ["run", "boom", "--wait"]);
    assertExit(failed, 5);
    assertMatch(failed.stdout, /^boom #\d+ failed after .*: it broke$/m);
    const failedJson = await jobs(jp.url, ["run", "boom", "--wait", "--json"]);
    assertExit(failedJson, 5);
    const failedRun = JSON.parse(failedJson.stdout);
    assertEquals([failedRun.status, failedRun.error], ["failed", "it broke"]);

    const timedOut = await jobs(jp.url, [
      "run",
      "long",
      "--wait",
      "--wait-timeout",
      "200ms",
    ]);
    assertExit(timedOut, 5, /run #\d+ of long is still running after 200 ms/);

    await waitFor(async () =>
      (await api(jp, "GET", "/jobs/ok")).runCount === 4
    );
    const list = await jobs(jp.url, ["runs", "ok"]);
    assertExit(list, 0);
    const [header, ...rows] = list.stdout.trimEnd().split("\n");
    assertMatch(
      header,
      /^RUN\s+TRIGGER\s+ATTEMPT\s+STARTED \(UTC\)\s+DURATION\s+STATUS\s+RESULT$/,
    );
    assertEquals(rows.length, 4);
    assertMatch(rows[0], new RegExp(`^\\s*#${waitedJson.id}\\s+manual`));
    assertMatch(
      rows[0],
      /^\s*#\d+\s+manual\s+1\s+\S+ \S+ UTC\s+\d+ ms\s+complete\s+slept 50 ms$/,
    );
    const page = await jobsJson<{ runs: { id: number }[]; total: number }>(
      jp.url,
      ["runs", "ok", "--limit", "2", "--offset", "1"],
    );
    assertEquals([page.total, page.runs.length], [4, 2]);
    assert(
      page.runs[0].id < waitedJson.id && page.runs[0].id > page.runs[1].id,
      "newest first, after --offset 1",
    );
    assertStringIncludes(
      (await jobs(jp.url, ["runs", "ok", "--limit", "2"])).stdout,
      "(1-2 of 4 runs)",
    );
    const failures = await jobsJson<{ runs: { status: string }[] }>(jp.url, [
      "runs",
      "boom",
      "--status",
      "failed",
    ]);
    assertEquals(failures.runs.map((r) => r.status), ["failed", "failed"]);
    assertEquals(
      (await jobs(jp.url, ["runs", "ok", "--status", "cancelled"])).stdout
        .trim(),
      "no runs",
    );

    const one = await jobs(jp.url, ["runs", "boom", String(failedRun.id)]);
    assertExit(one, 0);
    assertMatch(one.stdout, new RegExp(`^run\\s+#${failedRun.id}$`, "m"));
    assertMatch(one.stdout, /^error\s+it broke$/m);
    assertEquals(
      (await jobsJson(jp.url, ["runs", "ok", String(waitedJson.id)])).status,
      "complete",
    );
  });
});

Deno.test("watch prints one line per event, --json one object per line, ID filters", async () => {
  await withServer(async (jp) => {
    await jobsJson(jp.url, [
      "add",
      "--id",
      "w",
      "--name",
      "W",
      "--function",
      "noop",
      "--no-start",
    ]);
    await jobsJson(jp.url, [
      "add",
      "--id",
      "other",
      "--name",
      "Other",
      "--function",
      "noop",
      "--no-start",
    ]);
    const text = spawnJobs(jp.url, ["watch"]);
    const json = spawnJobs(jp.url, ["watch", "w", "--json"]);
    try {
      await text.until(/connected to /, "stderr");
      await json.until(/connected to /, "stderr");
      await api(jp, "POST", "/jobs/other/run");
      await api(jp, "POST", "/jobs/w/run");
      await text.until(
        /^\S+Z {2}run-started {3}other {2}#\d+ manual attempt 1\n/m,
      );
      await text.until(/^\S+Z {2}job-update {4}w {2}created {2}no next run\n/m);
      await text.until(
        /^\S+Z {2}run-finished {2}w {2}#\d+ complete after \d+ ms: ok\n/m,
      );

      await json.until(/"run-finished".*\n/);
      const events = json.seen.stdout.trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      assert(
        events.every((e) => (e.data.jobId ?? e.data.id) === "w"),
        json.seen.stdout,
      );
      const finished = events.find((e) => e.event === "run-finished");
      assertEquals([finished.data.jobId, finished.data.status], [
        "w",
        "complete",
      ]);
      assert(Number.isInteger(finished.id) && finished.id > 0);

      await api(jp, "DELETE", "/jobs/w");
      await json.until(/"job-deleted".*\n/);
      await text.until(/job-deleted {3}w\n/);
    } finally {
      await text.stop();
      await json.stop();
    }
  });
});

Deno.test("watch reconnects with Last-Event-ID after the stream drops", async () => {
  const seenIds: (string | null)[] = [];
  const enc = new TextEncoder();
  const server = localServer((req) => {
    seenIds.push(req.headers.get("last-event-id"));
    const first = seenIds.length === 1;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(
          enc.encode("retry: 20\nevent: hello\nid: 5\ndata: connected\n\n"),
        );
        const id = first ? 6 : 7;
        c.enqueue(
          enc.encode(
            `event: job-deleted\nid: ${id}\ndata: {"id":"job${id}"}\n\n`,
          ),
        );
        if (first) c.close(); // the drop; the second stream stays open
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream" },
    });
  });
  const watch = spawnJobs(server.url, ["watch"]);
  try {
    await watch.until(/job-deleted {3}job7\n/);
    assertMatch(watch.seen.stdout, /job-deleted {3}job6\n/);
    assertEquals(seenIds.slice(0, 2), [null, "6"]);
    assertMatch(watch.seen.stderr, /stream ended; reconnecting in 20 ms/);
    assertMatch(watch.seen.stderr, /reconnected to .* \(after event 6\)/);
  } finally {
    await watch.stop();
    await server.close();
  }
});

Deno.test("JOBPRO_TOKEN is sent as a bearer token; 401 exits 6, 5xx exits 1", async () => {
  let status = 401;
  const server = localServer(() =>
    Response.json({
      error: {
        code: "unauthorized",
        message: "a valid bearer token is required",
      },
    }, { status })
  );
  try {
    const denied = await jobs(server.url, ["list"], {
      env: { JOBPRO_TOKEN: "s3cret" },
    });
    assertExit(denied, 6, /jobs list: a valid bearer token is required/);
    assertEquals(
      server.requests[0].headers.get("authorization"),
      "Bearer s3cret",
    );
    assertEquals(new URL(server.requests[0].url).pathname, "/jobs");

    await jobs(server.url, ["show", "a"]);
    assertEquals(
      server.requests[1].headers.get("authorization"),
      null,
      "no token, no header",
    );

    status = 503;
    assertExit(
      await jobs(server.url, ["show", "a"]),
      1,
      /a valid bearer token/,
    );
  } finally {
    await server.close();
  }
});

Deno.test("against a server with JOBPRO_TOKEN: no token exits 6, the token works for commands and watch", async () => {
  const token = "cli-test-token-0123456789";
  await withServer(async (jp) => {
    const env = { JOBPRO_TOKEN: token };
    assertExit(await jobs(jp.url, ["list"]), 6, /token/);
    assertExit(
      await jobs(jp.url, ["list"], {
        env: { JOBPRO_TOKEN: "wrong-token-0123456789" },
      }),
      6,
    );
    const added = await jobs(jp.url, [
      "add",
      "--id",
      "t",
      "--name",
      "T",
      "--function",
      "noop",
      "--no-start",
      "--json",
    ], { env });
    assertExit(added, 0);
    const ran = await jobs(jp.url, ["run", "t", "--wait"], { env });
    assertExit(ran, 0);
    assertMatch(ran.stdout, /^t #\d+ complete/);
    assertExit(await jobs(jp.url, ["watch"]), 6);
    const watch = spawnJobs(jp.url, ["watch", "t"], { env });
    try {
      await watch.until(/connected to /, "stderr");
      await fetch(`${jp.url}/jobs/t/run`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      }).then((r) => r.body?.cancel());
      await watch.until(/run-finished {2}t {2}#\d+ complete/);
    } finally {
      await watch.stop();
    }
  }, { JOBPRO_TOKEN: token });
});

Deno.test("cancel ends a running run and prints it; an ended run exits 4, an unknown one 3, a bad RUN_ID 2", async () => {
  await withServer(async (jp) => {
    await api(jp, "POST", "/jobs", {
      id: "nap",
      name: "Nap",
      schedule: "",
      autoStart: false,
      action: { type: "function", name: "sleep", params: { ms: 60_000 } },
    });
    const ran = await api(jp, "POST", "/jobs/nap/run");
    const id = String(ran.run.id);
    const r = await jobs(jp.url, ["cancel", "nap", id]);
    assertExit(r, 0);
    assertMatch(
      r.stdout,
      new RegExp(`^nap #${id} cancelled .*cancelled by api`),
    );
    assertExit(
      await jobs(jp.url, ["cancel", "nap", id]),
      4,
      /has already ended/,
    );
    assertExit(await jobs(jp.url, ["cancel", "nap", "9999"]), 3, /no run 9999/);
    assertExit(await jobs(jp.url, ["cancel", "nope", "1"]), 3, /"nope"/);
    assertExit(
      await jobs(jp.url, ["cancel", "nap", "x"]),
      2,
      /RUN_ID must be a run number/,
    );
    assertExit(await jobs(jp.url, ["cancel", "nap"]), 2, /missing/);
    const help = await jobs(jp.url, ["help", "cancel"]);
    assertExit(help, 0);
    assertStringIncludes(
      help.stdout,
      "deno task jobs cancel nightly-report 42",
    );
    assertStringIncludes((await jobs(jp.url, ["help"])).stdout, "cancel");
  });
});
