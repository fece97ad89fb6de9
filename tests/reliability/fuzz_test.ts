/**
 * Hostile input, property-based (fast-check): the schedule parser and the job
 * schema, fed random strings, cron- and date-shaped garbage, long repeated
 * patterns (catastrophic regex) and random JSON, never throw anything but an
 * `invalid` error naming a field (a 400), never take long (each call is timed),
 * and whatever they accept is usable: a cron's next times are later and in
 * order, a one-time instant is a real date, an accepted job survives a JSON
 * round trip unchanged.
 *
 * Scale: `JOBPRO_FUZZ_RUNS` runs per property (1,000 in CI, 20,000 with
 * JOBPRO_SOAK=1); `JOBPRO_SEED` repeats a run (fast-check prints the seed and
 * the shrunk counterexample of a failure).
 */
import fc from "fast-check";
import { assert, assertEquals } from "@std/assert";
import {
  createManager,
  JobproError,
  type Manager,
  nextRuns,
  openDuckDBStore,
  parseJobInput,
  parseJobPatch,
  parseSchedule,
  previewSchedule,
} from "@/lib/jobpro/mod.ts";
import { ZONE_ABBREVIATIONS } from "@/lib/jobpro/zones.ts";
import { isReboot } from "@/lib/jobpro/schedule.ts";
import { scale, SOAK } from "./helpers.ts";

const RUNS = scale("JOBPRO_FUZZ_RUNS", 1000, 20_000);
const SEED = Number(Deno.env.get("JOBPRO_SEED") ?? (SOAK ? Date.now() : 1));
/** Longest any one call may take: a catastrophic regex takes seconds. */
const BOUND_MS = 100;
const params = { numRuns: RUNS, seed: SEED, endOnFailure: true };

/** Calls `fn`, checks it took at most BOUND_MS, and says how it ended. */
function bounded<T>(
  what: string,
  fn: () => T,
): { ok: true; value: T } | { ok: false; error: JobproError } {
  const t0 = performance.now();
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (!(e instanceof JobproError) || e.code !== "invalid") {
      throw new Error(`${what} threw a ${(e as Error)?.name}: ${e}`);
    }
    assert(e.field, `${what}: the error names no field: ${e.message}`);
    return { ok: false, error: e };
  } finally {
    const ms = performance.now() - t0;
    assert(ms <= BOUND_MS, `${what} took ${ms.toFixed(1)} ms`);
  }
}

// ---- arbitraries ----

const ZONES = Intl.supportedValuesOf("timeZone");
const ABBRS = ZONE_ABBREVIATIONS.map((z) => z.abbr);
const anyText = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.string({ unit: "grapheme", maxLength: 100 }),
  fc.string({
    unit: fc.constantFrom(..." */-,?#LW@0123456789"),
    maxLength: 80,
  }),
);
const number = fc.oneof(
  fc.nat({ max: 70 }).map(String),
  fc.constantFrom(
    "-1",
    "00",
    "007",
    "1e3",
    "0x1F",
    "1.5",
    "99999999999999999999",
    "9007199254740993",
    "NaN",
    "Infinity",
    "",
  ),
);
const name = fc.constantFrom(
  "JAN",
  "dec",
  "Mon",
  "FRIDAY",
  "sun",
  "L",
  "W",
  "5L",
  "15W",
  "MON#2",
  "?",
  "*",
);
const cronField = fc.oneof(
  number,
  name,
  fc.tuple(number, number).map(([a, b]) => `${a}-${b}`),
  fc.tuple(fc.constantFrom("*", "0", "5", "1-30"), number).map(([a, b]) =>
    `${a}/${b}`
  ),
  fc.array(fc.oneof(number, name), { minLength: 2, maxLength: 6 }).map((l) =>
    l.join(",")
  ),
);
const inRange = (lo: number, hi: number) =>
  fc.oneof(
    fc.constant("*"),
    fc.integer({ min: lo, max: hi }).map(String),
    fc.integer({ min: 1, max: hi - lo + 1 }).map((n) => `*/${n}`),
    fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }))
      .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
  );
/** Cron expressions with every field in range. */
const validCron = fc.tuple(
  inRange(0, 59),
  inRange(0, 59),
  inRange(0, 23),
  inRange(1, 31),
  inRange(1, 12),
  inRange(0, 7),
  fc.boolean(),
).map(([s, m, h, dom, mon, dow, six]) =>
  (six ? [s, m, h, dom, mon, dow] : [m, h, dom, mon, dow]).join(" ")
);
const cronish = fc.oneof(
  validCron,
  fc.array(cronField, { minLength: 1, maxLength: 8 }).map((f) => f.join(" ")),
  fc.constantFrom(
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
    "@reboot",
    "@every 5m",
    "@",
  ),
  fc.tuple(fc.constantFrom("@"), fc.string({ maxLength: 20 })).map(([a, b]) =>
    a + b
  ),
);
const unit = fc.constantFrom(
  "s",
  "sec",
  "seconds",
  "m",
  "min",
  "minutes",
  "h",
  "hr",
  "hours",
  "d",
  "day",
  "w",
  "weeks",
  "ms",
  "y",
  "",
);
const relative = fc.tuple(
  fc.constantFrom("in ", "+", "", "in", "-", "in  "),
  fc.array(fc.tuple(number, fc.constantFrom("", " "), unit), {
    minLength: 1,
    maxLength: 5,
  }),
).map(([pre, parts]) => pre + parts.map((p) => p.join("")).join(" "));
const dateObj = fc.date({
  min: new Date("0001-01-01T00:00:00Z"),
  max: new Date("9999-12-31T23:59:59Z"),
  noInvalidDate: true,
});
const zone = fc.oneof(
  fc.constantFrom(...ABBRS),
  fc.constantFrom(...ZONES),
  fc.constantFrom(
    "Z",
    "+0800",
    "-08:00",
    "-08",
    "+99:99",
    "UTC+2",
    "GMT-08:00",
    "XYZ",
    "Mars/Base",
    "-0800 PST",
  ),
  fc.string({ maxLength: 12 }),
);
const absolute = fc.tuple(dateObj, fc.nat({ max: 6 }), fc.option(zone)).map(
  ([d, style, z]) => {
    const iso = d.toISOString();
    const p = (n: number) => String(n).padStart(2, "0");
    const [Y, M, D, h, m] = [
      d.getUTCFullYear(),
      d.getUTCMonth() + 1,
      d.getUTCDate(),
      d.getUTCHours(),
      d.getUTCMinutes(),
    ];
    const months = [
      "Jan",
      "Feb",
      "Mar",
      "Apr",
      "May",
      "Jun",
      "Jul",
      "Aug",
      "Sep",
      "Oct",
      "Nov",
      "Dec",
    ];
    const text = [
      iso,
      iso.replace("T", " ").slice(0, 19),
      `${p(M)}/${p(D)}/${Y} ${h % 12 || 12}:${p(m)} ${h < 12 ? "AM" : "PM"}`,
      `${months[M - 1]} ${D}, ${Y} ${h}:${p(m)}`,
      `${Y}-${p(M)}-${p(D)} ${p(h)}:${p(m)}`,
      `${M}/${D}/${Y} ${h}:${p(m)}:00`,
      `${Y}-${p(M + 6)}-${p(D + 20)} ${p(h + 5)}:${p(m + 30)}`,
    ][style];
    return z === null ? text : `${text} ${z}`;
  },
);
const scheduleText = fc.oneof(
  anyText,
  cronish,
  relative,
  absolute,
  fc.constantFrom("", " ", "now", "in", "in 0s", "\u0000", "\u00a0* * * * *"),
);
const timezone = fc.option(
  fc.oneof(fc.constantFrom(...ZONES), fc.string({ maxLength: 70 }), zone),
  { nil: undefined },
);
const now = dateObj;

// ---- the schedule parser ----

Deno.test("fuzz: parseSchedule on random and schedule-shaped text gives a usable schedule or a 400 naming the field, fast", () => {
  const seen = { cron: 0, every: 0, once: 0, manual: 0, invalid: 0 };
  fc.assert(
    fc.property(scheduleText, timezone, now, (expr, tz, at) => {
      const r = bounded(
        `parseSchedule(${JSON.stringify(expr)}, ${JSON.stringify(tz)})`,
        () => parseSchedule(expr, { timezone: tz, now: at }),
      );
      if (!r.ok) {
        assert(["schedule", "timezone"].includes(r.error.field!));
        seen.invalid++;
        return;
      }
      const s = r.value;
      seen[s.kind]++;
      if (s.kind === "once") {
        assert(Number.isFinite(s.at.getTime()), `once at ${s.at}`);
      } else if (s.kind === "cron" || s.kind === "every") {
        const next = bounded(
          `nextRuns(${JSON.stringify(expr)})`,
          () => nextRuns(s, at, 3),
        );
        assert(next.ok);
        let prev = at.getTime();
        for (const t of next.value) {
          assert(
            t.getTime() > prev,
            `${expr}: ${t.toISOString()} not after ${
              new Date(prev).toISOString()
            }`,
          );
          prev = t.getTime();
        }
      } else if (!isReboot(expr.trim())) {
        // Manual: a blank schedule (or cron's @reboot, run at each start).
        assertEquals(expr.trim().replace(/\s+/g, ""), "");
      }
    }),
    params,
  );
  console.log(`[fuzz] parseSchedule outcomes: ${JSON.stringify(seen)}`);
  for (const [kind, n] of Object.entries(seen)) {
    assert(n > 0, `no ${kind} outcome: the generators miss a whole class`);
  }
});

Deno.test("fuzz: previewSchedule (GET /jobs/schedule) with random count, from and zone never throws anything but a 400", () => {
  const from = fc.option(
    fc.date({ noInvalidDate: true }),
    { nil: undefined },
  );
  const count = fc.oneof(
    fc.integer({ min: -5, max: 120 }),
    fc.constantFrom(0.5, NaN, Infinity, 1e9),
  );
  fc.assert(
    fc.property(scheduleText, timezone, from, count, (expr, tz, f, n) => {
      const r = bounded(
        `previewSchedule(${JSON.stringify(expr)}, ${
          JSON.stringify({ tz, f, n })
        })`,
        () => previewSchedule(expr, { timezone: tz, from: f, count: n }),
      );
      if (r.ok) {
        assert(r.value.next.length <= 100);
        for (const t of r.value.next) assert(!Number.isNaN(Date.parse(t)));
      }
    }),
    { ...params, numRuns: Math.ceil(RUNS / 2) },
  );
});

Deno.test("fuzz: long repeated patterns (catastrophic backtracking) are parsed or refused in bounded time", () => {
  const pump = fc.constantFrom(
    "1",
    " ",
    "1 ",
    "*/",
    "*/1 ",
    ",",
    "1,",
    "-",
    "1-",
    "0",
    ":",
    "1:",
    "+",
    "in 1h ",
    "1h",
    "1h30m",
    "a",
    "Jan ",
    "PST ",
    "2024-",
    "\t",
    "\u00a0",
    "@",
    "#",
    "L",
  );
  fc.assert(
    fc.property(
      fc.string({ maxLength: 10 }),
      pump,
      fc.oneof(
        fc.integer({ min: 10, max: 250 }),
        fc.integer({ min: 10, max: 5000 }),
      ),
      fc.constantFrom("", "x", "!", " 61", "Z", "\u0000", " * * * *"),
      timezone,
      (prefix, p, n, suffix, tz) => {
        const expr = (prefix + p.repeat(n)).slice(0, n > 250 ? Infinity : 250) +
          suffix;
        bounded(
          `parseSchedule(${JSON.stringify(expr.slice(0, 40))}… ×${n})`,
          () => parseSchedule(expr, { timezone: tz }),
        );
      },
    ),
    { ...params, numRuns: Math.ceil(RUNS / 4) },
  );
});

// ---- the job schema ----

const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    1e308,
    -1e308,
    -0,
    9007199254740993,
    Number.MAX_SAFE_INTEGER,
    -1,
    0.5,
    "",
    "\ud800",
    "😀".repeat(50),
    "x".repeat(70_000),
    null,
    true,
    [],
    {},
  ),
);
const action = fc.oneof(
  fc.record({
    type: fc.constantFrom("function"),
    name: fc.oneof(
      fc.constantFrom("noop", "sleep", "fail", "log", "nope"),
      fc.string(),
    ),
    params: fc.option(fc.dictionary(fc.string(), value), { nil: undefined }),
  }, { requiredKeys: ["type"] }),
  fc.record({
    type: fc.constantFrom("http"),
    url: fc.oneof(
      fc.webUrl(),
      fc.string(),
      fc.constantFrom(
        "http://127.0.0.1:1/",
        "ftp://x",
        "javascript:alert(1)",
        "http://[::1",
        "http://user:pw@127.0.0.1:1/",
      ),
    ),
    method: fc.oneof(
      fc.constantFrom("GET", "POST", "HEAD", "get", "TRACE"),
      fc.string(),
    ),
    headers: fc.dictionary(fc.string(), fc.oneof(fc.string(), value)),
    body: fc.oneof(fc.string(), value),
    expectStatus: value,
  }, { requiredKeys: ["type"] }),
  fc.record({
    type: fc.constantFrom("shell"),
    command: fc.oneof(fc.array(fc.string()), value),
    cwd: fc.oneof(fc.string(), value),
    env: fc.dictionary(fc.string(), fc.oneof(fc.string(), value)),
  }, { requiredKeys: ["type"] }),
  value,
);
const jobBody = fc.record({
  id: fc.oneof(
    fc.string({ maxLength: 120 }),
    fc.constantFrom("events", "EVENTS", "a", "-a", "a/b", "..", "%2e"),
    value,
  ),
  name: fc.oneof(fc.string({ maxLength: 250 }), value),
  schedule: fc.oneof(scheduleText, value),
  timezone: fc.oneof(timezone, value),
  action,
  timeoutMs: value,
  retries: fc.oneof(fc.integer({ min: -2, max: 120 }), value),
  retryDelayMs: value,
  overlap: fc.oneof(fc.constantFrom("skip", "allow", "replace", "SKIP"), value),
  catchUp: fc.oneof(fc.constantFrom("skip", "once", "always"), value),
  autoStart: value,
  extra: value,
}, { requiredKeys: [] });
/** Nested arrays `depth` deep. */
const nested = (depth: number): unknown => {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};
const validJob = fc.record({
  name: fc.string({ minLength: 1, maxLength: 60 }).filter((n) =>
    n.trim() !== ""
  ),
  schedule: fc.constantFrom(
    "",
    "* * * * * *",
    "0 0 * * *",
    "*/15 * * * * *",
    "@hourly",
    "in 5m",
    "2099-01-15 14:30:00 PST",
    "Jan 15, 2099 3:04 PM MST",
  ),
  timezone: fc.option(fc.constantFrom("UTC", "Europe/Berlin"), {
    nil: undefined,
  }),
  action: fc.oneof(
    fc.constant({ type: "function", name: "noop" }),
    fc.record({
      type: fc.constant("function"),
      name: fc.constant("sleep"),
      params: fc.record({ ms: fc.nat({ max: 50 }) }),
    }),
    fc.constant({ type: "http", url: "http://127.0.0.1:1/x" }),
  ),
  retries: fc.nat({ max: 5 }),
  overlap: fc.constantFrom("skip", "allow", "replace"),
}, { requiredKeys: ["name", "action"] });
const fieldName = fc.constantFrom(
  "id",
  "name",
  "schedule",
  "timezone",
  "action",
  "timeoutMs",
  "retries",
  "retryDelayMs",
  "overlap",
  "catchUp",
  "autoStart",
  "action.params",
  "action.url",
  "action.headers",
  "unknown",
);
const deep = fc.integer({ min: 1, max: 20_000 }).map(nested);
/** A valid job with a field or two replaced by something hostile. */
const mutatedJob = fc.tuple(
  validJob,
  fc.array(fc.tuple(fieldName, fc.oneof(value, deep, scheduleText)), {
    maxLength: 2,
  }),
).map(([job, changes]) => {
  const out: Record<string, unknown> = { ...job };
  for (const [k, v] of changes) {
    if (k.startsWith("action.")) {
      out.action = { ...(out.action as object), [k.slice(7)]: v };
    } else out[k] = v;
  }
  return out;
});
const body = fc.oneof(
  mutatedJob,
  jobBody,
  fc.jsonValue(),
  fc.anything({ maxDepth: 3 }),
);

Deno.test("fuzz: parseJobInput and parseJobPatch on random JSON accept a valid job or give a 400 naming the field", () => {
  const seen = { ok: 0, invalid: 0 };
  fc.assert(
    fc.property(body, (b) => {
      for (
        const [what, parse] of [
          ["parseJobInput", parseJobInput],
          ["parseJobPatch", parseJobPatch],
        ] as const
      ) {
        const r = bounded(what, () => parse(b));
        seen[r.ok ? "ok" : "invalid"]++;
        if (r.ok) {
          // What is accepted is plain JSON data and survives a round trip.
          const again = bounded(
            `${what} of its own output`,
            () => parse(JSON.parse(JSON.stringify(r.value))),
          );
          assert(
            again.ok,
            `${what}: accepted once, refused after a JSON round trip`,
          );
          const plain = (v: unknown) => JSON.parse(JSON.stringify(v));
          assertEquals(plain(again.value), plain(r.value));
        }
      }
    }),
    params,
  );
  console.log(`[fuzz] job schema outcomes: ${JSON.stringify(seen)}`);
  assert(seen.ok > 0 && seen.invalid > 0, JSON.stringify(seen));
});

Deno.test({
  name:
    "fuzz: creating random jobs on an engine either creates one or refuses with a 400/409, and never changes anything on refusal",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const m: Manager = await createManager({
      store: await openDuckDBStore(":memory:"),
      log: () => {},
    });
    try {
      let created = 0;
      await fc.assert(
        fc.asyncProperty(fc.oneof(mutatedJob, jobBody), async (b) => {
          // Never run what is created: the schema and planning are under test.
          const input = typeof b === "object" && b !== null
            ? { ...b, autoStart: false }
            : b;
          const before = m.size;
          const t0 = performance.now();
          try {
            const job = await m.create(input);
            created++;
            assertEquals(m.size, before + 1);
            assertEquals(m.get(job.id).id, job.id);
            JSON.stringify(job);
            await m.delete(job.id);
          } catch (e) {
            if (
              !(e instanceof JobproError) ||
              !["invalid", "duplicate"].includes(e.code)
            ) {
              throw new Error(`create threw ${e}`);
            }
            assertEquals(m.size, before, "a refused create changes nothing");
          }
          assert(performance.now() - t0 < 1000, "create took over a second");
        }),
        { ...params, numRuns: Math.ceil(RUNS / 4) },
      );
      console.log(`[fuzz] ${created} random bodies were valid jobs`);
      assert(created > 0, "no random body was a valid job");
    } finally {
      await m.shutdown({ graceMs: 0 });
    }
  },
});

Deno.test("fuzz, found: at the edges of the Date range a schedule preview is a result or a 400, never a RangeError/TypeError (a 500)", () => {
  // Found by the previewSchedule property with a random seed; GET
  // /jobs/schedule?expr=in%201h&from=%2B275760-09-12T23:59:59Z answers 500.
  const MAX = 8.64e15, MIN = -8.64e15;
  const failures: string[] = [];
  for (
    const expr of [
      "in 1h",
      "now",
      "* * * * * *",
      "@yearly",
      "0 0 1 1 *",
      "2024-01-15T14:30:00Z",
      "",
    ]
  ) {
    for (const t of [MAX, MAX - 1000, MIN, MIN + 1000]) {
      for (
        const tz of [
          undefined,
          "America/New_York",
          "Pacific/Kiritimati",
          "Pacific/Pago_Pago",
        ]
      ) {
        try {
          bounded(`previewSchedule(${expr})`, () =>
            previewSchedule(expr, {
              from: new Date(t),
              now: new Date(t),
              timezone: tz,
              count: 3,
            }));
        } catch (e) {
          failures.push(
            `${JSON.stringify(expr)} from ${
              new Date(t).toISOString()
            } in ${tz}: ${(e as Error).message}`,
          );
        }
      }
    }
  }
  assertEquals(failures, []);
});
