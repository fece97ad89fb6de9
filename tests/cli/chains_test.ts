/**
 * Chains from the `jobs` CLI as a user runs it: a real child process
 * (`deno run ... cli/jobs.ts`) against a real jobpro on a random port with a
 * temp DuckDB file (as tests/cli/cli_test.ts does): `--on-success` and
 * `--on-failure` on add and edit, shown by `show`, a bad id refused naming
 * the field, and the flags in `add --help`.
 */
import { assertEquals, assertMatch } from "@std/assert";
import { waitFor } from "../helpers.ts";
import { assertExit, jobs, jobsJson, withServer } from "./helpers.ts";

const add = (url: string, id: string, ...more: string[]) =>
  jobsJson<{ onSuccess: string[]; onFailure: string[] }>(url, [
    "add",
    "--id",
    id,
    "--name",
    id,
    "--function",
    "noop",
    "--schedule",
    "",
    "--no-start",
    ...more,
  ]);

Deno.test("cli: --on-success/--on-failure on add and edit, shown by show; an unknown id is refused naming the field", async () => {
  await withServer(async (jp) => {
    await add(jp.url, "report");
    await add(jp.url, "cleanup");
    await add(jp.url, "alert");
    const a = await add(
      jp.url,
      "a",
      "--on-success",
      "report,cleanup",
      "--on-failure",
      "alert",
    );
    assertEquals([a.onSuccess, a.onFailure], [["report", "cleanup"], [
      "alert",
    ]]);
    const shown = (await jobs(jp.url, ["show", "a"])).stdout;
    assertMatch(shown, /^on success\s+report, cleanup$/m);
    assertMatch(shown, /^on failure\s+alert$/m);

    const edited = await jobsJson<{ onSuccess: string[]; onFailure: string[] }>(
      jp.url,
      ["edit", "a", "--on-success", "report", "--on-failure", ""],
    );
    assertEquals([edited.onSuccess, edited.onFailure], [["report"], []]);
    assertMatch(
      (await jobs(jp.url, ["show", "a"])).stdout,
      /^on failure\s+–$/m,
    );

    const bad = await jobs(jp.url, ["edit", "a", "--on-success", "zz"]);
    assertExit(bad, 4, /onSuccess: no job "zz"/);
    const cycle = await jobs(jp.url, ["edit", "report", "--on-success", "a"]);
    assertExit(cycle, 4, /leads back to "report" \(report -> a -> report\)/);

    // A chained run names its parent in `runs` and in the run's detail.
    const parent = await jobsJson<{ run: { id: number } }>(jp.url, [
      "run",
      "a",
    ]);
    const table = await waitFor(async () => {
      const r = await jobs(jp.url, ["runs", "report"]);
      return r.stdout.includes(`chain a#${parent.run.id}`) && r.stdout;
    }, { what: "report's chained run listed" });
    const runId = table.match(/#(\d+)\s+chain a#/)![1];
    assertMatch(
      (await jobs(jp.url, ["runs", "report", runId])).stdout,
      new RegExp(`^chained from\\s+job a run #${parent.run.id}$`, "m"),
    );

    const help = await jobs(jp.url, ["add", "--help"]);
    assertExit(help, 0);
    assertMatch(help.stdout, /--on-success IDS/);
    assertMatch(help.stdout, /--on-failure IDS/);
  });
});
