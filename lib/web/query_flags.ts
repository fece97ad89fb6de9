/**
 * Yes/no query parameters (`?dryRun=1`, `?prune=true`): present with `1`,
 * `true`, `yes` or nothing is yes; `0`, `false`, `no` or absent is no;
 * anything else is a 400 naming the parameter.
 *
 * @example
 * ```ts
 * flagParam(new URL("http://x/jobs/apply?dryRun=1"), "dryRun"); // true
 * ```
 * @module
 */
import { ApiError } from "./api.ts";

const YES = new Set(["", "1", "true", "yes"]);
const NO = new Set(["0", "false", "no"]);

/** The yes/no parameter `name` of the URL (see the module comment). */
export function flagParam(url: URL, name: string): boolean {
  const values = url.searchParams.getAll(name);
  if (!values.length) return false;
  const v = values.at(-1)!.toLowerCase();
  if (YES.has(v)) return true;
  if (NO.has(v)) return false;
  throw new ApiError(
    400,
    "invalid",
    `${name}: must be 1 or 0 (true or false), got "${
      values.at(-1)!.slice(0, 40)
    }"`,
    name,
  );
}
