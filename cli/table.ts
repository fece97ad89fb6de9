/**
 * Plain-text output: aligned tables, `key  value` blocks, and cells made safe
 * for a terminal (control characters and line breaks removed, long text cut).
 *
 * @example
 * ```ts
 * console.log(table([{ id: "a", n: 3 }], [
 *   { header: "ID", value: (r) => r.id },
 *   { header: "RUNS", value: (r) => String(r.n), align: "right" },
 * ]));
 * // ID  RUNS
 * // a      3
 * ```
 * @module
 */

/** One column: a header and how to get a row's cell. */
export interface Column<T> {
  header: string;
  value: (row: T) => string;
  align?: "left" | "right";
  /** Cut cells longer than this, with "…". */
  max?: number;
}

/**
 * One line of text safe to print: control characters and line breaks become
 * spaces, runs of spaces collapse, and text over `max` is cut with "…".
 *
 * @example
 * ```ts
 * cell("a\nb\u001b[31m", 10); // "a b [31m"
 * ```
 */
export function cell(text: string, max = Infinity): string {
  // deno-lint-ignore no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ")
    .replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

// deno-lint-ignore no-control-regex
const CONTROL_BUT_NL_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text that may span lines (a run's output), with control characters other
 * than newline and tab removed.
 *
 * @example
 * ```ts
 * block("ok\r\n\u001b[0m"); // "ok\n[0m"
 * ```
 */
export function block(text: string): string {
  return text.replace(/\r\n?/g, "\n").replace(CONTROL_BUT_NL_TAB, "");
}

/**
 * Rows as an aligned table with a header line; columns are two spaces apart
 * and lines carry no trailing spaces.
 *
 * @example
 * ```ts
 * table([{ id: "a" }], [{ header: "ID", value: (r) => r.id }]); // "ID\na"
 * ```
 */
export function table<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(c.value(r), c.max)));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((row) => row[i].length))
  );
  const line = (values: string[]) =>
    values.map((v, i) =>
      columns[i].align === "right" ? v.padStart(widths[i]) : v.padEnd(widths[i])
    ).join("  ").trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join("\n");
}

/**
 * `key  value` lines with the keys aligned; undefined values are skipped.
 *
 * @example
 * ```ts
 * pairs([["id", "a"], ["status", "paused"]]); // "id      a\nstatus  paused"
 * ```
 */
export function pairs(rows: [string, string | undefined][]): string {
  const shown = rows.filter((r): r is [string, string] => r[1] !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`.trimEnd())
    .join("\n");
}
