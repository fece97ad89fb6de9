/**
 * A job's description and zone from the `jobs` CLI as a user runs it: a real
 * child process (`deno run ... cli/jobs.ts`) against a real jobpro on a
 * random port with a temp DuckDB file and a default zone (as
 * tests/cli/cli_test.ts does).
 */
import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { jobs, withServer } from "./helpers.ts";

Deno.test("cli: --description on add and edit (an empty one clears it), shown by show with the zone that applies", async () => {
  await withServer(async (jp) => {
    const help = await jobs(jp.url, ["add", "--help"]);
    assertStringIncludes(help.stdout, "--description TEXT");
    const add = await jobs(jp.url, [
      "add",
      "--name",
      "Digest",
      "--description",
      "Morning digest for sales",
      "--schedule",
      "0 0 9 * * *",
      "--function",
      "noop",
    ]);
    assertEquals(add.code, 0, add.stderr);
    assertEquals(
      jp.manager.get("digest").description,
      "Morning digest for sales",
    );
    const show = await jobs(jp.url, ["show", "digest"]);
    assertMatch(show.stdout, /description\s+Morning digest for sales/);
    assertMatch(show.stdout, /timezone\s+Europe\/Berlin \(server default\)/);
    assertMatch(show.stdout, /last success\s+–\n/);

    const edit = await jobs(jp.url, [
      "edit",
      "digest",
      "--description",
      "Now for marketing",
    ]);
    assertEquals(edit.code, 0, edit.stderr);
    assertEquals(jp.manager.get("digest").description, "Now for marketing");
    const long = await jobs(jp.url, [
      "edit",
      "digest",
      "--description",
      "x".repeat(2001),
    ]);
    assertEquals(long.code === 0, false, "refused");
    assertStringIncludes(long.stderr, "description");
    assertEquals(jp.manager.get("digest").description, "Now for marketing");
    const cleared = await jobs(jp.url, ["edit", "digest", "--description", ""]);
    assertEquals(cleared.code, 0, cleared.stderr);
    assertEquals(jp.manager.get("digest").description, null);
  }, { JOBPRO_TIMEZONE: "Europe/Berlin" });
});
