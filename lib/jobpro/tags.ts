/**
 * Tags: short lowercase words on a job (`billing`, `nightly`, `team.data`)
 * that the job list filters by and bulk actions select with. One rule for
 * every place that reads a tag — a job's definition, the list's filter, the
 * dashboard, the command line — so a tag that can be stored can be asked
 * for. Browser-safe: no schema library, no I/O.
 *
 * @example
 * ```ts
 * tagProblem("Billing"); // 'must be lowercase letters, digits, ...'
 * hasTags(["billing", "nightly"], ["nightly"]); // true
 * ```
 * @module
 */

/** A tag: a lowercase letter or digit, then lowercase letters, digits, `_`, `.` or `-`. */
export const TAG_PATTERN = /^[a-z0-9][a-z0-9_.-]*$/;
/** Longest tag, in characters. */
export const MAX_TAG_LENGTH = 32;
/** Most tags on one job. */
export const MAX_TAGS = 20;

/**
 * What is wrong with a tag, or null when it is one.
 *
 * @example
 * ```ts
 * tagProblem("nightly"); // null
 * tagProblem(""); // "must not be empty"
 * ```
 */
export function tagProblem(tag: string): string | null {
  if (tag === "") return "must not be empty";
  if (tag.length > MAX_TAG_LENGTH) {
    return `must be at most ${MAX_TAG_LENGTH} characters (this one has ${tag.length})`;
  }
  if (!TAG_PATTERN.test(tag)) {
    return "must be lowercase letters, digits, '_', '.' or '-', starting with a letter or digit";
  }
  return null;
}

/**
 * The first problem of a job's tag list: which tag (its index) and why;
 * null when the list is good.
 *
 * @example
 * ```ts
 * tagsProblem(["a", "a"]); // { index: 1, message: '"a" is given twice (also at 0)' }
 * ```
 */
export function tagsProblem(
  tags: readonly string[],
): { index: number | null; message: string } | null {
  if (tags.length > MAX_TAGS) {
    return {
      index: null,
      message: `at most ${MAX_TAGS} tags, got ${tags.length}`,
    };
  }
  const seen = new Map<string, number>();
  for (const [index, tag] of tags.entries()) {
    const problem = tagProblem(tag);
    if (problem) {
      return { index, message: `${JSON.stringify(tag)} ${problem}` };
    }
    const first = seen.get(tag);
    if (first !== undefined) {
      return {
        index,
        message: `${JSON.stringify(tag)} is given twice (also at ${first})`,
      };
    }
    seen.set(tag, index);
  }
  return null;
}

/**
 * Tags as one text holds them: a comma list, each piece trimmed, empty
 * ones dropped (checking is {@link tagProblem}'s job: a space inside a tag
 * is an error, never two tags).
 *
 * @example
 * ```ts
 * splitTags("billing, nightly"); // ["billing", "nightly"]
 * ```
 */
export function splitTags(text: string): string[] {
  return text.split(",").map((t) => t.trim()).filter((t) => t !== "");
}

/**
 * Whether a job's tags include every wanted one (several combine with AND).
 *
 * @example
 * ```ts
 * hasTags(["billing"], ["billing", "nightly"]); // false
 * ```
 */
export function hasTags(
  tags: readonly string[],
  wanted: readonly string[],
): boolean {
  return wanted.every((t) => tags.includes(t));
}
