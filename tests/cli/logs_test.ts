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
import { readConfig } from "@/lib/config.ts";
import { type Jobpro, startJobpro } from "@/main.ts";
import { tempDb, waitFor } from "../helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function jobsCommand(url: string, args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "cli/jobs.ts",
      ...args,
    ],
    cwd: ROOT,
    env: { JOBPRO_URL: url, JOBPRO_TOKEN: "", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** A `jobs` process whose output is collected as it comes. */
function spawnJobs(url: string, args: string[]) {
  const child = jobsCommand(url, args).spawn();
  const seen = { stdout: "", stderr: "" };
  const pump = async (
    s: ReadableStream<Uint8Array>,
    key: keyof typeof seen,
  ) => {
    const decoder = new TextDecoder();
    for await (const chunk of s) {
      seen[key] += decoder.decode(chunk, { stream: true });
    }
  };
  const pumped = Promise.all([
    pump(child.stdout, "stdout"),
    pump(child.stderr, "stderr"),
  ]);
  return {
    seen,
    async exit() {
      const { code } = await child.status;
      await pumped;
      return code;
    },
  };
}

async function api(jp: Jobpro, method: string, path: string, body?: unknown) {
  const res = await fetch(jp.url + path, {
    method,
    headers: { "content-type": "application/json", accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const shell = (script: string, ...args: string[]) => ({
  type: "shell",
  command: ["sh", "-c", script, ...args],
});

Deno.test("jobs logs --follow streams a running program, then exits 0 (complete) or 5 (failed)", async () => {
  const db = await tempDb();
  const jp = await startJobpro(
    readConfig({
      PORT: "0",
      JOBPRO_DB: db.path,
      JOBPRO_SHUTDOWN_GRACE_MS: "0",
      JOBPRO_ALLOW_SHELL: "1",
    }),
    { quiet: true },
  );
  try {
    const gate = `${db.dir}/go`;
    const made = await api(jp, "POST", "/jobs", {
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
    const ran = await api(jp, "POST", "/jobs/chatty/run");
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

    await api(jp, "POST", "/jobs", {
      id: "broken",
      name: "Broken",
      schedule: "",
      autoStart: false,
      action: shell(`echo bad; exit 3`),
    });
    const bad = await api(jp, "POST", "/jobs/broken/run");
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
  } finally {
    await jp.close();
    await db.cleanup();
  }
});
