/**
 * The small HTML page a browser gets for an error: the status and its reason
 * phrase as title and heading, and the client-safe message below.
 *
 * @example
 * ```ts
 * import { errorPage } from "@/lib/web/error_page.ts";
 * return errorPage(404, "no job with id 42");
 * ```
 * @module
 */
import { STATUS_CODES } from "node:http";

/** Where node:http still has the names RFC 9110 replaced. */
const RFC_9110_NAMES: Record<number, string> = {
  413: "Content Too Large",
  422: "Unprocessable Content",
};

/**
 * An HTML error response; `headers` (such as `Allow`) are added to it.
 *
 * @example
 * ```ts
 * errorPage(405, "Method Not Allowed", { allow: "GET, HEAD" }).status; // 405
 * ```
 */
export function errorPage(
  status: number,
  message: string,
  headers?: HeadersInit,
): Response {
  const text = RFC_9110_NAMES[status] ?? STATUS_CODES[status] ?? "Error";
  const title = escapeHtml(`${status} ${text}`);
  const body =
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body><h1>${title}</h1><p>${escapeHtml(message)}</p></body></html>`;
  const h = new Headers(headers);
  h.set("content-type", "text/html; charset=utf-8");
  return new Response(body, { status, headers: h });
}

/**
 * Escapes text for HTML element content and attribute values.
 *
 * @example
 * ```ts
 * escapeHtml('<a href="x">'); // "&#60;a href=&#34;x&#34;&#62;"
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
