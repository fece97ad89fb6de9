/**
 * Shutting down as operators expect (Kubernetes' terminationGracePeriod,
 * systemd's TimeoutStopSec), on real processes and real signals: SIGTERM
 * lets running runs finish within JOBPRO_SHUTDOWN_GRACE_MS and cancels the
 * rest; Ctrl-C on `npx deno task run` (SIGINT to the whole process group)
 * is one graceful stop; killing the npx leaves nothing holding the port.
 */
import { assert, assertEquals } from "@std/assert";
import { openDuckDBStore } from "@/lib/jobpro/mod.ts";
import { freePort, ROOT, startProcess, tempDb, waitFor } from "./helpers.ts";

const sleepAction = (ms: number) => ({
  type: "function",
  name: "sleep",
  params: { ms },
});

Deno.test({
  name:
    "SIGTERM: no new runs; running runs finish within JOBPRO_SHUTDOWN_GRACE_MS, the rest end cancelled after it; exit 0",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    const p = await startProcess({
      JOBPRO_DB: db.path,
      JOBPRO_SHUTDOWN_GRACE_MS: "3000",
    });
    try {
      const ids: Record<string, number> = {};
      for (const [id, ms] of [["short", 1500], ["long", 60_000]] as const) {
        await p.api("POST", "/jobs", {
          id,
          name: id,
          schedule: "",
          autoStart: false,
          action: sleepAction(ms),
        });
        ids[id] = (await p.api("POST", `/jobs/${id}/run`)).body.run.id;
      }
      const t0 = Date.now();
      const status = await p.stop();
      const took = Date.now() - t0;
      assertEquals(status.code, 0, p.log().slice(-2000));
      assert(took >= 3000 && took < 9000, `stopped after ${took} ms`);
      const store = await openDuckDBStore(db.path);
      try {
        const short = await store.getRun("short", ids.short);
        const long = await store.getRun("long", ids.long);
        assertEquals(
          short?.status,
          "complete",
          "a run inside the grace finished",
        );
        assertEquals([long?.status, long?.error], [
          "cancelled",
          "server shutting down",
        ]);
      } finally {
        await store.close();
      }
    } finally {
      if (!p.dead) await p.kill();
      await db.cleanup();
    }
  },
});

/** `deno task start` in a process group of its own, as a terminal runs it. */
function taskInGroup(env: Record<string, string>) {
  const child = new Deno.Command("setsid", {
    args: [Deno.execPath(), "task", "start"],
    cwd: ROOT,
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const dec = new TextDecoder();
  const pumped = Promise.all([child.stdout, child.stderr].map(async (s) => {
    for await (const c of s) log += dec.decode(c, { stream: true });
  }));
  return { child, log: () => log, pumped };
}

Deno.test({
  name:
    "Ctrl-C reaching the whole process group (SIGINT twice within a second) is one graceful stop: the run finishes, exit 0",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    const port = freePort();
    const url = `http://127.0.0.1:${port}`;
    const task = taskInGroup({ PORT: String(port), JOBPRO_DB: db.path });
    try {
      await waitFor(
        () => fetch(`${url}/healthz`).then((r) => r.ok, () => false),
        {
          timeoutMs: 60_000,
          what: "jobpro to start",
        },
      );
      const post = (path: string, body?: unknown) =>
        fetch(url + path, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }).then((r) => r.json());
      await post("/jobs", {
        id: "work",
        name: "work",
        schedule: "",
        autoStart: false,
        action: sleepAction(1500),
      });
      const run = (await post("/jobs/work/run")).run;
      // What a terminal does on Ctrl-C: SIGINT to every process of the
      // foreground group (deno task, which passes it on, and jobpro).
      Deno.kill(-task.child.pid, "SIGINT");
      const status = await task.child.status;
      await task.pumped;
      assertEquals(status.code, 0, task.log());
      assert(!task.log().includes("again: exiting now"), task.log());
      const store = await openDuckDBStore(db.path);
      try {
        const r = await store.getRun("work", run.id);
        assertEquals(
          r?.status,
          "complete",
          "the run finished, not interrupted",
        );
      } finally {
        await store.close();
      }
    } finally {
      try {
        Deno.kill(-task.child.pid, "SIGKILL");
      } catch { /* gone */ }
      await task.child.status.catch(() => {});
      await db.cleanup();
    }
  },
});

Deno.test({
  name:
    "killing the npx that ran `deno task start` stops jobpro too: nothing is left holding the port",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    const port = freePort();
    const url = `http://127.0.0.1:${port}`;
    const npx = new Deno.Command("npx", {
      args: ["-y", `deno@${Deno.version.deno}`, "task", "start"],
      cwd: ROOT,
      env: { PORT: String(port), JOBPRO_DB: db.path, NO_COLOR: "1" },
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitFor(
        () => fetch(`${url}/healthz`).then((r) => r.ok, () => false),
        {
          timeoutMs: 120_000,
          what: "jobpro started by npx",
        },
      );
      npx.kill("SIGKILL");
      await npx.status;
      await waitFor(
        () =>
          fetch(`${url}/healthz`).then(
            (r) => (r.body?.cancel(), false),
            () => true,
          ),
        { timeoutMs: 20_000, what: "the port to be let go" },
      );
      // And the database was closed cleanly: it opens at once.
      const store = await openDuckDBStore(db.path);
      await store.close();
    } finally {
      try {
        npx.kill("SIGKILL");
      } catch { /* gone */ }
      await npx.status.catch(() => {});
      await db.cleanup();
    }
  },
});
