/**
 * Content negotiation for routes that serve both a page and JSON (Fresh has
 * none: this is the app's own).
 *
 * The rule: HTML only when the `Accept` header rates `text/html` strictly
 * above `application/json` (each type takes the q-value of its most specific
 * matching range: `text/html` over `text/*` over `*\/*`). Browsers list
 * `text/html` first, so they get the page; `fetch()` (`*\/*`), curl (`*\/*`),
 * a missing header and `application/json` all get JSON.
 *
 * @example
 * ```ts
 * import { prefersHtml } from "@/lib/web/negotiate.ts";
 * export const handler = {
 *   GET: (ctx) => prefersHtml(ctx.req) ? page({ jobs }) : ctx.json(jobs),
 * };
 * ```
 * @module
 */

/** One media range of an `Accept` header. */
interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

/**
 * Whether the client should get HTML rather than JSON (see the module doc).
 *
 * @example
 * ```ts
 * prefersHtml(new Request("http://x/", { headers: { accept: "text/html,*\/*;q=0.8" } })); // true
 * ```
 */
export function prefersHtml(req: Request): boolean {
  const ranges = parseAccept(req.headers.get("accept"));
  const html = quality(ranges, "text", "html");
  return html > 0 && html > quality(ranges, "application", "json");
}

/**
 * Whether the client should get JSON: the opposite of {@linkcode prefersHtml}.
 *
 * @example
 * ```ts
 * wantsJson(new Request("http://x/")); // true: no Accept header
 * ```
 */
export function wantsJson(req: Request): boolean {
  return !prefersHtml(req);
}

/**
 * Parses an `Accept` header; malformed ranges are skipped and q defaults to 1.
 *
 * @example
 * ```ts
 * parseAccept("text/html;q=0.5"); // [{ type: "text", subtype: "html", q: 0.5 }]
 * ```
 */
export function parseAccept(header: string | null): MediaRange[] {
  if (!header) return [];
  const ranges: MediaRange[] = [];
  for (const part of header.split(",")) {
    const [media, ...params] = part.split(";").map((s) => s.trim());
    const [type, subtype] = media.toLowerCase().split("/");
    if (!type || !subtype) continue;
    const qParam = params.find((p) => /^q\s*=/i.test(p));
    const q = qParam ? Number(qParam.split("=")[1]) : 1;
    ranges.push({
      type,
      subtype,
      q: Number.isFinite(q) ? Math.min(Math.max(q, 0), 1) : 0,
    });
  }
  return ranges;
}

function quality(ranges: MediaRange[], type: string, subtype: string): number {
  let best: MediaRange | undefined;
  let bestScore = -1;
  for (const range of ranges) {
    const score = range.type === type && range.subtype === subtype
      ? 2
      : range.type === type && range.subtype === "*"
      ? 1
      : range.type === "*" && range.subtype === "*"
      ? 0
      : -1;
    if (score > bestScore) [best, bestScore] = [range, score];
  }
  return best?.q ?? 0;
}
