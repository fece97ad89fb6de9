/**
 * The pages' CSP (lib/web/csp.ts) and the browsers' error page
 * (lib/web/error_page.ts), on a small app built in the test.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { h } from "preact";
import { App } from "fresh";
import { csp, DIRECTIVES, NONCE, policy, renderNonce } from "@/lib/web/csp.ts";
import { errorPage, escapeHtml } from "@/lib/web/error_page.ts";

const scriptSrc = (value: string) =>
  value.split("; ").find((d) => d.startsWith("script-src "));

Deno.test("csp: a rendered page's nonce joins script-src; without one, scripts come only from the site", () => {
  assertEquals(scriptSrc(policy("abc")), "script-src 'self' 'nonce-abc'");
  assertEquals(scriptSrc(policy(undefined)), "script-src 'self'");
  assertEquals(policy(undefined), DIRECTIVES.join("; "));
  for (const value of [policy("abc"), policy(undefined)]) {
    assert(!value.includes("unsafe-inline"), value);
    assert(!value.includes("upgrade-insecure-requests"), value);
    assertStringIncludes(value, "frame-ancestors 'none'");
    assertStringIncludes(value, "object-src 'none'");
  }
});

Deno.test("csp: the header goes on HTML only, with the nonce Fresh left on the rendered page", async () => {
  const app = new App()
    .use(csp())
    .get("/page", (ctx) => ctx.render(h("p", null, "hi")))
    .get("/html", (ctx) => ctx.html("<p>plain</p>"))
    .get("/json", (ctx) => ctx.json({ ok: true }));
  const run = app.handler();
  const page = await run(new Request("http://localhost/page"));
  const nonce = renderNonce(page);
  assert(nonce && (page as { [NONCE]?: string })[NONCE] === nonce);
  assertEquals(
    scriptSrc(page.headers.get("content-security-policy")!),
    `script-src 'self' 'nonce-${nonce}'`,
  );
  assertStringIncludes(await page.text(), "<p>hi</p>");
  const html = await run(new Request("http://localhost/html"));
  assertEquals(renderNonce(html), undefined);
  assertEquals(html.headers.get("content-security-policy"), policy(undefined));
  const json = await run(new Request("http://localhost/json"));
  assertEquals(json.headers.get("content-security-policy"), null);
  const again = await run(new Request("http://localhost/page"));
  assert(renderNonce(again) !== nonce, "a new nonce per page");
});

Deno.test("csp: a response with immutable headers is copied, not failed", async () => {
  const app = new App().use(csp()).get(
    "/",
    () => fetch("data:text/html,<p>fetched</p>"),
  );
  const res = await app.handler()(new Request("http://localhost/"));
  assertEquals(res.headers.get("content-security-policy"), policy(undefined));
  assertEquals(await res.text(), "<p>fetched</p>");
});

Deno.test("error page: status and reason as title, the message escaped, headers kept", async () => {
  const res = errorPage(405, "<script>no</script>", { allow: "GET, HEAD" });
  assertEquals(res.status, 405);
  assertEquals(res.headers.get("allow"), "GET, HEAD");
  assertEquals(res.headers.get("content-type"), "text/html; charset=utf-8");
  assertEquals(
    await res.text(),
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>405 Method Not Allowed</title></head>' +
      "<body><h1>405 Method Not Allowed</h1><p>&#60;script&#62;no&#60;/script&#62;</p></body></html>",
  );
  assertEquals(escapeHtml(`a&"'`), "a&#38;&#34;&#39;");
  assertStringIncludes(await errorPage(599, "x").text(), "<h1>599 Error</h1>");
});
