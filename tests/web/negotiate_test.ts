/**
 * Content negotiation: HTML only when text/html is preferred over JSON.
 */
import { assertEquals } from "@std/assert";
import { parseAccept, prefersHtml, wantsJson } from "@/lib/web/negotiate.ts";

const CASES: [string | null, boolean][] = [
  [null, false],
  ["", false],
  ["*/*", false],
  ["application/json", false],
  ["text/html", true],
  [
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    true,
  ],
  ["text/html;q=0.5, application/json", false],
  ["application/json;q=0.5, text/html", true],
  ["text/*", true],
  ["text/html, application/json", false],
  ["text/html;q=0", false],
  ["*/*;q=0.8, application/json;q=0.1, text/html;q=0.5", true],
  ["application/*;q=0.2, text/html;q=0.3", true],
  ["TEXT/HTML", true],
  ["nonsense", false],
];

Deno.test("negotiate: prefersHtml and wantsJson follow the Accept header's q-values", () => {
  for (const [accept, html] of CASES) {
    const req = new Request(
      "http://localhost/",
      accept === null ? {} : { headers: { accept } },
    );
    assertEquals(prefersHtml(req), html, String(accept));
    assertEquals(wantsJson(req), !html, String(accept));
  }
});

Deno.test("negotiate: parseAccept reads ranges, defaults q to 1 and clamps it", () => {
  assertEquals(
    parseAccept("text/html;level=1;q=0.7, */*;q=2, bad, image/png;q=x"),
    [
      { type: "text", subtype: "html", q: 0.7 },
      { type: "*", subtype: "*", q: 1 },
      { type: "image", subtype: "png", q: 0 },
    ],
  );
});
