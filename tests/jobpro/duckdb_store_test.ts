/** The store contract on the embedded DuckDB store, on a real file. */
import { assertEquals } from "@std/assert";
import { DuckDBInstance } from "@duckdb/node-api";
import { openDuckDBStore } from "@/lib/jobpro/duckdb_store.ts";
import { emptyBatch } from "@/lib/jobpro/store.ts";
import { tempDb } from "../helpers.ts";
import { job, storeContract } from "./store_contract.ts";

storeContract("DuckDB", async () => {
  const db = await tempDb();
  let store = await openDuckDBStore(db.path);
  return {
    get store() {
      return store;
    },
    set store(s) {
      store = s;
    },
    async reopen() {
      await store.close();
      store = await openDuckDBStore(db.path);
      return store;
    },
    cleanup: () => db.cleanup(),
  };
});

Deno.test("duckdb store: a file from before tags opens, its jobs have tags [], and tags can be written to it", async () => {
  const db = await tempDb();
  try {
    // The jobs table as the release before tags wrote it, with one job.
    const instance = await DuckDBInstance.create(db.path);
    const c = await instance.connect();
    await c.run(`CREATE TABLE jobs (
      id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, type VARCHAR NOT NULL,
      schedule VARCHAR NOT NULL, timezone VARCHAR, action VARCHAR NOT NULL,
      timeout_ms BIGINT, retries INTEGER NOT NULL, retry_delay_ms BIGINT NOT NULL,
      overlap VARCHAR NOT NULL, catch_up VARCHAR NOT NULL,
      auto_start BOOLEAN NOT NULL, status VARCHAR NOT NULL,
      next_run_at TIMESTAMP, created_at TIMESTAMP NOT NULL,
      updated_at TIMESTAMP NOT NULL,
      run_count BIGINT NOT NULL DEFAULT 0, success_count BIGINT NOT NULL DEFAULT 0,
      last_run VARCHAR, key INTEGER NOT NULL UNIQUE)`);
    await c.run(
      `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS version BIGINT DEFAULT 1`,
    );
    await c.run(`INSERT INTO jobs (id, name, type, schedule, action, retries,
      retry_delay_ms, overlap, catch_up, auto_start, status, created_at,
      updated_at, key, version)
      VALUES ('old', 'Old', 'onetime', '', '{"type":"function","name":"noop"}',
        0, 1000, 'skip', 'skip', false, 'created', TIMESTAMP '2024-01-01',
        TIMESTAMP '2024-01-01', 1, 3)`);
    c.closeSync();
    instance.closeSync();

    let store = await openDuckDBStore(db.path);
    const [old] = await store.loadJobs();
    assertEquals([old.job.id, old.job.version, old.job.tags], ["old", 3, []]);
    const w = await store.write({
      ...emptyBatch(),
      puts: [
        {
          job: { ...old.job, tags: ["legacy"], version: 4 },
          expected: 3,
        },
        { job: job("new", { tags: ["fresh", "x"] }), expected: null },
      ],
    });
    assertEquals(w.puts, [true, true]);
    await store.close();
    store = await openDuckDBStore(db.path);
    assertEquals(
      (await store.loadJobs()).map((s) => [s.job.id, s.job.tags]),
      // Both created at 2024-01-01: in id order.
      [["new", ["fresh", "x"]], ["old", ["legacy"]]],
    );
    await store.close();
  } finally {
    await db.cleanup();
  }
});

Deno.test("duckdb store: a file from before last success/failure times gets them from the runs it kept", async () => {
  const db = await tempDb();
  try {
    let store = await openDuckDBStore(db.path);
    const ran = (
      id: number,
      status: "complete" | "failed",
      endedAt: number,
    ) => ({
      id,
      jobId: "a",
      trigger: "manual" as const,
      attempt: 1,
      scheduledFor: null,
      startedAt: endedAt - 5,
      endedAt,
      durationMs: 5,
      status,
      message: null,
      error: status === "failed" ? "boom" : null,
      output: null,
    });
    const t = Date.UTC(2024, 0, 1);
    await store.write({
      ...emptyBatch(),
      puts: [{ job: job("a"), expected: null }, {
        job: job("b"),
        expected: null,
      }],
    });
    await store.write({
      ...emptyBatch(),
      finished: [
        ran(1, "complete", t),
        ran(2, "failed", t + 10),
        ran(3, "complete", t + 20),
      ],
    });
    await store.close();
    // As the release before these columns left the file: no times.
    const instance = await DuckDBInstance.create(db.path);
    const c = await instance.connect();
    await c.run(
      `UPDATE jobs SET last_success_at = NULL, last_failure_at = NULL`,
    );
    c.closeSync();
    instance.closeSync();

    store = await openDuckDBStore(db.path);
    const counts = new Map(
      (await store.loadJobs()).map((s) => [s.job.id, s.counts]),
    );
    assertEquals(
      [counts.get("a")?.lastSuccessAt, counts.get("a")?.lastFailureAt],
      [t + 20, t + 10],
    );
    assertEquals(
      [counts.get("b")?.lastSuccessAt, counts.get("b")?.lastFailureAt],
      [null, null],
    );
    await store.close();
  } finally {
    await db.cleanup();
  }
});

Deno.test("duckdb store: a file whose jobs table got its added columns in another order stores each field in its own column", async () => {
  const db = await tempDb();
  try {
    // A jobs table as an in-between build could have left it: the added
    // columns in another order than a fresh file has them.
    const instance = await DuckDBInstance.create(db.path);
    const c = await instance.connect();
    await c.run(`CREATE TABLE jobs (
      id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, type VARCHAR NOT NULL,
      schedule VARCHAR NOT NULL, timezone VARCHAR, action VARCHAR NOT NULL,
      timeout_ms BIGINT, retries INTEGER NOT NULL, retry_delay_ms BIGINT NOT NULL,
      overlap VARCHAR NOT NULL, catch_up VARCHAR NOT NULL,
      auto_start BOOLEAN NOT NULL, status VARCHAR NOT NULL,
      next_run_at TIMESTAMP, created_at TIMESTAMP NOT NULL,
      updated_at TIMESTAMP NOT NULL,
      run_count BIGINT NOT NULL DEFAULT 0, success_count BIGINT NOT NULL DEFAULT 0,
      last_run VARCHAR, key INTEGER NOT NULL UNIQUE)`);
    for (
      const col of [
        "on_failure VARCHAR DEFAULT '[]'",
        "description VARCHAR",
        "version BIGINT DEFAULT 1",
        "on_success VARCHAR DEFAULT '[]'",
        "notify VARCHAR DEFAULT '[]'",
        "concurrency_key VARCHAR",
        "tags VARCHAR DEFAULT '[]'",
      ]
    ) await c.run(`ALTER TABLE jobs ADD COLUMN ${col}`);
    c.closeSync();
    instance.closeSync();

    let store = await openDuckDBStore(db.path);
    const want = job("a", {
      tags: ["t"],
      description: "nightly export",
      concurrencyKey: "backups",
    });
    const w = await store.write({
      ...emptyBatch(),
      puts: [{ job: want, expected: null }],
    });
    assertEquals(w.puts, [true]);
    await store.close();
    store = await openDuckDBStore(db.path);
    const [got] = await store.loadJobs();
    assertEquals(
      [got.job.tags, got.job.description, got.job.concurrencyKey],
      [["t"], "nightly export", "backups"],
    );
    await store.close();
  } finally {
    await db.cleanup();
  }
});
