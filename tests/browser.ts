/**
 * A real Chromium for browser tests: the binary shipped inside the npm package
 * `@sparticuz/chromium`, driven by `playwright-core`. Nothing is downloaded.
 *
 * @example
 * ```ts
 * await using b = await openBrowser();
 * await b.page.goto(url);
 * ```
 * @module
 */
import chromium from "@sparticuz/chromium";
import {
  type Browser,
  chromium as playwright,
  type Page,
} from "playwright-core";

/** A launched browser with one page, collecting console errors. */
export interface OpenBrowser {
  browser: Browser;
  page: Page;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Launches headless Chromium with one page of the given viewport.
 *
 * @example
 * ```ts
 * await using b = await openBrowser({ width: 1280, height: 800 });
 * ```
 */
export async function openBrowser(
  viewport = { width: 1280, height: 900 },
): Promise<OpenBrowser> {
  const browser = await playwright.launch({
    executablePath: await chromium.executablePath(),
    args: chromium.args,
    headless: true,
  });
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  return {
    browser,
    page,
    errors,
    async [Symbol.asyncDispose]() {
      await browser.close();
    },
  };
}

/** Where tests save screenshots (gitignored). */
export const SCREENSHOTS = new URL("../test-results/", import.meta.url);
