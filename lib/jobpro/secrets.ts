/**
 * Secrets in a job's action, and how they are hidden. What counts as secret:
 * the user info of an http URL (`http://admin:pw@host`), the values of query
 * parameters whose name looks secret (`?api_key=`, `?token=`, ...), the value
 * of every header except a short list of harmless ones, an http body, and
 * the values of a shell action's `env`. Views for read-only callers and every
 * event stream show each as {@link REDACTED}; a write that sends
 * `[redacted]` back keeps what is stored; run output has the secret values
 * blanked out too (an endpoint that echoes its request would show them).
 *
 * @example
 * ```ts
 * import { redactAction } from "./secrets.ts";
 * redactAction({ type: "http", method: "GET", url: "http://u:p@h/x?token=t", headers: { "X-Auth": "s" } });
 * // url "http://[redacted]@h/x?token=[redacted]", headers { "X-Auth": "[redacted]" }
 * ```
 * @module
 */
import type { Action, HttpAction } from "./job.ts";

/** What a hidden value reads as. */
export const REDACTED = "[redacted]";

/** Headers whose values are never secret: shown as they are. */
const SAFE_HEADERS = new Set([
  "accept",
  "accept-charset",
  "accept-encoding",
  "accept-language",
  "cache-control",
  "content-language",
  "content-type",
  "pragma",
  "user-agent",
  "x-request-id",
]);

/** Query parameter names whose values are secret. */
const SECRET_PARAM =
  /key|token|secret|password|passwd|pwd|auth|signature|session|credential/i;

const isRedacted = (v: string) =>
  v === REDACTED || v === encodeURIComponent(REDACTED);

/** A URL's text in parts: before the user info, the user info, the rest up to the query, the query, the fragment. */
const URL_PARTS =
  /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)(?:([^@/?#]*)@)?([^?#]*)(?:\?([^#]*))?(#.*)?$/;

type QueryItem = { name: string; value: string | null };

function queryItems(raw: string | undefined): QueryItem[] {
  if (!raw) return [];
  return raw.split("&").map((item) => {
    const eq = item.indexOf("=");
    return eq < 0
      ? { name: item, value: null }
      : { name: item.slice(0, eq), value: item.slice(eq + 1) };
  });
}

function queryText(items: QueryItem[]): string {
  return items.map((i) => i.value === null ? i.name : `${i.name}=${i.value}`)
    .join("&");
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    return text;
  }
}

function urlText(
  m: RegExpMatchArray,
  userinfo: string | undefined,
  query: QueryItem[] | undefined,
): string {
  const [, scheme, , rest, , hash] = m;
  return `${scheme}${userinfo === undefined ? "" : `${userinfo}@`}${rest}${
    query === undefined ? "" : `?${queryText(query)}`
  }${hash ?? ""}`;
}

/**
 * The URL with its user info and secret query values hidden: how a URL is
 * shown to read-only callers and written into run messages. Only those
 * parts change; the rest of the text stays as it was written.
 *
 * @example
 * ```ts
 * redactUrl("http://u:pw@h/x?token=t&page=2"); // "http://[redacted]@h/x?token=[redacted]&page=2"
 * ```
 */
export function redactUrl(url: string): string {
  const m = url.match(URL_PARTS);
  if (!m) return url;
  const items = m[4] === undefined ? undefined : queryItems(m[4]);
  const hidden = items?.map((i) =>
    i.value !== null && SECRET_PARAM.test(decoded(i.name))
      ? { ...i, value: REDACTED }
      : i
  );
  const userinfo = m[2] === undefined ? undefined : REDACTED;
  const changed = userinfo !== undefined ||
    hidden?.some((h, k) => h !== items![k]);
  return changed ? urlText(m, userinfo, hidden) : url;
}

/** The URL written back with `[redacted]` parts taken from the stored one, the rest as written. */
function restoreUrl(next: string, prev: string): string {
  const n = next.match(URL_PARTS);
  const p = prev.match(URL_PARTS);
  if (!n || !p) return next;
  const userinfo = n[2] !== undefined && isRedacted(n[2]) ? p[2] : n[2];
  const old = queryItems(p[4]);
  const seen = new Map<string, number>();
  const items = n[4] === undefined ? undefined : queryItems(n[4]).map((i) => {
    const k = seen.get(i.name) ?? 0;
    seen.set(i.name, k + 1);
    if (i.value === null || !isRedacted(i.value)) return i;
    const was = old.filter((o) => o.name === i.name)[k];
    return was ?? i;
  });
  return urlText(n, userinfo, items);
}

function redactHttp(a: HttpAction): HttpAction {
  const url = redactUrl(a.url);
  const entries = Object.entries(a.headers ?? {});
  const hidden = entries.some(([k]) => !SAFE_HEADERS.has(k.toLowerCase()));
  const body = a.body ? REDACTED : a.body;
  if (url === a.url && !hidden && body === a.body) return a;
  const out: HttpAction = { ...a, url };
  if (a.headers) {
    out.headers = Object.fromEntries(
      entries.map((
        [k, v],
      ) => [k, SAFE_HEADERS.has(k.toLowerCase()) ? v : REDACTED]),
    );
  }
  if (a.body) out.body = body;
  return out;
}

/**
 * The action as read-only callers and event streams see it; the same
 * object when nothing in it is secret.
 *
 * @example
 * ```ts
 * redactAction({ type: "shell", command: ["env"], env: { PGPASSWORD: "x" } }).env; // { PGPASSWORD: "[redacted]" }
 * ```
 */
export function redactAction(action: Action): Action {
  if (action.type === "http") return redactHttp(action);
  if (action.type === "heartbeat" && action.pingKey !== undefined) {
    return { ...action, pingKey: REDACTED };
  }
  if (action.type === "shell" && action.env && Object.keys(action.env).length) {
    return {
      ...action,
      env: Object.fromEntries(
        Object.keys(action.env).map((k) => [k, REDACTED]),
      ),
    };
  }
  return action;
}

/**
 * An edited action with every {@link REDACTED} value taken back from the
 * stored action, so a view can be edited and saved without losing secrets.
 *
 * @example
 * ```ts
 * keepSecrets({ ...edited }, current);
 * ```
 */
export function keepSecrets(next: Action, prev: Action): Action {
  if (next.type === "heartbeat" && prev.type === "heartbeat") {
    // Left out or sent back redacted: the job keeps its ping key.
    const keep = next.pingKey === undefined || isRedacted(next.pingKey);
    return keep ? { ...next, pingKey: prev.pingKey } : next;
  }
  if (next.type === "http" && prev.type === "http") {
    // A secret goes only where it went: sent back hidden for another
    // origin, it is not restored (and the [redacted] left is refused).
    if (originOf(next.url) !== originOf(prev.url)) return next;
    const old = prev.headers ?? {};
    const out: HttpAction = { ...next, url: restoreUrl(next.url, prev.url) };
    if (next.headers) {
      out.headers = Object.fromEntries(
        Object.entries(next.headers).map((
          [k, v],
        ) => [k, isRedacted(v) && Object.hasOwn(old, k) ? old[k] : v]),
      );
    }
    if (next.body !== undefined && isRedacted(next.body)) out.body = prev.body;
    return out;
  }
  if (next.type === "shell" && prev.type === "shell" && next.env) {
    const old = prev.env ?? {};
    return {
      ...next,
      env: Object.fromEntries(
        Object.entries(next.env).map((
          [k, v],
        ) => [k, isRedacted(v) && Object.hasOwn(old, k) ? old[k] : v]),
      ),
    };
  }
  return next;
}

/** A URL's scheme, host and port (null when it is not one). */
function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/** The secret values of an action (those worth blanking out of output). */
export function secretValues(action: Action): string[] {
  const out: string[] = [];
  const add = (v: string | undefined) => {
    if (v && v.length >= 4) out.push(v);
  };
  if (action.type === "http") {
    for (const [k, v] of Object.entries(action.headers ?? {})) {
      if (SAFE_HEADERS.has(k.toLowerCase())) continue;
      add(v);
      add(v.replace(/^(bearer|basic|token)\s+/i, ""));
    }
    try {
      const u = new URL(action.url);
      const user = decodeURIComponent(u.username);
      const pass = decodeURIComponent(u.password);
      add(pass);
      add(user);
      // fetch sends user info as Basic authorization.
      if (user || pass) add(base64(`${user}:${pass}`));
      for (const [k, v] of u.searchParams) if (SECRET_PARAM.test(k)) add(v);
    } catch { /* not a URL: nothing in it */ }
    if (action.body && action.body.length >= 8) {
      add(action.body);
      for (const leaf of jsonStrings(action.body)) add(leaf);
    }
  } else if (action.type === "shell") {
    for (const v of Object.values(action.env ?? {})) add(v);
  } else if (action.type === "heartbeat") {
    add(action.pingKey); // a script's log may quote its own ping URL
  }
  // Each also as it reads inside a JSON string or a URL (an echo of the request).
  const all = out.flatMap((v) => [
    v,
    JSON.stringify(v).slice(1, -1),
    encodeURIComponent(v),
    encodeURIComponent(v).replaceAll("%20", "+"),
  ]);
  // Longest first, so a value containing another is blanked whole.
  return [...new Set(all)].sort((a, b) => b.length - a.length);
}

function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/** The string values of a JSON body, or none when it is not JSON. */
function jsonStrings(text: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  const out: string[] = [];
  const stack = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === "string") out.push(v);
    else if (v && typeof v === "object") stack.push(...Object.values(v));
  }
  return out;
}

/**
 * Run output with the action's secret values blanked out.
 *
 * @example
 * ```ts
 * redactOutput('{"authorization":"Bearer t0k3n"}', action); // '{"authorization":"[redacted]"}'
 * ```
 */
export function redactOutput(
  output: string | null,
  action: Action,
): string | null {
  if (output === null) return null;
  let text = output;
  for (const v of secretValues(action)) text = text.split(v).join(REDACTED);
  return text;
}
