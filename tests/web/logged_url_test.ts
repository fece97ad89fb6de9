/** What the server's logs show of a request's target: never a ping key. */
import { assertEquals } from "@std/assert";
import { loggedUrl } from "@/lib/web/server.ts";

Deno.test("logged urls blank out a ping key wherever it is in the query, and keep the rest", () => {
  assertEquals(
    loggedUrl("/jobs/a/ping?key=s3cret"),
    "/jobs/a/ping?key=[redacted]",
  );
  assertEquals(
    loggedUrl("/jobs/a/ping/fail?x=1&KEY=s3cret&y=2#f"),
    "/jobs/a/ping/fail?x=1&KEY=[redacted]&y=2#f",
  );
  assertEquals(loggedUrl("/jobs?monkey=1"), "/jobs?monkey=1");
  assertEquals(loggedUrl(undefined), "/");
});
