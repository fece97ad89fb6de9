/**
 * Heartbeat jobs in a real Chromium against a real jobpro: the job form
 * creates one (a grace, no action to run); its page shows the ping URLs
 * with the key, a crontab line, the grace and "never" pinged; the URL as
 * shown (and copied by its Copy button) works as an outside cron's curl
 * would call it, and the page then shows the last ping.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { BROWSER_TEST, live, withDashboard } from "./setup.ts";

Deno.test({
  name:
    "heartbeat: the form creates one; its page shows working, copyable ping URLs and the last ping",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      await page.context().grantPermissions([
        "clipboard-read",
        "clipboard-write",
      ]);
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await page.getByRole("button", { name: "New job" }).click();
      const dialog = page.getByRole("dialog", { name: "New job" });
      await dialog.getByLabel("Name", { exact: true }).fill("Backup");
      await dialog.getByLabel("Schedule").fill("0 3 * * *");
      await dialog.getByRole("radio", { name: "Heartbeat" }).check();
      await dialog.getByLabel("Grace (seconds)").fill("600");
      await dialog.getByRole("button", { name: "Create job" }).click();
      await dialog.waitFor({ state: "detached" });
      await page.locator("#job-backup").waitFor();
      const job = jp.manager.revealed(jp.manager.get("backup"));
      assert(job.action.type === "heartbeat");
      assertEquals(job.action.graceMs, 600_000);
      const key = job.action.pingKey!;

      await page.goto(`${jp.url}/jobs/backup`);
      const card = page.locator(".ping-urls");
      await card.waitFor();
      assertEquals(await card.locator(".last-ping").textContent(), "never");
      assertEquals(await card.locator(".ping-grace").textContent(), "10 min");
      const url = (await card.locator(".ping-url code").first().textContent())!;
      assertEquals(url, `${jp.url}/jobs/backup/ping?key=${key}`);
      assertMatch(
        (await card.locator(".ping-curl").textContent())!,
        /^0 3 \* \* \* .* && curl -fsS -X POST '.*\/jobs\/backup\/ping\?key=/,
      );
      await card.getByRole("button", { name: "Copy the success ping URL" })
        .click();
      await card.getByText("Copied").first().waitFor();
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assertEquals(copied, url);
      await screenshot("heartbeat-job-page.png");

      // The URL as shown is what an outside cron calls: no token, any body.
      const res = await fetch(copied, { method: "POST" });
      assertEquals(res.status, 200);
      const run = await res.json();
      assertEquals(run.status, "complete");
      await page.reload();
      await page.locator(`#run-${run.id}`).waitFor();
      assert(
        (await card.locator(".last-ping").textContent()) !== "never",
        "the last ping is shown",
      );
    });
  },
});
