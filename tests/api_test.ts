import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { type Jobpro, startJobpro } from "@/main.ts";
import { localServer, tempDb, waitFor } from "./helpers.ts";

const JSON_HEADERS = {
  "content-type": "application/json",
  accept: "application/json",
};

async function withServer(
  fn: (jp: Jobpro) => Promise<void>,
  env: Record<string, string> = {},
) {
  const db = await tempDb();
  const jp = await startJobpro(
    readConfig({ PORT: "0", JOBPRO_DB: db.path, ...env }),
    { quiet: true },
  );
  try {
    await fn(jp);
  } finally {
    await jp.close();
    await db.cleanup();
  }
}

async function call(jp: Jobpro, method: string, path: string, body?: unknown) {
  const res = await fetch(jp.url + path, {
    method,
    headers: JSON_HEADERS,
    body: body === undefined
      ? undefined
      : typeof body === "string"
      ? body
      : JSON.stringify(body),
  });
  const text = await res.text();
  return { res, status: res.status, body: text ? JSON.parse(text) : null };
}

/** Reads SSE events from a real streaming fetch until `until` is satisfied. */
async function readEvents(
  url: string,
  until: (events: { event: string; data: string }[]) => boolean,
  signal: AbortSignal,
) {
  const res = await fetch(url, { signal });
  assertStringIncludes(
    res.headers.get("content-type") ?? "",
    "text/event-stream",
  );
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { event: string; data: string }[] = [];
  let buf = "";
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) !== -1) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = block.match(/^event: (.*)$/m)?.[1] ?? "message";
        const data = [...block.matchAll(/^data: (.*)$/gm)].map((m) => m[1])
          .join("\n");
        if (data) events.push({ event, data });
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return events;
}

Deno.test("REST flow: create, read, operate, runs, delete", async () => {
  const target = localServer(() => new Response("pong"));
  try {
    await withServer(async (jp) => {
      const created = await call(jp, "POST", "/jobs", {
        id: "ping",
        name: "Ping",
        schedule: "",
        autoStart: false,
        action: { type: "http", url: `${target.url}/ping` },
      });
      assertEquals(created.status, 201);
      assertEquals(created.res.headers.get("location"), "/jobs/ping");
      for (
        const key of [
          "id",
          "name",
          "type",
          "schedule",
          "timezone",
          "action",
          "status",
          "nextRunAt",
          "lastRun",
          "createdAt",
          "updatedAt",
        ]
      ) {
        assert(key in created.body, `job JSON has ${key}`);
      }
      assertEquals([created.body.type, created.body.status], [
        "onetime",
        "created",
      ]);

      const one = await call(jp, "GET", "/jobs/ping");
      assertEquals(one.body.name, "Ping");
      const list = await call(jp, "GET", "/jobs");
      assertEquals(list.body.total, 1);
      assertEquals(list.body.jobs[0].id, "ping");

      const ran = await call(jp, "POST", "/jobs/ping/run");
      assertEquals(ran.status, 200);
      assertEquals(ran.body.id, "ping");
      await waitFor(async () =>
        (await call(jp, "GET", "/jobs/ping")).body.runCount === 1
      );
      assertEquals(target.requests.length, 1);
      assertEquals(new URL(target.requests[0].url).pathname, "/ping");

      for (let i = 0; i < 2; i++) await call(jp, "POST", "/jobs/ping/run");
      await waitFor(async () =>
        (await call(jp, "GET", "/jobs/ping")).body.runCount === 3
      );
      const runs = await call(jp, "GET", "/jobs/ping/runs?offset=0&limit=2");
      assertEquals(runs.body.total, 3);
      assertEquals(runs.body.runs.length, 2);
      assert(runs.body.runs[0].id > runs.body.runs[1].id, "newest first");
      for (
        const key of [
          "id",
          "jobId",
          "trigger",
          "attempt",
          "scheduledFor",
          "startedAt",
          "endedAt",
          "durationMs",
          "status",
          "message",
          "error",
        ]
      ) {
        assert(key in runs.body.runs[0], `run JSON has ${key}`);
      }
      const page2 = await call(jp, "GET", "/jobs/ping/runs?offset=2&limit=2");
      assertEquals(page2.body.runs.length, 1);

      await call(jp, "PATCH", "/jobs/ping", { schedule: "0 0 * * *" });
      assertEquals(
        (await call(jp, "POST", "/jobs/ping/start")).body.status,
        "scheduled",
      );
      assertEquals(
        (await call(jp, "POST", "/jobs/ping/pause")).body.status,
        "paused",
      );
      assertEquals(
        (await call(jp, "POST", "/jobs/ping/resume")).body.status,
        "scheduled",
      );
      assertEquals(
        (await call(jp, "POST", "/jobs/ping/stop")).body.status,
        "stopped",
      );

      const del = await fetch(`${jp.url}/jobs/ping`, { method: "DELETE" });
      assertEquals(del.status, 204);
      assertEquals((await call(jp, "GET", "/jobs/ping")).status, 404);
    });
  } finally {
    await target.close();
  }
});

Deno.test("client mistakes get the error contract, never a 500, and change nothing", async () => {
  await withServer(async (jp) => {
    const noop = { type: "function", name: "noop" };
    const cases: [string, string, unknown, number, string][] = [
      ["GET", "/jobs/nope", undefined, 404, "not_found"],
      ["POST", "/jobs/nope/run", undefined, 404, "not_found"],
      [
        "POST",
        "/jobs",
        { name: "x", schedule: "61 * * * *", action: noop },
        400,
        "invalid",
      ],
      [
        "POST",
        "/jobs",
        { name: "x", schedule: "2024-13-45 25:00", action: noop },
        400,
        "invalid",
      ],
      [
        "POST",
        "/jobs",
        { name: "x", schedule: "2024-01-15 14:30:00 XYZ", action: noop },
        400,
        "invalid",
      ],
      ["POST", "/jobs", "{not json", 400, "invalid"],
      ["POST", "/jobs", "[]", 400, "invalid"],
      ["POST", "/jobs", "", 400, "invalid"],
      ["GET", "/jobs?limit=abc", undefined, 400, "invalid"],
      ["GET", "/jobs?status=sleepy", undefined, 400, "invalid"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await call(jp, method, path, body);
      assertEquals(
        r.status,
        status,
        `${method} ${path} ${JSON.stringify(body)}`,
      );
      assertEquals(r.body.error.code, code);
      assert(r.body.error.message.length > 5);
    }
    const bad = await call(jp, "POST", "/jobs", {
      name: "x",
      schedule: "61 * * * *",
      action: noop,
    });
    assertStringIncludes(bad.body.error.message, "minute");
    assertEquals(bad.body.error.field, "schedule");

    const text = await fetch(`${jp.url}/jobs`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "name=x",
    });
    assertEquals(text.status, 415);
    await text.body?.cancel();

    const put = await fetch(`${jp.url}/jobs`, { method: "PUT" });
    assertEquals(put.status, 405);
    assertMatch(put.headers.get("allow") ?? "", /GET/);
    assertMatch(put.headers.get("allow") ?? "", /POST/);
    await put.body?.cancel();

    await call(jp, "POST", "/jobs", {
      id: "p",
      name: "P",
      schedule: "0 0 * * *",
      action: noop,
    });
    const conflict = await call(jp, "POST", "/jobs/p/resume");
    assertEquals(conflict.status, 409);
    assertStringIncludes(conflict.body.error.message, "scheduled");
    const dup = await call(jp, "POST", "/jobs", {
      id: "p",
      name: "Q",
      action: noop,
    });
    assertEquals(dup.status, 409);
    assertEquals((await call(jp, "GET", "/jobs")).body.total, 1);
    assertEquals((await call(jp, "GET", "/jobs/p")).body.name, "P");
  });
});

Deno.test("GET /jobs/events streams job-update after a run, with the job as data", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", {
      id: "m",
      name: "M",
      schedule: "",
      autoStart: false,
      action: { type: "function", name: "noop" },
    });
    const ac = new AbortController();
    const got = readEvents(
      `${jp.url}/jobs/events`,
      (evs) =>
        evs.some((e) =>
          e.event === "job-update" && JSON.parse(e.data).runCount === 1
        ),
      ac.signal,
    );
    // The stream is open once the server has a subscriber.
    await waitFor(() => jp.manager.events.subscribers > 0);
    await call(jp, "POST", "/jobs/m/run");
    const events = await got;
    ac.abort();
    const update = events.find((e) => e.event === "job-update")!;
    const job = JSON.parse(update.data);
    assertEquals(job.id, "m");
    assert(events.some((e) => e.event === "run-finished"));
  });
});

Deno.test("GET /healthz answers 200 with the store and scheduler up", async () => {
  await withServer(async (jp) => {
    const r = await call(jp, "GET", "/healthz");
    assertEquals(r.status, 200);
    assertEquals(r.body.status, "ok");
  });
});

Deno.test("GET /jobs serves the dashboard to a browser and JSON otherwise", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", {
      id: "h",
      name: "Hello <b>",
      schedule: "*/15 * * * * *",
      action: { type: "function", name: "noop" },
    });
    const html = await fetch(`${jp.url}/jobs`, {
      headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
    });
    assertStringIncludes(html.headers.get("content-type")!, "text/html");
    const text = await html.text();
    assertStringIncludes(text, "Hello &lt;b>");
    assertStringIncludes(text, "Every 15 seconds");
    assertStringIncludes(text, "frsh:island:JobsTable");
    for (const src of text.matchAll(/(?:src|href)="(\/[^"]+)"/g)) {
      const asset = await fetch(jp.url + src[1].replaceAll("&amp;", "&"));
      assertEquals(asset.status, 200, `asset ${src[1]} is served by the app`);
      await asset.body?.cancel();
    }
    assert(
      !/https?:\/\/(?!127\.0\.0\.1)/.test(
        text.replace(/"url":"http:\/\/[^"]*"/g, ""),
      ),
      "no external URLs",
    );
    const page = await fetch(`${jp.url}/jobs/h`, {
      headers: { accept: "text/html" },
    });
    assertStringIncludes(await page.text(), "Every 15 seconds");
    const json = await call(jp, "GET", "/jobs/h");
    assertEquals(json.body.id, "h");
  });
});
