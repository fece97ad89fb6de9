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
  /**
   * Console errors and uncaught page errors seen so far. A failed request is
   * logged with its URL ("Failed to load resource: ... (http://...)"), so a
   * test can allow the ones it provokes.
   */
  errors: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

/** How the page is set up. */
export interface BrowserOptions {
  viewport?: { width: number; height: number };
  colorScheme?: "light" | "dark";
  /** An IANA zone for the page's clock, e.g. "Asia/Kolkata". */
  timezoneId?: string;
  locale?: string;
  /** More Chromium command-line switches, e.g. `--host-resolver-rules=...`. */
  args?: string[];
}

/**
 * Launches headless Chromium with one page of the given viewport.
 *
 * @example
 * ```ts
 * await using b = await openBrowser({ viewport: { width: 390, height: 844 }, colorScheme: "dark" });
 * ```
 */
export async function openBrowser(
  options: BrowserOptions = {},
): Promise<OpenBrowser> {
  const browser = await playwright.launch({
    executablePath: await chromium.executablePath(),
    args: [...chromium.args, ...(options.args ?? [])],
    headless: true,
  });
  const page = await browser.newPage({
    viewport: options.viewport ?? { width: 1280, height: 900 },
    colorScheme: options.colorScheme ?? "light",
    timezoneId: options.timezoneId,
    locale: options.locale ?? "en-US",
  });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const url = m.location().url;
    errors.push(
      m.text().startsWith("Failed to load resource") && url
        ? `${m.text()} (${url})`
        : m.text(),
    );
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
