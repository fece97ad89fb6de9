/**
 * The dashboard behind `JOBPRO_TOKEN` (and `JOBPRO_READ_TOKEN`) in a real
 * Chromium against a real jobpro: the browser signs in on /login, and its
 * cookie-authenticated writes (run now, pause, resume on the dashboard; run
 * now on the job page) go through. Chromium leaves `Origin` off these
 * same-origin `fetch` POSTs (its sign-in form post carries one) and always
 * says `Sec-Fetch-Site: same-origin`, which must be enough. A read-only
 * sign-in still cannot write, nor can a page on another port of the host.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import type { Page, Response } from "playwright-core";
import { localServer, waitFor } from "../helpers.ts";
import { BROWSER_TEST, DEADLINE, live, withDashboard } from "./setup.ts";

const TOKEN = "e2e-full-token-0123456789abcdef";
const READ_TOKEN = "e2e-read-token-0123456789abcdef";
const bearer = { authorization: `Bearer ${TOKEN}` };

/** Signs in through the real /login form, starting from `path`, and lands there. */
async function signIn(page: Page, base: string, path: string, token: string) {
  await page.goto(`${base}${path}`);
  await page.waitForURL(/\/login\?next=/);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => u.pathname === path);
}

/**
 * Runs `click` and returns the headers the browser sent with the POST it
 * makes to a path ending in `op`; fails, naming them, unless it is a 200.
 */
async function post(page: Page, op: string, click: () => Promise<void>) {
  const answered = page.waitForResponse((r) =>
    r.request().method() === "POST" && new URL(r.url()).pathname.endsWith(op)
  );
  await click();
  const res: Response = await answered;
  const sent = await res.request().allHeaders();
  assertEquals(
    res.status(),
    200,
    `POST ${new URL(res.url()).pathname} answered ${res.status()} ${await res
      .text()}; the browser sent Origin: ${
      sent["origin"] ?? "(none)"
    }, Sec-Fetch-Site: ${sent["sec-fetch-site"] ?? "(none)"}`,
  );
  return sent;
}

/** The runs the API (with the bearer token) holds for a job. */
async function apiRuns(base: string, id: string): Promise<number> {
  const res = await fetch(`${base}/jobs/${id}/runs`, {
    headers: { ...bearer, accept: "application/json" },
  });
  assertEquals(res.status, 200);
  return (await res.json()).total;
}

async function apiStatus(base: string, id: string): Promise<string> {
  const res = await fetch(`${base}/jobs/${id}`, {
    headers: { ...bearer, accept: "application/json" },
  });
  assertEquals(res.status, 200);
  return (await res.json()).status;
}

Deno.test({
  name:
    "signed in by cookie: run now, pause and resume on the dashboard and run now on the job page go through; a read-only sign-in cannot write",
  ...BROWSER_TEST,
  async fn() {
    await withDashboard(async ({ jp, page }) => {
      await jp.manager.create({
        id: "report",
        name: "Nightly report",
        schedule: "",
        autoStart: false,
        action: { type: "function", name: "noop" },
      });
      await jp.manager.create({
        id: "tick",
        name: "Tick",
        schedule: "0 0 * * * *",
        action: { type: "function", name: "noop" },
      });
      const sent: Record<string, string>[] = [];

      await signIn(page, jp.url, "/jobs", TOKEN);
      await live(page);
      const row = page.locator("#job-report");
      sent.push(
        await post(
          page,
          "/run",
          () => row.getByRole("button", { name: "Run now" }).click(),
        ),
      );
      await row.locator(".run-count", { hasText: "1 run" }).waitFor();
      await waitFor(async () => (await apiRuns(jp.url, "report")) === 1, {
        timeoutMs: DEADLINE,
        what: "the API to show the dashboard's run",
      });

      const tick = page.locator("#job-tick");
      sent.push(
        await post(
          page,
          "/pause",
          () => tick.getByRole("button", { name: "Pause" }).click(),
        ),
      );
      await tick.locator(".badge-paused").waitFor();
      assertEquals(await apiStatus(jp.url, "tick"), "paused");
      sent.push(
        await post(
          page,
          "/resume",
          () => tick.getByRole("button", { name: "Resume" }).click(),
        ),
      );
      await tick.locator(".badge-scheduled").waitFor();
      assertEquals(await apiStatus(jp.url, "tick"), "scheduled");

      await page.goto(`${jp.url}/jobs/report`);
      await live(page);
      sent.push(
        await post(
          page,
          "/run",
          () => page.getByRole("button", { name: "Run now" }).click(),
        ),
      );
      await waitFor(async () => (await apiRuns(jp.url, "report")) === 2, {
        timeoutMs: DEADLINE,
        what: "the API to show the job page's run",
      });
      await page.locator(".runs-table tbody tr").nth(1).waitFor();
      for (const h of sent) {
        assertEquals(h["sec-fetch-site"], "same-origin", "a same-origin POST");
      }

      // A read-only sign-in sees the page but cannot write, however its
      // request is made from this site.
      await page.context().clearCookies();
      await signIn(page, jp.url, "/jobs", READ_TOKEN);
      await live(page);
      const refused = await page.evaluate(async () => {
        const r = await fetch("/jobs/report/run", {
          method: "POST",
          headers: { accept: "application/json" },
        });
        return { status: r.status, body: await r.json() };
      });
      assertEquals(refused.status, 403);
      assertStringIncludes(refused.body.error.message, "read-only");
      assertEquals(await apiRuns(jp.url, "report"), 2, "no third run");
      assert(jp.manager.get("report").runCount === 2);
    }, {
      env: { JOBPRO_TOKEN: TOKEN, JOBPRO_READ_TOKEN: READ_TOKEN },
      // The read-only write above is refused on purpose.
      allowErrors: [/403/],
    });
  },
});

Deno.test({
  name:
    "signed in by cookie: a page on another port of the same host (same-site, so the cookie goes along) cannot run or pause jobs",
  ...BROWSER_TEST,
  async fn() {
    let target = "";
    const sibling = localServer(() =>
      new Response(
        `<!doctype html><html><body>
        <iframe name="sink"></iframe>
        <form id="run" method="post" target="sink" action="${target}/jobs/report/run"></form>
        <script>
          document.getElementById("run").submit();
          setTimeout(async () => {
            for (const path of ["/jobs/report/run", "/jobs/tick/pause"]) {
              try { await fetch("${target}" + path, { method: "POST", mode: "no-cors", credentials: "include" }); } catch {}
            }
            document.title = "done";
          }, 200);
        </script></body></html>`,
        { headers: { "content-type": "text/html" } },
      )
    );
    try {
      await withDashboard(async ({ jp, page }) => {
        target = jp.url;
        await jp.manager.create({
          id: "report",
          name: "Nightly report",
          schedule: "",
          autoStart: false,
          action: { type: "function", name: "noop" },
        });
        await jp.manager.create({
          id: "tick",
          name: "Tick",
          schedule: "0 0 * * * *",
          action: { type: "function", name: "noop" },
        });
        await signIn(page, jp.url, "/jobs", TOKEN);
        const sent: Record<string, string>[] = [];
        const answers: Promise<number>[] = [];
        page.on("request", (r) => {
          if (r.method() !== "POST" || !r.url().startsWith(jp.url)) return;
          answers.push(
            r.allHeaders().then((h) => sent.push(h)).then(async () =>
              (await r.response())?.status() ?? 0
            ),
          );
        });
        await page.goto(`${sibling.url}/`);
        await waitFor(async () => (await page.title()) === "done", {
          timeoutMs: DEADLINE,
          what: "the sibling page to finish",
        });
        await waitFor(() => answers.length === 3, {
          timeoutMs: DEADLINE,
          what: "the sibling page's three POSTs to be seen",
        });
        assertEquals(await Promise.all(answers), [403, 403, 403]);
        for (const h of sent) {
          assertEquals(h["sec-fetch-site"], "same-site");
          assert(
            (h["cookie"] ?? "").includes("jobpro_session="),
            "the session cookie went along: only the headers stop it",
          );
        }
        const job = jp.manager.get("report");
        assertEquals([job.runCount, job.activeRuns], [0, 0]);
        assertEquals(await apiRuns(jp.url, "report"), 0);
        assertEquals(await apiStatus(jp.url, "tick"), "scheduled");
      }, {
        env: { JOBPRO_TOKEN: TOKEN, JOBPRO_READ_TOKEN: READ_TOKEN },
        // The sibling's posts are refused on purpose.
        allowErrors: [/403/],
      });
    } finally {
      await sibling.close();
    }
  },
});
