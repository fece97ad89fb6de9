/**
 * GET /metrics on a real server: Prometheus text with runs by job and
 * status, the run-duration and fire-lateness histograms, jobs by status and
 * open event streams.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { label, latenessOf, METRICS_CONTENT_TYPE } from "@/lib/web/metrics.ts";
import type { Jobpro } from "@/main.ts";
import { call, manualJob, openSse, waitFor, withServer } from "./helpers.ts";

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
