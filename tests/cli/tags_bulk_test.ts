/**
 * Tags and bulk actions from the `jobs` CLI as a user runs it: a real child
 * process (`deno run ... cli/jobs.ts`) against a real jobpro on a random
 * port with a temp DuckDB file (as tests/cli/cli_test.ts does).
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { waitFor } from "../helpers.ts";
import { assertExit, jobs, jobsJson, withServer } from "./helpers.ts";

const add = (url: string, id: string, ...more: string[]) =>
  jobsJson<{ tags: string[] }>(url, [
    "add",
    "--id",
    id,
    "--name",
    id,
    "--function",
    "noop",
    "--schedule",
    "0 0 * * *",
    ...more,
  ]);

Deno.test("cli: --tag on add, edit and list; list and show print tags; a bad tag is refused naming it", async () => {
  await withServer(async (jp) => {
    assertEquals(
      (await add(jp.url, "a", "--tag", "billing", "--tag", "nightly")).tags,
      ["billing", "nightly"],
    );
    assertEquals((await add(jp.url, "b", "--tag", "billing")).tags, [
      "billing",
    ]);
    assertEquals((await add(jp.url, "c")).tags, []);

    const both = await jobsJson<{ jobs: { id: string }[] }>(jp.url, [
      "list",
      "--tag",
      "billing",
      "--tag",
      "nightly",
    ]);
    assertEquals(both.jobs.map((j) => j.id), ["a"]);
    const comma = await jobsJson<{ jobs: { id: string }[] }>(jp.url, [
      "list",
      "--tag",
      "billing,nightly",
    ]);
    assertEquals(comma.jobs.map((j) => j.id), ["a"]);

    const table = await jobs(jp.url, ["list", "--tag", "billing"]);
    assertExit(table, 0);
    const [header, ...rows] = table.stdout.trimEnd().split("\n");
    assertMatch(header, /\s+OK%\s+TAGS$/);
    assertMatch(rows[0], /^a\s.*\sbilling,nightly$/);
    assertMatch(rows[1], /^b\s.*\sbilling$/);
    assertMatch(
      (await jobs(jp.url, ["show", "a"])).stdout,
      /^tags\s+billing, nightly$/m,
    );

    const edited = await jobsJson<{ tags: string[] }>(jp.url, [
      "edit",
      "a",
      "--tag",
      "x.y,z",
    ]);
    assertEquals(edited.tags, ["x.y", "z"]);
    assertEquals(
      (await jobsJson<{ tags: string[] }>(jp.url, ["edit", "a", "--tag", ""]))
        .tags,
      [],
    );

    assertExit(
      await jobs(jp.url, ["edit", "b", "--tag", "ok,Not-Ok"]),
      4,
      /tags\.1: "Not-Ok" must be lowercase/,
    );
    assertExit(
      await jobs(jp.url, ["list", "--tag", "Nope"]),
      4,
      /tag: "Nope" must be lowercase/,
    );
  });
});

Deno.test("cli: bulk by tag or by ids prints each job's outcome; the exit code is the first failure's", async () => {
  await withServer(async (jp) => {
    await add(jp.url, "a", "--tag", "billing");
    await add(jp.url, "b", "--tag", "billing");
    await add(jp.url, "c", "--no-start");

    const paused = await jobs(jp.url, ["bulk", "pause", "--tag", "billing"]);
    assertExit(paused, 0);
    assertMatch(paused.stdout, /^a\s+ok\s+paused$/m);
    assertMatch(paused.stdout, /^b\s+ok\s+paused$/m);
    assertMatch(paused.stdout, /^pause: 2 of 2 jobs done$/m);
    assertEquals(jp.manager.get("a").status, "paused");

    const mixed = await jobs(jp.url, ["bulk", "resume", "a", "c", "nope"]);
    assertExit(mixed, 4);
    assertMatch(mixed.stdout, /^a\s+ok\s+scheduled$/m);
    assertMatch(
      mixed.stdout,
      /^c\s+conflict\s+cannot resume a job that is created$/m,
    );
    assertMatch(mixed.stdout, /^nope\s+not_found\s+no job with id "nope"$/m);
    assertMatch(mixed.stdout, /^resume: 1 of 3 jobs done, 2 failed$/m);

    const missing = await jobs(jp.url, ["bulk", "pause", "nope"]);
    assertExit(missing, 3);

    const ran = await jobsJson<
      { succeeded: number; results: { id: string; runId: number }[] }
    >(jp.url, ["bulk", "run", "c"]);
    assertEquals(ran.succeeded, 1);
    assert(typeof ran.results[0].runId === "number");
    await waitFor(() => jp.manager.get("c").runCount === 1);

    assertExit(
      await jobs(jp.url, ["bulk", "delete"]),
      2,
      /which jobs\? give IDs, filter flags/,
    );
    assertExit(
      await jobs(jp.url, ["bulk", "delete", "a", "--tag", "billing"]),
      2,
      /give one or the other/,
    );
    assertExit(
      await jobs(jp.url, ["bulk", "stop", "a"]),
      2,
      /unknown action "stop"/,
    );
    assertEquals(jp.manager.size, 3, "nothing was sent");

    const gone = await jobs(jp.url, ["bulk", "delete", "--all"]);
    assertExit(gone, 0);
    assertMatch(gone.stdout, /^delete: 3 of 3 jobs done$/m);
    assertEquals(jp.manager.size, 0);
  });
});
