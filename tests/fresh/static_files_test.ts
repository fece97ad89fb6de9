/**
 * `staticFiles()`: content types, ETag and 304, immutable caching for
 * `asset()` URLs, and refusal of anything outside `static/`.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { join } from "node:path";
import { App, staticFiles } from "fresh";
import { asset } from "fresh/runtime";
import { safeRelativePath } from "../../lib/fresh/static_files.ts";
import { fixtureApp, send, serving } from "./helpers.ts";

const handler = fixtureApp().handler();

Deno.test("static: serves static/ at the root with type, length and ETag", async () => {
  const { res, body } = await send(handler, "/hello.txt");
  assertEquals([res.status, body], [200, "hello static\n"]);
  assertEquals(res.headers.get("content-type"), "text/plain; charset=utf-8");
  assertEquals(res.headers.get("content-length"), "13");
  assertEquals(res.headers.get("cache-control"), "no-cache");
  assertMatch(res.headers.get("etag")!, /^W\/"[0-9a-f]{16}"$/); // a hash of the content
  assertEquals(
    (await send(handler, "/styles.css")).res.headers.get("content-type"),
    "text/css; charset=utf-8",
  );
  assertEquals((await send(handler, "/sub/inner.txt")).body, "inner\n");
});

Deno.test("static: If-None-Match with the ETag answers 304 without a body", async () => {
  const etag = (await send(handler, "/hello.txt")).res.headers.get("etag")!;
  for (
    const header of [etag, `"other", ${etag}`, etag.replace(/^W\//, ""), "*"]
  ) {
    const { res, body } = await send(handler, "/hello.txt", {
      headers: { "if-none-match": header },
    });
    assertEquals(
      [res.status, body, res.headers.get("etag")],
      [304, "", etag],
      header,
    );
  }
  const stale = await send(handler, "/hello.txt", {
    headers: { "if-none-match": '"nope"' },
  });
  assertEquals(stale.res.status, 200);
});

Deno.test("static: HEAD has headers only; other methods and folders fall through", async () => {
  const head = await send(handler, "/hello.txt", { method: "HEAD" });
  assertEquals([
    head.res.status,
    head.body,
    head.res.headers.get("content-length"),
  ], [200, "", "13"]);
  assertEquals(
    (await send(handler, "/hello.txt", { method: "POST" })).res.status,
    404,
  );
  assertEquals((await send(handler, "/sub")).res.status, 404);
  assertEquals((await send(handler, "/sub/")).res.status, 404);
});

Deno.test("static: asset() adds the build id, and such URLs are cached for a year", async () => {
  await send(handler, "/"); // the app sets the build id once it is ready
  const url = asset("/styles.css");
  assertMatch(url, /^\/styles\.css\?__frsh_c=[0-9a-f]+$/);
  assertEquals(asset(url), url);
  assertEquals(asset("https://cdn.example/x.css"), "https://cdn.example/x.css");
  assertEquals(asset("//cdn.example/x.css"), "//cdn.example/x.css");
  assertMatch(
    asset("/a.png?v=1#top"),
    /^\/a\.png\?v=1&__frsh_c=[0-9a-f]+#top$/,
  );
  const { res } = await send(handler, url);
  assertEquals([res.status, res.headers.get("cache-control")], [
    200,
    "public, max-age=31536000, immutable",
  ]);
});

const TRAVERSALS = [
  "/../secret.txt",
  "/%2e%2e/secret.txt",
  "/..%2fsecret.txt",
  "/sub/..%2f..%2fsecret.txt",
  "/sub/%2E%2E%2F%2E%2E%2Fsecret.txt",
  "/..%5csecret.txt",
  "/sub%5c..%5c..%5csecret.txt",
  "/hello.txt%00.png",
  "/%E0%A4%A",
  "/%252e%252e/secret.txt",
];

Deno.test("static: path traversal is refused, whatever the encoding", async () => {
  for (const path of TRAVERSALS) {
    const { res, body } = await send(handler, path);
    assertEquals(res.status, 404, path);
    assert(!body.includes("TOP SECRET"), path);
  }
  assertEquals(safeRelativePath("/a/b.txt"), "a/b.txt");
  assertEquals(safeRelativePath("//a//b.txt"), "a/b.txt");
  for (const bad of ["/..%2fx", "/a/./b", "/%5c", "/%00", "/%zz"]) {
    assertEquals(safeRelativePath(bad), null, bad);
  }
});

Deno.test("static: raw request lines over TCP cannot escape either", async () => {
  await serving(fixtureApp().handler(), async (_, port) => {
    for (
      const path of [
        "/../secret.txt",
        "/..%2f..%2ftests/fresh/secret.txt",
        "/sub/../../secret.txt",
      ]
    ) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const request =
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
      await conn.write(new TextEncoder().encode(request));
      const reply = await new Response(conn.readable).text();
      assertMatch(reply, /^HTTP\/1\.1 404 /, path);
      assert(!reply.includes("TOP SECRET"), path);
    }
  });
});

Deno.test("static: a symlink out of static/ is not followed", async () => {
  const root = await Deno.makeTempDir({ prefix: "fresh-static-" });
  try {
    await Deno.mkdir(join(root, "static"));
    await Deno.writeTextFile(join(root, "secret.txt"), "TOP SECRET");
    await Deno.writeTextFile(join(root, "static", "ok.txt"), "ok");
    await Deno.symlink(
      join(root, "secret.txt"),
      join(root, "static", "link.txt"),
    );
    const app = new App().use(staticFiles());
    app.config.root = root;
    const run = app.handler();
    assertEquals((await send(run, "/ok.txt")).body, "ok");
    const { res, body } = await send(run, "/link.txt");
    assertEquals(res.status, 404);
    assert(!body.includes("TOP SECRET"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
