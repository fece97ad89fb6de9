/**
 * The job page /jobs/:id in a real Chromium against a real jobpro: the
 * definition, next run times, stats and chart, the run history with a status
 * filter and paging in the URL, and a run's detail with its captured output.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { localServer, waitFor } from "../helpers.ts";
import {
  BROWSER_TEST,
  DEADLINE,
  live,
  markDocument,
  sameDocument,
  withDashboard,
} from "./setup.ts";

Deno.test({
  name:
    "job page: run now shows the run live, and its output once it ends; the detail has its own URL",
  ...BROWSER_TEST,
  async fn() {
    // The backend answers once the page has shown the run going: however
    // slow the machine, the page sees it running before it ends.
    let answer = () => {};
    const answered = new Promise<void>((r) => (answer = r));
    const backend = localServer(async () => {
      await answered;
      return new Response("hello from the backend\nsecond line\n");
    });
    try {
      await withDashboard(async ({ jp, page, screenshot }) => {
        await jp.manager.create({
          id: "fetch",
          name: "Fetch report",
          schedule: "0 0 3 * * *",
          timezone: "Europe/Berlin",
          action: { type: "http", url: `${backend.url}/report` },
        });
        await page.goto(`${jp.url}/jobs/fetch`);
        await live(page);
        await markDocument(page);
        await page.getByRole("heading", { name: "Fetch report" }).waitFor();
        const definition = await page.locator(".definition").first()
          .textContent();
        assertMatch(definition!, /At 03:00 AM/);
        assertMatch(definition!, /Europe\/Berlin/);
        const next = page.getByRole("list", { name: "Next run times" });
        assertEquals(await next.locator("li").count(), 5);
        assertEquals(
          await page.locator(".stats dd").first().textContent(),
          "0",
        );

        await page.getByRole("button", { name: "Run now" }).click();
        const first = page.locator(".runs-table tbody tr").first();
        await first.locator(".badge-running").waitFor();
        await first.locator(".run-link").click();
        await page.waitForURL(/\?run=\d+$/);
        const detail = page.locator(".run-detail");
        await detail.getByText("its output appears here as it is written")
          .waitFor();
        answer();
        // The run ends: the detail refreshes itself from its run-finished event.
        const output = detail.locator("pre.output");
        await output.waitFor({ timeout: DEADLINE });
        assertEquals(
          await output.textContent(),
          "HTTP 200 OK\nhello from the backend\nsecond line\n",
        );
        await detail.locator(".badge-complete").waitFor();
        await page.locator(".stats dd").first().getByText("1").waitFor();
        assertEquals(await page.locator(".chart-svg .bar-complete").count(), 1);
        assert(await sameDocument(page), "no reload");
        await screenshot("job.png");

        // The URL shows the same run, rendered by the server.
        const url = page.url();
        await page.goto(url);
        assertEquals(
          await page.locator(".run-detail pre.output").textContent(),
          "HTTP 200 OK\nhello from the backend\nsecond line\n",
        );
        await page.locator(".runs-table tr.selected").waitFor();
        await page.getByRole("button", { name: /^Close run/ }).click();
        await page.locator(".run-detail").waitFor({ state: "detached" });
        assertEquals(new URL(page.url()).search, "");
      });
    } finally {
      answer(); // a failed step must not leave the request hanging
      await backend.close();
    }
  },
});

Deno.test({
  name:
    "job page: the history filters by status and pages by 20, in the URL; deletion ends the page",
  ...BROWSER_TEST,
  async fn() {
    let calls = 0;
    const backend = localServer(() =>
      new Response(`call ${++calls}`, { status: calls % 2 ? 200 : 500 })
    );
    try {
      await withDashboard(async ({ jp, page }) => {
        await jp.manager.create({
          id: "mixed",
          name: "Mixed",
          schedule: "",
          autoStart: false,
          action: { type: "http", url: `${backend.url}/flip` },
        });
        for (let i = 0; i < 24; i++) await jp.manager.runNow("mixed");
        await waitFor(() => {
          const job = jp.manager.get("mixed");
          return job.runCount === 24 && job.activeRuns === 0;
        }, { timeoutMs: DEADLINE, what: "24 runs" });
        await jp.manager.create({
          id: "other",
          name: "Other",
          schedule: "",
          action: { type: "function", name: "noop" },
        });

        await page.goto(`${jp.url}/jobs/mixed`);
        await live(page);
        await markDocument(page);
        const rows = page.locator(".runs-table tbody tr");
        await page.locator(".runs-section .shown", { hasText: "(20 of 24)" })
          .waitFor();
        assertEquals(await rows.count(), 20);
        assertEquals(
          await page.locator(".stats .rate-warn").textContent(),
          "50%",
          "amber between 50% and 80%",
        );
        await page.getByRole("link", { name: "Next ›" }).click();
        await page.waitForURL(/offset=20/);
        await page.locator(".runs-section .shown", { hasText: "(4 of 24)" })
          .waitFor();
        assertEquals(await rows.count(), 4);

        await page.getByRole("combobox", { name: "Status" }).selectOption(
          "failed",
        );
        await page.waitForURL(/status=failed/);
        await page.locator(".runs-section .shown", { hasText: "(12 of 12)" })
          .waitFor();
        assertEquals(await rows.locator(".badge-failed").count(), 12);
        assertMatch(
          (await rows.first().locator(".run-message").textContent())!,
          /500/,
        );
        await page.goBack();
        await page.locator(".runs-section .shown", { hasText: "(4 of 24)" })
          .waitFor();
        assert(await sameDocument(page), "no reload");

        // Deleted elsewhere: the page says so and offers the way back.
        await jp.manager.delete("mixed");
        await page.getByRole("alert").getByText("This job was deleted.")
          .waitFor();
        assertEquals(
          await page.getByRole("button", { name: "Run now" }).count(),
          0,
        );

        // Deleting from the page asks first, then goes back to the list.
        await page.goto(`${jp.url}/jobs/other`);
        await live(page);
        await page.getByRole("button", { name: "Delete Other" }).click();
        await page.getByRole("dialog", { name: "Delete Other?" })
          .getByRole("button", { name: "Delete job" }).click();
        await page.waitForURL(/\/jobs$/);
        await page.getByText("No jobs yet.").waitFor();
      });
    } finally {
      await backend.close();
    }
  },
});
