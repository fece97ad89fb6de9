import { assertEquals, assertStringIncludes } from "@std/assert";
import { tempDb, waitFor } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SEED = new URL("./fixtures/seed_jobs.json", import.meta.url).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `deno task start`, exactly as the README runs it (explicit permissions, no -A). */
function startTask(env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: ROOT,
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of s) log += decoder.decode(chunk, { stream: true });
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
  return { child, log: () => log, pumped };
}

Deno.test({
  name:
    "deno task start: seed jobs file, serves /jobs, SIGTERM exits 0, restart restores from the file",
  async fn() {
    const db = await tempDb();
    const port = freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      PORT: String(port),
      JOBPRO_DB: db.path,
      JOBPRO_JOBS_FILE: SEED,
    };
    try {
      const first = startTask(env);
      await waitFor(() => fetch(`${url}/healthz`).then((r) => r.ok), {
        timeoutMs: 60_000,
        what: "healthz",
      });
      const list = await (await fetch(`${url}/jobs`, {
        headers: { accept: "application/json" },
      })).json();
      assertEquals(list.total, 4);
      await fetch(`${url}/jobs/periodicJob2/pause`, { method: "POST" }).then((
        r,
      ) => r.body?.cancel());
      first.child.kill("SIGTERM");
      const status = await first.child.status;
      await first.pumped;
      assertEquals(status.code, 0, first.log());
      assertStringIncludes(first.log(), "loaded 4 job(s)");

      // Restart without the jobs file: everything comes back from the database.
      const second = startTask({ PORT: String(port), JOBPRO_DB: db.path });
      await waitFor(() => fetch(`${url}/healthz`).then((r) => r.ok), {
        timeoutMs: 60_000,
        what: "healthz",
      });
      const job = await (await fetch(`${url}/jobs/periodicJob2`, {
        headers: { accept: "application/json" },
      })).json();
      assertEquals(job.status, "paused");
      second.child.kill("SIGTERM");
      assertEquals((await second.child.status).code, 0);
      await second.pumped;
    } finally {
      await db.cleanup();
    }
  },
});

Deno.test("a second jobpro on the same database file refuses to start and says why", async () => {
  const db = await tempDb();
  const port = freePort();
  const first = startTask({ PORT: String(port), JOBPRO_DB: db.path });
  try {
    await waitFor(
      () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok),
      { timeoutMs: 60_000 },
    );
    const second = startTask({ PORT: String(freePort()), JOBPRO_DB: db.path });
    const status = await second.child.status;
    await second.pumped;
    assertEquals(status.code, 1);
    assertStringIncludes(second.log(), "in use by another process");
  } finally {
    first.child.kill("SIGTERM");
    await first.child.status;
    await first.pumped;
    await db.cleanup();
  }
});

Deno.test("deno task run's examples load only into an empty database without a jobs file", async () => {
  const { startJobpro } = await import("@/main.ts");
  const { readConfig } = await import("@/lib/config.ts");
  const db = await tempDb();
  try {
    let jp = await startJobpro(readConfig({ PORT: "0", JOBPRO_DB: db.path }), {
      examples: true,
      quiet: true,
    });
    const ids = jp.manager.list().jobs.map((j) => j.id);
    assertEquals(ids, [
      "heartbeat",
      "flaky-sync",
      "warm-cache",
      "manual-report",
    ]);
    const kinds = jp.manager.list().jobs.map((
      j,
    ) => [j.type, j.schedule === "" ? "manual" : j.status]);
    assertEquals(kinds, [["periodic", "scheduled"], ["periodic", "scheduled"], [
      "onetime",
      "scheduled",
    ], [
      "onetime",
      "manual",
    ]]);
    await jp.manager.delete("heartbeat");
    await jp.close();
    // Not empty any more: the examples are not loaded again, the deleted one stays deleted.
    jp = await startJobpro(readConfig({ PORT: "0", JOBPRO_DB: db.path }), {
      examples: true,
      quiet: true,
    });
    assertEquals(jp.manager.size, 3);
    await jp.close();
  } finally {
    await db.cleanup();
  }
  const db2 = await tempDb();
  try {
    const jp = await startJobpro(
      readConfig({ PORT: "0", JOBPRO_DB: db2.path, JOBPRO_JOBS_FILE: SEED }),
      {
        examples: true,
        quiet: true,
      },
    );
    assertEquals(jp.manager.list().jobs.map((j) => j.id).sort(), [
      "manualJob",
      "onetimeJob1",
      "periodicJob1",
      "periodicJob2",
    ]);
    await jp.close();
  } finally {
    await db2.cleanup();
  }
});

Deno.test("a second SIGTERM more than a second into a slow graceful shutdown exits at once", async () => {
  const db = await tempDb();
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const srv = startTask({
    PORT: String(port),
    JOBPRO_DB: db.path,
    JOBPRO_ALLOW_SHELL: "1",
    JOBPRO_SHUTDOWN_GRACE_MS: "60000",
  });
  try {
    await waitFor(() => fetch(`${url}/healthz`).then((r) => r.ok), {
      timeoutMs: 60_000,
      what: "healthz",
    });
    // A program that ignores SIGTERM keeps the graceful shutdown waiting (for
    // the kill grace, 5 s) — the second signal must not wait for it.
    const created = await fetch(`${url}/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: "stubborn",
        name: "stubborn",
        schedule: "",
        autoStart: false,
        action: {
          type: "shell",
          command: ["sh", "-c", "trap '' TERM; sleep 8"],
        },
      }),
    });
    assertEquals(created.status, 201);
    await created.body?.cancel();
    await (await fetch(`${url}/jobs/stubborn/run`, { method: "POST" })).body
      ?.cancel();
    await waitFor(async () =>
      (await (await fetch(`${url}/jobs/stubborn`, {
        headers: { accept: "application/json" },
      })).json()).activeRuns === 1
    );
    srv.child.kill("SIGTERM");
    await waitFor(() => srv.log().includes("no new runs"), {
      what: "the graceful shutdown to begin",
    });
    // The same signal within a second is the same Ctrl-C (it reaches every
    // process of the group): only a later one means "now".
    const first = Date.now();
    await waitFor(() => Date.now() - first > 1100, { timeoutMs: 5000 });
    const t0 = Date.now();
    srv.child.kill("SIGTERM");
    const status = await srv.child.status;
    await srv.pumped;
    assertEquals(status.code, 143, srv.log());
    assertEquals(
      Date.now() - t0 < 3000,
      true,
      "exited at once, not after the kill grace",
    );
    assertStringIncludes(srv.log(), "again: exiting now");
  } finally {
    try {
      srv.child.kill("SIGKILL");
    } catch { /* already gone */ }
    await srv.child.status.catch(() => {});
    await db.cleanup();
  }
});
