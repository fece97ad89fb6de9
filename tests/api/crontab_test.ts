/**
 * Crontab import through the REST API, on a real server with a real DuckDB
 * file and real shell processes: `POST /jobs/import/crontab` (text/plain
 * or JSON) makes shell jobs that really run through /bin/sh -c with the
 * crontab's env and `%` input, in its CRON_TZ, alerting MAILTO on failure;
 * `@reboot` runs again when the server restarts; a re-import is unchanged;
 * a bad line imports nothing unless `?partial=1`.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { type Jobpro, startJobpro } from "@/main.ts";
import { call, tempDb, waitFor } from "./helpers.ts";

const CRONTAB = `# imported
MAILTO=ops@example.com
CRON_TZ=America/New_York
GREETING=hello
0 4 * * * test "$GREETING" = hello && echo "env ok in $0"; cat%line one%line two
@reboot echo booted
`;

async function importText(jp: Jobpro, text: string, query = "") {
  const res = await fetch(`${jp.url}/jobs/import/crontab${query}`, {
    method: "POST",
    headers: { "content-type": "text/plain", accept: "application/json" },
    body: text,
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("crontab import: shell jobs that run as cron would, @reboot at each start, re-import unchanged, all or nothing", async (t) => {
  const db = await tempDb();
  const start = () =>
    startJobpro(
      readConfig({
        PORT: "0",
        JOBPRO_DB: db.path,
        JOBPRO_ALLOW_SHELL: "1",
        JOBPRO_SHUTDOWN_GRACE_MS: "0",
      }),
      { quiet: true },
    );
  let jp = await start();
  try {
    let ids: string[] = [];
    await t.step(
      "the dry run changes nothing; the import creates the jobs",
      async () => {
        const dry = await importText(jp, CRONTAB, "?dryRun=1");
        assertEquals(dry.status, 200, JSON.stringify(dry.body));
        assertEquals([dry.body.dryRun, dry.body.created], [true, 2]);
        assertEquals((await call(jp, "GET", "/jobs")).body.total, 0);
        const r = await importText(jp, CRONTAB);
        assertEquals(r.status, 200, JSON.stringify(r.body));
        assertEquals(r.body.created, 2);
        assertEquals(r.body.lines.map((l: { line: number }) => l.line), [5, 6]);
        ids = r.body.lines.map((l: { id: string }) => l.id);
      },
    );

    await t.step(
      "each job: /bin/sh -c, its zone, its mail alert, said in its description",
      async () => {
        const job = (await call(jp, "GET", `/jobs/${ids[0]}`)).body;
        assertEquals(job.schedule, "0 4 * * *");
        assertEquals(job.timezone, "America/New_York");
        assertEquals(job.action.command.slice(0, 2), ["/bin/sh", "-c"]);
        assertEquals(job.notify, [{
          on: ["failure"],
          target: { email: "ops@example.com" },
        }]);
        assertStringIncludes(job.description, "/bin/sh -c");
        assertEquals(job.tags, ["crontab"]);
      },
    );

    await t.step(
      "a run: the shell gets the env and cron's % input",
      async () => {
        const run = await call(jp, "POST", `/jobs/${ids[0]}/run`);
        assertEquals(run.status, 200, run.text);
        const done = await waitFor(async () => {
          const r = await call(
            jp,
            "GET",
            `/jobs/${ids[0]}/runs/${run.body.run.id}`,
          );
          return r.body.status !== "running" && r.body;
        }, { what: "the run to end" });
        assertEquals(done.status, "complete", JSON.stringify(done));
        assertEquals(done.output, "env ok in /bin/sh\nline one\nline two");
      },
    );

    await t.step(
      "@reboot runs when imported, and again at each start",
      async () => {
        await waitFor(
          async () =>
            (await call(jp, "GET", `/jobs/${ids[1]}`)).body.runCount === 1,
          {
            what: "the @reboot job's first run",
          },
        );
        await jp.close();
        jp = await start();
        const after = await waitFor(async () => {
          const j = (await call(jp, "GET", `/jobs/${ids[1]}`)).body;
          return j.runCount === 2 && j.lastRun?.status === "complete" && j;
        }, { what: "the @reboot job's run at the restart" });
        assertEquals(after.lastRun.status, "complete");
        const other = (await call(jp, "GET", `/jobs/${ids[0]}`)).body;
        assertEquals(other.runCount, 1, "a cron line does not run at start");
      },
    );

    await t.step(
      "a second import finds the same jobs and changes nothing",
      async () => {
        const r = await importText(jp, CRONTAB);
        assertEquals([r.status, r.body.created, r.body.unchanged], [200, 0, 2]);
        const edited = await call(jp, "POST", "/jobs/import/crontab", {
          crontab: CRONTAB.replace("0 4 * * *", "0 5 * * *"),
        });
        assertEquals(edited.status, 200, edited.text);
        assertEquals(edited.body.configured, 1);
        assertEquals(edited.body.jobs[0].changes[0], {
          field: "schedule",
          old: "0 4 * * *",
          new: "0 5 * * *",
        });
        assertEquals((await call(jp, "GET", "/jobs")).body.total, 2);
      },
    );

    await t.step(
      "a bad line imports nothing and is named; partial imports the rest",
      async () => {
        const text = "0 1 * * * /bin/true\n0 1 * * MON-XYZ /bin/false\n";
        const r = await importText(jp, text);
        assertEquals(r.status, 400, JSON.stringify(r.body));
        assertEquals(r.body.error.field, "line.2");
        assertMatch(r.body.error.message, /line 2: .*XYZ/);
        assertEquals((await call(jp, "GET", "/jobs")).body.total, 2);
        const p = await importText(jp, text, "?partial=1");
        assertEquals([p.status, p.body.created], [200, 1]);
        assertEquals(p.body.problems.map((x: { line: number }) => x.line), [2]);
        // A line whose job a create would refuse (21 MAILTO addresses) is
        // left out by a partial import too, named by its line.
        const mails = Array.from({ length: 21 }, (_, i) => `u${i}@example.com`);
        const crowded = [
          "0 3 * * * /bin/echo first",
          `MAILTO=${mails.join(",")}`,
          "0 4 * * * /bin/echo crowded",
          "MAILTO=",
          "0 5 * * * /bin/echo last",
        ].join("\n");
        const whole = await importText(jp, crowded, "?dryRun=1");
        assertEquals([whole.status, whole.body.error.field], [400, "line.3"]);
        const part = await importText(jp, crowded, "?dryRun=1&partial=1");
        assertEquals([part.status, part.body.created], [200, 2]);
        assertEquals(
          part.body.problems.map((x: { line: number }) => x.line),
          [3],
        );
        const none = await call(jp, "POST", "/jobs/import/crontab", {
          text: "",
        });
        assertEquals([none.status, none.body.error.field], [400, "crontab"]);
        const html = await fetch(`${jp.url}/jobs/import/crontab`, {
          method: "POST",
          headers: { "content-type": "text/html" },
          body: "<p>",
        });
        assertEquals(html.status, 415);
        await html.body?.cancel();
      },
    );
  } finally {
    await jp.close();
    await db.cleanup();
  }
  assert(true);
});
