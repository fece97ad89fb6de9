/**
 * Route patterns on the standard `URLPattern`, ranked so static segments win
 * over dynamic ones (`/jobs/events` before `/jobs/:id`) and catch-alls come last.
 *
 * @example
 * ```ts
 * const routes = ["/jobs/:id", "/jobs/events"].map(compilePattern).sort(byRank);
 * routes[0].pattern; // "/jobs/events"
 * ```
 * @module
 */

/** A pathname pattern, compiled and ranked. */
export interface CompiledPattern {
  /** The URLPattern pathname syntax, e.g. `/jobs/:id`. */
  pattern: string;
  /** The compiled matcher. */
  urlPattern: URLPattern;
  /**
   * The same matcher as a plain RegExp, for the simple patterns file routes
   * produce (`/jobs/:id`, `/files/:path*`): many times faster than URLPattern,
   * which matters when every request walks the route list.
   */
  fast: { re: RegExp; names: string[] } | null;
  /** Per segment: 0 static, 1 parameter, 2 optional, 3 catch-all. */
  rank: number[];
}

/**
 * Compiles a URLPattern pathname and computes its rank.
 *
 * @example
 * ```ts
 * compilePattern("/files/:path*").rank; // [0, 3]
 * ```
 */
export function compilePattern(pattern: string): CompiledPattern {
  return {
    pattern,
    urlPattern: new URLPattern({ pathname: pattern }),
    fast: fastMatcher(pattern),
    rank: rankOf(pattern),
  };
}

/**
 * Orders patterns from most to least specific, segment by segment.
 *
 * @example
 * ```ts
 * [compilePattern("/:id"), compilePattern("/new")].sort(byRank)[0].pattern; // "/new"
 * ```
 */
export function byRank(a: { rank: number[] }, b: { rank: number[] }): number {
  const n = Math.max(a.rank.length, b.rank.length);
  for (let i = 0; i < n; i++) {
    const x = a.rank[i] ?? -1;
    const y = b.rank[i] ?? -1;
    if (x !== y) return x - y;
  }
  return 0;
}

/**
 * Matches a pathname and returns the decoded named groups, or `null`.
 *
 * @example
 * ```ts
 * matchPattern(compilePattern("/jobs/:id"), "/jobs/a%20b"); // { id: "a b" }
 * ```
 */
export function matchPattern(
  compiled: CompiledPattern,
  pathname: string,
): Record<string, string> | null {
  if (compiled.fast) {
    const m = compiled.fast.re.exec(pathname);
    if (!m) return null;
    const params: Record<string, string> = {};
    compiled.fast.names.forEach((name, i) => {
      if (m[i + 1] !== undefined) params[name] = safeDecode(m[i + 1]);
    });
    return params;
  }
  const match = compiled.urlPattern.exec({ pathname });
  if (!match) return null;
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(match.pathname.groups)) {
    if (value !== undefined) params[name] = safeDecode(value);
  }
  return params;
}

/**
 * Escapes a literal path segment for URLPattern syntax.
 *
 * @example
 * ```ts
 * escapeSegment("a+b"); // "a\\+b"
 * ```
 */
export function escapeSegment(segment: string): string {
  return segment.replace(/[:*(){}+?\\]/g, (c) => `\\${c}`);
}

/**
 * A RegExp equivalent to the pattern when it only has literal segments,
 * `:name` segments and a final `:name*`; otherwise null (URLPattern decides).
 */
function fastMatcher(pattern: string): { re: RegExp; names: string[] } | null {
  if (pattern === "/") return { re: /^\/$/, names: [] };
  const segments = pattern.split("/").slice(1);
  const names: string[] = [];
  let source = "^";
  for (const [i, seg] of segments.entries()) {
    const param = seg.match(/^:([A-Za-z_$][\w$]*)(\*)?$/);
    if (param) {
      names.push(param[1]);
      if (param[2]) {
        if (i !== segments.length - 1) return null;
        source += "(?:/(.+))?"; // like URLPattern's :rest*: nothing, or 1+ chars
      } else source += "/([^/]+)";
    } else if (/^[\w.~-]*$/.test(seg)) {
      source += "/" + seg.replace(/\./g, "\\.");
    } else return null; // escapes, groups, modifiers: leave to URLPattern
  }
  return { re: new RegExp(source + "$"), names };
}

function rankOf(pattern: string): number[] {
  const segments = pattern.match(/\{\/[^}]*\}\?|\/[^/{]*/g) ?? [];
  return segments.map((segment) => {
    if (segment.startsWith("{")) return 2;
    const body = segment.slice(1);
    if (/(^|[^\\])[*+]$/.test(body)) return 3;
    if (body.startsWith(":")) return 1;
    return 0;
  });
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
