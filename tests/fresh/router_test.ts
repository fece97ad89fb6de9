import { assertEquals } from "@std/assert";
import { compilePattern, matchPattern } from "@/lib/fresh/router.ts";

Deno.test("router: the fast matcher agrees with URLPattern on every pattern and path", () => {
  const patterns = [
    "/",
    "/jobs",
    "/jobs/:id",
    "/jobs/:id/runs/:runId",
    "/jobs/openapi.json",
    "/files/:rest*",
    "/a-b/~c",
  ];
  const paths = [
    "/",
    "/jobs",
    "/jobs/",
    "/jobs/abc",
    "/jobs/a%20b",
    "/jobs/a%2Fb",
    "/jobs/abc/runs/12",
    "/jobs/abc/runs/",
    "/jobs/openapi.json",
    "/jobs/openapiXjson",
    "/files",
    "/files/",
    "/files/a/b/c",
    "/a-b/~c",
    "/jobs/%E0%A4%A",
  ];
  for (const pattern of patterns) {
    const compiled = compilePattern(pattern);
    assertEquals(compiled.fast !== null, true, `${pattern} is simple`);
    const slow = { ...compiled, fast: null };
    for (const path of paths) {
      assertEquals(
        matchPattern(compiled, path),
        matchPattern(slow, path),
        `${pattern} vs ${path}`,
      );
    }
  }
});

Deno.test("router: patterns with URLPattern syntax beyond the simple form fall back to URLPattern", () => {
  for (const pattern of ["/x{/:y}?", "/a\\+b", "/(\\d+)"]) {
    assertEquals(compilePattern(pattern).fast, null, pattern);
  }
});
