/**
 * `jobs logs` as a user runs it: a real child process (`deno run cli/jobs.ts`)
 * against a real jobpro on a random port with a temp DuckDB file and real
 * shell actions. `--follow` prints a running program's first line while it
 * still runs (the program waits for a file the test creates only after that
 * line was printed), then the rest, once each, and exits 0 for a completed
 * run, 5 for a failed one; without `--follow` it prints the latest run's
 * output. Waiting polls with deadlines.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { waitFor } from "../helpers.ts";
import { request, spawnJobs, withServer } from "./helpers.ts";

const shell = (script: string, ...args: string[]) => ({
  type: "shell",
  command: ["sh", "-c", script, ...args],
});

Deno.test("jobs logs --follow streams a running program, then exits 0 (complete) or 5 (failed)", async () => {
  await withServer(async (jp, { dir }) => {
    const gate = `${dir}/go`;
    const made = await request(jp, "POST", "/jobs", {
      id: "chatty",
      name: "Chatty",
      schedule: "",
      autoStart: false,
      action: shell(
        `echo one; while [ ! -e "$0" ]; do sleep 0.01; done; echo two`,
        gate,
      ),
    });
    assertEquals(made.status, 201, JSON.stringify(made.body));
    const ran = await request(jp, "POST", "/jobs/chatty/run");
    const runId = ran.body.run.id;
    // No RUN_ID: the job's latest run.
    const follow = spawnJobs(jp.url, ["logs", "chatty", "--follow"]);
    await waitFor(() => follow.seen.stdout === "one\n", {
      what: `the first line: ${JSON.stringify(follow.seen)}`,
    });
    await Deno.writeTextFile(gate, "");
    assertEquals(await follow.exit(), 0, follow.seen.stderr);
    assertEquals(follow.seen.stdout, "one\ntwo\n");

    const plain = spawnJobs(jp.url, ["logs", "chatty", String(runId)]);
    assertEquals(await plain.exit(), 0, plain.seen.stderr);
    assertEquals(plain.seen.stdout, "one\ntwo\n");

    await request(jp, "POST", "/jobs", {
      id: "broken",
      name: "Broken",
      schedule: "",
      autoStart: false,
      action: shell(`echo bad; exit 3`),
    });
    const bad = await request(jp, "POST", "/jobs/broken/run");
    const failed = spawnJobs(jp.url, [
      "logs",
      "broken",
      String(bad.body.run.id),
      "-f",
    ]);
    assertEquals(await failed.exit(), 5, JSON.stringify(failed.seen));
    assertEquals(failed.seen.stdout, "bad\n");
    assertStringIncludes(failed.seen.stderr, "failed");

    const none = spawnJobs(jp.url, ["logs", "nope"]);
    assertEquals(await none.exit(), 3);
    const help = spawnJobs(jp.url, ["logs", "--help"]);
    assertEquals(await help.exit(), 0);
    assertStringIncludes(help.seen.stdout, "--follow");
    assert(/0 the run\s+completed, 5 it failed/.test(help.seen.stdout));
  }, { JOBPRO_ALLOW_SHELL: "1" });
});
