/**
 * HTTP conventions a client or cache relies on, against a real server:
 * `Vary: Accept` where an answer is negotiated, OPTIONS answering which
 * methods a path takes, a trailing slash redirected to the path without it.
 */
import { assert, assertEquals } from "@std/assert";
import { call, manualJob, withServer } from "./helpers.ts";

const raw = (url: string, init: RequestInit = {}) =>
  fetch(url, { redirect: "manual", ...init }).then(async (res) => {
    await res.body?.cancel();
    return res;
  });

Deno.test("http: negotiated answers (pages, JSON, errors) say Vary: Accept and are not cached", async () => {
  await withServer(async (jp) => {
    for (
      const [path, accept] of [
        ["/jobs", "application/json"],
        ["/jobs", "text/html"],
        ["/jobs/nope", "application/json"],
        ["/jobs/nope", "text/html"],
      ]
    ) {
      const res = await raw(jp.url + path, { headers: { accept } });
      // Accept-Encoding too: these may be compressed (compress.ts).
      assertEquals(
        res.headers.get("vary"),
        "Accept, Accept-Encoding",
        `${path} as ${accept}`,
      );
      assertEquals(res.headers.get("cache-control"), "no-store", path);
    }
  });
});

Deno.test("http: OPTIONS answers 204 with the path's methods in Allow; an unknown path is a 404", async () => {
  await withServer(async (jp) => {
    await call(jp, "POST", "/jobs", manualJob("a"));
    const list = await raw(`${jp.url}/jobs`, { method: "OPTIONS" });
    assertEquals(list.status, 204);
    assertEquals(list.headers.get("allow"), "GET, HEAD, POST, OPTIONS");
    const pause = await raw(`${jp.url}/jobs/a/pause`, { method: "OPTIONS" });
    assertEquals(pause.status, 204);
    assertEquals(pause.headers.get("allow"), "POST, OPTIONS");
    // A 405 lists OPTIONS too.
    const wrong = await raw(`${jp.url}/jobs/a/pause`, { method: "PUT" });
    assertEquals(wrong.status, 405);
    assertEquals(wrong.headers.get("allow"), "POST, OPTIONS");
    const none = await raw(`${jp.url}/nothing/here`, { method: "OPTIONS" });
    assertEquals(none.status, 404);
  });
});

Deno.test("http: a trailing slash redirects (308, query kept) to the path without it, never off the site", async () => {
  await withServer(async (jp) => {
    const list = await raw(`${jp.url}/jobs/?status=paused`);
    assertEquals(list.status, 308);
    assertEquals(list.headers.get("location"), "/jobs?status=paused");
    const post = await raw(`${jp.url}/jobs/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(manualJob("b")),
    });
    assertEquals([post.status, post.headers.get("location")], [308, "/jobs"]);
    assertEquals((await call(jp, "GET", "/jobs/b")).status, 404, "not made");
    const offSite = await raw(`${jp.url}//evil.example/`);
    assertEquals(offSite.status, 308);
    const to = offSite.headers.get("location")!;
    assert(to.startsWith("/") && !to.startsWith("//"), to);
    // Followed, the redirect lands on the list.
    const followed = await fetch(`${jp.url}/jobs/`, {
      headers: { accept: "application/json" },
    });
    assertEquals(followed.status, 200);
    assert(Array.isArray((await followed.json()).jobs));
  });
});
