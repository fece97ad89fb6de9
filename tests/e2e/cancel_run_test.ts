/**
 * The Cancel button of a running run, in a real Chromium against a real
 * jobpro: on the job page's runs table and in a dashboard row's expansion,
 * behind the confirm dialog (whose "Keep running" keeps it running); the run
 * ends cancelled "by dashboard", shown live, and the job keeps its status.
 */
import { assert, assertEquals } from "@std/assert";
import {
  BROWSER_TEST,
  live,
  markDocument,
  sameDocument,
  withDashboard,
} from "./setup.ts";

const NAP = {
  id: "nap",
  name: "Nap",
  schedule: "0 0 3 * * *",
  autoStart: true,
  action: { type: "function", name: "sleep", params: { ms: 60_000 } },
};

Deno.test({
  name:
    "cancel run: the job page's Cancel asks first, then ends the run live, cancelled by dashboard",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      await jp.manager.create(NAP);
      const run = await jp.manager.runNow("nap");
      await page.goto(`${jp.url}/jobs/nap`);
      await live(page);
      await markDocument(page);
      const row = page.locator(`#run-${run.id}`);
      await row.locator(".badge-running").waitFor();
      const cancel = row.getByRole("button", { name: `Cancel run #${run.id}` });

      // Saying no keeps it running.
      await cancel.click();
      const dialog = page.locator("dialog[open]");
      await dialog.getByRole("heading", { name: `Cancel run #${run.id}?` })
        .waitFor();
      await screenshot("cancel-run-dialog.png");
      await dialog.getByRole("button", { name: "Keep running" }).click();
      await dialog.waitFor({ state: "detached" });
      assertEquals(jp.manager.get("nap").activeRuns, 1);

      await cancel.click();
      await page.locator("dialog[open]").getByRole("button", {
        name: "Cancel run",
      }).click();
      await row.locator(".badge-cancelled").waitFor();
      await row.getByText("cancelled by dashboard").waitFor();
      await page.getByText(`Run #${run.id}: cancelled`).waitFor();
      assertEquals(await cancel.count(), 0, "no Cancel on an ended run");
      assert(await sameDocument(page), "no reload");
      const job = jp.manager.get("nap");
      assertEquals(job.status, "scheduled");
      assertEquals(job.activeRuns, 0);
    });
  },
});

Deno.test({
  name: "cancel run: a dashboard row's expansion has Cancel on its running run",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page }) => {
      await jp.manager.create(NAP);
      const run = await jp.manager.runNow("nap");
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      const job = page.locator("#job-nap");
      await job.getByRole("button", { name: "Recent runs of Nap" }).click();
      const history = page.locator("#history-nap");
      const cancel = history.getByRole("button", {
        name: `Cancel run #${run.id}`,
      });
      await cancel.click();
      await page.locator("dialog[open]").getByRole("button", {
        name: "Cancel run",
      }).click();
      await history.locator(`#run-${run.id} .badge-cancelled`).waitFor();
      await history.getByText("cancelled by dashboard").waitFor();
      await page.getByText(`Nap: run #${run.id} cancelled`).waitFor();
      assertEquals(await cancel.count(), 0);
      const stored = await jp.manager.run("nap", run.id);
      assertEquals(stored.status, "cancelled");
      assertEquals(stored.error, "cancelled by dashboard");
    });
  },
});
