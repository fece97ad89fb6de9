/**
 * Storage faults, on a real process and real files: the DuckDB file on a
 * read-only file system or made immutable, held by another process,
 * truncated or garbage, with a torn WAL tail after a SIGKILL, on a full disk
 * (a small tmpfs) and under a file-size limit (`ulimit -f`). jobpro refuses to
 * start, or stops writing, with one clear message; it never changes a file it
 * refused; writing resumes when the fault goes; a clean restart recovers every
 * acknowledged job and run. And a graceful shutdown under load flushes every
 * run that finished: nothing executed is missing from the file.
 *
 * The tmpfs and `chattr` cases need root (they are ignored, by name, without
 * it). tests/main_test.ts covers a second jobpro on the same file.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import {
  allJobs,
  allRuns,
  localServer,
  pool,
  type Proc,
  ROOT,
  startProcess,
  startTaskArgs,
  tempDb,
  waitFor,
} from "./helpers.ts";

const IS_ROOT = Deno.uid() === 0;
const noop = { type: "function", name: "noop" } as const;

async function sh(cmd: string[]): Promise<{ ok: boolean; out: string }> {
  const o = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { ok: o.success, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

async function must(cmd: string[]) {
  const r = await sh(cmd);
  if (!r.ok) throw new Error(`${cmd.join(" ")}: ${r.out}`);
}

/** A tmpfs of `sizeMb` at a new directory; `remount` changes its options. */
async function tmpfs(sizeMb: number) {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-tmpfs-" });
  await must(["mount", "-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", dir]);
  return {
    dir,
    remount: (opts: string) => must(["mount", "-o", `remount,${opts}`, dir]),
    async [Symbol.asyncDispose]() {
      await sh(["umount", "-l", dir]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function sha(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Files in a directory with their hashes (the database, its WAL, temp files). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) out[e.name] = await sha(`${dir}/${e.name}`);
  }
  return out;
}

/** Starts jobpro expecting it to refuse: its exit code and its `[jobpro]` lines. */
async function refused(env: Record<string, string>) {
  const p = await startProcess(env, { healthy: false });
  const status = await Promise.race([
    p.exited,
    new Promise<null>((r) => setTimeout(() => r(null), 30_000)),
  ]);
  if (status === null) {
    await p.kill();
    throw new Error(`jobpro started anyway:\n${p.log()}`);
  }
  const lines = p.log().split("\n").filter((l) => l.includes("[jobpro]"));
  return { code: status.code, lines, log: p.log() };
}

/** Seeds a database: `n` manual jobs and one run of each. */
async function seed(path: string, n = 20) {
  const p = await startProcess({ JOBPRO_DB: path });
  try {
    await pool(
      Array.from({ length: n }, (_, i) => `job-${i}`),
      8,
      async (id) => {
        const r = await p.api("POST", "/jobs", {
          id,
          name: id,
          schedule: "",
          autoStart: false,
          action: noop,
        });
        assertEquals(r.status, 201, r.text);
        assertEquals((await p.api("POST", `/jobs/${id}/run`)).status, 200);
      },
    );
  } finally {
    assertEquals((await p.stop()).code, 0);
  }
}

Deno.test({
  name:
    "storage: on a read-only file system jobpro refuses to start and says why, leaves the files as they were, and starts once it is writable",
  ignore: !IS_ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // (Linux refuses to remount read-only while jobpro holds the file open
    // for writing, so this fault can only meet jobpro at start.)
    await using fs = await tmpfs(64);
    const path = `${fs.dir}/jobs.duckdb`;
    await seed(path);
    const before = await snapshot(fs.dir);
    await fs.remount("ro");
    try {
      for (const file of [path, `${fs.dir}/new.duckdb`]) {
        const r = await refused({ JOBPRO_DB: file });
        assertEquals(r.code, 1, r.log);
        assertEquals(r.lines.length, 1, r.log);
        assertStringIncludes(r.lines[0], "cannot be opened for writing");
        assertStringIncludes(r.lines[0], "Read-only file system");
      }
      assertEquals(await snapshot(fs.dir), before, "the files are untouched");
    } finally {
      await fs.remount("rw");
    }
    const p = await startProcess({ JOBPRO_DB: path });
    try {
      assertEquals((await allJobs(p)).length, 20, "a clean start recovers");
      const ok = await p.api("POST", "/jobs/job-1/run");
      assertEquals(ok.status, 200, ok.text);
      assertEquals((await p.stop()).code, 0);
    } finally {
      if (!p.dead) await p.kill();
    }
  },
});

Deno.test({
  name:
    "storage: an immutable file (chattr +i, read-only even for root) is refused with a clear message and left as it was",
  ignore: !IS_ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    try {
      await seed(db.path, 5);
      const chattr = await sh(["chattr", "+i", db.path]);
      assert(chattr.ok, `chattr is needed for this test: ${chattr.out}`);
      try {
        const before = await snapshot(db.dir);
        const r = await refused({ JOBPRO_DB: db.path });
        assertEquals(r.code, 1, r.log);
        assertEquals(r.lines.length, 1, r.log);
        assertStringIncludes(r.lines[0], "cannot be opened for writing");
        assertEquals(await snapshot(db.dir), before);
      } finally {
        await must(["chattr", "-i", db.path]);
      }
      const p = await startProcess({ JOBPRO_DB: db.path });
      assertEquals((await allJobs(p)).length, 5);
      assertEquals((await p.stop()).code, 0);
    } finally {
      await db.cleanup();
    }
  },
});

Deno.test({
  name:
    "storage: a file held by another process (a DuckDB client) is refused naming that process; once released jobpro starts",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    try {
      await seed(db.path, 5);
      const holder = new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `import { DuckDBInstance } from "@duckdb/node-api";
           const db = await DuckDBInstance.create(${JSON.stringify(db.path)});
           console.log("holding");
           await new Promise((r) => setTimeout(r, 60_000));
           db.closeSync();`,
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      try {
        const reader = holder.stdout.pipeThrough(new TextDecoderStream())
          .getReader();
        let out = "";
        while (!out.includes("holding")) {
          const { value, done } = await reader.read();
          if (done) throw new Error("the holder exited");
          out += value;
        }
        reader.releaseLock();
        holder.stdout.cancel().catch(() => {});
        const before = await snapshot(db.dir);
        const r = await refused({ JOBPRO_DB: db.path });
        assertEquals(r.code, 1, r.log);
        assertEquals(r.lines.length, 1, r.log);
        assertStringIncludes(r.lines[0], "in use by another process");
        assertStringIncludes(r.lines[0], `PID ${holder.pid}`);
        assertEquals(await snapshot(db.dir), before);
      } finally {
        holder.kill("SIGKILL");
        await holder.status;
      }
      const p = await startProcess({ JOBPRO_DB: db.path });
      assertEquals((await allJobs(p)).length, 5);
      assertEquals((await p.stop()).code, 0);
    } finally {
      await db.cleanup();
    }
  },
});

Deno.test({
  name:
    "storage: a truncated, emptied or garbage database file is refused as damaged, never rewritten; the intact file starts",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    try {
      await seed(db.path, 50);
      const original = await Deno.readFile(db.path);
      const size = original.length;
      const cases: [string, Uint8Array][] = [
        ["empty", new Uint8Array()],
        ["100 bytes", original.slice(0, 100)],
        ["4 KiB", original.slice(0, 4096)],
        ["12 KiB", original.slice(0, 12288)],
        ["half", original.slice(0, Math.floor(size / 2 / 4096) * 4096)],
        ["all but 4 KiB", original.slice(0, size - 4096)],
        [
          "garbage",
          (() => {
            const b = new Uint8Array(300_000);
            for (let i = 0; i < b.length; i += 65536) {
              crypto.getRandomValues(b.subarray(i, i + 65536));
            }
            return b;
          })(),
        ],
        [
          "header zeroed",
          (() => {
            const b = original.slice();
            b.fill(0, 0, 4096);
            return b;
          })(),
        ],
      ];
      for (const [what, bytes] of cases) {
        const dir = await Deno.makeTempDir({ prefix: "jobpro-damaged-" });
        try {
          const path = `${dir}/jobs.duckdb`;
          await Deno.writeFile(path, bytes);
          const before = await snapshot(dir);
          const r = await refused({ JOBPRO_DB: path });
          assertEquals(r.code, 1, `${what}: ${r.log}`);
          assertEquals(r.lines.length, 1, `${what}: ${r.log}`);
          assertStringIncludes(
            r.lines[0],
            `${path} is damaged or truncated`,
            what,
          );
          assertEquals(await snapshot(dir), before, `${what}: left as it was`);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }
      const p = await startProcess({ JOBPRO_DB: db.path });
      assertEquals((await allJobs(p)).length, 50);
      assertEquals((await p.stop()).code, 0);
    } finally {
      await db.cleanup();
    }
  },
});

Deno.test({
  name:
    "storage: a torn WAL tail after SIGKILL: jobpro starts with an intact prefix of the committed jobs, never a half-applied one",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    try {
      const p = await startProcess({ JOBPRO_DB: db.path });
      for (let i = 0; i < 200; i++) {
        const r = await p.api("POST", "/jobs", {
          id: `j${String(i).padStart(3, "0")}`,
          name: `j${i}`,
          schedule: "",
          autoStart: false,
          action: noop,
        });
        assertEquals(r.status, 201);
      }
      await p.kill();
      const wal = `${db.path}.wal`;
      const walBytes = await Deno.readFile(wal);
      const dbBytes = await Deno.readFile(db.path);
      const found: number[] = [];
      for (const frac of [0.25, 0.5, 0.75, 0.99, 1]) {
        const dir = await Deno.makeTempDir({ prefix: "jobpro-wal-" });
        try {
          await Deno.writeFile(`${dir}/jobs.duckdb`, dbBytes);
          await Deno.writeFile(
            `${dir}/jobs.duckdb.wal`,
            walBytes.slice(0, Math.floor(walBytes.length * frac)),
          );
          const q = await startProcess({ JOBPRO_DB: `${dir}/jobs.duckdb` });
          const ids = (await allJobs(q)).map((j) => j.id).sort();
          const prefix = Array.from(
            { length: ids.length },
            (_, i) => `j${String(i).padStart(3, "0")}`,
          );
          assertEquals(ids, prefix, `WAL cut at ${frac}: a prefix of the jobs`);
          found.push(ids.length);
          assertEquals((await q.stop()).code, 0);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }
      assertEquals(found.at(-1), 200, "the whole WAL brings back every job");
      assert(
        found.every((n, i) => i === 0 || n >= found[i - 1]),
        `a longer WAL never brings back fewer jobs: ${found}`,
      );
      console.log(
        `[storage] jobs recovered from a WAL cut at 25/50/75/99/100%: ${found}`,
      );
    } finally {
      await db.cleanup();
    }
  },
});

/** A local server whose every answer is ~60 KB, so each run's output fills the disk fast. */
function bigServer() {
  const big = "x".repeat(60_000);
  return localServer(() => new Response(big + Math.random()));
}

Deno.test({
  name:
    "storage: on a full disk writes stop with a clear 503 and /healthz 503, reads go on; with space again writing resumes, and a restart has every acknowledged run",
  ignore: !IS_ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using fs = await tmpfs(6);
    const target = bigServer();
    const path = `${fs.dir}/jobs.duckdb`;
    let p: Proc | null = await startProcess({ JOBPRO_DB: path });
    try {
      assertEquals(
        (await p.api("POST", "/jobs", {
          id: "big",
          name: "big",
          schedule: "",
          autoStart: false,
          action: { type: "http", url: `${target.url}/` },
        })).status,
        201,
      );
      const acked: number[] = [];
      let full = null;
      for (let i = 0; i < 1000 && !full; i++) {
        const r = await p.api("POST", "/jobs/big/run");
        if (r.status === 200) acked.push(r.body.run.id);
        else full = r;
        await new Promise((r) => setTimeout(r, 10));
      }
      assert(full, "the disk filled up");
      assertEquals(full.status, 503, full.text);
      assertStringIncludes(full.body.error.message, "No space left on device");
      assert(!p.dead, "jobpro is still running");
      await waitFor(async () => (await p!.fetch("/healthz")).status === 503);
      assertEquals(
        (await p.api("GET", "/jobs/big")).status,
        200,
        "reads go on",
      );
      assertEquals(
        p.log().split("\n").filter((l) =>
          l.includes("could not write to the store")
        ).length,
        1,
        p.log().slice(-2000),
      );
      await fs.remount("size=128m");
      await waitFor(async () => (await p!.fetch("/healthz")).status === 200, {
        what: "/healthz to recover once there is space",
      });
      const again = await p.api("POST", "/jobs/big/run");
      assertEquals(again.status, 200, again.text);
      acked.push(again.body.run.id);
      assertEquals((await p.stop()).code, 0);
      p = await startProcess({ JOBPRO_DB: path });
      const ids = new Set((await allRuns(p, "big")).map((r) => r.id));
      assertEquals(
        acked.filter((id) => !ids.has(id)),
        [],
        "acknowledged runs missing",
      );
      console.log(
        `[storage] full disk after ${
          acked.length - 1
        } runs of 60 KB; all ${acked.length} acknowledged runs kept`,
      );
      assertEquals((await p.stop()).code, 0);
    } finally {
      if (p && !p.dead) await p.kill();
      await target.close();
    }
  },
});

Deno.test({
  name:
    "storage: starting on a full disk: a new database is refused (disk full) and leaves no empty file behind; an existing one starts, refuses writes with a 503, and recovers when space is freed",
  ignore: !IS_ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using fs = await tmpfs(8);
    const path = `${fs.dir}/jobs.duckdb`;
    await seed(path, 10);
    // Fill what is left.
    await sh(["dd", "if=/dev/zero", `of=${fs.dir}/filler`, "bs=64k"]);
    const fresh = `${fs.dir}/new.duckdb`;
    const r = await refused({ JOBPRO_DB: fresh });
    assertEquals(r.code, 1, r.log);
    assertEquals(r.lines.length, 1, r.log);
    assertStringIncludes(r.lines[0], "the disk is full");
    assertEquals(
      Object.keys(await snapshot(fs.dir)).sort(),
      ["filler", "jobs.duckdb"],
      "no empty database file is left to be refused as damaged later",
    );
    const before = await sha(path);
    let p: Proc | null = await startProcess({ JOBPRO_DB: path });
    try {
      assertEquals((await allJobs(p)).length, 10, "reads work on a full disk");
      const w = await p.api("POST", "/jobs", {
        id: "more",
        name: "more",
        schedule: "",
        autoStart: false,
        action: noop,
      });
      assertEquals(w.status, 503, w.text);
      assertStringIncludes(w.body.error.message, "No space left on device");
      await waitFor(async () => (await p!.fetch("/healthz")).status === 503);
      await Deno.remove(`${fs.dir}/filler`);
      await waitFor(async () => (await p!.fetch("/healthz")).status === 200, {
        what: "/healthz to recover once space is freed",
      });
      assertEquals(
        (await p.api("POST", "/jobs", {
          id: "more",
          name: "more",
          schedule: "",
          autoStart: false,
          action: noop,
        })).status,
        201,
      );
      assertEquals((await p.stop()).code, 0);
      p = await startProcess({ JOBPRO_DB: path });
      assertEquals((await allJobs(p)).length, 11);
      assertEquals((await p.stop()).code, 0);
      // The refused new file can now be created from scratch.
      p = await startProcess({ JOBPRO_DB: fresh });
      assertEquals((await p.stop()).code, 0);
      assert(
        before !== await sha(path),
        "the database was written after the disk had room",
      );
    } finally {
      if (p && !p.dead) await p.kill();
    }
  },
});

Deno.test({
  name:
    "storage: under a file-size limit (ulimit -f) writes fail with a 503, the process lives on (no SIGXFSZ), and a restart without it has every acknowledged run",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    const target = bigServer();
    const port = (() => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const n = (l.addr as Deno.NetAddr).port;
      l.close();
      return n;
    })();
    const cmd = [Deno.execPath(), ...await startTaskArgs()].map((a) =>
      `'${a.replaceAll("'", "'\\''")}'`
    ).join(" ");
    // 4096 blocks: 2 MiB with the 512-byte blocks of dash (/bin/sh here).
    const child = new Deno.Command("sh", {
      args: ["-c", `ulimit -f 4096 && exec ${cmd}`],
      cwd: ROOT,
      env: {
        PORT: String(port),
        HOST: "127.0.0.1",
        JOBPRO_DB: db.path,
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let log = "";
    const dec = new TextDecoder();
    const pumped = Promise.all([child.stdout, child.stderr].map(async (s) => {
      for await (const c of s) log += dec.decode(c, { stream: true });
    }));
    const client = Deno.createHttpClient({});
    const url = `http://127.0.0.1:${port}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(url + path, {
        method,
        client,
        headers: body ? { "content-type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      } as RequestInit);
      const text = await res.text();
      return { status: res.status, text, body: text ? JSON.parse(text) : null };
    };
    let exited = false;
    const status = child.status.then((s) => (exited = true, s));
    try {
      await waitFor(
        async () => (await fetch(`${url}/healthz`, { client } as RequestInit)
          .then((r) => (r.body?.cancel(), r.ok)).catch(() => false)),
        { timeoutMs: 60_000, what: "jobpro under ulimit -f" },
      );
      assertEquals(
        (await api("POST", "/jobs", {
          id: "big",
          name: "big",
          schedule: "",
          autoStart: false,
          action: { type: "http", url: `${target.url}/` },
        })).status,
        201,
      );
      const acked: number[] = [];
      let refusedWrite = null;
      for (let i = 0; i < 1000 && !refusedWrite && !exited; i++) {
        const r = await api("POST", "/jobs/big/run").catch((e) => ({
          status: 0,
          text: String(e),
          body: null,
        }));
        if (r.status === 200) acked.push(r.body.run.id);
        else refusedWrite = r;
      }
      if (exited) {
        throw new Error(
          `jobpro died: ${JSON.stringify(await status)}\n${log.slice(-1500)}`,
        );
      }
      assert(refusedWrite, "the file-size limit was reached");
      assertEquals(refusedWrite.status, 503, refusedWrite.text);
      assertStringIncludes(refusedWrite.text, "File too large");
      const health = await fetch(`${url}/healthz`, { client } as RequestInit);
      await health.body?.cancel();
      assertEquals(health.status, 503);
      child.kill("SIGTERM");
      assertEquals((await status).code, 0, log.slice(-1500));
      const p = await startProcess({ JOBPRO_DB: db.path });
      const ids = new Set((await allRuns(p, "big")).map((r) => r.id));
      assertEquals(
        acked.filter((id) => !ids.has(id)),
        [],
        "acknowledged runs missing",
      );
      console.log(
        `[storage] file-size limit after ${acked.length} runs; all acknowledged runs kept`,
      );
      assertEquals((await p.stop()).code, 0);
    } finally {
      if (!exited) {
        child.kill("SIGKILL");
        await status;
      }
      await pumped;
      client.close();
      await target.close();
      await db.cleanup();
    }
  },
});

Deno.test({
  name:
    "graceful shutdown under load: every run that finished is in the file (each action seen from outside has its run), the rest are cancelled, none interrupted",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    const hits: { jobId: string; at: number }[] = [];
    const release: (() => void)[] = [];
    const target = localServer(async (req) => {
      const id = new URL(req.url).pathname.slice(1);
      hits.push({ jobId: id, at: Date.now() });
      if (id.startsWith("slow")) {
        // Still going at the shutdown; released when the test ends.
        await new Promise<void>((r) => {
          const t = setTimeout(r, 30_000);
          release.push(() => (clearTimeout(t), r()));
        });
      }
      return new Response("ok");
    });
    const env = { JOBPRO_DB: db.path, JOBPRO_SHUTDOWN_GRACE_MS: "1000" };
    let p: Proc | null = await startProcess(env);
    try {
      const defs = [
        ...Array.from({ length: 100 }, (_, i) => ({
          id: `tick-${i}`,
          schedule: "* * * * * *",
        })),
        ...Array.from({ length: 20 }, (_, i) => ({
          id: `manual-${i}`,
          schedule: "",
          autoStart: false,
        })),
        ...Array.from({ length: 5 }, (_, i) => ({
          id: `slow-${i}`,
          schedule: "* * * * * *",
        })),
      ];
      await pool(defs, 8, async (d) => {
        const r = await p!.api("POST", "/jobs", {
          ...d,
          name: d.id,
          action: { type: "http", url: `${target.url}/${d.id}` },
        });
        assertEquals(r.status, 201, r.text);
      });
      const acked = new Set<number>();
      let stopping = false;
      const load = Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; !stopping; i++) {
          const r = await p!.api("POST", `/jobs/manual-${(w * 5 + i) % 20}/run`)
            .catch(() => null);
          if (r?.status === 200) acked.add(r.body.run.id);
        }
      });
      await new Promise((r) => setTimeout(r, 3500));
      const t0 = Date.now();
      const stopped = p.stop();
      stopping = true;
      assertEquals((await stopped).code, 0, p.log().slice(-2000));
      const stopMs = Date.now() - t0;
      await Promise.all(load);
      p = await startProcess(env);
      const runs = new Map<string, Awaited<ReturnType<typeof allRuns>>>();
      await pool(defs.map((d) => d.id), 8, async (id) => {
        runs.set(id, await allRuns(p!, id));
      });
      const all = [...runs.values()].flat();
      assertEquals(
        all.filter((r) => r.error === "interrupted"),
        [],
        "interrupted runs",
      );
      // Each execution the target saw before the restart has its run.
      const restartAt = p.startedAt;
      let lost = 0;
      for (const [id, list] of runs) {
        const seen = hits.filter((h) =>
          h.jobId === id && h.at < restartAt
        ).length;
        const recorded = list.filter((r) =>
          Date.parse(r.startedAt) < restartAt
        ).length;
        if (seen > recorded) lost += seen - recorded;
      }
      assertEquals(lost, 0, "executions with no run recorded");
      const ids = new Set(all.map((r) => r.id));
      assertEquals(
        [...acked].filter((id) => !ids.has(id)),
        [],
        "acknowledged runs missing",
      );
      const cancelled = all.filter((r) => r.error === "server shutting down");
      assert(
        cancelled.every((r) => r.status === "cancelled"),
        "runs cut by the shutdown are cancelled",
      );
      assert(
        cancelled.length >= 1,
        `a slow run was going at the shutdown: ${
          JSON.stringify(runs.get("slow-0")?.slice(0, 3))
        }`,
      );
      const executed = hits.filter((h) => h.at < restartAt).length;
      console.log(
        `[storage] graceful stop under load in ${stopMs} ms: ${executed} executions before it, ${all.length} runs, ${acked.size} acknowledged manual runs, ${cancelled.length} cancelled by the shutdown, 0 lost`,
      );
      assertEquals((await p.stop()).code, 0);
    } finally {
      if (p && !p.dead) await p.kill();
      for (const r of release) r();
      await target.close();
      await db.cleanup();
    }
  },
});

Deno.test({
  name:
    "storage: on a full disk a 503 means nothing changed, now or later: create, delete, run now and pause leave the store (and the action) as they were, across freeing space and a restart; reads go on",
  ignore: !IS_ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using fs = await tmpfs(16);
    const target = localServer(() => new Response("ran"));
    const path = `${fs.dir}/jobs.duckdb`;
    let p: Proc | null = await startProcess({ JOBPRO_DB: path });
    try {
      const job = (id: string, extra: Record<string, unknown> = {}) => ({
        id,
        name: id,
        schedule: "",
        autoStart: false,
        action: noop,
        ...extra,
      });
      for (
        const body of [
          job("gone"),
          job("hook", { action: { type: "http", url: `${target.url}/run` } }),
          job("cron", { schedule: "0 0 1 1 *", autoStart: true }),
        ]
      ) {
        assertEquals((await p.api("POST", "/jobs", body)).status, 201);
      }
      // Dummies of the same shape as the jobs under test, to use up what
      // room the database's last written page still has once the disk is
      // full: then the operation under test needs a new page, and fails.
      for (let i = 0; i < 100; i++) {
        await p.api("POST", "/jobs", job(`d-${String(i).padStart(2, "0")}`));
      }
      await sh(["dd", "if=/dev/zero", `of=${fs.dir}/filler`, "bs=64k"]);
      const untilRefused = async (
        what: string,
        call: (i: number) => Promise<{ status: number }>,
      ) => {
        for (let i = 0; i < 100; i++) {
          if ((await call(i)).status === 503) return;
        }
        throw new Error(`${what} never failed on the full disk`);
      };
      const dummy = (i: number) => `d-${String(i).padStart(2, "0")}`;
      await untilRefused(
        "create",
        (i) => p!.api("POST", "/jobs", job(`x-${String(i).padStart(2, "0")}`)),
      );
      const create = await p.api("POST", "/jobs", job("late"));
      await untilRefused(
        "delete",
        (i) => p!.api("DELETE", `/jobs/${dummy(i)}`),
      );
      const remove = await p.api("DELETE", "/jobs/gone");
      await untilRefused(
        "run now",
        (i) => p!.api("POST", `/jobs/${dummy(99 - i)}/run`),
      );
      const runNow = await p.api("POST", "/jobs/hook/run");
      await untilRefused(
        "start",
        (i) => p!.api("POST", `/jobs/${dummy(99 - i)}/start`),
      );
      const pause = await p.api("POST", "/jobs/cron/pause");
      const answers = { create, delete: remove, runNow, pause };
      for (const [op, r] of Object.entries(answers)) {
        assertEquals(r.status, 503, `${op}: ${r.text}`);
        assertStringIncludes(r.body.error.message, "No space left on device");
      }
      const health = await p.api("GET", "/healthz");
      assertEquals(health.status, 503);
      assertStringIncludes(health.body.reason, "writing to the database fails");
      // Reads go on, and show what is stored.
      const runs = await p.api("GET", "/jobs/hook/runs");
      assertEquals([runs.status, runs.body.total], [200, 0]);
      const check = async (proc: Proc, when: string) => {
        assertEquals((await proc.api("GET", "/jobs/late")).status, 404, when);
        assertEquals((await proc.api("GET", "/jobs/gone")).status, 200, when);
        const cron = (await proc.api("GET", "/jobs/cron")).body;
        assertEquals(cron.status, "scheduled", when);
        const hook = (await proc.api("GET", "/jobs/hook")).body;
        assertEquals([hook.runCount, hook.activeRuns], [0, 0], when);
        assertEquals((await allRuns(proc, "hook")).length, 0, when);
        assertEquals(target.requests.length, 0, `the action ran (${when})`);
      };
      await check(p, "on the full disk");
      await Deno.remove(`${fs.dir}/filler`);
      await waitFor(async () => (await p!.fetch("/healthz")).status === 200, {
        what: "/healthz to recover once space is freed",
      });
      await check(p, "once space is back");
      assertEquals((await p.stop()).code, 0);
      p = await startProcess({ JOBPRO_DB: path });
      await check(p, "after a restart");
      // And the same operations now work.
      assertEquals((await p.api("POST", "/jobs/hook/run")).status, 200);
      await waitFor(() => target.requests.length === 1);
      assertEquals((await p.api("DELETE", "/jobs/gone")).status, 204);
      assertEquals((await p.stop()).code, 0);
      p = await startProcess({ JOBPRO_DB: path });
      assertEquals((await p.api("GET", "/jobs/gone")).status, 404);
      assertEquals((await p.stop()).code, 0);
    } finally {
      if (p && !p.dead) await p.kill();
      await target.close();
    }
  },
});

/** An ext4 file system in a loop-mounted file, which `fsfreeze` can freeze. */
async function freezable(sizeMb: number) {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-ext4-" });
  const image = `${dir}.img`;
  await must(["truncate", "-s", `${sizeMb}M`, image]);
  await must(["mkfs.ext4", "-q", "-F", image]);
  await must(["mount", "-o", "loop", image, dir]);
  // Should this test die while the file system is frozen, thaw it anyway.
  const guard = new Deno.Command("sh", {
    args: ["-c", `sleep 60; fsfreeze -u ${dir} 2>/dev/null`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    dir,
    freeze: () => must(["fsfreeze", "-f", dir]),
    thaw: () => sh(["fsfreeze", "-u", dir]),
    async [Symbol.asyncDispose]() {
      await sh(["fsfreeze", "-u", dir]);
      try {
        guard.kill();
      } catch { /* done */ }
      await guard.status;
      await sh(["umount", "-l", dir]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(image).catch(() => {});
    },
  };
}

Deno.test({
  name:
    "storage: with the database's file system frozen, /healthz turns 503 saying a commit is pending, and every tick that could not fire in time is counted in missedRuns and logged once",
  ignore: !IS_ROOT,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using fs = await freezable(64);
    const path = `${fs.dir}/jobs.duckdb`;
    const p = await startProcess({
      JOBPRO_DB: path,
      JOBPRO_HEALTH_COMMIT_MS: "1500",
    });
    try {
      assertEquals(
        (await p.api("POST", "/jobs", {
          id: "tick",
          name: "tick",
          schedule: "* * * * * *",
          action: noop,
        })).status,
        201,
      );
      await waitFor(async () =>
        (await p.api("GET", "/jobs/tick")).body.runCount >= 2
      );
      await fs.freeze();
      const frozenAt = Date.now();
      let health;
      try {
        health = await waitFor(async () => {
          const h = await p.api("GET", "/healthz");
          return h.status === 503 && h;
        }, {
          timeoutMs: 10_000,
          what: "/healthz to notice the pending commit",
        });
        // Frozen for a few seconds more: every-second ticks come due.
        await waitFor(() => Date.now() - frozenAt > 5000, {
          timeoutMs: 10_000,
        });
      } finally {
        await fs.thaw();
      }
      const frozenFor = Date.now() - frozenAt;
      assertStringIncludes(
        health.body.reason,
        "a database commit has been pending",
      );
      await waitFor(async () => (await p.fetch("/healthz")).status === 200, {
        what: "/healthz once thawed",
      });
      const tick = await waitFor(async () => {
        const j = (await p.api("GET", "/jobs/tick")).body;
        return j.missedRuns > 0 && j;
      });
      assert(tick.missedRuns >= 3, `missedRuns ${tick.missedRuns}`);
      await waitFor(() =>
        p.log().includes("job tick: ticks fire on time again")
      );
      const warned = p.log().split("\n").filter((l) =>
        l.includes("job tick:") && l.includes("were missed")
      );
      assertEquals(warned.length, 1, p.log().slice(-3000));
      const metrics = await (await p.fetch("/metrics")).text();
      assertStringIncludes(metrics, 'jobpro_missed_runs_total{job="tick"}');
      console.log(
        `[storage] frozen for ${
          (frozenFor / 1000).toFixed(1)
        } s: /healthz 503 (${health.body.reason}); ${tick.missedRuns} missed ticks counted, one log line`,
      );
      assertEquals((await p.stop()).code, 0);
    } finally {
      if (!p.dead) await p.kill();
    }
  },
});
