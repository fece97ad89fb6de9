/**
 * ISO 8601 UTC strings from epoch milliseconds, fast. `Date#toISOString`
 * costs about 1.5 µs in Deno; the engine formats several times per run (run
 * and job views for the API and events), which made it a fifth of the CPU at
 * 40,000 runs a second.
 *
 * @example
 * ```ts
 * isoString(0); // "1970-01-01T00:00:00.000Z"
 * ```
 * @module
 */

const pad2 = (n: number) => (n < 10 ? "0" : "") + n;
const pad3 = (n: number) => (n < 10 ? "00" : n < 100 ? "0" : "") + n;

/**
 * The same string as `new Date(ms).toISOString()` for years 0000-9999.
 *
 * @example
 * ```ts
 * isoString(Date.UTC(2024, 0, 15, 14, 30)); // "2024-01-15T14:30:00.000Z"
 * ```
 */
export function isoString(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  if (days < -719_528 || days > 2_932_896 || !Number.isFinite(ms)) {
    return new Date(ms).toISOString(); // outside 0000-9999: let Date decide
  }
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) -
      Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const milli = rest - s * 1000;
  const y = year < 1000 ? String(year).padStart(4, "0") : String(year);
  return `${y}-${pad2(month)}-${pad2(day)}T${pad2(h)}:${pad2(m)}:${pad2(s)}.${
    pad3(milli)
  }Z`;
}
