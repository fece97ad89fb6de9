/**
 * GET /metrics on a real server: Prometheus text with runs by job and
 * status, the run-duration and fire-lateness histograms, jobs by status and
 * open event streams.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { startJobpro } from "@/main.ts";
import { label, latenessOf, METRICS_CONTENT_TYPE } from "@/lib/web/metrics.ts";
import type { Jobpro } from "@/main.ts";
import {
  call,
  manualJob,
  openSse,
  tempDb,
  waitFor,
  withServer,
} from "./helpers.ts";

async function scrape(jp: Jobpro): Promise<Map<string, number>> {
  const res = await fetch(`${jp.url}/metrics`);
  assertEquals(res.headers.get("content-type"), METRICS_CONTENT_TYPE);
  const text = await res.text();
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (
      line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")
    ) {
      continue;
    }
    const m = line.match(/^([a-z_]+(?:\{[^}]*\})?) (\S+)$/);
    assert(m, `not exposition format: ${line}`);
    values.set(m[1], Number(m[2]));
  }
  return values;
}

/** The cumulative buckets of a histogram, in order, ending with +Inf. */
function buckets(values: Map<string, number>, name: string): number[] {
  return [...values].filter(([k]) => k.startsWith(`${name}_bucket{`)).map((
    [, v],
  ) => v);
}

Deno.test("runs by job and status, and the run-duration histogram", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("good"));
    await call(jp, "POST", "/jobs", {
      ...manualJob("bad"),
      action: { type: "function", name: "fail", params: { message: "x" } },
    });
    for (let i = 0; i < 3; i++) await call(jp, "POST", "/jobs/good/run");
    await call(jp, "POST", "/jobs/bad/run");
    await waitFor(async () =>
      (await scrape(jp)).get("jobpro_run_duration_seconds_count") === 4
    );
    const m = await scrape(jp);
    assertEquals(m.get('jobpro_runs_total{job="good",status="complete"}'), 3);
    assertEquals(m.get('jobpro_runs_total{job="bad",status="failed"}'), 1);
    const b = buckets(m, "jobpro_run_duration_seconds");
    assert(b.every((v, i) => i === 0 || v >= b[i - 1]), `cumulative: ${b}`);
    assertEquals(b.at(-1), 4);
    assert((m.get("jobpro_run_duration_seconds_sum") ?? -1) >= 0);
    // A manual run was due at no particular time: no lateness.
    assertEquals(m.get("jobpro_fire_lateness_seconds_count"), 0);

    await call(jp, "DELETE", "/jobs/bad");
    const after = await scrape(jp);
    assert(!after.has('jobpro_runs_total{job="bad",status="failed"}'));
  });
});

Deno.test("fire lateness of scheduled runs, jobs by status, open event streams", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", {
      id: "tick",
      name: "Tick",
      schedule: "* * * * * *",
      action: { type: "function", name: "noop" },
    });
    await call(jp, "POST", "/jobs", manualJob("idle"));
    await call(jp, "POST", "/jobs", {
      id: "held",
      name: "Held",
      schedule: "0 0 * * *",
      action: { type: "function", name: "noop" },
    });
    await call(jp, "POST", "/jobs/held/pause");
    const m = await waitFor(async () => {
      const m = await scrape(jp);
      return (m.get("jobpro_fire_lateness_seconds_count") ?? 0) >= 2 && m;
    }, { what: "two scheduled runs" });
    const late = buckets(m, "jobpro_fire_lateness_seconds");
    assertEquals(late.at(-1), m.get("jobpro_fire_lateness_seconds_count"));
    assert(m.get("jobpro_fire_lateness_seconds_sum")! < 5, "fired on time");
    assertEquals(m.get('jobpro_jobs{status="created"}'), 1);
    assertEquals(m.get('jobpro_jobs{status="paused"}'), 1);
    const busy = (m.get('jobpro_jobs{status="scheduled"}') ?? 0) +
      (m.get('jobpro_jobs{status="running"}') ?? 0);
    assertEquals(busy, 1);
    assertEquals(m.get('jobpro_jobs{status="failed"}'), 0);
    assertEquals(m.get("jobpro_sse_clients"), 0);

    const client = await openSse(`${jp.url}/jobs/events`);
    try {
      await client.until(() => client.events.length > 0, "hello");
      assertEquals((await scrape(jp)).get("jobpro_sse_clients"), 1);
    } finally {
      await client.close();
    }
    await waitFor(async () =>
      (await scrape(jp)).get("jobpro_sse_clients") === 0
    );
  });
});

Deno.test("metrics helpers: label escaping and lateness", () => {
  assertEquals(label('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const at = "2024-01-01T00:00:00.000Z";
  assertEquals(
    latenessOf({
      trigger: "schedule",
      scheduledFor: at,
      startedAt: "2024-01-01T00:00:00.250Z",
    }),
    0.25,
  );
  assertEquals(
    latenessOf({ trigger: "manual", scheduledFor: null, startedAt: at }),
    null,
  );
  assertEquals(
    latenessOf({ trigger: "startup", scheduledFor: at, startedAt: at }),
    null,
  );
  assertMatch(METRICS_CONTENT_TYPE, /^text\/plain; version=0\.0\.4/);
});

/**
 * The rules of the text exposition format (0.0.4) a scraper and promtool
 * hold a target to: what is wrong in `text`, one line each.
 */
function expositionProblems(text: string): string[] {
  const problems: string[] = [];
  if (!text.endsWith("\n")) problems.push("the text does not end in a newline");
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const SAMPLE =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$/;
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const series = new Set<string>();
  const done = new Set<string>(); // families whose samples have ended
  let current = "";
  const familyOf = (name: string) => {
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      const base = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && types.get(base) === "histogram") return base;
    }
    return name;
  };
  const body = text.endsWith("\n") ? text.slice(0, -1) : text;
  for (const line of body.split("\n")) {
    const meta = line.match(/^# (HELP|TYPE) (\S+) (.*)$/);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name)) problems.push(`bad metric name: ${name}`);
      if (kind === "HELP") {
        if (helps.has(name)) problems.push(`HELP twice for ${name}`);
        helps.add(name);
      } else {
        if (types.has(name)) problems.push(`TYPE twice for ${name}`);
        if (
          !["counter", "gauge", "histogram", "summary", "untyped"].includes(
            rest,
          )
        ) {
          problems.push(`unknown type ${rest} for ${name}`);
        }
        if (rest === "counter" && !name.endsWith("_total")) {
          problems.push(`counter ${name} does not end in _total`);
        }
        types.set(name, rest);
      }
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = line.match(SAMPLE);
    if (!m) {
      problems.push(`not a sample line: ${line}`);
      continue;
    }
    const [, name, , labels = "", value] = m;
    const family = familyOf(name);
    if (!types.has(family)) problems.push(`no TYPE before ${name}`);
    if (!helps.has(family)) problems.push(`no HELP for ${name}`);
    if (family !== current) {
      if (done.has(family)) problems.push(`${family}'s samples are split`);
      done.add(current);
      current = family;
    }
    if (
      !/^(?:[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|\.\d+)|NaN|[+-]Inf)$/i.test(value)
    ) {
      problems.push(`bad value ${value} in ${line}`);
    }
    const key = `${name}{${labels.split(/,(?=[a-zA-Z_])/).sort().join(",")}}`;
    if (series.has(key)) problems.push(`duplicate series ${key}`);
    series.add(key);
  }
  return problems;
}

Deno.test("the whole /metrics text keeps the exposition format's rules, process_* metrics included", async () => {
  await withServer(async (jp) => {
    // Runs, so that every family has samples.
    await call(jp, "POST", "/jobs", manualJob("plain"));
    await call(jp, "POST", "/jobs", {
      ...manualJob("bad"),
      action: { type: "function", name: "fail", params: { message: "x" } },
    });
    await call(jp, "POST", "/jobs/plain/run");
    await call(jp, "POST", "/jobs/bad/run");
    await waitFor(async () => {
      const m = await scrape(jp);
      return m.get('jobpro_runs_total{job="plain",status="complete"}') &&
        m.get('jobpro_runs_total{job="bad",status="failed"}');
    });
    const text = await (await fetch(`${jp.url}/metrics`)).text();
    assertEquals(expositionProblems(text), []);
    const values = await scrape(jp);
    // Per job: when it last succeeded and last failed; never: no sample.
    const success = "jobpro_job_last_success_timestamp_seconds";
    const failure = "jobpro_job_last_failure_timestamp_seconds";
    const plainAt = values.get(`${success}{job="plain"}`)!;
    assert(Math.abs(plainAt - Date.now() / 1000) < 600, `${plainAt}`);
    assert(values.get(`${failure}{job="bad"}`)! > 0);
    assert(!values.has(`${success}{job="bad"}`), "bad never succeeded");
    assert(!values.has(`${failure}{job="plain"}`), "plain never failed");
    assertStringIncludes(text, `# TYPE ${success} gauge\n`);
    const rss = values.get("process_resident_memory_bytes")!;
    assert(rss > 1_000_000, `rss ${rss}`);
    const start = values.get("process_start_time_seconds")!;
    assert(start <= Date.now() / 1000 && start > Date.now() / 1000 - 3600);
    assert(values.get("process_cpu_seconds_total")! > 0);
    const open = values.get("process_open_fds")!;
    const max = values.get("process_max_fds")!;
    assert(open > 0 && max >= open, `open ${open}, max ${max}`);
    assert(values.get("process_virtual_memory_bytes")! >= rss);
  });
  // The checker itself catches what it is there for.
  assertEquals(
    expositionProblems(
      'x 1\n# TYPE y counter\n# HELP y Y.\ny{a="b"} 1\ny{a="b"} 2',
    ),
    [
      "the text does not end in a newline",
      "no TYPE before x",
      "no HELP for x",
      "counter y does not end in _total",
      'duplicate series y{a="b"}',
    ],
  );
});

Deno.test("last success and failure times per job survive a restart (they are the store's)", async () => {
  const db = await tempDb();
  const start = () =>
    startJobpro(readConfig({ PORT: "0", JOBPRO_DB: db.path }), {
      quiet: true,
    });
  const success = 'jobpro_job_last_success_timestamp_seconds{job="flaky"}';
  const failure = 'jobpro_job_last_failure_timestamp_seconds{job="flaky"}';
  try {
    let jp = await start();
    let before: Map<string, number>;
    try {
      await call(jp, "POST", "/jobs", manualJob("flaky"));
      await call(jp, "POST", "/jobs/flaky/run");
      await waitFor(async () => (await scrape(jp)).has(success));
      // A failure after the success: both kept, each its own time.
      await call(jp, "PATCH", "/jobs/flaky", {
        action: { type: "function", name: "fail", params: { message: "x" } },
      });
      await call(jp, "POST", "/jobs/flaky/run");
      before = await waitFor(async () => {
        const m = await scrape(jp);
        return m.has(failure) && m;
      });
      assert(before.get(failure)! >= before.get(success)!);
      const view = (await call(jp, "GET", "/jobs/flaky")).body;
      assertEquals(Date.parse(view.lastSuccessAt) / 1000, before.get(success));
      assertEquals(Date.parse(view.lastFailureAt) / 1000, before.get(failure));
    } finally {
      await jp.close();
    }
    jp = await start();
    try {
      const after = await scrape(jp);
      assertEquals(after.get(success), before.get(success));
      assertEquals(after.get(failure), before.get(failure));
    } finally {
      await jp.close();
    }
  } finally {
    await db.cleanup();
  }
});
