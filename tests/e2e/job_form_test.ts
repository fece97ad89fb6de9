/**
 * Creating, editing and deleting jobs from the dashboard's dialog, in a real
 * Chromium against a real jobpro: live schedule validation with a preview,
 * server errors next to the field they name, a confirmation for delete, the
 * server's own function list with each function's params, and a program's
 * environment kept through an edit.
 */
import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { defaultRegistry } from "@/lib/jobs/mod.ts";
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

Deno.test({
  name:
    "job form: the function list is the server's; picking one shows its description and a field per param",
  ...BROWSER_TEST,
  async fn() {
    const functions = defaultRegistry();
    functions.register("report", () => "sent", {
      description: "Mails the weekly report",
      params: [
        { name: "to", type: "string", required: true, description: "Who" },
        {
          name: "copies",
          title: "Copies",
          type: "integer",
          required: false,
          description: "How many",
          default: 1,
          minimum: 1,
        },
      ],
    });
    functions.register("legacy", () => "ok");
    await withDashboard(async ({ jp, page }) => {
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await page.getByRole("button", { name: "New job" }).click();
      const dialog = page.getByRole("dialog", { name: "New job" });
      await dialog.waitFor();
      const options = dialog.locator("#jf-functions option");
      await options.nth(jp.manager.functions().length - 1).waitFor({
        state: "attached",
      });
      assertEquals(
        await options.evaluateAll((os) =>
          os.map((o) => (o as HTMLOptionElement).value)
        ),
        jp.manager.functions().map((f) => f.name),
        "the datalist offers exactly the server's functions",
      );
      const fnHint = dialog.locator("#jf-fn-hint");
      await fnHint.filter({ hasText: "Writes a message" }).waitFor();
      await dialog.locator("#jf-param-message-hint", {
        hasText: "The text to log; default hello from jobpro",
      }).waitFor();

      const name = dialog.getByLabel("Function name");
      await name.fill("flaky");
      await fnHint.filter({ hasText: "Fails at random" }).waitFor();
      await dialog.getByLabel("Failure rate (0–1)").waitFor();
      assertEquals(await dialog.getByLabel("Message").count(), 1);

      // A spec'd function of the embedding program: its params, checked here first.
      await dialog.getByLabel("Name", { exact: true }).fill("Weekly");
      await name.fill("report");
      await fnHint.filter({ hasText: "Mails the weekly report" }).waitFor();
      await dialog.locator("#jf-param-to-hint", { hasText: "Who; required" })
        .waitFor();
      await dialog.getByRole("button", { name: "Create job" }).click();
      const toError = dialog.locator("#jf-param-to-error");
      await toError.filter({ hasText: "is required" }).waitFor();
      await page.waitForFunction(() =>
        document.activeElement?.id === "jf-param-to"
      );
      assertEquals(jp.manager.size, 0, "nothing was sent");
      await dialog.getByLabel("to", { exact: true }).fill("ops");
      await dialog.getByLabel("Copies").fill("2");
      await dialog.getByRole("button", { name: "Create job" }).click();
      await page.locator("#job-weekly").waitFor();
      assertEquals(jp.manager.get("weekly").action, {
        type: "function",
        name: "report",
        params: { to: "ops", copies: 2 },
      });

      // One registered without a spec takes JSON; a name the server lacks is refused on its field.
      await page.getByRole("button", { name: "New job" }).click();
      await dialog.waitFor();
      await dialog.getByLabel("Name", { exact: true }).fill("Old");
      await name.fill("legacy");
      await dialog.getByLabel("Params (JSON)").fill('{"depth": [1, 2]}');
      await dialog.getByRole("button", { name: "Create job" }).click();
      await page.locator("#job-old").waitFor();
      assertEquals(jp.manager.get("old").action, {
        type: "function",
        name: "legacy",
        params: { depth: [1, 2] },
      });
      await page.getByRole("button", { name: "New job" }).click();
      await dialog.waitFor();
      await dialog.getByLabel("Name", { exact: true }).fill("Nope");
      await name.fill("nope");
      await fnHint.filter({ hasText: "This server has: fail, flaky" })
        .waitFor();
      await dialog.getByRole("button", { name: "Create job" }).click();
      await dialog.locator("#jf-fn-error", {
        hasText: 'no function named "nope"',
      })
        .waitFor();
      assertEquals(jp.manager.size, 2);
    }, { functions, allowErrors: [EXPECTED_400] });
  },
});

Deno.test({
  name:
    "job form: editing a program job keeps its environment; the Environment field changes it",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page }) => {
      const env = { GREETING: "hello world", MODE: "test" };
      // Run output blanks out env values (secrets): the program shouts it instead.
      const SHOUT = ["sh", "-c", "printenv GREETING | tr a-z A-Z"];
      await jp.manager.create({
        id: "envy",
        name: "Envy",
        schedule: "",
        autoStart: false,
        action: { type: "shell", command: SHOUT, env },
      });
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      const patches: unknown[] = [];
      page.on("request", (r) => {
        if (r.method() === "PATCH") patches.push(JSON.parse(r.postData()!));
      });
      // What is stored, secrets in clear (views show env values redacted).
      const stored = () => jp.manager.revealed(jp.manager.get("envy")).action;
      const row = page.locator("#job-envy");
      await row.getByRole("button", { name: "Edit Envy" }).click();
      const dialog = page.getByRole("dialog", { name: "Edit Envy" });
      await dialog.waitFor();
      const field = dialog.getByLabel("Environment");
      assertEquals(
        await field.inputValue(),
        "GREETING=hello world\nMODE=test",
      );
      await dialog.getByLabel("Name", { exact: true }).fill("Envy 2");
      await dialog.getByRole("button", { name: "Save changes" }).click();
      await dialog.waitFor({ state: "detached" });
      await row.locator(".job-name", { hasText: "Envy 2" }).waitFor();
      assertEquals(patches, [{ name: "Envy 2" }]);
      assertEquals(stored(), {
        type: "shell",
        command: SHOUT,
        env,
      });

      // A new value for one variable; the other is kept as it is stored.
      await row.getByRole("button", { name: "Edit Envy 2" }).click();
      const again = page.getByRole("dialog", { name: "Edit Envy 2" });
      await again.waitFor();
      await again.getByLabel("Environment").fill(
        "GREETING=hi there\nMODE=test",
      );
      await again.getByRole("button", { name: "Save changes" }).click();
      await again.waitFor({ state: "detached" });
      assertEquals(patches.length, 2);
      assertEquals(stored(), {
        type: "shell",
        command: SHOUT,
        env: { GREETING: "hi there", MODE: "test" },
      });
      // The program gets it.
      await row.getByRole("link", { name: "Envy 2" }).click();
      await page.waitForURL(/\/jobs\/envy$/);
      await live(page);
      await page.getByRole("button", { name: "Run now" }).click();
      await page.locator(".runs-table .run-link").first().click();
      await page.locator(".run-detail pre.output", { hasText: "HI THERE" })
        .waitFor();
    }, { env: { JOBPRO_ALLOW_SHELL: "1" } });
  },
});
