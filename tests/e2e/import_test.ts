/**
 * The import and export page, in a real Chromium against a real jobpro:
 * the nav leads to it; its export link downloads every definition; a jobs
 * document pasted in is previewed (field by field, nothing changed) and
 * applied; a crontab is imported as shell jobs, a second import reporting
 * them unchanged; a bad line is shown and imports nothing.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { BROWSER_TEST, withDashboard } from "./setup.ts";

const noop = { type: "function" as const, name: "noop" };

Deno.test({
  name:
    "dashboard: import and export — download the export, preview and apply a document, import a crontab",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      await jp.manager.create({
        id: "report",
        name: "Report",
        schedule: "0 0 3 * * *",
        action: noop,
      });
      await page.goto(`${jp.url}/jobs`);
      await page.getByRole("link", { name: "Import / export" }).click();
      await page.waitForURL(`${jp.url}/jobs/import`);

      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("link", { name: /Export all jobs/ }).click(),
      ]);
      assertEquals(download.suggestedFilename(), "jobs.json");
      const path = await download.path();
      const exported = JSON.parse(await Deno.readTextFile(path!));
      assertEquals(exported.jobs.map((j: { id: string }) => j.id), ["report"]);

      // Preview: field by field, nothing changed; then apply.
      const doc = {
        jobs: [
          { ...exported.jobs[0], retries: 2 },
          { id: "fresh", name: "Fresh", schedule: "", action: noop },
        ],
      };
      await page.locator("textarea[name=text]").fill(JSON.stringify(doc));
      await page.getByRole("button", { name: "Preview" }).click();
      const result = page.locator(".import-result");
      await result.getByText("Preview: 1 created, 1 configured, 0 unchanged")
        .waitFor();
      const reportRow = result.locator('tr[data-id="report"]');
      assertEquals(
        await reportRow.locator(".import-action").textContent(),
        "configured",
      );
      assertStringIncludes(
        (await reportRow.textContent()) ?? "",
        "retries: 0 → 2",
      );
      assertEquals(jp.manager.get("report").retries, 0);
      await page.getByRole("button", { name: "Apply" }).click();
      await result.getByText("Done: 1 created, 1 configured, 0 unchanged")
        .waitFor();
      assertEquals(jp.manager.get("report").retries, 2);
      assertEquals(jp.manager.get("fresh").name, "Fresh");
      await page.getByRole("button", { name: "Apply" }).click();
      await result.getByText(
        "Done: 0 created, 0 configured, 2 unchanged (nothing to change)",
      )
        .waitFor();

      // A crontab: shell jobs; again, unchanged; a bad line imports nothing.
      await page.getByRole("radio", { name: "Crontab" }).check();
      const crontab =
        "MAILTO=ops@example.com\n0 2 * * * /usr/local/bin/backup\n";
      await page.locator("textarea[name=text]").fill(crontab);
      await page.getByRole("button", { name: "Apply" }).click();
      await result.getByText("Done: 1 created, 0 configured, 0 unchanged")
        .waitFor();
      const id = (await result.locator("tbody tr").getAttribute("data-id"))!;
      assert(id.startsWith("usr-local-bin-backup-"), id);
      assertStringIncludes((await result.textContent()) ?? "", "line 2");
      const job = jp.manager.get(id);
      assertEquals(job.action.type === "shell" && job.action.command, [
        "/bin/sh",
        "-c",
        "/usr/local/bin/backup",
      ]);
      await page.getByRole("button", { name: "Apply" }).click();
      await result.getByText(
        "Done: 0 created, 0 configured, 1 unchanged (nothing to change)",
      )
        .waitFor();
      await page.locator("textarea[name=text]").fill("61 * * * * /bin/false\n");
      await page.getByRole("button", { name: "Apply" }).click();
      const alert = page.getByRole("alert");
      await alert.waitFor();
      assertStringIncludes((await alert.textContent()) ?? "", "line 1:");
      assertEquals(jp.manager.list().total, 3);
      await screenshot("import.png");
    }, {
      env: { JOBPRO_ALLOW_SHELL: "1" },
      // The bad crontab's answer, on purpose.
      allowErrors: [/status of 400 \(Bad Request\).*\/jobs\/import\/crontab/],
    });
  },
});
