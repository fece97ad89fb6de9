/**
 * The error contract on a real server: 400 naming the field, 404, 405 with
 * Allow, 409, 413 (without reading the rest), 415, and a 500 with a logged id
 * and no stack — which no client mistake can reach.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { OPERATIONS } from "@/lib/web/openapi.ts";
import type { Jobpro } from "@/main.ts";
import {
  call,
  captureConsole,
  manualJob,
  rawRequest,
  waitFor,
  withServer,
} from "./helpers.ts";

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

Deno.test("413: a declared Content-Length over JOBPRO_MAX_BODY_BYTES is refused before the body is read", async () => {
  await withServer(async (jp) => {
    const head = [
      "POST /jobs HTTP/1.1",
      `Host: ${new URL(jp.url).host}`,
      "Content-Type: application/json",
      "Content-Length: 10000000",
      "",
      "",
    ].join("\r\n");
    // Only 10 bytes of the promised 10 MB are ever sent.
    const answer = await rawRequest(jp.url, head, [
      new TextEncoder().encode('{"name":"'),
    ]);
    assertMatch(answer, /^HTTP\/1\.1 413 /);
  }, { JOBPRO_MAX_BODY_BYTES: "2048" });
});

Deno.test("413: a chunked body is cut off at the limit while the client is still sending", async () => {
  await withServer(async (jp) => {
    const head = [
      "POST /jobs HTTP/1.1",
      `Host: ${new URL(jp.url).host}`,
      "Content-Type: application/json",
      "Transfer-Encoding: chunked",
      "",
      "",
    ].join("\r\n");
    const chunk = "x".repeat(1500);
    const framed = new TextEncoder().encode(
      `${chunk.length.toString(16)}\r\n${chunk}\r\n`,
    );
    // Two chunks pass the 2 KiB limit; the terminating chunk is never sent,
    // so a server that read to the end would never answer.
    const answer = await rawRequest(jp.url, head, [framed, framed]);
    assertMatch(answer, /^HTTP\/1\.1 413 /);
    assertStringIncludes(answer.toLowerCase(), "application/json");
    assertEquals((await call(jp, "GET", "/jobs")).body.total, 0);
  }, { JOBPRO_MAX_BODY_BYTES: "2048" });
});

Deno.test("413/415 on every JSON body route; the limit comes from JOBPRO_MAX_BODY_BYTES", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("a", { schedule: "in 1h" }));
    const big = JSON.stringify({ name: "x".repeat(5000) });
    for (const op of OPERATIONS.filter((o) => o.body)) {
      const path = op.path.replace("{id}", "a");
      const method = op.method.toUpperCase();
      const large = await call(jp, method, path, big);
      assertEquals(large.status, 413, `${method} ${path}`);
      assertEquals(large.body.error.code, "too_large");
      assertStringIncludes(large.body.error.message, "4096");
      if (op.textBody !== undefined) continue; // it takes text/plain too
      const text = await call(jp, method, path, "name=x", {
        "content-type": "text/plain",
      });
      assertEquals(text.status, 415, `${method} ${path}`);
      assertEquals(text.body.error.code, "unsupported_media_type");
    }
    // Just under the limit is read and judged on its content.
    const ok = await call(jp, "POST", "/jobs", {
      ...manualJob("b"),
      name: "y".repeat(150),
      action: {
        type: "function",
        name: "noop",
        params: { pad: "z".repeat(3500) },
      },
    });
    assertEquals(ok.status, 201);
  }, {
    JOBPRO_MAX_BODY_BYTES: "4096",
    // The documents apply and a crontab import read have their own limit.
    JOBPRO_MAX_APPLY_BYTES: "4096",
  });
});

Deno.test("405 names the allowed methods in Allow on every route", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("a"));
    const templates = OPERATIONS.map((op) => ({
      method: op.method.toUpperCase(),
      pattern: new URLPattern({
        pathname: op.path.replace(/\{(\w+)\}/g, ":$1"),
      }),
    }));
    const concrete = new Set(
      OPERATIONS.map((op) =>
        op.path.replace("{id}", "a").replace("{runId}", "1")
      ),
    );
    for (const path of concrete) {
      // Every route whose pattern matches answers (as in Fresh's router), so
      // /jobs/schedule also has /jobs/{id}'s methods.
      const allowed = new Set(
        templates.filter((t) => t.pattern.test({ pathname: path })).map((t) =>
          t.method
        ),
      );
      if (allowed.has("GET")) allowed.add("HEAD");
      allowed.add("OPTIONS"); // every path a route matches answers it
      for (const method of ["GET", "POST", "PATCH", "DELETE", "PUT"]) {
        if (allowed.has(method)) continue;
        const r = await call(jp, method, path);
        assertEquals(r.status, 405, `${method} ${path}`);
        assertEquals(r.body.error.code, "method_not_allowed");
        const allow = r.res.headers.get("allow")!.split(", ").sort();
        assertEquals(allow, [...allowed].sort(), `${method} ${path}`);
      }
    }
  });
});

Deno.test("an unexpected error is a 500 with an id that is in the log, and no stack", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("a"));
    jp.manager.stats = () => {
      throw new Error("disk exploded under /var/secret");
    };
    const { result, logs } = await captureConsole(() =>
      call(jp, "GET", "/jobs/a/stats")
    );
    assertEquals(result.status, 500);
    assertEquals(result.body.error.code, "internal");
    const id = result.body.error.message.match(/id (\w+)/)?.[1];
    assert(id, result.body.error.message);
    assertStringIncludes(logs, id);
    assertStringIncludes(logs, "disk exploded");
    assert(!result.text.includes("exploded"), "no message of the cause");
    assert(!/\bat \S+:\d+/.test(result.text), "no stack trace");

    const page = await captureConsole(() =>
      fetch(`${jp.url}/jobs/a/stats`, { headers: { accept: "text/html" } })
        .then(async (r) => ({ status: r.status, text: await r.text() }))
    );
    assertEquals(page.result.status, 500);
    const pageId = page.result.text.match(/id (\w+)/)?.[1];
    assert(pageId && page.logs.includes(pageId));
    assert(!page.result.text.includes("exploded"));
  });
});

/** Values of every JSON type, and some that stress parsers and ranges. */
const WRONG = [
  null,
  true,
  -1,
  1.5,
  1e308,
  "",
  "x".repeat(300),
  "\u0000\ud800",
  [],
  [1, "a"],
  {},
  { type: "nope" },
];

/** The example body with one field (top-level or in `action`) replaced. */
function mutations(example: Record<string, unknown>): unknown[] {
  const out: unknown[] = [];
  for (const key of Object.keys(example)) {
    for (const w of WRONG) out.push({ ...example, [key]: w });
  }
  const action = example.action as Record<string, unknown> | undefined;
  if (action) {
    for (const key of ["type", "name", "url", "params", "command", "method"]) {
      for (const w of WRONG.slice(0, 6)) {
        out.push({ ...example, action: { ...action, [key]: w } });
      }
    }
  }
  return out;
}

const RAW_BODIES = [
  "",
  " ",
  "null",
  "1",
  '"s"',
  "[]",
  "{",
  '{"a":',
  "\u00ff\u00fe",
  "[".repeat(100_00) + "]".repeat(100_00),
  '{"__proto__":{"x":1}}',
];

const PATH_IDS = ["nope", "%ZZ", "a%2Fb", "ü", "x".repeat(3000), "..", "%00"];

async function expectNoServerError(
  jp: Jobpro,
  method: string,
  path: string,
  body?: unknown,
) {
  const r = await call(jp, method, path, body);
  assert(
    r.status < 500,
    `${method} ${path} ${
      JSON.stringify(body)?.slice(0, 80)
    } → ${r.status} ${r.text}`,
  );
  if (r.status >= 400) {
    assert(typeof r.body?.error?.message === "string", `${method} ${path}`);
  }
}

Deno.test("no client mistake on any documented route is a 500", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("a", { schedule: "in 1h" }));
    await call(jp, "POST", "/jobs/a/run");
    await waitFor(async () =>
      (await call(jp, "GET", "/jobs/a")).body.runCount === 1
    );
    const { result: _, logs } = await captureConsole(async () => {
      for (const op of OPERATIONS) {
        const method = op.method.toUpperCase();
        if (op.ok.content === "sse") continue; // see the SSE tests
        for (const id of PATH_IDS) {
          const path = op.path.replace("{id}", id).replace("{runId}", "1");
          await expectNoServerError(jp, method, path, op.body?.example);
        }
        const path = op.path.replace("{id}", "a");
        for (const runId of ["-1", "1.5", "1e3", "99999999999999999999"]) {
          if (!path.includes("{runId}")) break;
          await expectNoServerError(jp, method, path.replace("{runId}", runId));
        }
        const base = path.replace("{runId}", "1");
        for (const p of op.params?.filter((p) => p.in === "query") ?? []) {
          for (const v of ["-1", "abc", "1e3", "9".repeat(30), "%ZZ", "[]"]) {
            await expectNoServerError(jp, method, `${base}?${p.name}=${v}`);
          }
        }
        if (!op.body) continue;
        for (const raw of RAW_BODIES) {
          await expectNoServerError(jp, method, base, raw);
        }
        for (
          const body of mutations(op.body.example as Record<string, unknown>)
        ) {
          await expectNoServerError(jp, method, base, body);
        }
      }
    });
    assert(!logs.includes("[jobpro] error"), logs.slice(0, 2000));
  });
});
