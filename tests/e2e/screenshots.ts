/**
 * Makes the README's screenshots, docs/jobs.png and docs/job.png: a jobpro
 * with a few realistic jobs (and a small backend for their HTTP calls) runs
 * until they have some history, then a real Chromium photographs the
 * dashboard and a job page. Not a test; run it when the pages change:
 *
 * ```sh
 * deno run -A tests/e2e/screenshots.ts
 * ```
 * @module
 */
import { readConfig } from "@/lib/config.ts";
import { startJobpro } from "@/main.ts";
import { openBrowser } from "../browser.ts";
import { localServer, tempDb, waitFor } from "../helpers.ts";

const DOCS = new URL("../../docs/", import.meta.url);

const backend = localServer(async (req) => {
  const path = new URL(req.url).pathname;
  await new Promise((r) => setTimeout(r, 40 + Math.random() * 160));
  if (path === "/fail" || (path === "/sync" && Math.random() < 0.3)) {
    return new Response("upstream unavailable\n", { status: 502 });
  }
  return Response.json({ ok: true, path, checked: new Date().toISOString() });
});
const db = await tempDb();
const jp = await startJobpro(
  readConfig({ PORT: "0", JOBPRO_DB: db.path }),
  { quiet: true },
);
try {
  const m = jp.manager;
  const fn = (name: string, params?: Record<string, unknown>) => ({
    type: "function" as const,
    name,
    params,
  });
  await m.create({
    id: "heartbeat",
    name: "Heartbeat",
    schedule: "*/2 * * * * *",
    action: fn("log", { message: "still alive" }),
  });
  await m.create({
    id: "sync-orders",
    name: "Sync orders",
    schedule: "*/3 * * * * *",
    action: { type: "http", method: "POST", url: `${backend.url}/sync` },
  });
  await m.create({
    id: "ping-api",
    name: "Ping the API",
    schedule: "*/4 * * * * *",
    action: { type: "http", url: `${backend.url}/health` },
    timeoutMs: 5000,
  });
  await m.create({
    id: "webhook",
    name: "Partner webhook",
    schedule: "*/5 * * * * *",
    action: { type: "http", method: "POST", url: `${backend.url}/fail` },
  });
  await m.create({
    id: "nightly-report",
    name: "Nightly report",
    schedule: "0 30 2 * * *",
    timezone: "Europe/Berlin",
    action: { type: "http", method: "POST", url: `${backend.url}/reports` },
  });
  await m.create({
    id: "warm-cache",
    name: "Warm the cache once",
    schedule: "in 10m",
    action: fn("sleep", { ms: 1500 }),
  });
  await m.create({
    id: "export",
    name: "Manual export",
    schedule: "",
    autoStart: false,
    action: fn("sleep", { ms: 400 }),
  });
  await m.create({
    id: "weekly-cleanup",
    name: "Weekly cleanup",
    schedule: "0 0 4 * * SUN",
    action: fn("noop"),
  });
  await m.pause("weekly-cleanup");
  for (let i = 0; i < 3; i++) await m.runNow("export");
  await waitFor(() => m.get("heartbeat").runCount >= 20, {
    timeoutMs: 90_000,
    what: "some history",
  });

  await Deno.mkdir(DOCS, { recursive: true });
  await using b = await openBrowser({ viewport: { width: 1360, height: 900 } });
  const page = b.page;
  await page.goto(`${jp.url}/jobs`);
  await page.locator(".live-live").waitFor();
  await page.getByRole("button", { name: "Recent runs of Sync orders" })
    .click();
  await page.locator("#history-sync-orders .runs-table").waitFor();
  await page.screenshot({
    path: new URL("jobs.png", DOCS).pathname,
    fullPage: true,
  });

  const last = m.get("ping-api").lastRun!.id;
  await page.goto(`${jp.url}/jobs/ping-api?run=${last}`);
  await page.locator(".live-live").waitFor();
  await page.locator(".run-detail pre.output").waitFor();
  await page.screenshot({
    path: new URL("job.png", DOCS).pathname,
    fullPage: true,
  });
  if (b.errors.length) throw new Error(`console errors: ${b.errors}`);
  console.log("wrote docs/jobs.png and docs/job.png");
} finally {
  await jp.close();
  await backend.close();
  await db.cleanup();
}
