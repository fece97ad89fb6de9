/**
 * Creating, editing and deleting jobs from the dashboard's dialog, in a real
 * Chromium against a real jobpro: live schedule validation with a preview,
 * server errors next to the field they name, and a confirmation for delete.
 */
import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { BROWSER_TEST, live, withDashboard } from "./setup.ts";

/** The 400s this test provokes on purpose: schedule checks and bad creates. */
const EXPECTED_400 =
  /status of 400 \(Bad Request\) \(http:\/\/[^)]*\/jobs(\/schedule\?[^)]*)?\)$/;

Deno.test({
  name:
    "job form: a bad schedule shows its error, server errors land on their field, a good job is created",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await page.getByRole("button", { name: "New job" }).click();
      const dialog = page.getByRole("dialog", { name: "New job" });
      await dialog.waitFor();
      assertEquals(
        await dialog.getByRole("radio", { name: "Program" }).count(),
        0,
        "no shell actions unless the server allows them",
      );

      await dialog.getByLabel("Name", { exact: true }).fill("Ping");
      const schedule = dialog.getByLabel("Schedule");
      await schedule.fill("every tuesday");
      // Live validation, from the server's parser, as it is typed.
      const scheduleError = dialog.locator("#jf-schedule-error");
      await scheduleError.waitFor();
      assertEquals(await schedule.getAttribute("aria-invalid"), "true");
      assertMatch(
        (await schedule.getAttribute("aria-describedby"))!,
        /jf-schedule-error/,
      );
      // Submitting anyway: the server's 400 names the field; it gets the focus.
      await dialog.getByRole("button", { name: "Create job" }).click();
      await page.waitForFunction(() =>
        document.activeElement?.id === "jf-schedule"
      );
      assertMatch((await scheduleError.textContent())!, /schedule/i);
      assertEquals(jp.manager.size, 0);

      // A good schedule previews its next five times.
      await schedule.fill("*/30 * * * * *");
      await dialog.locator(".preview-description", {
        hasText: "Every 30 seconds",
      }).waitFor();
      assertEquals(await dialog.locator(".preview-times li").count(), 5);
      await scheduleError.waitFor({ state: "detached" });

      // An HTTP action with a bad URL: the error goes next to the URL.
      await dialog.getByRole("radio", { name: "HTTP" }).check();
      await dialog.getByLabel("URL").fill("not a url");
      await dialog.getByRole("button", { name: "Create job" }).click();
      const urlError = dialog.locator("#jf-url-error");
      await urlError.waitFor();
      assertMatch((await urlError.textContent())!, /action\.url/);
      assertEquals(
        await page.evaluate(() => document.activeElement?.id),
        "jf-url",
      );
      await screenshot("job-form-error.png");

      await dialog.getByLabel("URL").fill("http://127.0.0.1:9/health");
      await dialog.getByLabel("Retries").fill("2");
      await dialog.getByLabel("Timeout (seconds)").fill("5");
      await dialog.getByRole("button", { name: "Create job" }).click();
      await dialog.waitFor({ state: "detached" });
      const row = page.locator("#job-ping");
      await row.locator(".schedule", { hasText: "Every 30 seconds" }).waitFor();
      await page.locator(".notice", { hasText: "Ping: created" }).waitFor();
      const job = jp.manager.get("ping");
      assertEquals(job.action, {
        type: "http",
        method: "GET",
        url: "http://127.0.0.1:9/health",
      });
      assertEquals([job.retries, job.timeoutMs], [2, 5000]);

      // A function with its params and a time zone from the searchable list.
      await page.getByRole("button", { name: "New job" }).click();
      await dialog.waitFor();
      await dialog.getByLabel("Name", { exact: true }).fill("Nap");
      await dialog.getByLabel("Schedule").fill("0 0 9 * * MON-FRI");
      await dialog.getByLabel("Time zone").fill("Europe/Ber");
      assert(
        await dialog.locator("#jf-zones option[value='Europe/Berlin']")
          .count(),
        "the zone list offers IANA zones",
      );
      await dialog.getByLabel("Time zone").fill("Europe/Berlin");
      await dialog.getByLabel("Function name").fill("sleep");
      await dialog.getByLabel("Sleep (ms)").fill("50");
      await dialog.getByLabel("Overlap").selectOption("allow");
      await dialog.getByRole("button", { name: "Create job" }).click();
      await page.locator("#job-nap").waitFor();
      const nap = jp.manager.get("nap");
      assertEquals(nap.action, {
        type: "function",
        name: "sleep",
        params: { ms: 50 },
      });
      assertEquals([nap.timezone, nap.overlap], ["Europe/Berlin", "allow"]);
    }, { allowErrors: [EXPECTED_400] });
  },
});

Deno.test({
  name:
    "job form: edit sends only what changed; delete asks first and removes the row",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page }) => {
      await jp.manager.create({
        id: "soon",
        name: "Soon",
        schedule: "in 1h",
        action: { type: "function", name: "log", params: { message: "hi" } },
      });
      const planned = jp.manager.get("soon").nextRunAt;
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      const patches: string[] = [];
      page.on("request", (r) => {
        if (r.method() === "PATCH") patches.push(r.postData() ?? "");
      });

      const row = page.locator("#job-soon");
      await row.getByRole("button", { name: "Edit Soon" }).click();
      const dialog = page.getByRole("dialog", { name: "Edit Soon" });
      await dialog.waitFor();
      assertEquals(await dialog.getByLabel("Message").inputValue(), "hi");
      await dialog.getByLabel("Name", { exact: true }).fill("Soon-ish");
      await dialog.getByLabel("Message").fill("hello");
      await dialog.getByRole("button", { name: "Save changes" }).click();
      await dialog.waitFor({ state: "detached" });
      await row.locator(".job-name", { hasText: "Soon-ish" }).waitFor();
      assertEquals(patches.map((p) => JSON.parse(p)), [{
        name: "Soon-ish",
        action: {
          type: "function",
          name: "log",
          params: { message: "hello" },
        },
      }]);
      assertEquals(
        jp.manager.get("soon").nextRunAt,
        planned,
        "an untouched relative schedule is not re-planned",
      );

      // Delete: Cancel keeps the job; confirming deletes it.
      await row.getByRole("button", { name: "Delete Soon-ish" }).click();
      const confirm = page.getByRole("dialog", { name: "Delete Soon-ish?" });
      await confirm.waitFor();
      await confirm.getByRole("button", { name: "Cancel" }).click();
      await confirm.waitFor({ state: "detached" });
      assertEquals(jp.manager.get("soon").name, "Soon-ish");
      await row.getByRole("button", { name: "Delete Soon-ish" }).click();
      await confirm.getByRole("button", { name: "Delete job" }).click();
      await row.waitFor({ state: "detached" });
      assertThrows(() => jp.manager.get("soon"));
      await page.getByText("No jobs yet.").waitFor();
    });
  },
});

Deno.test({
  name:
    "job form: with programs allowed, a program job made in the form runs and its output shows on its page",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page }) => {
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await page.getByRole("button", { name: "New job" }).click();
      const dialog = page.getByRole("dialog", { name: "New job" });
      await dialog.getByLabel("Name", { exact: true }).fill("Greet");
      await dialog.getByRole("radio", { name: "Program" }).check();
      await dialog.getByLabel("Command").fill("echo\nhello from a program");
      await dialog.getByRole("button", { name: "Create job" }).click();
      await dialog.waitFor({ state: "detached" });
      assertEquals(jp.manager.get("greet").action, {
        type: "shell",
        command: ["echo", "hello from a program"],
      });
      await page.locator("#job-greet").getByRole("link", { name: "Greet" })
        .click();
      await page.waitForURL(/\/jobs\/greet$/);
      await live(page);
      await page.getByRole("button", { name: "Run now" }).click();
      await page.locator(".runs-table .run-link").first().click();
      await page.locator(".run-detail pre.output", {
        hasText: "hello from a program",
      }).waitFor();
    }, { env: { JOBPRO_ALLOW_SHELL: "1" } });
  },
});
