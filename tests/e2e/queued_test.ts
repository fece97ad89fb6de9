/**
 * Queued runs in a real Chromium against a real jobpro started with
 * JOBPRO_MAX_CONCURRENT_RUNS=1: while one run holds the slot, another
 * job's run shows live as "queued" on its job page (the run's badge, the
 * page's count) and on the dashboard's row; once the slot frees it turns
 * running, live, without a reload.
 */
import { assert, assertEquals } from "@std/assert";
import {
  BROWSER_TEST,
  live,
  markDocument,
  sameDocument,
  withDashboard,
} from "./setup.ts";

const nap = (id: string) => ({
  id,
  name: id === "hog" ? "Hog" : "Waiter",
  schedule: "0 0 3 * * *",
  autoStart: true,
  action: { type: "function", name: "sleep", params: { ms: 60_000 } },
});

Deno.test({
  name:
    "queued runs: a run over the cap shows queued, live, on the job page and the dashboard, then runs",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      await jp.manager.create(nap("hog"));
      await jp.manager.create(nap("waiter"));
      const hog = await jp.manager.runNow("hog");
      assertEquals(hog.status, "running");

      await page.goto(`${jp.url}/jobs/waiter`);
      await live(page);
      await markDocument(page);
      const run = await jp.manager.runNow("waiter");
      assertEquals(run.status, "queued");
      const row = page.locator(`#run-${run.id}`);
      await row.locator(".badge-queued", { hasText: "queued" }).waitFor();
      await page.locator(".page-head .badge-queued", { hasText: "1 queued" })
        .waitFor();
      await screenshot("queued-run.png");

      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await page.locator("#job-waiter .badge-queued", { hasText: "1 queued" })
        .waitFor();

      // The slot frees: the queued run starts, and the row shows it live.
      await page.goto(`${jp.url}/jobs/waiter`);
      await live(page);
      await markDocument(page);
      await row.locator(".badge-queued").waitFor();
      await jp.manager.cancelRun("hog", hog.id, "test");
      await row.locator(".badge-running").waitFor();
      await page.locator(".page-head .badge-queued").waitFor({
        state: "detached",
      });
      assert(await sameDocument(page), "no reload");
      await jp.manager.cancelRun("waiter", run.id, "test");
    }, { env: { JOBPRO_MAX_CONCURRENT_RUNS: "1" } });
  },
});
