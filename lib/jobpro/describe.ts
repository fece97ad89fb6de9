/**
 * Schedules in English, for the dashboard's frequency tooltip and the
 * schedule preview: cron through cronstrue ("Every 15 seconds"), one-time as
 * its UTC instant, manual as "manual".
 *
 * @example
 * ```ts
 * import { describeSchedule } from "./describe.ts";
 * describeSchedule({ kind: "cron", expr: "*\/15 * * * * *", timezone: "UTC" }); // "Every 15 seconds"
 * ```
 * @module
 */
import cronstrue from "cronstrue";
import { compileCron } from "./cron.ts";
import { describeEvery } from "./every.ts";
import type { CronSpec } from "./cron.ts";
import type { Schedule } from "./schedule.ts";

/**
 * One line of English for a schedule: cron in words (with its zone when the
 * zone matters), `Once at 2024-01-15 22:30:00 UTC`, or `manual`.
 *
 * @example
 * ```ts
 * describeSchedule({ kind: "cron", expr: "30 2 * * *", timezone: "UTC" }); // "At 02:30 AM"
 * describeSchedule({ kind: "once", expr: "in 1h", at: new Date("2024-01-15T22:30:00Z") });
 * // "Once at 2024-01-15 22:30:00 UTC"
 * describeSchedule({ kind: "manual", expr: "" }); // "manual"
 * ```
 */
export function describeSchedule(s: Schedule): string {
  switch (s.kind) {
    case "manual":
      return "manual";
    case "once":
      return `Once at ${formatUtc(s.at)}`;
    case "cron":
      return describeCron(compileCron(s.expr), s.timezone);
    case "every":
      return describeEvery(s.everyMs);
  }
}

/**
 * A cron spec in English. When day-of-month and day-of-week are both
 * restricted the day part says "or", since either day fires. The zone is
 * appended when it is not UTC and the hour or day fields are restricted (for
 * seconds and minutes alone the zone makes no difference).
 *
 * @example
 * ```ts
 * describeCron(compileCron("0 0 13 * 5")); // "At 12:00 AM, on day 13 of the month, or on Friday"
 * describeCron(compileCron("30 2 * * *"), "America/New_York"); // "At 02:30 AM (America/New_York)"
 * ```
 */
export function describeCron(spec: CronSpec, timezone = "UTC"): string {
  let text: string;
  try {
    text = english(spec.fields);
    if (!spec.stars[3] && !spec.stars[5]) {
      text = sayOrForDays(spec.fields, text);
    }
  } catch {
    // cronstrue throws strings; a pattern it cannot word is shown as written.
    text = `cron ${spec.fields.join(" ")}`;
  }
  const zoneMatters = spec.stars.slice(2).some((star) => !star);
  return timezone !== "UTC" && zoneMatters ? `${text} (${timezone})` : text;
}

function english(fields: readonly string[]): string {
  return cronstrue.toString(fields.join(" "), {
    throwExceptionOnParseError: true,
    use24HourTimeFormat: false,
  });
}

/**
 * cronstrue joins the day-of-week part with "and" ("on day 13 of the month,
 * and on Friday"); rewords it with "or". The day-of-week part is found as the
 * text that differs from the description without it.
 */
function sayOrForDays(fields: readonly string[], full: string): string {
  const without = english(fields.map((f, i) => (i === 5 ? "*" : f)));
  let prefix = 0;
  while (prefix < without.length && full[prefix] === without[prefix]) prefix++;
  let suffix = 0;
  const maxSuffix = without.length - prefix;
  while (
    suffix < maxSuffix &&
    full[full.length - 1 - suffix] === without[without.length - 1 - suffix]
  ) suffix++;
  let start = prefix;
  while (start > 0 && !full.startsWith(", ", start)) start--;
  const part = full.slice(start, full.length - suffix);
  if (!part.startsWith(", ")) return full;
  const reworded = part.startsWith(", and on ")
    ? `, or on ${part.slice(9)}`
    : `, or ${part.slice(2)}`;
  return full.slice(0, start) + reworded + full.slice(full.length - suffix);
}

/**
 * An instant as `YYYY-MM-DD HH:MM:SS UTC` (milliseconds shown only when set).
 *
 * @example
 * ```ts
 * formatUtc(new Date("2024-01-15T22:30:00Z")); // "2024-01-15 22:30:00 UTC"
 * ```
 */
export function formatUtc(d: Date): string {
  const iso = d.toISOString();
  const ms = iso.slice(19, 23) === ".000" ? "" : iso.slice(19, 23);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms} UTC`;
}
