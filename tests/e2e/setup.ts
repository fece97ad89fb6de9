/**
 * What the browser tests share: a real jobpro on a random port with a DuckDB
 * file in a temp dir, a real Chromium page, and the checks every test ends
 * with (no console errors, a screenshot when asked).
 *
 * @example
 * ```ts
 * await withDashboard(async ({ jp, page }) => {
 *   await page.goto(`${jp.url}/jobs`);
 * });
 * ```
 * @module
 */
import { assertEquals } from "@std/assert";
import type { Page } from "playwright-core";
import { readConfig } from "@/lib/config.ts";
import type { Registry } from "@/lib/jobs/mod.ts";
import { type Jobpro, startJobpro } from "@/main.ts";
import { type BrowserOptions, openBrowser, SCREENSHOTS } from "../browser.ts";
import { tempDb } from "../helpers.ts";

/** What a dashboard test gets. */
export interface Dashboard {
  jp: Jobpro;
  page: Page;
  /** Console errors so far. */
  errors: string[];
  /** Saves a full-page screenshot under test-results/. */
  screenshot(name: string): Promise<void>;
}

/** Options of {@link withDashboard}. */
export interface DashboardOptions extends BrowserOptions {
  /** Extra environment for readConfig, e.g. JOBPRO_ALLOW_SHELL. */
  env?: Record<string, string>;
  /** Console errors the test provokes on purpose (matched against each message). */
  allowErrors?: RegExp[];
  /** The job functions the server has (default: the built-ins). */
  functions?: Registry;
}

/** Deno.test options shared by browser tests: Chromium and streams outlive single awaits. */
export const BROWSER_TEST = { sanitizeOps: false, sanitizeResources: false };

/** How long a browser-side wait may take on a busy machine. */
export const DEADLINE = 15_000;

/**
 * Runs `fn` against a fresh jobpro and a fresh browser page, then closes
 * both and fails on any console error not in `allowErrors`.
 *
 * @example
 * ```ts
 * await withDashboard(async ({ page, jp }) => { ... }, { colorScheme: "dark" });
 * ```
 */
export async function withDashboard(
  fn: (d: Dashboard) => Promise<void>,
  options: DashboardOptions = {},
): Promise<void> {
  const db = await tempDb();
  const jp = await startJobpro(
    readConfig({ PORT: "0", JOBPRO_DB: db.path, ...options.env }),
    { quiet: true, functions: options.functions },
  );
  try {
    await using b = await openBrowser(options);
    b.page.setDefaultTimeout(DEADLINE);
    await fn({
      jp,
      page: b.page,
      errors: b.errors,
      async screenshot(name) {
        await Deno.mkdir(SCREENSHOTS, { recursive: true });
        await b.page.screenshot({
          path: new URL(name, SCREENSHOTS).pathname,
          fullPage: true,
        });
      },
    });
    const allowed = options.allowErrors ?? [];
    assertEquals(
      b.errors.filter((e) => !allowed.some((re) => re.test(e))),
      [],
      "no console errors",
    );
  } finally {
    await jp.close();
    await db.cleanup();
  }
}

/**
 * Waits until the page's live indicator says the event stream is connected.
 *
 * @example
 * ```ts
 * await live(page);
 * ```
 */
export async function live(page: Page): Promise<void> {
  await page.locator(".live-live").first().waitFor();
}

/**
 * Marks the document so a later check can tell it was not reloaded.
 *
 * @example
 * ```ts
 * await markDocument(page);
 * assert(await sameDocument(page));
 * ```
 */
export async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() =>
    (globalThis as unknown as { __mark: number }).__mark = 42
  );
}

/** Whether the document marked by {@link markDocument} is still the one shown. */
export async function sameDocument(page: Page): Promise<boolean> {
  return await page.evaluate(() =>
    (globalThis as unknown as { __mark?: number }).__mark === 42
  );
}
