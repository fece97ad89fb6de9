/**
 * Job chains on the job page, in a real Chromium against a real jobpro: a
 * job's page links the jobs it runs on success and on failure, the child's
 * page links the job that runs it, a chained run links its parent run
 * from the runs table and from its detail, and the edit form changes the
 * chains (a bad id shown at its field).
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { waitFor } from "../helpers.ts";
import { BROWSER_TEST, DEADLINE, live, withDashboard } from "./setup.ts";

const noop = { type: "function" as const, name: "noop" };

Deno.test({
  name:
    "job page: links to the jobs a job chains to and from; a chained run links its parent run (table and detail)",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      const manual = (id: string, extra = {}) =>
        jp.manager.create({
          id,
          name: id.toUpperCase(),
          action: noop,
          autoStart: false,
          ...extra,
        });
      await manual("report");
      await manual("alert");
      await manual("nightly", { onSuccess: ["report"], onFailure: ["alert"] });
      const parent = await jp.manager.runNow("nightly");
      const child = await waitFor(async () => {
        const { runs } = await jp.manager.runs("report");
        return runs[0]?.endedAt && runs[0];
      }, { what: "the chained run of report", timeoutMs: DEADLINE });
      assertEquals(child.parentRunId, parent.id);

      await page.goto(`${jp.url}/jobs/nightly`);
      await live(page);
      const success = page.getByRole("list", { name: "On success runs" });
      assertEquals(await success.getByRole("link").allTextContents(), [
        "report",
      ]);
      const failure = page.getByRole("list", { name: "On failure runs" });
      assertEquals(await failure.getByRole("link").allTextContents(), [
        "alert",
      ]);
      assertEquals(
        (await page.locator(".chain-upstream").textContent())?.trim(),
        "no other job",
      );
      await success.getByRole("link", { name: "report" }).click();
      await page.waitForURL(`${jp.url}/jobs/report`);
      await live(page);
      const after = page.getByRole("list", { name: "Runs after success of" });
      assertEquals(await after.getByRole("link").allTextContents(), [
        "nightly",
      ]);

      // The runs table: the chained run names its parent run, a link.
      const row = page.locator(".runs-table tbody tr").first();
      const inTable = row.locator("a.parent-run");
      assertEquals(
        (await inTable.textContent())?.trim(),
        `nightly #${parent.id}`,
      );
      assertEquals(
        await inTable.getAttribute("href"),
        `/jobs/nightly?run=${parent.id}`,
      );
      await screenshot("chains-child-page.png");

      // The run's detail: "Chained from" the parent run, which opens it.
      await page.goto(`${jp.url}/jobs/report?run=${child.id}`);
      await live(page);
      const detail = page.locator(".run-detail");
      await detail.locator(".run-parent a").click();
      await page.waitForURL(`${jp.url}/jobs/nightly?run=${parent.id}`);
      await page.locator(".run-detail").waitFor();
      assertEquals(
        (await page.locator("#run-title").textContent())?.trim(),
        `Run #${parent.id}`,
      );

      // The edit form has the chains; a bad id is shown at its field.
      await live(page);
      await page.getByRole("button", { name: "Edit NIGHTLY" }).click();
      const dialog = page.getByRole("dialog");
      const onFailure = dialog.getByLabel("On failure, run");
      assertEquals(await onFailure.inputValue(), "alert");
      assertEquals(
        await dialog.getByLabel("On success, run").inputValue(),
        "report",
      );
      await onFailure.fill("zz");
      await dialog.getByRole("button", { name: "Save changes" }).click();
      await waitFor(
        async () => (await onFailure.getAttribute("aria-invalid")) === "true",
        { what: "the field marked invalid", timeoutMs: DEADLINE },
      );
      assertStringIncludes(
        (await dialog.textContent()) ?? "",
        'no job "zz"',
      );
      await onFailure.fill("");
      await dialog.getByRole("button", { name: "Save changes" }).click();
      await dialog.waitFor({ state: "hidden" });
      assertEquals(jp.manager.get("nightly").onFailure, []);
      await page.locator(".chain-failure", { hasText: "none" }).waitFor();
    }, { allowErrors: [/status of 400 \(Bad Request\)/] });
  },
});
