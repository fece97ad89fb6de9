/**
 * The dashboard at /jobs in a real Chromium against a real jobpro: live rows,
 * controls, expanded history, search and filters in the URL, bursts, and
 * reconnecting.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import type { Page } from "playwright-core";
import type { Manager } from "@/lib/jobpro/mod.ts";
import { waitFor } from "../helpers.ts";
import {
  BROWSER_TEST,
  DEADLINE,
  live,
  markDocument,
  sameDocument,
  withDashboard,
} from "./setup.ts";

const noop = { type: "function" as const, name: "noop" };

/** Runs a job now `n` times and waits until every run has finished. */
async function runTimes(manager: Manager, id: string, n: number) {
  const before = manager.get(id).runCount;
  for (let i = 0; i < n; i++) await manager.runNow(id);
  await waitFor(() => {
    const job = manager.get(id);
    return job.runCount === before + n && job.activeRuns === 0;
  }, { timeoutMs: DEADLINE, what: `${n} runs of ${id}` });
}

async function rowNames(page: Page): Promise<string[]> {
  return await page.locator(".jobs-table .job-name").allTextContents();
}

Deno.test({
  name: "dashboard: run now, pause and resume update the row without a reload",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
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
        schedule: "0 0 * * * *",
        action: noop,
      });
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await markDocument(page);
      const row = page.locator("#job-report");
      assertEquals(
        await row.locator(".run-count").textContent(),
        "no runs yet",
      );
      assertEquals(await row.locator(".schedule").textContent(), "manual");

      await row.getByRole("button", { name: "Run now" }).click();
      await row.locator(".badge-running").waitFor();
      await row.locator(".run-count", { hasText: "1 run" }).waitFor();
      await row.locator(".badge-running").waitFor({ state: "detached" });
      await row.locator(".badge-created").waitFor();
      await row.locator(".last-run .run-complete").waitFor();
      assertEquals(await row.locator(".success-rate").textContent(), "100%");
      assertMatch(
        (await row.getAttribute("class"))!,
        /flash-[01]/,
        "a changed row is highlighted",
      );

      const tick = page.locator("#job-tick");
      assertEquals(
        await tick.locator(".schedule .sub").textContent(),
        "Every hour",
      );
      await tick.getByRole("button", { name: "Pause" }).click();
      await tick.locator(".badge-paused").waitFor();
      await page.locator(".notice", { hasText: "Tick: paused" }).waitFor();
      assertEquals(jp.manager.get("tick").status, "paused");
      await tick.getByRole("button", { name: "Resume" }).click();
      await tick.locator(".badge-scheduled").waitFor();
      await tick.getByRole("button", { name: "Pause" }).waitFor();
      assertEquals(jp.manager.get("tick").status, "scheduled");

      // A change made elsewhere shows up too.
      await jp.manager.stop("tick");
      await tick.locator(".badge-stopped").waitFor();
      assert(await sameDocument(page), "no reload");
      await screenshot("jobs-actions.png");
    });
  },
});

Deno.test({
  name:
    "dashboard: a row expands to its recent runs, loads 10 more at a time, and charts them",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      await jp.manager.create({
        id: "sync",
        name: "Sync",
        schedule: "0 0 3 * * *",
        action: noop,
      });
      await jp.manager.create({
        id: "once",
        name: "Once",
        schedule: "",
        autoStart: false,
        action: { type: "function", name: "fail", params: { message: "nope" } },
      });
      await runTimes(jp.manager, "sync", 25);
      await runTimes(jp.manager, "once", 2);
      await page.goto(`${jp.url}/jobs`);
      await live(page);

      // The periodic row's sparkline: one green bar per run, at most 20.
      const sync = page.locator("#job-sync");
      assertEquals(await sync.locator(".sparkline .bar-complete").count(), 20);

      // Keyboard: the toggle is a button that says whether it is expanded.
      const toggle = sync.getByRole("button", { name: "Recent runs of Sync" });
      assertEquals(await toggle.getAttribute("aria-expanded"), "false");
      await toggle.focus();
      await page.keyboard.press("Enter");
      assertEquals(await toggle.getAttribute("aria-expanded"), "true");
      const history = page.locator("#history-sync");
      const rows = history.locator(".runs-table tbody tr");
      await history.locator(".shown", { hasText: "(10 of 25)" }).waitFor();
      assertEquals(await rows.count(), 10);
      assertEquals(
        await history.locator(".chart-svg .bar-complete").count(),
        20,
      );
      // Newest first, each with its number, start, duration, status, attempt.
      const first = await rows.first().locator("td").allTextContents();
      assertMatch(first[0], /^#\d+$/);
      assertEquals(first[3], "complete");
      assertEquals(first[5], "1manual");

      await history.getByRole("button", { name: "Load more" }).click();
      await history.locator(".shown", { hasText: "(20 of 25)" }).waitFor();
      await history.getByRole("button", { name: "Load more" }).click();
      await history.locator(".shown", { hasText: "(25 of 25)" }).waitFor();
      assertEquals(await rows.count(), 25);
      assertEquals(
        await history.getByRole("button", { name: "Load more" }).count(),
        0,
      );
      const ids = (await rows.locator(".run-link").allTextContents()).map((t) =>
        Number(t.slice(1))
      );
      assertEquals(ids, [...ids].sort((a, b) => b - a), "newest first");

      // A new run appears on top while expanded; the number shown stays.
      await sync.getByRole("button", { name: "Run now" }).click();
      await history.locator(".shown", { hasText: "(25 of 26)" }).waitFor();
      assert(
        Number(
          (await rows.first().locator(".run-link").textContent())!.slice(1),
        ) > Math.max(...ids),
      );

      // A one-time row shows runs, success, average and time since the last run.
      const once = page.locator("#job-once");
      await once.getByRole("button", { name: "Recent runs of Once" }).click();
      const summary = page.locator("#history-once .summary");
      await summary.waitFor();
      const values = await summary.locator("dd").allTextContents();
      assertEquals(values[0], "2");
      assertEquals(values[1], "0%");
      assertMatch(values[2], /\d+ ms/);
      assertMatch(values[3], /ago|now/);
      await page.locator("#history-once .runs-table .error-text", {
        hasText: "nope",
      }).first().waitFor();

      await screenshot("jobs-expanded.png");
      await toggle.click();
      await history.waitFor({ state: "detached" });
    });
  },
});

Deno.test({
  name:
    "dashboard: search, filters, sort and page live in the URL and load from it",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page }) => {
      for (
        const [id, name] of [
          ["alpha-1", "Alpha one"],
          ["alpha-2", "Alpha two"],
          ["beta", "Beta"],
          ["gamma", "Gamma"],
        ]
      ) {
        await jp.manager.create({
          id,
          name,
          schedule: "0 0 3 * * *",
          action: noop,
        });
      }
      await jp.manager.pause("alpha-2");
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await markDocument(page);
      assertEquals(await rowNames(page), [
        "Alpha one",
        "Alpha two",
        "Beta",
        "Gamma",
      ]);

      await page.getByRole("searchbox", { name: "Search" }).fill("alpha");
      await page.waitForURL(/\?q=alpha$/);
      await page.locator("#job-beta").waitFor({ state: "detached" });
      assertEquals(await rowNames(page), ["Alpha one", "Alpha two"]);

      await page.getByRole("combobox", { name: "Status" }).selectOption(
        "paused",
      );
      await page.waitForURL(/status=paused/);
      await page.locator("#job-alpha-1").waitFor({ state: "detached" });
      assertEquals(await rowNames(page), ["Alpha two"]);

      // Searching by id works too; an empty result offers to clear the filters.
      await page.getByRole("searchbox", { name: "Search" }).fill("gamm");
      await page.getByText("No jobs match this view.").waitFor();
      await page.getByRole("link", { name: "Clear the filters" }).click();
      await page.locator("#job-gamma").waitFor();
      assertEquals(new URL(page.url()).search, "");

      // Sort by name, descending, from the column header.
      await page.getByRole("link", { name: "Name" }).click();
      await page.waitForURL(/sort=name/);
      await page.getByRole("link", { name: "Name" }).click();
      await page.waitForURL(/sort=name&order=desc/);
      await waitFor(async () =>
        (await rowNames(page)).join() === "Gamma,Beta,Alpha two,Alpha one"
      );
      assertEquals(
        await page.locator("th[aria-sort]").getAttribute("aria-sort"),
        "descending",
      );

      // Type filter and paging: two per page.
      await page.getByRole("combobox", { name: "Per page" }).selectOption("25");
      await page.waitForURL(/limit=25/);
      assert(await sameDocument(page), "filters apply without a reload");

      await page.goto(`${jp.url}/jobs?limit=2&type=periodic`);
      await live(page);
      assertEquals(await rowNames(page), ["Alpha one", "Alpha two"]);
      await page.locator(".pager-range", { hasText: "1–2 of 4" }).waitFor();
      await page.getByRole("link", { name: "Next ›" }).click();
      await page.waitForURL(/offset=2/);
      await page.locator(".pager-range", { hasText: "3–4 of 4" }).waitFor();
      assertEquals(await rowNames(page), ["Beta", "Gamma"]);
      await page.goBack();
      await page.locator(".pager-range", { hasText: "1–2 of 4" }).waitFor();
      assertEquals(await rowNames(page), ["Alpha one", "Alpha two"]);

      // A shared URL shows the same view, controls included.
      await page.goto(
        `${jp.url}/jobs?q=alpha&status=paused&sort=name&order=desc`,
      );
      assertEquals(await rowNames(page), ["Alpha two"]);
      assertEquals(
        await page.getByRole("searchbox", { name: "Search" }).inputValue(),
        "alpha",
      );
      assertEquals(
        await page.getByRole("combobox", { name: "Status" }).inputValue(),
        "paused",
      );
      // Nonsense in the URL falls back to defaults instead of an error page.
      await page.goto(`${jp.url}/jobs?status=bogus&limit=-1&sort=x`);
      assertEquals((await rowNames(page)).length, 4);
    });
  },
});

Deno.test({
  name:
    "dashboard: rows deleted elsewhere go, new jobs arrive, and a burst of runs does not freeze the page",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page }) => {
      for (const id of ["a", "b", "c"]) {
        await jp.manager.create({
          id,
          name: `Job ${id}`,
          schedule: "0 0 3 * * *",
          action: noop,
        });
      }
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await markDocument(page);

      await jp.manager.delete("b");
      await page.locator("#job-b").waitFor({ state: "detached" });
      await page.locator(".total", { hasText: "2 jobs" }).waitFor();

      await jp.manager.create({
        id: "d",
        name: "Job d",
        schedule: "",
        action: noop,
      });
      await page.locator("#job-d").waitFor();
      await page.locator(".total", { hasText: "3 jobs" }).waitFor();

      // A burst: 3,000 run events in about 1.5 s for a row in view, with its
      // history open. Count DOM commits and the longest task of the page.
      await page.locator("#job-a").getByRole("button", {
        name: "Recent runs of Job a",
      }).click();
      await page.locator("#history-a .shown", { hasText: "(0 of 0)" })
        .waitFor();
      await page.evaluate(() => {
        const w = globalThis as unknown as {
          commits: number;
          longest: number;
        };
        w.commits = 0;
        w.longest = 0;
        new MutationObserver(() => w.commits++).observe(
          document.querySelector(".jobs-table")!,
          {
            subtree: true,
            childList: true,
            characterData: true,
            attributes: true,
          },
        );
        // A frozen page is a long task; gaps between tasks only say the
        // machine is busy, so they are not counted.
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) {
            w.longest = Math.max(w.longest, e.duration);
          }
        }).observe({ type: "longtask" });
      });
      const view = jp.manager.get("a");
      const at = new Date().toISOString();
      let id = 1_000_000;
      for (let round = 0; round < 15; round++) {
        for (let i = 0; i < 100; i++) {
          const run = {
            id: id++,
            jobId: "a",
            trigger: "manual" as const,
            attempt: 1,
            scheduledFor: null,
            startedAt: at,
            endedAt: at,
            durationMs: i % 7,
            status: i % 5 ? "complete" as const : "failed" as const,
            message: "ok",
            error: null,
            parentJobId: null,
            parentRunId: null,
          };
          jp.manager.events.publish({
            type: "run-started",
            run: { ...run, status: "running", endedAt: null, durationMs: null },
          });
          jp.manager.events.publish({ type: "run-finished", run });
        }
        jp.manager.events.publish({
          type: "job-update",
          job: { ...view, runCount: round },
        });
        await new Promise((r) => setTimeout(r, 100));
      }
      // Then something real; the row must end up showing it.
      await jp.manager.pause("a");
      await page.locator("#job-a .badge-paused").waitFor();
      await page.locator("#history-a .runs-table tbody tr").first().waitFor();
      const { commits, longest } = await page.evaluate(() => {
        const w = globalThis as unknown as {
          commits: number;
          longest: number;
        };
        return { commits: w.commits, longest: w.longest };
      });
      assert(commits < 300, `3,000 events made ${commits} DOM commits`);
      assert(longest < 500, `a task took ${Math.round(longest)} ms`);
      assert(await sameDocument(page), "no reload");
    });
  },
});

Deno.test({
  name:
    "dashboard: shows reconnecting, backs off, and resumes with Last-Event-ID",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page }) => {
      await jp.manager.create({
        id: "x",
        name: "Real name",
        schedule: "",
        action: noop,
      });
      const seen: { lastId: string | null; at: number }[] = [];
      let release!: () => void;
      const held = new Promise<void>((r) => release = r);
      await page.route("**/jobs/events", async (route) => {
        seen.push({
          lastId: route.request().headers()["last-event-id"] ?? null,
          at: Date.now(),
        });
        if (seen.length === 1) {
          // The first stream ends after a hello and one update with id 900,
          // from a "process" ahead of the real one.
          const job = { ...jp.manager.get("x"), name: "Stale name" };
          await route.fulfill({
            status: 200,
            headers: { "content-type": "text/event-stream" },
            body: `event: hello\nid: 899\ndata: connected\n\n` +
              `event: job-update\nid: 900\ndata: ${JSON.stringify(job)}\n\n`,
          });
        } else {
          await held;
          await route.continue();
        }
      });
      await page.goto(`${jp.url}/jobs`);
      await page.locator("#job-x .job-name", { hasText: "Stale name" })
        .waitFor();
      await page.locator(".live-reconnecting").waitFor();
      await waitFor(() => seen.length === 2, {
        timeoutMs: DEADLINE,
        what: "a reconnect",
      });
      assertEquals(seen[1].lastId, "900", "reconnects with Last-Event-ID");
      assert(seen[1].at - seen[0].at >= 500, "waits before reconnecting");
      release();
      await live(page);
      // The real server is behind id 900: it says reset, and the page refetches.
      await page.locator("#job-x .job-name", { hasText: "Real name" })
        .waitFor();
      await page.unroute("**/jobs/events");
    });
  },
});

Deno.test({
  name:
    "dashboard: local times with UTC tooltips, keyboard use, labels, phone width and dark theme",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      await jp.manager.create({
        id: "hourly",
        name: "Hourly sync",
        schedule: "0 0 * * * *",
        action: noop,
      });
      await runTimes(jp.manager, "hourly", 3);
      await page.goto(`${jp.url}/jobs`);
      await live(page);

      // Next run: the viewer's local time (Kolkata is UTC+5:30), UTC in the tooltip.
      const iso = jp.manager.get("hourly").nextRunAt!;
      const time = page.locator("#job-hourly .next-run .sub time");
      assertEquals(await time.getAttribute("dateTime"), iso);
      assertEquals(
        await time.getAttribute("title"),
        iso.replace("T", " ").replace(/\.\d+Z$/, " UTC"),
      );
      const local = new Intl.DateTimeFormat("en-US", {
        timeZone: "Asia/Kolkata",
        hour: "2-digit",
        minute: "2-digit",
      }).format(new Date(iso));
      assert(
        (await time.textContent())!.includes(local.slice(0, 5)),
        `${await time.textContent()} shows ${local} (Kolkata)`,
      );

      // Keyboard: the skip link comes first, then the page's controls.
      await page.keyboard.press("Tab");
      assertEquals(
        await page.evaluate(() => document.activeElement?.textContent),
        "Skip to content",
      );
      const newJob = page.getByRole("button", { name: "New job" });
      await newJob.focus();
      await page.keyboard.press("Enter");
      await page.locator("dialog[open] #jf-name").waitFor();
      assertEquals(
        await page.evaluate(() => document.activeElement?.id),
        "jf-name",
        "the form opens with the focus in its first field",
      );
      await page.keyboard.press("Escape");
      await page.locator("dialog[open]").waitFor({ state: "detached" });
      assertEquals(
        await page.evaluate(() => document.activeElement?.textContent),
        "+ New job",
        "focus returns to the button that opened the form",
      );

      // Every control has an accessible name.
      const unnamed = await page.evaluate(() =>
        [...document.querySelectorAll("button, a, input, select, textarea")]
          .filter((el) => {
            const e = el as HTMLElement;
            const labels = (el as HTMLInputElement).labels;
            return !(e.getAttribute("aria-label") ||
              e.textContent?.trim() || labels?.length);
          })
          .map((el) => el.outerHTML.slice(0, 80))
      );
      assertEquals(unnamed, []);
      await screenshot("jobs.png");

      // Phone width: nothing overflows sideways; rows become cards.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.locator("#job-hourly .badge-scheduled").waitFor();
      assert(
        await page.evaluate(() =>
          document.documentElement.scrollWidth <= innerWidth
        ),
        "no horizontal scrolling at 390 px",
      );
      await screenshot("jobs-phone.png");

      // Dark theme from prefers-color-scheme.
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.emulateMedia({ colorScheme: "dark" });
      const bg = await page.evaluate(() =>
        getComputedStyle(document.body).backgroundColor
      );
      assertEquals(bg, "rgb(15, 20, 27)");
      await screenshot("jobs-dark.png");
    }, { timezoneId: "Asia/Kolkata" });
  },
});
