/**
 * Concurrency limits: what a concurrency key may be, how many runs of one
 * key may go at once, and how limits are read from the environment
 * (`JOBPRO_CONCURRENCY="backups=1,reports=2"`) and from a client's body.
 *
 * Two limits hold a run back (queue.ts makes it wait, `queued`):
 * - the server-wide cap (`JOBPRO_MAX_CONCURRENT_RUNS`), per node: the most
 *   runs going at once in one process, as it protects that machine;
 * - a key's limit, for every job whose `concurrencyKey` is that key: the
 *   most runs of the key going at once across the whole cluster, checked
 *   and taken in the database when a run starts (store.ts `startQueued`).
 *
 * Limits set through the API are stored (they survive restarts and every
 * node shares them); the environment's are defaults written at start for
 * keys that have none stored.
 *
 * @example
 * ```ts
 * parseLimitsText("backups=1,reports=2"); // { backups: 1, reports: 2 }
 * keyProblem("Backups"); // "must be 1-64 lowercase letters, digits, ..."
 * ```
 * @module
 */
import { invalid } from "./errors.ts";

/** A concurrency key: 1-64 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit. */
export const KEY_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** The most a key's limit may be. */
export const MAX_LIMIT = 10_000;

/** Limits by key. */
export type Limits = Record<string, number>;

/** Why `key` is not a concurrency key, or null when it is one. */
export function keyProblem(key: string): string | null {
  if (KEY_PATTERN.test(key)) return null;
  return key.length > 64
    ? `is ${key.length} characters long; a concurrency key has at most 64`
    : "must be 1-64 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit";
}

/** Why `n` is not a limit, or null when it is one. */
export function limitProblem(n: unknown): string | null {
  if (
    typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= MAX_LIMIT
  ) {
    return null;
  }
  return `must be a whole number of runs from 1 to ${MAX_LIMIT}, got ${
    JSON.stringify(n) ?? String(n)
  }`;
}

/**
 * A client's change of limits: `{ "backups": 1, "reports": null }` sets
 * `backups` to 1 and removes the limit of `reports`. Throws `invalid`
 * naming the key (`limits.<key>`) and what is wrong; nothing is changed then.
 *
 * @example
 * ```ts
 * parseLimitsBody({ limits: { backups: 2 } }); // { backups: 2 }
 * ```
 */
export function parseLimitsBody(body: unknown): Record<string, number | null> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid(
      "body",
      'must be an object such as {"limits": {"backups": 1}}',
    );
  }
  for (const k of Object.keys(body)) {
    if (k !== "limits") throw invalid(k, "is not a known field");
  }
  const limits = (body as { limits?: unknown }).limits;
  if (typeof limits !== "object" || limits === null || Array.isArray(limits)) {
    throw invalid(
      "limits",
      'is required: an object of key to limit, such as {"backups": 1} (null removes a limit)',
    );
  }
  const out: Record<string, number | null> = {};
  for (const [key, n] of Object.entries(limits)) {
    const bad = keyProblem(key);
    if (bad) {
      throw invalid(`limits.${key}`, `the key ${JSON.stringify(key)} ${bad}`);
    }
    if (n !== null) {
      const wrong = limitProblem(n);
      if (wrong) throw invalid(`limits.${key}`, wrong);
    }
    out[key] = n as number | null;
  }
  if (Object.keys(out).length > 1000) {
    throw invalid("limits", "at most 1,000 keys at once");
  }
  return out;
}

/**
 * Limits from text such as `backups=1,reports=2` (the environment's, and
 * the CLI's `KEY=N` words); throws `invalid` naming `field` on a bad entry.
 *
 * @example
 * ```ts
 * parseLimitsText("backups=1, reports=2"); // { backups: 1, reports: 2 }
 * ```
 */
export function parseLimitsText(
  text: string,
  field = "JOBPRO_CONCURRENCY",
): Limits {
  const out: Limits = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = part.match(/^([^=\s]+)\s*=\s*(\S+)$/);
    if (!m) {
      throw invalid(field, `"${part}" is not KEY=N (such as backups=1)`);
    }
    const bad = keyProblem(m[1]);
    if (bad) throw invalid(field, `the key "${m[1]}" ${bad}`);
    const n = /^\d+$/.test(m[2]) ? Number(m[2]) : NaN;
    const wrong = limitProblem(n);
    if (wrong) {
      throw invalid(
        field,
        `${m[1]}: ${wrong.replace(/, got .*/, `, got "${m[2]}"`)}`,
      );
    }
    out[m[1]] = n;
  }
  return out;
}

/**
 * The server-wide cap from `JOBPRO_MAX_CONCURRENT_RUNS` (unset or empty:
 * none); throws `invalid` naming it when it is not a positive whole number.
 *
 * @example
 * ```ts
 * parseMaxRuns("4"); // 4
 * ```
 */
export function parseMaxRuns(
  text: string | undefined,
  field = "JOBPRO_MAX_CONCURRENT_RUNS",
): number | null {
  if (text === undefined || text.trim() === "") return null;
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw invalid(
      field,
      `must be a whole number of runs, 1 or more, got "${text}"`,
    );
  }
  return n;
}
