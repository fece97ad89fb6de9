/**
 * The ping routes on a real server with JOBPRO_TOKEN and a read-only token:
 * the ping key lets an outside cron in without a token (as ?key= or
 * X-Ping-Key, with any body type, as curl sends it), a wrong key is a 403
 * for a real job and an unknown one alike, the admin token works without
 * a key, the read-only token neither pings nor reads the key, a job that
 * is not a heartbeat job is a 409, and rotating the key retires the old.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
} from "@std/assert";
import { call, READ_TOKEN, TOKEN, withServer } from "./helpers.ts";
import type { Jobpro } from "@/main.ts";

const admin = { authorization: `Bearer ${TOKEN}` };
const reader = { authorization: `Bearer ${READ_TOKEN}` };

/** A ping as an outside cron sends it: curl -X POST, no token. */
async function curl(
  jp: Jobpro,
  path: string,
  init: { headers?: Record<string, string>; body?: string } = {},
) {
  const res = await fetch(jp.url + path, {
    method: "POST",
    headers: init.headers,
    body: init.body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

Deno.test("ping routes: key auth, admin token, read-only token, 409 for other jobs, key rotation", async () => {
  await withServer(async (jp) => {
    const made = await call(jp, "POST", "/jobs", {
      id: "backup",
      name: "Backup (cron elsewhere)",
      schedule: "0 3 * * *",
      action: { type: "heartbeat", graceMs: 600_000 },
    }, admin);
    assertEquals(made.status, 201, made.text);
    const key = made.body.action.pingKey;
    assertMatch(key, /^[A-Za-z0-9_-]{32}$/);
    // The read-only token sees the key redacted; the admin sees it.
    const asReader = await call(jp, "GET", "/jobs/backup", undefined, reader);
    assertEquals(asReader.body.action.pingKey, "[redacted]");
    const asAdmin = await call(jp, "GET", "/jobs/backup", undefined, admin);
    assertEquals(asAdmin.body.action.pingKey, key);

    // The key, no token: success, start, fail (a text body, as curl sends it).
    const ok = await curl(jp, `/jobs/backup/ping?key=${key}`);
    assertEquals(ok.status, 200);
    assertEquals(ok.body.status, "complete");
    const start = await curl(jp, "/jobs/backup/ping/start", {
      headers: { "x-ping-key": key },
    });
    assertEquals(start.body.status, "running");
    const fail = await curl(jp, `/jobs/backup/ping/fail?key=${key}`, {
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "tar: disk full",
    });
    assertEquals(fail.status, 200);
    assertEquals(fail.body.id, start.body.id);
    assertEquals(fail.body.error, "failure reported by ping: tar: disk full");

    // A wrong key: 403, the same for a job that does not exist.
    const wrong = await curl(
      jp,
      "/jobs/backup/ping?key=not-the-key-0123456789",
    );
    assertEquals(wrong.status, 403);
    assertEquals(wrong.body.error.field, "key");
    const ghost = await curl(jp, `/jobs/no-such-job/ping?key=${key}`);
    assertEquals(ghost.status, 403);
    assertEquals(ghost.body.error.message, wrong.body.error.message);
    // No key: 401; the read-only token: 403; the admin token: fine.
    assertEquals((await curl(jp, "/jobs/backup/ping")).status, 401);
    const read = await curl(jp, "/jobs/backup/ping", { headers: reader });
    assertEquals(read.status, 403);
    const byAdmin = await curl(jp, "/jobs/backup/ping", { headers: admin });
    assertEquals(byAdmin.status, 200);
    // A fail ping whose text quotes the ping URL (curl's own error line in
    // a script's log): the key is blanked in the run, for every reader.
    const quoting = await curl(jp, `/jobs/backup/ping/fail?key=${key}`, {
      body: `curl: (22) POST https://jobs.example/jobs/backup/ping?key=${key}`,
    });
    assertEquals(quoting.status, 200);
    for (const who of [admin, reader]) {
      const r = await call(
        jp,
        "GET",
        `/jobs/backup/runs/${quoting.body.id}`,
        undefined,
        who,
      );
      assertEquals(r.text.includes(key), false, r.text);
      assertMatch(r.body.error, /key=\[redacted\]/);
    }
    // Nothing the refused pings did was recorded: 4 runs (ok, fail, admin, quoting).
    const job = await call(jp, "GET", "/jobs/backup", undefined, admin);
    assertEquals(job.body.runCount, 4);
    // The key opens only the ping routes.
    const other = await call(jp, "POST", `/jobs/backup/pause?key=${key}`, {});
    assertEquals(other.status, 401);

    // Not a heartbeat job: 409 (asked with the token).
    await call(jp, "POST", "/jobs", {
      id: "plain",
      name: "Plain",
      schedule: "",
      autoStart: false,
      action: { type: "function", name: "noop" },
    }, admin);
    const plain = await curl(jp, "/jobs/plain/ping", { headers: admin });
    assertEquals(plain.status, 409);
    // Its ping key is no key: 403, as for any wrong one.
    assertEquals((await curl(jp, `/jobs/plain/ping?key=${key}`)).status, 403);

    // Rotation: admin only; the old key stops working.
    const byReader = await call(
      jp,
      "POST",
      "/jobs/backup/ping-key",
      {},
      reader,
    );
    assertEquals(byReader.status, 403);
    const rotated = await call(jp, "POST", "/jobs/backup/ping-key", {}, admin);
    assertEquals(rotated.status, 200, rotated.text);
    const fresh = rotated.body.action.pingKey;
    assertNotEquals(fresh, key);
    assertEquals((await curl(jp, `/jobs/backup/ping?key=${key}`)).status, 403);
    assertEquals(
      (await curl(jp, `/jobs/backup/ping?key=${fresh}`)).status,
      200,
    );
    // A view sent back with the key redacted keeps the key.
    const patched = await call(jp, "PATCH", "/jobs/backup", {
      action: { ...asReader.body.action, graceMs: 120_000 },
    }, admin);
    assertEquals(patched.status, 200, patched.text);
    assertEquals(patched.body.action.pingKey, fresh);
    // Bad definitions: 400s naming the field.
    const noCron = await call(jp, "POST", "/jobs", {
      name: "x",
      schedule: "in 1h",
      action: { type: "heartbeat", graceMs: 1000 },
    }, admin);
    assertEquals(noCron.status, 400);
    assertEquals(noCron.body.error.field, "schedule");
    const noGrace = await call(jp, "POST", "/jobs", {
      name: "x",
      schedule: "* * * * *",
      action: { type: "heartbeat" },
    }, admin);
    assertEquals(noGrace.status, 400);
    assertEquals(noGrace.body.error.field, "action.graceMs");
    const keyed = await call(jp, "POST", "/jobs", {
      name: "x",
      schedule: "* * * * *",
      action: { type: "heartbeat", graceMs: 1000 },
      concurrencyKey: "db",
    }, admin);
    assertEquals(keyed.status, 400);
    assertEquals(keyed.body.error.field, "concurrencyKey");
    assertMatch(keyed.body.error.message, /takes no concurrency slot/);
    const keyedLater = await call(jp, "PATCH", "/jobs/backup", {
      concurrencyKey: "db",
    }, admin);
    assertEquals(keyedLater.status, 400);
    assertEquals(keyedLater.body.error.field, "concurrencyKey");
    const runNow = await call(jp, "POST", "/jobs/backup/run", {}, admin);
    assertEquals(runNow.status, 409);
    assert(runNow.body.error.message.includes("heartbeat"));
  }, { JOBPRO_TOKEN: TOKEN, JOBPRO_READ_TOKEN: READ_TOKEN });
});

Deno.test("ping routes: a body over the request limit (64 KiB), up to 1 MiB, is taken on every ping path; beyond, a 413", async () => {
  await withServer(async (jp) => {
    const made = await call(jp, "POST", "/jobs", {
      id: "big",
      name: "Big output",
      schedule: "0 3 * * *",
      action: { type: "heartbeat", graceMs: 600_000 },
    }, admin);
    assertEquals(made.status, 201, made.text);
    const key = made.body.action.pingKey;
    const log = "line of a long log\n".repeat(11_000); // ~200 KB
    const start = await curl(jp, `/jobs/big/ping/start?key=${key}`, {
      body: log,
    });
    assertEquals(start.status, 200, JSON.stringify(start.body));
    const fail = await curl(jp, `/jobs/big/ping/fail?key=${key}`, {
      body: "tar: disk full\n" + log,
    });
    assertEquals(fail.status, 200, JSON.stringify(fail.body));
    assertEquals(fail.body.id, start.body.id);
    assertEquals(fail.body.error, "failure reported by ping: tar: disk full");
    const ok = await curl(jp, `/jobs/big/ping?key=${key}`, { body: log });
    assertEquals(ok.status, 200, JSON.stringify(ok.body));
    // The output kept is the tail of the body.
    const run = await call(
      jp,
      "GET",
      `/jobs/big/runs/${fail.body.id}`,
      undefined,
      admin,
    );
    assertEquals(run.status, 200, run.text);
    assert(log.endsWith(run.body.output.slice(1)), "the body's tail");
    const tooBig = await curl(jp, `/jobs/big/ping/fail?key=${key}`, {
      body: "x".repeat(1024 * 1024 + 1),
    });
    assertEquals(tooBig.status, 413);
    // Other routes keep the request limit.
    const other = await call(jp, "PATCH", "/jobs/big", {
      description: "x".repeat(100_000),
    }, admin);
    assertEquals(other.status, 413);
  }, { JOBPRO_TOKEN: TOKEN, JOBPRO_READ_TOKEN: READ_TOKEN });
});
