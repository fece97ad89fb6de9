/**
 * JOBPRO_DB's choice of store: a `postgres://` or `postgresql://` URL is a
 * PostgreSQL database, anything else the DuckDB file it always was; a
 * malformed URL or schema is refused naming the variable, never echoing a
 * password.
 */
import { assertEquals, assertThrows } from "@std/assert";
import { describeDatabase, readConfig } from "@/lib/config.ts";

Deno.test("config: JOBPRO_DB unset, a path or :memory: is a DuckDB file", () => {
  assertEquals(readConfig({}).database, {
    kind: "duckdb",
    path: "./jobs.duckdb",
  });
  for (const path of ["/var/lib/jobpro/jobs.duckdb", ":memory:", "pg.db"]) {
    const c = readConfig({ JOBPRO_DB: path, JOBPRO_PG_SCHEMA: "ignored" });
    assertEquals([c.db, c.database], [path, { kind: "duckdb", path }]);
  }
});

Deno.test("config: a postgres:// or postgresql:// URL is PostgreSQL, schema jobpro or JOBPRO_PG_SCHEMA", () => {
  const url = "postgres://jobpro:s3cret@db.internal:5433/jobs?sslmode=require";
  assertEquals(readConfig({ JOBPRO_DB: url }).database, {
    kind: "postgres",
    url,
    schema: "jobpro",
    leaseMs: 1500,
    node: undefined,
  });
  const other = "POSTGRESQL://jobpro@127.0.0.1/jobs";
  assertEquals(
    readConfig({
      JOBPRO_DB: other,
      JOBPRO_PG_SCHEMA: "team_a",
      JOBPRO_LEASE_MS: "3000",
      JOBPRO_NODE_NAME: "node-a",
    }).database,
    {
      kind: "postgres",
      url: other,
      schema: "team_a",
      leaseMs: 3000,
      node: "node-a",
    },
  );
  assertThrows(
    () => readConfig({ JOBPRO_DB: other, JOBPRO_LEASE_MS: "100" }),
    Error,
    'JOBPRO_LEASE_MS must be an integer >= 300, got "100"',
  );
  assertEquals(
    describeDatabase(readConfig({ JOBPRO_DB: url }).database),
    "PostgreSQL db.internal:5433/jobs, schema jobpro",
  );
  assertEquals(
    describeDatabase(readConfig({ JOBPRO_DB: "./x.duckdb" }).database),
    "./x.duckdb",
  );
});

Deno.test("config: a malformed PostgreSQL URL or schema is refused saying what is wrong, without the password", () => {
  const cases: [Record<string, string>, string][] = [
    [{ JOBPRO_DB: "postgres:///jobs" }, "it names no host"],
    [{ JOBPRO_DB: "postgres:/db.internal/jobs" }, "it names no host"],
    [{ JOBPRO_DB: "postgres://u:s3cret@db.internal" }, "it names no database"],
    [{ JOBPRO_DB: "postgres://u:s3cret@db.internal:99999/jobs" }, "parse"],
    [
      { JOBPRO_DB: "postgres://db/jobs", JOBPRO_PG_SCHEMA: "Jobs; DROP" },
      'JOBPRO_PG_SCHEMA must be a plain schema name (lower-case letters, digits and _, not starting with a digit), got "Jobs; DROP"',
    ],
  ];
  for (const [env, message] of cases) {
    const e = assertThrows(() => readConfig(env), Error, message);
    assertEquals(e.message.includes("s3cret"), false, e.message);
    if (!env.JOBPRO_PG_SCHEMA) {
      assertEquals(e.message.startsWith("JOBPRO_DB is not a usable"), true);
    }
  }
});
