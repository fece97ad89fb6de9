/**
 * Time zones and descriptions on the dashboard, in a real Chromium (its
 * clock in New York) against a real jobpro whose default zone is Berlin: a
 * job's page prints every time in the job's zone with the zone's short name
 * beside it and the viewer's own time on hover; the list prints the
 * viewer's; a description typed in the form is saved and shown on the page.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { BROWSER_TEST, live, withDashboard } from "./setup.ts";

Deno.test({
  name:
    "time zones: a job's page shows its times in the job's zone (named), the viewer's on hover; a description set in the form shows on the page",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page, screenshot }) => {
      await jp.manager.create({
        id: "tokyo",
        name: "Tokyo",
        schedule: "0 30 2 * * *",
        timezone: "Asia/Tokyo",
        action: { type: "function", name: "noop" },
      });
      await jp.manager.create({
        id: "plain",
        name: "Plain",
        schedule: "0 0 9 * * *",
        action: { type: "function", name: "noop" },
      });

      // The job's page: next times at 02:30 in Tokyo, named, with the
      // viewer's (New York) time in the tooltip once hydrated.
      await page.goto(`${jp.url}/jobs/tokyo`);
      await live(page);
      const next = page.getByRole("list", { name: "Next run times" });
      const first = next.locator("time[data-zone]").first();
      await page.waitForFunction(() =>
        document.querySelector(".next-times time[data-zone]")?.getAttribute(
          "title",
        )?.includes("your time")
      );
      assertMatch((await first.textContent())!, /02:30:00 AM GMT\+9$/);
      const hover = (await first.getAttribute("title"))!;
      assertMatch(hover, /(EST|EDT) \(your time\)$/);
      // 02:30 in Tokyo is 12:30 (EST) or 13:30 (EDT) in New York.
      assertMatch(hover, /(12|01):30:00 PM/);
      // Every absolute time on the page carries the zone's name.
      const times = await page.locator(".job-detail time[data-zone]")
        .allTextContents();
      assert(times.length >= 7, `${times.length} times`);
      for (const t of times) assertMatch(t, /GMT\+9$/);
      assertEquals(await page.locator(".job-zone").textContent(), "Asia/Tokyo");

      // A job without a zone runs in the server's default, and says so.
      await page.goto(`${jp.url}/jobs/plain`);
      await live(page);
      assertEquals(
        await page.locator(".job-zone").textContent(),
        "Europe/Berlin (the server's default)",
      );
      assertMatch(
        (await page.locator(".next-times time").first().textContent())!,
        /09:00:00 AM CES?T$/,
      );

      // A description typed in the form: saved, and shown on the page.
      await page.getByRole("button", { name: "Edit Plain" }).click();
      const dialog = page.getByRole("dialog", { name: "Edit Plain" });
      await dialog.waitFor();
      const text = "Morning digest for the sales team";
      await dialog.getByLabel("Description").fill(text);
      await dialog.getByRole("button", { name: "Save changes" }).click();
      await dialog.waitFor({ state: "detached" });
      await page.locator(".job-description", { hasText: text }).waitFor();
      assertEquals(jp.manager.get("plain").description, text);
      await screenshot("job-zone-description.png");

      // The list: times in the viewer's zone, named.
      await page.goto(`${jp.url}/jobs`);
      await live(page);
      await page.getByRole("button", { name: "New job" }).click();
      const create = page.getByRole("dialog", { name: "New job" });
      await create.getByLabel("Name", { exact: true }).fill("Described");
      await create.getByLabel("Description").fill("Made with a description");
      await create.getByLabel("Function name").fill("noop");
      await create.getByRole("button", { name: "Create job" }).click();
      await page.locator("#job-described").waitFor();
      assertEquals(
        jp.manager.get("described").description,
        "Made with a description",
      );
    }, {
      env: { JOBPRO_TIMEZONE: "Europe/Berlin" },
      timezoneId: "America/New_York",
    });
  },
});
