/**
 * `[redacted]` left in a definition: where a view hid a secret (secrets.ts,
 * notify.ts) and a write sent the placeholder back with no stored value to
 * take it from. Such a job would send the literal text (a header
 * `Authorization: [redacted]`), so it is refused, naming the field.
 *
 * @example
 * ```ts
 * redactedPaths({ type: "http", url: "http://h/", headers: { Authorization: "[redacted]" } }, []);
 * // ["action.headers.Authorization"]
 * ```
 * @module
 */
import { invalid } from "./errors.ts";
import type { Action } from "./job.ts";
import type { NotifyRule } from "./notify.ts";
import { REDACTED } from "./secrets.ts";

const ENCODED = encodeURIComponent(REDACTED);
const isPlaceholder = (v: string | undefined) =>
  v === REDACTED || v === ENCODED;
const hasPlaceholder = (v: string | undefined) =>
  v !== undefined && (v.includes(REDACTED) || v.includes(ENCODED));

/** The paths of the secret places of an action and alert rules that hold the placeholder. */
export function redactedPaths(
  action: Action,
  notify: readonly NotifyRule[] | undefined,
): string[] {
  const out: string[] = [];
  if (action.type === "http") {
    if (hasPlaceholder(action.url)) out.push("action.url");
    for (const [k, v] of Object.entries(action.headers ?? {})) {
      if (isPlaceholder(v)) out.push(`action.headers.${k}`);
    }
    if (isPlaceholder(action.body)) out.push("action.body");
  } else if (action.type === "shell") {
    for (const [k, v] of Object.entries(action.env ?? {})) {
      if (isPlaceholder(v)) out.push(`action.env.${k}`);
    }
  }
  (notify ?? []).forEach((r, i) => {
    if (hasPlaceholder(r.target.webhook)) {
      out.push(`notify.${i}.target.webhook`);
    }
  });
  return out;
}

/**
 * Refuses a definition (its secrets already taken back from the stored job,
 * if any) that still holds the placeholder.
 *
 * @example
 * ```ts
 * refuseRedacted(input.action, input.notify); // throws invalid "action.headers.Authorization"
 * ```
 */
export function refuseRedacted(
  action: Action,
  notify: readonly NotifyRule[] | undefined,
): void {
  const [path] = redactedPaths(action, notify);
  if (path === undefined) return;
  throw invalid(
    path,
    `is "${REDACTED}" (a hidden secret) and there is no stored value to keep; give the secret itself (an export or read made with the full token has it)`,
  );
}
