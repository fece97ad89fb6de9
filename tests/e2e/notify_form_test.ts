/**
 * Alert rules in the dashboard, in a real Chromium against a real jobpro:
 * the job form's rule editor creates and edits a job's `notify` (bad input
 * shown at its field, from the form's own checks and from the server's 400),
 * and the job page's alerts card shows a real delivery: sent to a local
 * webhook server, or failing against a closed port with its error. A webhook
 * URL that reaches the page redacted (an event stream's view) is shown
 * read-only in the form and kept as stored through an edit.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import type { NotifyRule } from "@/lib/jobpro/runtime.ts";
import { localServer, waitFor } from "../helpers.ts";
import { BROWSER_TEST, DEADLINE, live, withDashboard } from "./setup.ts";

/** The 400s these tests provoke on purpose: bad rules on create and edit. */
const EXPECTED_400 = /status of 400 \(Bad Request\)/;

/** The job's stored rules, as GET /jobs/:id answers (full access). */
async function storedRules(base: string, id: string): Promise<NotifyRule[]> {
  const r = await fetch(`${base}/jobs/${id}`, {
    headers: { accept: "application/json" },
  });
  assertEquals(r.status, 200);
  return (await r.json()).notify;
}

Deno.test({
  name:
    "job form: alert rules are created and edited (add, remove, email), bad rules shown at their field",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      const hook = "https://hooks.example.com/services/T0/B0/XXXX";
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await page.getByRole("button", { name: "New job" }).click();
      const dialog = page.getByRole("dialog", { name: "New job" });
      await dialog.waitFor();
      await dialog.getByLabel("Name", { exact: true }).fill("Alerted");
      await dialog.getByLabel("Id (optional)").fill("alerted");
      await dialog.getByRole("button", { name: "Add alert rule" }).click();
      const rule1 = dialog.getByRole("listitem", { name: "Alert rule 1" });
      await rule1.waitFor();
      // A new rule is for failures; with no event ticked it cannot be sent.
      const failure = rule1.getByRole("checkbox", { name: "Failure" });
      assert(await failure.isChecked());
      await failure.uncheck();
      await dialog.getByRole("button", { name: "Create job" }).click();
      const onError = dialog.locator("#jf-notify-0-on-error");
      await onError.waitFor();
      assertEquals(await onError.textContent(), "needs at least one event");
      await page.waitForFunction(() =>
        document.activeElement?.id === "jf-notify-0-on"
      );
      assertEquals(jp.manager.size, 0);

      // A bad URL: the server's 400 (notify.0.target.webhook) lands on it.
      await failure.check();
      await onError.waitFor({ state: "detached" });
      await rule1.getByRole("checkbox", { name: "Recovery" }).check();
      const url1 = rule1.getByLabel("Rule 1 webhook URL");
      await url1.fill("not a url");
      await dialog.getByRole("button", { name: "Create job" }).click();
      const targetError = dialog.locator("#jf-notify-0-target-error");
      await targetError.waitFor();
      assertMatch((await targetError.textContent())!, /http\(s\) URL/);
      assertEquals(await url1.getAttribute("aria-invalid"), "true");
      await page.waitForFunction(() =>
        document.activeElement?.id === "jf-notify-0-target"
      );
      assertEquals(jp.manager.size, 0);
      await screenshot("job-form-notify-error.png");

      await url1.fill(hook);
      await dialog.getByRole("button", { name: "Create job" }).click();
      await dialog.waitFor({ state: "detached" });
      await page.locator(".notice", { hasText: "Alerted: created" }).waitFor();
      assertEquals(await storedRules(jp.url, "alerted"), [
        { on: ["failure", "recovery"], target: { webhook: hook } },
      ]);

      // Edit on the job page: the rule is there, its URL in full.
      await page.goto(`${jp.url}/jobs/alerted`);
      await live(page);
      await page.getByRole("button", { name: "Edit Alerted" }).click();
      const edit = page.getByRole("dialog", { name: "Edit Alerted" });
      await edit.waitFor();
      const shown1 = edit.getByLabel("Rule 1 webhook URL");
      assertEquals(await shown1.inputValue(), hook);
      assertEquals(await shown1.getAttribute("readonly"), null);
      assert(
        await edit.getByRole("listitem", { name: "Alert rule 1" })
          .getByRole("checkbox", { name: "Recovery" }).isChecked(),
      );

      // Add an email rule; a bad address is the server's 400 at its field.
      await edit.getByRole("button", { name: "Add alert rule" }).click();
      const rule2 = edit.getByRole("listitem", { name: "Alert rule 2" });
      await rule2.getByLabel("Rule 2 target type").selectOption("email");
      await rule2.getByRole("checkbox", { name: "Missed" }).check();
      const email = rule2.getByLabel("Rule 2 email");
      await email.fill("not-an-address");
      await edit.getByRole("button", { name: "Save changes" }).click();
      const emailError = edit.locator("#jf-notify-1-target-error");
      await emailError.waitFor();
      assertMatch((await emailError.textContent())!, /email address/);
      await email.fill("ops@example.com");
      // Remove the webhook: the email rule becomes rule 1.
      await edit.getByRole("button", { name: "Remove alert rule 1" }).click();
      await edit.getByRole("listitem", { name: "Alert rule 2" }).waitFor({
        state: "detached",
      });
      assertEquals(
        await edit.getByLabel("Rule 1 email").inputValue(),
        "ops@example.com",
      );
      await edit.getByRole("button", { name: "Save changes" }).click();
      await edit.waitFor({ state: "detached" });
      await page.locator(".notice", { hasText: "Alerted: saved" }).waitFor();
      assertEquals(await storedRules(jp.url, "alerted"), [
        { on: ["failure", "missed"], target: { email: "ops@example.com" } },
      ]);
    }, { allowErrors: [EXPECTED_400] });
  },
});

Deno.test({
  name:
    "job page: the alerts card shows a webhook delivery sent, and one to a closed port failing with its error",
  ...BROWSER_TEST,
  async fn() {
    const hook = localServer(() => new Response("ok"));
    const closed = localServer(() => new Response("never"));
    const closedUrl = `${closed.url}/hooks/secret-token`;
    await closed.close();
    try {
      await withDashboard(async ({ jp, page, screenshot }) => {
        const failing = (id: string, webhook: string) =>
          jp.manager.create({
            id,
            name: id,
            autoStart: false,
            action: { type: "function", name: "fail" },
            notify: [{ on: ["failure"], target: { webhook } }],
          });
        const hookUrl = `${hook.url}/hooks/T0/secret`;
        await failing("reported", hookUrl);
        await failing("unreachable", closedUrl);

        // A real webhook server: the failure's delivery is sent.
        await page.goto(`${jp.url}/jobs/reported`);
        await live(page);
        assertEquals(
          (await page.locator(".last-delivery p").textContent())?.trim(),
          "No alert sent yet.",
        );
        const run = await jp.manager.runNow("reported");
        await waitFor(async () => {
          const [d] = await jp.manager.deliveries("reported", 1);
          return d?.status === "sent";
        }, { what: "the delivery sent", timeoutMs: DEADLINE });
        const posted = hook.requests.find((r) => r.method === "POST");
        assert(posted, "the webhook got a POST");
        assertEquals(new URL(posted.url).pathname, "/hooks/T0/secret");

        // The run's end came through the event stream: the view it carries
        // hides the webhook's path, so the form shows it read-only, and an
        // edit keeps the stored URL.
        await page.locator(".runs-table .badge-failed").first().waitFor();
        await page.getByRole("button", { name: "Edit reported" }).click();
        const edit = page.getByRole("dialog", { name: "Edit reported" });
        await edit.waitFor();
        const url = edit.getByLabel("Rule 1 webhook URL");
        assertEquals(await url.inputValue(), `${hook.url}/[redacted]`);
        assertEquals(await url.getAttribute("readonly"), "");
        assertEquals(
          await edit.getByLabel("Rule 1 target type").isDisabled(),
          true,
        );
        await edit.getByText("Its secret part is hidden here").waitFor();
        await edit.getByLabel("Name", { exact: true }).fill("Reported");
        await edit.getByRole("listitem", { name: "Alert rule 1" })
          .getByRole("checkbox", { name: "Missed" }).check();
        await edit.getByRole("button", { name: "Save changes" }).click();
        await edit.waitFor({ state: "detached" });
        assertEquals(await storedRules(jp.url, "reported"), [
          { on: ["failure", "missed"], target: { webhook: hookUrl } },
        ]);

        // The card is as of the page's load.
        await page.reload();
        const card = page.locator(".last-delivery");
        await card.locator(".delivery-sent", { hasText: "sent" }).waitFor();
        assertEquals(
          await card.locator(".delivery-target").textContent(),
          `webhook ${new URL(hook.url).host}`,
        );
        assertMatch((await card.textContent())!, new RegExp(`run ${run.id}`));
        assertEquals(await card.locator(".delivery-error").count(), 0);
        await screenshot("job-delivery-sent.png");

        // A closed port: the delivery is retried (pending) or given up
        // (failed), its error shown.
        await jp.manager.runNow("unreachable");
        await waitFor(async () => {
          const [d] = await jp.manager.deliveries("unreachable", 1);
          return d?.error ? d : null;
        }, { what: "the delivery's error", timeoutMs: DEADLINE });
        await page.goto(`${jp.url}/jobs/unreachable`);
        await live(page);
        const status = (await card.locator(".delivery-status").textContent())!;
        assertMatch(status, /^(pending|failed)$/);
        const error = card.locator(".delivery-error");
        await error.waitFor();
        assert((await error.textContent())!.trim().length > 0);
        assert(!(await card.textContent())!.includes("secret-token"));
      }, { env: { JOBPRO_NOTIFY_POLL_MS: "50" } });
    } finally {
      await hook.close();
    }
  },
});
