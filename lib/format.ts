/**
 * Formatting shared by server-rendered components and islands: relative
 * times, durations, success-rate colors. No dependencies, so it is cheap in
 * the browser bundle.
 *
 * @example
 * ```ts
 * timeAgo(Date.now() - 90_000, Date.now()); // "1m 30s ago"
 * ```
 * @module
 */

/**
 * A span of time in words: "45s", "3m 5s", "2h 10m", "3d 4h".
 *
 * @example
 * ```ts
 * span(3_725_000); // "1h 2m"
 * ```
 */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/**
 * "in 5s", "now", or "5s ago" relative to `now`.
 *
 * @example
 * ```ts
 * relative(Date.now() + 5000, Date.now()); // "in 5s"
 * ```
 */
export function relative(at: number, now: number): string {
  const d = at - now;
  if (Math.abs(d) < 1000) return "now";
  return d > 0 ? `in ${span(d)}` : `${span(-d)} ago`;
}

/**
 * A run duration: "850 ms", "2.4 s", "3m 5s".
 *
 * @example
 * ```ts
 * duration(2400); // "2.4 s"
 * ```
 */
export function duration(ms: number | null): string {
  if (ms === null) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return span(ms);
}

/**
 * The seed's success-rate colors: green >= 80%, amber >= 50%, red below.
 *
 * @example
 * ```ts
 * rateClass(85); // "rate-good"
 * ```
 */
export function rateClass(rate: number | null): string {
  if (rate === null) return "rate-none";
  return rate >= 80 ? "rate-good" : rate >= 50 ? "rate-warn" : "rate-bad";
}

/**
 * An ISO time as "2024-01-15 14:30:00 UTC".
 *
 * @example
 * ```ts
 * utc("2024-01-15T14:30:00.000Z"); // "2024-01-15 14:30:00 UTC"
 * ```
 */
export function utc(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

const sameDay = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const otherDay = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const otherYear = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

/**
 * An ISO time in the viewer's zone and locale, as short as stays clear: the
 * time alone today, month and day this year, the year otherwise.
 *
 * @example
 * ```ts
 * localTime("2024-01-15T14:30:00.000Z"); // "Jan 15, 2024, 03:30 PM" in Berlin, en-US
 * ```
 */
export function localTime(iso: string, now: number = Date.now()): string {
  const at = new Date(iso);
  const today = new Date(now);
  if (at.toDateString() === today.toDateString()) return sameDay.format(at);
  return at.getFullYear() === today.getFullYear()
    ? otherDay.format(at)
    : otherYear.format(at);
}

/** Formatters by zone and style, made once: Intl formatters are costly to build. */
const zoned = new Map<string, Intl.DateTimeFormat>();

function formatter(
  zone: string | undefined,
  style: "day" | "year" | "time" | "name" | "date",
  locale?: string,
): Intl.DateTimeFormat {
  const key = `${zone}\u0000${style}\u0000${locale}`;
  let f = zoned.get(key);
  if (!f) {
    const time = {
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    } as const;
    const options: Record<string, Intl.DateTimeFormatOptions> = {
      time,
      day: { month: "short", day: "numeric", ...time },
      year: {
        year: "numeric",
        month: "short",
        day: "numeric",
        hour: "2-digit",
        minute: "2-digit",
      },
      name: { timeZoneName: "short" },
      date: { year: "numeric", month: "2-digit", day: "2-digit" },
    };
    f = new Intl.DateTimeFormat(locale, { ...options[style], timeZone: zone });
    if (zoned.size > 200) zoned.clear();
    zoned.set(key, f);
  }
  return f;
}

/**
 * A zone's short name at an instant: "UTC", "CET", "EST", or "GMT+9" where
 * a zone has no abbreviation people use (undefined: the viewer's zone).
 *
 * @example
 * ```ts
 * zoneName("Europe/Berlin", Date.UTC(2024, 0, 15)); // "CET"
 * zoneName("America/New_York", Date.UTC(2024, 6, 1)); // "EDT"
 * ```
 */
export function zoneName(zone: string | undefined, at: number): string {
  const name = (locale: string) =>
    formatter(zone, "name", locale).formatToParts(at).find((p) =>
      p.type === "timeZoneName"
    )?.value ?? "";
  // en-US knows the American abbreviations, en-GB the European ones.
  const us = name("en-US");
  if (!/^GMT[+-]/.test(us)) return us;
  const gb = name("en-GB");
  return /^GMT[+-]/.test(gb) ? us : gb;
}

/**
 * An ISO time in `zone` (undefined: the viewer's), as short as stays clear
 * (as {@link localTime}), followed by the zone's short name.
 *
 * @example
 * ```ts
 * zonedTime("2024-01-15T14:30:00.000Z", "Europe/Berlin", Date.UTC(2025, 0, 1)); // "Jan 15, 2024, 03:30 PM CET"
 * ```
 */
export function zonedTime(
  iso: string,
  zone: string | undefined,
  now: number = Date.now(),
): string {
  const at = Date.parse(iso);
  // "2024-01-15" in the zone: en-CA writes dates so.
  const day = (ms: number) => formatter(zone, "date", "en-CA").format(ms);
  const year = (ms: number) => day(ms).slice(0, 4);
  const style = day(at) === day(now)
    ? "time"
    : year(at) === year(now)
    ? "day"
    : "year";
  return `${formatter(zone, style).format(at)} ${zoneName(zone, at)}`;
}

/**
 * A success rate in percent, or "–" before the first run.
 *
 * @example
 * ```ts
 * percent(87.5); // "87.5%"
 * ```
 */
export function percent(rate: number | null): string {
  return rate === null ? "–" : `${rate}%`;
}

/**
 * A count with thousands separators, the same on the server and in browsers.
 *
 * @example
 * ```ts
 * count(10000); // "10,000"
 * ```
 */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * "1 run", "2 runs".
 *
 * @example
 * ```ts
 * plural(3, "job"); // "3 jobs"
 * ```
 */
export function plural(n: number, word: string): string {
  return `${count(n)} ${word}${n === 1 ? "" : "s"}`;
}
