import { assertEquals } from "@std/assert";
import { readConfig } from "@/lib/config.ts";
import { startJobpro } from "@/main.ts";
import { openBrowser, SCREENSHOTS } from "../browser.ts";
import { tempDb } from "../helpers.ts";

Deno.test({
  name:
    "dashboard: Run now updates the row's run count and status without a reload",
  // Chromium and the SSE stream outlive single awaits; everything is closed below.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const db = await tempDb();
    const jp = await startJobpro(
      readConfig({ PORT: "0", JOBPRO_DB: db.path }),
      { quiet: true },
    );
    try {
      await jp.manager.create({
        id: "report",
        name: "Nightly report",
        schedule: "",
        autoStart: false,
        action: { type: "function", name: "sleep", params: { ms: 700 } },
      });
      await jp.manager.create({
        id: "tick",
        name: "Tick",
        schedule: "0 0 * * *",
        action: { type: "function", name: "noop" },
      });
      await using b = await openBrowser();
      const { page } = b;
      await page.goto(`${jp.url}/jobs`);
      const row = page.locator("#job-report");
      await row.locator(".run-count").getByText("0").waitFor();
      await page.locator(".live-live").waitFor({ timeout: 10_000 });
      // Mark the document: a reload would lose this.
      await page.evaluate(() =>
        (globalThis as unknown as { marker: number }).marker = 42
      );

      await row.getByRole("button", { name: "Run now" }).click();
      await row.locator(".badge-running").waitFor({ timeout: 10_000 });
      await row.locator(".run-count").getByText("1").waitFor({
        timeout: 10_000,
      });
      await row.locator(".badge-created").waitFor({ timeout: 10_000 });
      await row.locator(".dot-complete").waitFor();
      assertEquals(await row.locator(".success-rate").textContent(), "100%");

      // Pause from the page; the row follows.
      const tick = page.locator("#job-tick");
      await tick.getByRole("button", { name: "Pause" }).click();
      await tick.locator(".badge-paused").waitFor({ timeout: 10_000 });
      await tick.getByRole("button", { name: "Resume" }).waitFor();

      assertEquals(
        await page.evaluate(() =>
          (globalThis as unknown as { marker: number }).marker
        ),
        42,
        "no reload",
      );
      await Deno.mkdir(SCREENSHOTS, { recursive: true });
      await page.screenshot({
        path: new URL("jobs.png", SCREENSHOTS).pathname,
        fullPage: true,
      });
      assertEquals(b.errors, [], "no console errors");
    } finally {
      await jp.close();
      await db.cleanup();
    }
  },
});
