/**
 * Completes rendered HTML into a document: adds the doctype and any missing
 * `<html>`, `<head>` and `<body>`, then places `<Head>` content and the island
 * script.
 *
 * @example
 * ```ts
 * finishDocument("<p>hi</p>", "<title>x</title>", "");
 * // <!DOCTYPE html><html><head><meta charset="utf-8">...<title>x</title></head><body><p>hi</p></body></html>
 * ```
 * @module
 */

const DEFAULT_HEAD =
  '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">';

/**
 * Wraps `body` as needed and inserts `head` before `</head>` and `script`
 * before the last `</body>`. A `<title>` in `head` replaces the document's.
 *
 * @example
 * ```ts
 * finishDocument("<html><body>x</body></html>", "", "<script></script>");
 * ```
 */
export function finishDocument(
  body: string,
  head: string,
  script: string,
): string {
  let html = body;
  if (!/<html[\s>]/i.test(html)) {
    html = `<html><head>${DEFAULT_HEAD}</head><body>${html}</body></html>`;
  } else if (!/<head[\s>]/i.test(html)) {
    html = html.replace(
      /<html[^>]*>/i,
      (tag) => `${tag}<head>${DEFAULT_HEAD}</head>`,
    );
  }
  if (!/<body[\s>]/i.test(html)) {
    html = html.replace(
      /(<\/head>)([\s\S]*?)(<\/html>\s*)$/i,
      "$1<body>$2</body>$3",
    );
  }
  if (/<title[\s>]/i.test(head)) {
    html = html.replace(/<title[\s>][\s\S]*?<\/title>/i, "");
  }
  html = insertBefore(html, "</head>", head);
  html = insertBefore(html, "</body>", script);
  return `<!DOCTYPE html>${html}`;
}

function insertBefore(html: string, tag: string, content: string): string {
  if (!content) return html;
  const at = html.toLowerCase().lastIndexOf(tag);
  return at < 0 ? html + content : html.slice(0, at) + content + html.slice(at);
}
