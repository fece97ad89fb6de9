/**
 * File routes and the request pipeline, through `app.handler()` on the fixture app.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { h } from "preact";
import { App, HttpError } from "fresh";
import { setManifest } from "../../lib/fresh/app.ts";
import { redirect } from "../../lib/fresh/context.ts";
import type { Manifest } from "../../lib/fresh/manifest.ts";
import { patternOf } from "../../lib/fresh/fs_routes.ts";
import { byRank, compilePattern } from "../../lib/fresh/router.ts";
import { BROWSER, fixtureApp, send, waitFor } from "./helpers.ts";

const handler = fixtureApp().handler();
const JSON_ACCEPT = { accept: "application/json" };

/** An app whose file routes are `manifest`'s, in memory. */
function withRoutes<State>(app: App<State>, manifest: Manifest): App<State> {
  setManifest(app, manifest);
  return app.fsRoutes();
}

/** Runs `fn` with console.error captured, returning what it logged. */
async function quietly(fn: () => Promise<void>): Promise<unknown[][]> {
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return logged;
}

Deno.test("routing: index, params, nested folders, catch-all and route override", async () => {
  assertStringIncludes(
    (await send(handler, "/", { headers: BROWSER })).body,
    '<h1 class="home">home</h1>',
  );
  assertStringIncludes(
    (await send(handler, "/jobs", { headers: BROWSER })).body,
    '<ul class="jobs"',
  );
  assertStringIncludes(
    (await send(handler, "/jobs/42", { headers: BROWSER })).body,
    "job 42",
  );
  assertStringIncludes(
    (await send(handler, "/jobs/a%20b", { headers: BROWSER })).body,
    "job a b",
  );
  assertStringIncludes(
    (await send(handler, "/files/a/b/c.txt")).body,
    "path=a/b/c.txt",
  );
  assertStringIncludes((await send(handler, "/files")).body, "path=");
  assertStringIncludes(
    (await send(handler, "/custom/hello")).body,
    '<p class="override">hello</p>',
  );
  assertEquals(
    (await send(handler, "/override", { headers: BROWSER })).res.status,
    404,
  );
});

Deno.test("routing: a static segment beats a dynamic one", async () => {
  const { res, body } = await send(handler, "/jobs/events");
  assertEquals([res.status, body], [200, "events"]);
  const sorted = ["/:rest*", "/jobs/:id", "/jobs/events", "/jobs", "/"].map(
    compilePattern,
  ).sort(byRank);
  assertEquals(sorted.map((p) => p.pattern), [
    "/jobs",
    "/",
    "/jobs/events",
    "/jobs/:id",
    "/:rest*",
  ]);
});

Deno.test("routing: file paths map to URLPattern pathnames", () => {
  assertEquals(patternOf(["index"]), "/");
  assertEquals(patternOf(["(app)", "jobs", "[id]", "index"]), "/jobs/:id");
  assertEquals(patternOf(["files", "[...path]"]), "/files/:path*");
  assertEquals(patternOf(["docs", "[[page]]"]), "/docs{/:page}?");
  assertEquals(patternOf(["a+b"]), "/a\\+b");
});

Deno.test("routing: (group) folders stay out of the URL but scope their layout", async () => {
  const pricing = (await send(handler, "/pricing", { headers: BROWSER })).body;
  assertMatch(
    pricing,
    /class="layout-root"><div class="layout-marketing"><p class="pricing">/,
  );
  assert(
    !(await send(handler, "/jobs", { headers: BROWSER })).body.includes(
      "layout-marketing",
    ),
  );
});

Deno.test("routing: files starting with _ that are not special are ignored", async () => {
  assertEquals(
    (await send(handler, "/_ignored", { headers: JSON_ACCEPT })).res.status,
    404,
  );
});

Deno.test("handlers: one function answers every method", async () => {
  for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH"]) {
    assertEquals(
      (await send(handler, "/api/any", { method })).body,
      `any ${method}`,
    );
  }
});

Deno.test("handlers: an object keyed by method, with 405 and Allow for the rest", async () => {
  assertEquals(JSON.parse((await send(handler, "/api/echo?q=1")).body), {
    method: "GET",
    q: "1",
  });
  const post = await send(handler, "/api/echo", {
    method: "POST",
    body: JSON.stringify({ a: 1 }),
  });
  assertEquals([post.res.status, JSON.parse(post.body)], [201, {
    method: "POST",
    body: { a: 1 },
  }]);
  const put = await send(handler, "/api/echo", {
    method: "PUT",
    headers: JSON_ACCEPT,
  });
  assertEquals(put.res.status, 405);
  assertEquals(put.res.headers.get("allow"), "GET, HEAD, POST, OPTIONS");
  assertEquals(JSON.parse(put.body), {
    error: { code: "method_not_allowed", message: "Method Not Allowed" },
  });
  const page = await send(handler, "/", { method: "POST" });
  assertEquals([page.res.status, page.res.headers.get("allow")], [
    405,
    "GET, HEAD, OPTIONS",
  ]);
  const job = await send(handler, "/jobs/7", { method: "PATCH" });
  assertEquals([job.res.status, job.res.headers.get("allow")], [
    405,
    "GET, HEAD, DELETE, OPTIONS",
  ]);
  const del = await send(handler, "/jobs/7", { method: "DELETE" });
  assertEquals([del.res.status, del.res.headers.get("x-deleted")], [204, "7"]);
});

Deno.test("handlers: HEAD falls back to GET without a body", async () => {
  const data = await send(handler, "/data", { method: "HEAD" });
  assertEquals([data.res.status, data.body, data.res.headers.get("x-data")], [
    201,
    "",
    "yes",
  ]);
  const api = await send(handler, "/api/echo", { method: "HEAD" });
  assertEquals([api.res.status, api.body], [200, ""]);
  assertStringIncludes(
    api.res.headers.get("content-type")!,
    "application/json",
  );
});

Deno.test("pages: page(data, { status, headers }) renders the component with data", async () => {
  const { res, body } = await send(handler, "/data", { headers: BROWSER });
  assertEquals([res.status, res.headers.get("x-data")], [201, "yes"]);
  assertStringIncludes(body, '<p class="data">n=42</p>');
  assertEquals(res.headers.get("content-type"), "text/html; charset=utf-8");
});

Deno.test("pages: async components, ctx.render and a page without the app wrapper", async () => {
  assertStringIncludes(
    (await send(handler, "/async")).body,
    '<p class="async">async /async</p>',
  );
  const rendered = await send(handler, "/rendered");
  assertEquals(rendered.res.status, 202);
  assertMatch(
    rendered.body,
    /<body class="app"[^>]*><div class="layout-root"><p class="rendered">/,
  );
  const plain = (await send(handler, "/plain")).body;
  assertMatch(
    plain,
    /^<!DOCTYPE html><html><head><meta charset="utf-8">.*<\/head><body><p class="plain">bare<\/p><\/body><\/html>$/,
  );
});

Deno.test("order: _app, then layouts outer to inner, then the page; middlewares root first", async () => {
  const { res, body } = await send(handler, "/jobs", { headers: BROWSER });
  assertEquals(res.headers.get("x-trail"), "root,jobs-a,jobs-b");
  assertMatch(
    body,
    /^<!DOCTYPE html><html lang="en"><head>.*<\/head><body class="app" data-trail="root,jobs-a,jobs-b"><div class="layout-root"><section class="layout-jobs"><ul class="jobs"/,
  );
});

Deno.test("negotiation: one route serves the page to browsers and JSON to clients", async () => {
  assertEquals(JSON.parse((await send(handler, "/jobs")).body), {
    jobs: [{ id: "a" }, { id: "b" }],
  });
  assertStringIncludes(
    (await send(handler, "/jobs", { headers: BROWSER })).body,
    "<ul",
  );
});

Deno.test("errors: _404 for browsers, JSON for API clients", async () => {
  const page = await send(handler, "/nope", { headers: BROWSER });
  assertEquals(page.res.status, 404);
  assertStringIncludes(
    page.body,
    '<h1 class="custom-404">Nothing at /nope</h1>',
  );
  const api = await send(handler, "/nope");
  assertEquals([api.res.status, JSON.parse(api.body)], [404, {
    error: { code: "not_found", message: "Not Found" },
  }]);
  const thrown = await send(handler, "/jobs/missing", { headers: BROWSER });
  assertEquals(thrown.res.status, 404);
  assertStringIncludes(thrown.body, "custom-404");
  assertEquals(
    JSON.parse((await send(handler, "/jobs/missing")).body).error.message,
    "no job missing",
  );
});

Deno.test("errors: HttpError reaches _error with its status and message", async () => {
  const page = await send(handler, "/api/conflict", {
    method: "POST",
    headers: BROWSER,
  });
  assertEquals(page.res.status, 409);
  assertStringIncludes(page.body, "HttpError 409: job a already exists");
  const api = await send(handler, "/api/conflict", { method: "POST" });
  assertEquals(JSON.parse(api.body), {
    error: { code: "conflict", message: "job a already exists" },
  });
});

Deno.test("errors: an unexpected throw is a 500 without details, logged once", async () => {
  let page = { res: new Response(), body: "" };
  let api = { res: new Response(), body: "" };
  const logged = await quietly(async () => {
    page = await send(handler, "/api/fail", { headers: BROWSER });
    api = await send(handler, "/api/fail");
  });
  assertEquals([page.res.status, api.res.status], [500, 500]);
  assertStringIncludes(page.body, "Something broke");
  for (const body of [page.body, api.body]) {
    assert(!body.includes("hunter2") && !body.includes("fail.ts"), body);
  }
  assertEquals(JSON.parse(api.body), {
    error: { code: "internal_server_error", message: "Internal Server Error" },
  });
  assertEquals(logged.length, 2);
  assertStringIncludes(String(logged[0][1]), "hunter2");
});

Deno.test("errors: without _error pages Fresh's defaults answer (the message as text), and a failing error page falls back", async () => {
  const app = new App()
    .get("/boom", () => {
      throw new Error("inner secret");
    })
    .get("/deny", () => {
      throw new HttpError(401, "token missing", { cause: "no header" });
    })
    .get("/gone", () => {
      throw new HttpError(410);
    });
  const bare = app.handler();
  const denied = await send(bare, "/deny", { headers: BROWSER });
  assertEquals([denied.res.status, denied.body], [401, "token missing"]);
  assertStringIncludes(denied.res.headers.get("content-type")!, "text/plain");
  const gone = await send(bare, "/gone");
  assertEquals([gone.res.status, gone.body], [410, "Gone"]);
  const logged = await quietly(async () => {
    const boom = await send(bare, "/boom", { headers: BROWSER });
    assertEquals([boom.res.status, boom.body], [500, "Internal Server Error"]);
  });
  assertEquals(logged.length, 1);

  const broken: Manifest = {
    islands: {},
    routes: {
      "./routes/_error.tsx": {
        default: () => {
          throw new Error("error page broke");
        },
      },
      "./routes/index.tsx": {
        handler: () => Promise.reject(new HttpError(418, "short and stout")),
      },
    },
  };
  const fallback = withRoutes(new App(), broken).handler();
  await quietly(async () => {
    const res = await send(fallback, "/", { headers: BROWSER });
    assertEquals([res.res.status, res.body], [418, "short and stout"]);
  });
});

Deno.test("redirect: ctx.redirect never leaves the site for a path", async () => {
  const cases: [string, string][] = [
    ["//evil.example/x", "/evil.example/x"],
    ["/\\evil.example", "/evil.example"],
    ["/\\/evil.example", "/evil.example"],
    ["/jobs//7?next=//x", "/jobs/7?next=//x"],
    ["/jobs", "/jobs"],
  ];
  for (const [to, location] of cases) {
    const { res } = await send(
      handler,
      `/redirect?to=${encodeURIComponent(to)}`,
    );
    assertEquals(
      [res.status, res.headers.get("location")],
      [302, location],
      to,
    );
  }
  assertEquals(
    redirect("https://example.com/a", 307).headers.get("location"),
    "https://example.com/a",
  );
  assertEquals(redirect("/a", 303).status, 303);
});

Deno.test("app: programmatic routes, prefixed middleware and ranking against file routes", async () => {
  const seen: string[] = [];
  const manifest: Manifest = {
    islands: {},
    routes: {
      "./routes/jobs/events.ts": { handler: () => new Response("file events") },
    },
  };
  const app = new App<{ who?: string }>()
    .use(async (ctx) => {
      seen.push(`all ${ctx.url.pathname}`);
      return await ctx.next();
    })
    .use("/api", (ctx) => {
      ctx.state.who = "api";
      seen.push(`api ${ctx.url.pathname}`);
      return ctx.next();
    })
    .get("/jobs/:id", (ctx) => ctx.text(`job ${ctx.params.id}`))
    .get(
      "/api/hello/:name",
      (ctx) => ctx.json({ hi: ctx.params.name, who: ctx.state.who }),
    )
    .all("/api/any", (ctx) => ctx.text(ctx.req.method))
    .post(
      "/api/page",
      (ctx) => ctx.render(h("p", null, "posted"), { status: 201 }),
    );
  const run = withRoutes(app, manifest).handler();
  assertEquals((await send(run, "/jobs/events")).body, "file events");
  assertEquals((await send(run, "/jobs/3")).body, "job 3");
  assertEquals(JSON.parse((await send(run, "/api/hello/ann")).body), {
    hi: "ann",
    who: "api",
  });
  assertEquals(
    (await send(run, "/api/any", { method: "PATCH" })).body,
    "PATCH",
  );
  const posted = await send(run, "/api/page", { method: "POST" });
  assertEquals(posted.res.status, 201);
  assertStringIncludes(posted.body, "<body><p>posted</p></body>");
  assertEquals(
    (await send(run, "/apix", { headers: BROWSER })).res.status,
    404,
  );
  assertEquals(seen, [
    "all /jobs/events",
    "all /jobs/3",
    "all /api/hello/ann",
    "api /api/hello/ann",
    "all /api/any",
    "api /api/any",
    "all /api/page",
    "api /api/page",
    "all /apix",
  ]);
});

Deno.test("app: ctx carries req, url, params, state, config, info and route", async () => {
  const app = new App({ mode: "development" }).get(
    "/c/:x",
    (ctx) => {
      return ctx.json({
        route: ctx.route,
        params: ctx.params,
        config: ctx.config,
        remote: ctx.info.remoteAddr,
        method: ctx.req.method,
        path: ctx.url.pathname,
      });
    },
  );
  assertEquals(app.config.root, Deno.cwd());
  app.config.root = "/srv/app";
  const run = app.handler();
  const body = JSON.parse((await send(run, "/c/1")).body);
  assertEquals(body, {
    route: "/c/:x",
    params: { x: "1" },
    config: { root: "/srv/app", mode: "development", basePath: "" },
    remote: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
    method: "GET",
    path: "/c/1",
  });
});

Deno.test({
  name:
    "app: listen resolves (to nothing) once it serves, reports its port and stops with its signal",
  // Fresh's listen() gives no handle to await the server's end with.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const controller = new AbortController();
    let port = -1;
    const result = await new App().get("/", (ctx) => ctx.text("up")).listen({
      port: 0,
      hostname: "127.0.0.1",
      signal: controller.signal,
      onListen: (addr) => port = addr.port,
    });
    assertEquals(result, undefined);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assertEquals(await res.text(), "up");
    controller.abort();
    await waitFor(
      () =>
        Deno.connect({ hostname: "127.0.0.1", port }).then(
          (conn) => (conn.close(), false),
          () => true,
        ),
      5_000,
      "the server stopped",
    );
  },
});

Deno.test("app: fsRoutes() mounts at the root only, once", () => {
  assertThrows(() => new App().fsRoutes("/admin"), Error, 'only "*"');
  assertThrows(() => new App().fsRoutes().fsRoutes(), Error, "once");
});

Deno.test("pages: a handler without GET still renders its page; _500 is _error's alias", async () => {
  const manifest: Manifest = {
    islands: {},
    routes: {
      "./routes/form.tsx": {
        handler: {
          POST: (ctx: { text(s: string): Response }) => ctx.text("posted"),
        },
        default: () => h("form", { method: "post" }),
      },
      "./routes/admin/_500.tsx": {
        default: () => h("p", null, "admin trouble"),
      },
      "./routes/admin/broken.ts": {
        handler: () => {
          throw new TypeError("boom");
        },
      },
    },
  };
  const run = withRoutes(new App(), manifest).handler();
  assertStringIncludes(
    (await send(run, "/form")).body,
    '<form method="post"></form>',
  );
  assertEquals((await send(run, "/form", { method: "POST" })).body, "posted");
  const put = await send(run, "/form", { method: "PUT" });
  assertEquals([put.res.status, put.res.headers.get("allow")], [
    405,
    "GET, HEAD, POST, OPTIONS",
  ]);
  await quietly(async () => {
    const broken = await send(run, "/admin/broken", { headers: BROWSER });
    assertEquals(broken.res.status, 500);
    assertStringIncludes(broken.body, "<p>admin trouble</p>");
  });
});
