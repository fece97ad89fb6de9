/**
 * The ping routes take a ping key instead of the token; nothing else does.
 * The seed's aliases (`/jobs/pause/:id`, ...) named a job `ping` look like a
 * ping path: without a token they are a 401, and the job is left as it was.
 */
import { assertEquals } from "@std/assert";
import { call, manualJob, TOKEN, withServer } from "./helpers.ts";

const admin = { authorization: `Bearer ${TOKEN}` };

Deno.test("ping auth: the seed's aliases on a job named ping need the token, spelled any way, and change nothing without it", async () => {
  await withServer(async (jp) => {
    const made = await call(jp, "POST", "/jobs", manualJob("ping"), admin);
    assertEquals(made.status, 201, made.text);
    const before = (await call(jp, "GET", "/jobs/ping", undefined, admin))
      .body;
    const paths = [
      "pause",
      "resume",
      "stop",
      "start",
      "run-now",
      "reschedule",
      "PAUSE",
      "%70ause",
      "run-now/../pause",
    ].map((op) => `/jobs/${op}/ping`);
    for (const path of paths) {
      const r = await call(jp, "POST", path, {});
      assertEquals(
        r.status >= 200 && r.status < 300,
        false,
        `${path}: ${r.status} ${r.text}`,
      );
    }
    for (const op of ["pause", "stop", "run-now"]) {
      const r = await call(jp, "POST", `/jobs/${op}/ping`, {});
      assertEquals(r.status, 401, `${op}: ${r.text}`);
    }
    const after = (await call(jp, "GET", "/jobs/ping", undefined, admin)).body;
    assertEquals(after.status, before.status);
    assertEquals(after.version, before.version);
    assertEquals(after.runCount, 0);
    // The job's own ping route is still the key's (a manual job has none: 409
    // with the token, 401/403 without it, never a change).
    const own = await call(jp, "POST", "/jobs/ping/ping", {});
    assertEquals([401, 403].includes(own.status), true, own.text);
  }, { JOBPRO_TOKEN: TOKEN });
});
