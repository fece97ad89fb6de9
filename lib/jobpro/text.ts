/**
 * Small text helpers shared by the schedule parsers (cron, `@every`, one-time
 * times): character classes, word splitting, month and day names and their
 * lookup, and the clipping of user text quoted in an error message.
 *
 * @example
 * ```ts
 * import { clip, splitWords } from "./text.ts";
 * splitWords("  *\/5   *\t* * * "); // ["*\/5", "*", "*", "*", "*"]
 * clip("x".repeat(50)); // "xxxx...x..." (40 characters and "...")
 * ```
 * @module
 */

/** Month names, January first, lower case. */
export const MONTH_NAMES = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
] as const;

/** Day names, Sunday (0) first, lower case. */
export const DAY_NAMES = [
  "sunday",
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
] as const;

/**
 * The index of a name in `names` (lower case), written in full or as its
 * first three letters, in any letter case; undefined when it is neither.
 *
 * @example
 * ```ts
 * nameIndex("Feb", MONTH_NAMES); // 1
 * nameIndex("SATURDAY", DAY_NAMES); // 6
 * nameIndex("sa", DAY_NAMES); // undefined
 * ```
 */
export function nameIndex(
  word: string,
  names: readonly string[],
): number | undefined {
  const w = word.toLowerCase();
  const i = names.findIndex((n) =>
    n === w || (w.length === 3 && n.startsWith(w))
  );
  return i < 0 ? undefined : i;
}

/** The word with its first letter in upper case (`"feb"` → `"Feb"`). */
export function capitalize(word: string): string {
  return word[0].toUpperCase() + word.slice(1);
}

/** An ASCII digit. */
export function isDigit(c: string | undefined): boolean {
  return c !== undefined && c.length === 1 && c >= "0" && c <= "9";
}

/** ASCII letters only: `toLowerCase` would let some non-ASCII letters through. */
export function isLetter(c: string | undefined): boolean {
  if (c === undefined || c.length !== 1) return false;
  const code = c.charCodeAt(0) | 0x20;
  return code >= 97 && code <= 122;
}

/** Whether `s` is non-empty and every character satisfies `pred`. */
export function allChars(s: string, pred: (c: string) => boolean): boolean {
  for (const c of s) if (!pred(c)) return false;
  return s.length > 0;
}

/**
 * Splits on runs of spaces, tabs and line breaks, in one linear pass.
 *
 * @example
 * ```ts
 * splitWords(" a  b\tc "); // ["a", "b", "c"]
 * ```
 */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = "";
  for (const c of s) {
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (cur) words.push(cur);
      cur = "";
    } else cur += c;
  }
  if (cur) words.push(cur);
  return words;
}

/** Shortens user text quoted in an error message. */
export function clip(s: string, max = 40): string {
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/** C0 and C1 control characters and the Unicode line and paragraph separators. */
const CONTROL = /[\p{Cc}\u2028\u2029]/gu;

/**
 * Text safe to write as one log line: control characters (line breaks, ESC,
 * NUL, ...) and Unicode line separators written as escapes, so user text
 * cannot forge a line such as `[jobpro] error: ...` or recolor a terminal.
 *
 * @example
 * ```ts
 * escapeControl("ok\n[jobpro] error: forged"); // "ok\\n[jobpro] error: forged"
 * ```
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    switch (c) {
      case "\n":
        return "\\n";
      case "\r":
        return "\\r";
      case "\t":
        return "\\t";
      default:
        return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    }
  });
}
