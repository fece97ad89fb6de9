/**
 * Heartbeat jobs from the `jobs` CLI as a user runs it: a real child
 * process (`deno run ... cli/jobs.ts`) against a real jobpro with a token,
 * on a random port with a temp DuckDB file. `add --heartbeat` makes one
 * (its ping key generated), `ping` reports with the key and no token
 * (start, then success), a wrong key exits 6, `--help` documents it.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { jobs, withServer } from "./helpers.ts";

const TOKEN = "cli-heartbeat-token-0123456789";

Deno.test("cli: add --heartbeat, ping with the key (start, success), a wrong key, --help", async () => {
  await withServer(async (jp) => {
    const added = await jobs(jp.url, [
      "add",
      "--json",
      "--name",
      "Backup",
      "--schedule",
      "0 3 * * *",
      "--heartbeat",
      "10m",
    ], { env: { JOBPRO_TOKEN: TOKEN } });
    assertEquals(added.code, 0, added.stderr);
    const job = JSON.parse(added.stdout);
    assertEquals(job.action.type, "heartbeat");
    assertEquals(job.action.graceMs, 600_000);
    const key = job.action.pingKey;
    assertMatch(key, /^[A-Za-z0-9_-]{32}$/);

    // No token: the key is enough.
    const start = await jobs(jp.url, ["ping", job.id, "--start", "--key", key]);
    assertEquals(start.code, 0, start.stderr);
    assertMatch(start.stdout, /running/);
    const done = await jobs(jp.url, ["ping", job.id, "--json", "--key", key]);
    assertEquals(done.code, 0, done.stderr);
    assertEquals(JSON.parse(done.stdout).status, "complete");
    const wrong = await jobs(jp.url, ["ping", job.id, "--key", "x".repeat(20)]);
    assertEquals(wrong.code, 6);
    assertMatch(wrong.stderr, /ping key/);
    const both = await jobs(jp.url, ["ping", job.id, "--start", "--fail"]);
    assertEquals(both.code, 2);

    const help = await jobs(jp.url, ["ping", "--help"]);
    assertEquals(help.code, 0);
    assertMatch(help.stdout, /--start/);
    const addHelp = await jobs(jp.url, ["add", "--help"]);
    assert(addHelp.stdout.includes("--heartbeat GRACE"));
  }, { JOBPRO_TOKEN: TOKEN });
});
