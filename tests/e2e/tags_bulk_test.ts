/**
 * Tags and bulk actions on the dashboard, in a real Chromium against a real
 * jobpro: tags on the rows, filtering by them (a click on a row's tag, the
 * tag box, the URL), and bulk pause, resume, run now and delete over the
 * rows checked or every job the filters select, each confirmed with how
 * many.
 */
import { assert, assertEquals } from "@std/assert";
import type { Page } from "playwright-core";
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

async function rowIds(page: Page): Promise<string[]> {
  return await page.locator(".jobs-table .job-id").allTextContents();
}

/** Waits until the table shows exactly these jobs, in this order. */
async function showing(page: Page, ids: string[]) {
  await waitFor(async () => (await rowIds(page)).join() === ids.join(), {
    timeoutMs: DEADLINE,
    what: `rows ${ids.join()} (showing ${(await rowIds(page)).join()})`,
  });
}

Deno.test({
  name:
    "dashboard: rows show their tags; a click on one, the tag box or the URL filters by tags without a reload",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      const make = (id: string, tags: string[]) =>
        jp.manager.create({
          id,
          name: id.toUpperCase(),
          schedule: "0 0 3 * * *",
          action: noop,
          tags,
        });
      await make("a", ["billing", "nightly"]);
      await make("b", ["billing"]);
      await make("c", ["nightly"]);
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await markDocument(page);
      const rowA = page.locator("#job-a");
      assertEquals(await rowA.locator(".tag").allTextContents(), [
        "billing",
        "nightly",
      ]);

      await rowA.getByRole("link", { name: "billing" }).click();
      await page.waitForURL(/\?tag=billing$/);
      await showing(page, ["a", "b"]);
      await page.locator("#job-a").getByRole("link", { name: "nightly" })
        .click();
      await page.waitForURL(/\?tag=billing&tag=nightly$/);
      await showing(page, ["a"]);
      const box = page.getByRole("textbox", { name: "Tags" });
      assertEquals(await box.inputValue(), "billing, nightly");

      await box.fill("nightly");
      await box.press("Enter");
      await page.waitForURL(/\?tag=nightly$/);
      await showing(page, ["a", "c"]);
      // A new job with the tag arrives live; one without it does not.
      await make("d", ["nightly", "x"]);
      await make("e", ["x"]);
      await showing(page, ["a", "c", "d"]);
      assert(await sameDocument(page), "no reload");
      await screenshot("jobs-tags.png");

      await box.fill("");
      await box.press("Enter");
      await page.waitForURL((u) => u.search === "");
      await showing(page, ["a", "b", "c", "d", "e"]);

      // A shared URL (a comma list too) shows the same view.
      await page.goto(`${jp.url}/jobs?tag=billing,nightly`);
      await showing(page, ["a"]);
      assertEquals(
        await page.getByRole("textbox", { name: "Tags" }).inputValue(),
        "billing, nightly",
      );
      await page.goto(`${jp.url}/jobs?tag=x&tag=nightly`);
      await showing(page, ["d"]);
      await page.getByText("No jobs match this view.").waitFor({
        state: "detached",
      });
    });
  },
});

Deno.test({
  name:
    "dashboard: bulk pause, resume, run now and delete over checked rows and over every job the filter selects, each confirmed with how many",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      for (const i of [1, 2, 3, 4, 5]) {
        await jp.manager.create({
          id: `b${i}`,
          name: `Bill ${i}`,
          schedule: "0 0 3 * * *",
          action: noop,
          tags: ["billing"],
        });
      }
      await jp.manager.create({
        id: "other",
        name: "Other",
        schedule: "0 0 3 * * *",
        action: noop,
      });
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await markDocument(page);
      const bar = page.getByRole("region", { name: "Bulk actions" });
      const dialog = bar.locator("dialog");
      const check = (name: string) =>
        page.getByRole("checkbox", { name: `Select ${name}` });

      // Two rows checked, paused after the question says how many.
      await check("Bill 1").check();
      await check("Bill 2").check();
      await bar.locator(".bulk-count", { hasText: "2 selected" }).waitFor();
      await bar.getByRole("button", { name: "Pause" }).click();
      await dialog.getByRole("heading", { name: "Pause 2 jobs?" }).waitFor();
      await dialog.getByRole("button", { name: "Pause 2 jobs" }).click();
      await page.locator(".notice", { hasText: "Paused 2 jobs" }).waitFor();
      await page.locator("#job-b1 .badge-paused").waitFor();
      await page.locator("#job-b2 .badge-paused").waitFor();
      assertEquals(jp.manager.get("b1").status, "paused");
      assertEquals(jp.manager.get("b3").status, "scheduled");
      await bar.waitFor({ state: "detached" });
      assertEquals(await check("Bill 1").isChecked(), false);

      // A refusal is told with the job and why; the others are done.
      await check("Bill 1").check();
      await check("Bill 3").check();
      await bar.getByRole("button", { name: "Resume" }).click();
      await dialog.getByRole("button", { name: "Resume 2 jobs" }).click();
      await page.locator(".notice", { hasText: "Resumed 1 of 2 jobs" })
        .waitFor();
      await page.locator(".error", {
        hasText: "1 not resumed: Bill 3: cannot resume a job that is scheduled",
      }).waitFor();
      await page.locator("#job-b1 .badge-scheduled").waitFor();
      assertEquals(jp.manager.get("b2").status, "paused");

      // Every job the filter selects, beyond the page: run now.
      await page.goto(`${jp.url}/jobs?tag=billing&limit=2`);
      await live(page);
      await markDocument(page);
      await showing(page, ["b1", "b2"]);
      await page.getByRole("checkbox", {
        name: "Select every job on this page",
      })
        .check();
      await bar.locator(".bulk-count", { hasText: "2 selected" }).waitFor();
      await bar.getByRole("button", { name: "Select all 5 jobs that match" })
        .click();
      await bar.locator(".bulk-count", {
        hasText: "All 5 jobs that match are selected",
      }).waitFor();
      await screenshot("jobs-bulk.png");
      await bar.getByRole("button", { name: "Run now" }).click();
      await dialog.getByRole("heading", { name: "Run 5 jobs now?" }).waitFor();
      await dialog.getByRole("button", { name: "Run 5 jobs now" }).click();
      await page.locator(".notice", { hasText: "Started 5 jobs" }).waitFor();
      await waitFor(
        () =>
          [1, 2, 3, 4, 5].every((i) => jp.manager.get(`b${i}`).runCount === 1),
        { timeoutMs: DEADLINE, what: "one run of each billing job" },
      );
      assertEquals(jp.manager.get("other").runCount, 0);

      // Delete them all: asked first (a no changes nothing), then done.
      await page.getByRole("checkbox", {
        name: "Select every job on this page",
      })
        .check();
      await bar.getByRole("button", { name: "Select all 5 jobs that match" })
        .click();
      await bar.getByRole("button", { name: "Delete" }).click();
      await dialog.getByRole("heading", { name: "Delete 5 jobs?" }).waitFor();
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await dialog.waitFor({ state: "hidden" });
      assertEquals(jp.manager.size, 6);
      await bar.getByRole("button", { name: "Delete" }).click();
      await dialog.getByRole("button", { name: "Delete 5 jobs" }).click();
      await page.locator(".notice", { hasText: "Deleted 5 jobs" }).waitFor();
      await page.getByText("No jobs match this view.").waitFor();
      assertEquals(jp.manager.list().jobs.map((j) => j.id), ["other"]);
      assert(await sameDocument(page), "no reload");
    });
  },
});

/** The 400 the form test provokes on purpose (a bad tag). */
const EXPECTED_400 = /status of 400 \(Bad Request\) \(http:\/\/[^)]*\/jobs\)$/;

Deno.test({
  name:
    "job form: tags typed as a comma list are saved and shown; a bad one's error lands on the Tags field; an edit changes them",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page }) => {
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await page.getByRole("button", { name: "New job" }).click();
      const dialog = page.getByRole("dialog", { name: "New job" });
      await dialog.getByLabel("Name", { exact: true }).fill("Tagged");
      const tags = dialog.getByLabel("Tags");
      await tags.fill("billing, Nightly");
      await dialog.getByRole("button", { name: "Create job" }).click();
      const error = dialog.locator("#jf-tags-error");
      await error.filter({ hasText: '"Nightly" must be lowercase' }).waitFor();
      await page.waitForFunction(() =>
        document.activeElement?.id === "jf-tags"
      );
      await tags.fill("billing, nightly");
      await dialog.getByRole("button", { name: "Create job" }).click();
      await dialog.waitFor({ state: "detached" });
      assertEquals(jp.manager.get("tagged").tags, ["billing", "nightly"]);
      const row = page.locator("#job-tagged");
      await row.locator(".tag", { hasText: "nightly" }).waitFor();

      await row.getByRole("button", { name: "Edit Tagged" }).click();
      const edit = page.getByRole("dialog", { name: "Edit Tagged" });
      assertEquals(
        await edit.getByLabel("Tags").inputValue(),
        "billing, nightly",
      );
      await edit.getByLabel("Tags").fill("ops");
      await edit.getByRole("button", { name: "Save changes" }).click();
      await edit.waitFor({ state: "detached" });
      await row.locator(".tag", { hasText: "ops" }).waitFor();
      assertEquals(jp.manager.get("tagged").tags, ["ops"]);

      // The job's page lists them, each a link to the jobs with it.
      await page.goto(`${jp.url}/jobs/tagged`);
      await page.locator(".definition .tag", { hasText: "ops" }).click();
      await page.waitForURL(/\/jobs\?tag=ops$/);
      await showing(page, ["tagged"]);
    }, { allowErrors: [EXPECTED_400] });
  },
});
