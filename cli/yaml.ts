/**
 * A small YAML writer for `-o yaml`: JSON data (objects, arrays, strings,
 * numbers, booleans, null) as block YAML 1.2, the way kubectl prints it.
 * A string is written plain when YAML would read it back as the same
 * string, else double-quoted with JSON's escapes (valid YAML).
 *
 * @example
 * ```ts
 * toYaml({ id: "ping", tags: ["a"], lastRun: null });
 * // "id: ping\ntags:\n  - a\nlastRun: null"
 * ```
 * @module
 */

/** What YAML could read as something other than a string. */
const NOT_PLAIN =
  /^(?:|~|null|true|false|yes|no|on|off|y|n|[-+]?(?:\.inf|\.nan)|[-+]?[\d._]+(?:e[-+]?\d+)?|0x[\da-f_]+|0o[0-7_]+|\d{4}-\d\d-\d\d.*|\.\.\..*)$/i;
/** Safe to write plain: starts with a word character, no `: `, ` #`, quotes or brackets. */
const PLAIN = /^[\w./$^][\w ./@$^*:+=-]*$/u;

/**
 * A scalar as YAML.
 *
 * @example
 * ```ts
 * scalar("yes"); // "\"yes\""
 * ```
 */
export function scalar(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") {
    return Number.isFinite(value) ? String(value) : ".nan";
  }
  if (typeof value === "boolean") return String(value);
  const s = String(value);
  const plain = PLAIN.test(s) && !NOT_PLAIN.test(s) && !s.endsWith(" ") &&
    !s.endsWith(":") && !s.includes(": ") && !s.includes(" #");
  return plain ? s : JSON.stringify(s);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Lines of `value` at `indent`; a collection's first line starts the value. */
function lines(value: unknown, indent: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return ["[]"];
    return value.flatMap((item) => {
      const [first, ...rest] = nested(item, `${indent}  `);
      return [`${indent}- ${first.trimStart()}`, ...rest];
    });
  }
  if (isObject(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return ["{}"];
    return entries.flatMap(([k, v]) => {
      const key = `${indent}${scalar(k)}:`;
      if ((Array.isArray(v) && v.length) || (isObject(v) && hasKeys(v))) {
        return [key, ...lines(v, `${indent}  `)];
      }
      return [`${key} ${lines(v, indent)[0]}`];
    });
  }
  return [scalar(value)];
}

function hasKeys(v: Record<string, unknown>): boolean {
  return Object.values(v).some((x) => x !== undefined);
}

/** An array item: a mapping continues on the item's own line. */
function nested(item: unknown, indent: string): string[] {
  if (isObject(item) && hasKeys(item)) return lines(item, indent);
  if (Array.isArray(item) && item.length) return lines(item, indent);
  return [`${indent}${lines(item, indent)[0]}`];
}

/**
 * JSON data as a YAML document (no trailing newline).
 *
 * @example
 * ```ts
 * toYaml([{ id: "a" }, { id: "b" }]); // "- id: a\n- id: b"
 * ```
 */
export function toYaml(value: unknown): string {
  return lines(value, "").join("\n");
}
