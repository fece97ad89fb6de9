/**
 * The server-wide default zone (JOBPRO_TIMEZONE) and job descriptions,
 * against a real server on a real DuckDB file: a job without a zone is
 * scheduled in the default and says so (`effectiveTimezone`), its own zone
 * wins; a description is set, changed, cleared, refused when too long, and
 * both survive a restart; a bad JOBPRO_TIMEZONE stops the real process at
 * start with a clear message.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { MAX_DESCRIPTION_LENGTH } from "@/lib/jobpro/job.ts";
import { type Jobpro, startJobpro } from "@/main.ts";
import { call, manualJob, tempDb } from "./helpers.ts";

/** The wall-clock hour and minute of an instant in a zone. */
function wall(iso: string, zone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: zone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(iso));
}

const nightly = (extra: Record<string, unknown> = {}) => ({
  name: "Nightly",
  schedule: "0 30 2 * * *",
  action: { type: "function", name: "noop" },
  ...extra,
});

Deno.test("JOBPRO_TIMEZONE: jobs without a zone run in it and say which applied; descriptions round-trip; both survive a restart", async () => {
  const db = await tempDb();
  const start = (zone: string) =>
    startJobpro(
      readConfig({ PORT: "0", JOBPRO_DB: db.path, JOBPRO_TIMEZONE: zone }),
      { quiet: true },
    );
  let jp: Jobpro | null = await start("Europe/Berlin");
  try {
    const plain = await call(jp, "POST", "/jobs", nightly({ id: "plain" }));
    assertEquals(plain.status, 201, plain.text);
    assertEquals(plain.body.timezone, null, "stays as set");
    assertEquals(plain.body.effectiveTimezone, "Europe/Berlin");
    assertEquals(wall(plain.body.nextRunAt, "Europe/Berlin"), "02:30");
    assertStringIncludes(plain.body.scheduleText, "Europe/Berlin");
    // An empty zone is no zone: the default applies, and says so.
    const blank = await call(
      jp,
      "POST",
      "/jobs",
      nightly({ id: "blank", timezone: "" }),
    );
    assertEquals(blank.status, 201, blank.text);
    assertEquals(
      [blank.body.timezone, blank.body.effectiveTimezone],
      [null, "Europe/Berlin"],
    );
    assertEquals(wall(blank.body.nextRunAt, "Europe/Berlin"), "02:30");

    const tokyo = await call(
      jp,
      "POST",
      "/jobs",
      nightly({ id: "tokyo", timezone: "Asia/Tokyo" }),
    );
    assertEquals(tokyo.body.effectiveTimezone, "Asia/Tokyo");
    assertEquals(wall(tokyo.body.nextRunAt, "Asia/Tokyo"), "02:30");
    const prefixed = await call(
      jp,
      "POST",
      "/jobs",
      nightly({ id: "ny", schedule: "CRON_TZ=America/New_York 0 30 2 * * *" }),
    );
    assertEquals(
      [prefixed.body.timezone, prefixed.body.effectiveTimezone],
      ["America/New_York", "America/New_York"],
    );

    // A description: set at create, shown by GET and the list, changed,
    // cleared by null; a bad one is a 400 naming it that changes nothing.
    const text = "Bills every customer.\nOwner: finance (ext. 42) — «urgent»";
    const made = await call(
      jp,
      "POST",
      "/jobs",
      manualJob("billing", { description: text }),
    );
    assertEquals(made.status, 201, made.text);
    assertEquals(made.body.description, text);
    assertEquals(
      (await call(jp, "GET", "/jobs/billing")).body.description,
      text,
    );
    const list = await call(jp, "GET", "/jobs?q=billing");
    assertEquals(list.body.jobs[0].description, text);
    assertEquals(
      (await call(jp, "GET", "/jobs/plain")).body.description,
      null,
      "none is null",
    );
    for (
      const [bad, why] of [
        ["x".repeat(MAX_DESCRIPTION_LENGTH + 1), "2000"],
        [42, "string"],
      ] as const
    ) {
      const r = await call(jp, "PATCH", "/jobs/billing", { description: bad });
      assertEquals(r.status, 400, r.text);
      assertEquals(r.body.error.field, "description", r.text);
      assertStringIncludes(r.body.error.message, why);
      const created = await call(
        jp,
        "POST",
        "/jobs",
        manualJob("other", { description: bad }),
      );
      assertEquals(created.status, 400);
      assertEquals((await call(jp, "GET", "/jobs/other")).status, 404);
    }
    assertEquals(
      (await call(jp, "GET", "/jobs/billing")).body.description,
      text,
    );
    const longest = "é".repeat(MAX_DESCRIPTION_LENGTH);
    const changed = await call(jp, "PATCH", "/jobs/billing", {
      description: longest,
    });
    assertEquals([changed.status, changed.body.description], [200, longest]);
    await jp.close();
    jp = null;

    // Another default after a restart: the zoneless job follows it from
    // the tick after the one it had planned, the others keep theirs; the
    // description is the store's.
    jp = await start("America/Los_Angeles");
    const after = (await call(jp, "GET", "/jobs/plain")).body;
    assertEquals(after.effectiveTimezone, "America/Los_Angeles");
    assertStringIncludes(after.scheduleText, "America/Los_Angeles");
    const preview = await call(jp, "GET", "/jobs/schedule?expr=0+30+2+*+*+*");
    assertEquals(preview.status, 200, preview.text);
    assertEquals(wall(preview.body.next[0], "America/Los_Angeles"), "02:30");
    assertEquals(
      (await call(jp, "GET", "/jobs/tokyo")).body.effectiveTimezone,
      "Asia/Tokyo",
    );
    assertEquals(
      (await call(jp, "GET", "/jobs/billing")).body.description,
      longest,
    );
    const cleared = await call(jp, "PATCH", "/jobs/billing", {
      description: null,
    });
    assertEquals(cleared.body.description, null);

    // The OpenAPI document says all of it.
    const doc = (await call(jp, "GET", "/jobs/openapi.json")).body;
    const job = doc.components.schemas.Job.properties;
    for (const field of ["description", "scheduleText", "effectiveTimezone"]) {
      assert(job[field]?.description, `Job.${field} documented`);
    }
    for (const [path, method] of [["/jobs", "post"], ["/jobs/{id}", "patch"]]) {
      const input = doc.paths[path][method].requestBody.content[
        "application/json"
      ].schema.properties.description;
      assertEquals(
        input.anyOf.find((s: { type: string }) => s.type === "string")
          .maxLength,
        MAX_DESCRIPTION_LENGTH,
        `${method} ${path}`,
      );
    }
  } finally {
    await jp?.close();
    await db.cleanup();
  }
});

Deno.test("a bad JOBPRO_TIMEZONE stops the server at start, naming it", async () => {
  assertEquals(readConfig({}).timezone, "UTC");
  assertEquals(
    readConfig({ JOBPRO_TIMEZONE: "Europe/Berlin" }).timezone,
    "Europe/Berlin",
  );
  const db = await tempDb();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "start"],
      cwd: new URL("../../", import.meta.url).pathname,
      env: {
        PORT: "0",
        JOBPRO_DB: db.path,
        JOBPRO_TIMEZONE: "Mars/Olympus",
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 2, err);
    assertStringIncludes(err, "JOBPRO_TIMEZONE must be an IANA time zone");
    assertStringIncludes(err, "Mars/Olympus");
    assert(!(await Deno.stat(db.path).catch(() => null)), "nothing opened");
  } finally {
    await db.cleanup();
  }
});
