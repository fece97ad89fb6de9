/**
 * The API client the dashboard and the CLI share, against a real local HTTP
 * server that answers the ways jobpro (or something in front of it) can.
 */
import { assertEquals, assertRejects } from "@std/assert";
import { callApi, jobPath, queryString } from "@/lib/client/api.ts";

async function withServer(
  fn: (base: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/echo") {
        return Response.json({
          method: req.method,
          type: req.headers.get("content-type"),
          auth: req.headers.get("authorization"),
          body: req.body ? await req.json() : null,
        });
      }
      if (path === "/gone") return new Response(null, { status: 204 });
      if (path === "/invalid") {
        return Response.json({
          error: {
            code: "invalid",
            message: "schedule: bad",
            field: "schedule",
          },
        }, { status: 400 });
      }
      if (path === "/proxy") {
        return new Response("<h1>Bad Gateway</h1>", {
          status: 502,
          headers: { "content-type": "text/html" },
        });
      }
      if (path === "/html") {
        return new Response("<p>hi</p>", {
          headers: { "content-type": "text/html" },
        });
      }
      if (path === "/plain") {
        return new Response("database is locked\n", {
          status: 500,
          headers: { "content-type": "text/plain" },
        });
      }
      if (path === "/stall") {
        // The headers promise JSON, then the body never comes.
        const body = new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('{"jobs": ['));
          },
        });
        return new Response(body, {
          headers: { "content-type": "application/json" },
        });
      }
      if (path === "/slow") await new Promise((r) => setTimeout(r, 5000));
      return new Response("no", { status: 404 });
    },
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("a JSON call sends its body and headers and reads the answer", async () => {
  await withServer(async (base) => {
    const r = await callApi("POST", `${base}/echo`, {
      body: { a: 1 },
      headers: { authorization: "Bearer t" },
    });
    assertEquals(r, {
      ok: true,
      data: {
        method: "POST",
        type: "application/json",
        auth: "Bearer t",
        body: { a: 1 },
      },
    });
    assertEquals(await callApi("DELETE", `${base}/gone`), {
      ok: true,
      data: null,
    });
  });
});

Deno.test("the API's error contract, an HTML error page, HTML for JSON", async () => {
  await withServer(async (base) => {
    assertEquals(await callApi("POST", `${base}/invalid`), {
      ok: false,
      error: {
        status: 400,
        code: "invalid",
        message: "schedule: bad",
        field: "schedule",
      },
    });
    const proxy = await callApi("GET", `${base}/proxy`);
    assertEquals(proxy.ok ? null : proxy.error, {
      status: 502,
      code: "http_502",
      message: `GET ${base}/proxy: HTTP 502 Bad Gateway`,
    });
    const plain = await callApi("GET", `${base}/plain`, { what: "GET /plain" });
    assertEquals(
      plain.ok ? null : plain.error.message,
      "GET /plain: HTTP 500: database is locked",
    );
    const html = await callApi("GET", `${base}/html`);
    assertEquals(html.ok ? null : [html.error.status, html.error.code], [
      200,
      "not_json",
    ]);
  });
});

Deno.test("an unreachable server is a failure with status 0; an abort throws its reason", async () => {
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const r = await callApi("GET", `http://127.0.0.1:${port}/jobs`);
  assertEquals(r.ok ? null : [r.error.status, r.error.code], [
    0,
    "unreachable",
  ]);
  assertEquals(
    r.ok ? null : r.error.message.startsWith("the server cannot be reached ("),
    true,
  );
  await withServer(async (base) => {
    const ac = new AbortController();
    const pending = callApi("GET", `${base}/slow`, { signal: ac.signal });
    ac.abort(new Error("cancelled by the test"));
    await assertRejects(() => pending, Error, "cancelled by the test");
  });
});

Deno.test("paths escape each segment; query strings leave out empties and defaults", () => {
  assertEquals(jobPath("a b/c", "runs", 7), "/jobs/a%20b%2Fc/runs/7");
  assertEquals(jobPath("x"), "/jobs/x");
  assertEquals(
    queryString({ status: "", offset: 0, limit: 20, q: "a&b", run: null }, {
      offset: 0,
    }),
    "?limit=20&q=a%26b",
  );
  assertEquals(queryString({}), "");
});

Deno.test("an answer that stalls after its headers is the caller's timeout, never data", async () => {
  await withServer(async (base) => {
    const signal = AbortSignal.timeout(300);
    const pending = callApi("GET", `${base}/stall`, { signal });
    const e = await assertRejects(() => pending);
    assertEquals((e as DOMException).name, "TimeoutError");
  });
});
