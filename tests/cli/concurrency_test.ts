/**
 * Concurrency from the `jobs` CLI as a user runs it: a real child process
 * (`deno run ... cli/jobs.ts`) against a real jobpro on a random port with a
 * temp DuckDB file and JOBPRO_CONCURRENCY="backups=1"; the jobs' http
 * actions call a real local server that holds each request until the test
 * lets it go, so a second run really waits queued.
 */
import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { localServer, waitFor } from "../helpers.ts";
import { assertExit, jobs, type Result, startServer } from "./helpers.ts";

function ok(r: Result): string {
  assertExit(r, 0);
  return r.stdout;
}

Deno.test("cli: --concurrency-key on add and edit; jobs concurrency shows and sets limits; queued runs in runs output", async () => {
  const held: (() => void)[] = [];
  const target = localServer(() =>
    new Promise<Response>((resolve) =>
      held.push(() => resolve(new Response("ok")))
    )
  );
  const server = await startServer({ JOBPRO_CONCURRENCY: "backups=1" });
  const jp = server.jp;
  try {
    for (const id of ["b1", "b2"]) {
      const made = JSON.parse(ok(
        await jobs(jp.url, [
          "add",
          "--id",
          id,
          "--name",
          id,
          "--http",
          `${target.url}/?job=${id}`,
          "--concurrency-key",
          "backups",
          "--no-start",
          "--json",
        ]),
      ));
      assertEquals(made.concurrencyKey, "backups");
    }
    const post = (path: string) =>
      fetch(`${jp.url}${path}`, {
        method: "POST",
        headers: { accept: "application/json" },
      })
        .then((r) => r.json());
    await post("/jobs/b1/run");
    await waitFor(() => target.requests.length === 1, {
      what: "b1 at the target",
    });
    const queued = await post("/jobs/b2/run");
    assertEquals(queued.run.status, "queued");

    const runs = ok(await jobs(jp.url, ["runs", "b2"]));
    assertMatch(runs, new RegExp(`#${queued.run.id}\\s.*queued`));
    const shown = ok(await jobs(jp.url, ["concurrency"]));
    assertMatch(shown, /max concurrent runs\s+no cap/);
    assertMatch(shown, /KEY\s+LIMIT\s+RUNNING\s+QUEUED/);
    assertMatch(shown, /backups\s+1\s+1\s+1/);

    const set = JSON.parse(
      ok(
        await jobs(jp.url, ["concurrency", "reports=2", "backups=", "--json"]),
      ),
    );
    assertEquals(set.keys, [{
      key: "reports",
      limit: 2,
      running: 0,
      queued: 0,
    }]);
    // The limit gone, the queued run starts.
    await waitFor(() => target.requests.length === 2, {
      what: "b2 at the target",
    });

    const bad = await jobs(jp.url, ["concurrency", "Bad=1"]);
    assertEquals(bad.code, 4, bad.stderr);
    assertStringIncludes(bad.stderr, "limits.Bad");
    const usage = await jobs(jp.url, ["concurrency", "backups=lots"]);
    assertEquals(usage.code, 2, usage.stderr);
    assertStringIncludes(
      usage.stderr,
      'backups: the limit must be a whole number of runs, got "lots"',
    );

    const edited = JSON.parse(
      ok(await jobs(jp.url, ["edit", "b1", "--concurrency-key", "", "--json"])),
    );
    assertEquals(edited.concurrencyKey, null);
    const help = ok(await jobs(jp.url, ["concurrency", "--help"]));
    assertStringIncludes(help, "KEY=N");
  } finally {
    for (const go of held.splice(0)) go();
    await server.close();
    await target.close();
  }
});
