/**
 * Islands in a real browser: a Chromium from @sparticuz/chromium driven by
 * playwright-core loads fixture pages from a real server and checks that
 * islands hydrate under the app's strict CSP (lib/web/csp.ts: the page's
 * nonce, no 'unsafe-inline').
 */
import chromium from "@sparticuz/chromium";
import { chromium as playwright } from "playwright-core";
import { assertEquals, assertStringIncludes } from "@std/assert";
import { staticFiles } from "fresh";
import { csp } from "@/lib/web/csp.ts";
import { fixtureRooted, serving } from "./helpers.ts";

Deno.test({
  name: "browser: islands hydrate and keep state, props survive the trip",
  async fn(t) {
    const app = fixtureRooted().use(csp()).use(staticFiles()).fsRoutes();
    await serving(app.handler(), (base) => inBrowser(t, base));
  },
});

async function inBrowser(t: Deno.TestContext, base: string) {
  const browser = await playwright.launch({
    executablePath: await chromium.executablePath(),
    args: chromium.args,
    headless: true,
  });
  const errors: string[] = [];
  try {
    const page = await browser.newPage();
    page.on("console", (msg) => {
      if (msg.type() === "error") errors.push(msg.text());
    });
    page.on("pageerror", (err) => errors.push(err.message));

    await t.step("a counter island hydrates and counts", async () => {
      const res = await page.goto(`${base}/counter`);
      const policy = res?.headers()["content-security-policy"] ?? "";
      assertStringIncludes(policy, "script-src 'self' 'nonce-");
      assertEquals(
        policy.includes("unsafe-inline") &&
          /script-src[^;]*unsafe-inline/.test(policy),
        false,
      );
      await page.waitForSelector(".counter[data-hydrated=true]");
      assertEquals(await page.textContent(".count"), "3");
      await page.click(".counter button");
      await page.click(".counter button");
      await page.waitForFunction(() =>
        document.querySelector(".count")?.textContent === "5"
      );
      assertEquals(await page.title(), "Counter page");
    });

    await t.step(
      "props arrive as Date, URL, Map, Set, bigint, undefined",
      async () => {
        await page.goto(`${base}/props`);
        await page.waitForSelector(".echo[data-hydrated=true] .client");
        assertEquals(
          await page.textContent(".client"),
          await page.textContent(".server"),
        );
      },
    );

    await t.step(
      "an island inside an island and server children hydrate once",
      async () => {
        await page.goto(`${base}/nested`);
        await page.waitForSelector(".outer .counter[data-hydrated=true]");
        await page.click(".outer .counter button");
        await page.waitForFunction(() =>
          document.querySelector(".outer .count")?.textContent === "11"
        );
        assertEquals(
          await page.textContent(".outer .slotted"),
          "server child",
        );
        assertEquals(await page.locator(".outer .counter").count(), 1);
        assertEquals(await page.textContent(".alpha"), "alpha");
      },
    );

    assertEquals(errors, []);
  } finally {
    await browser.close();
  }
}
