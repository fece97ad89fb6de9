import { assertEquals } from "@std/assert";
import { isoString, parseRfc3339 } from "@/lib/jobpro/iso.ts";

Deno.test("isoString matches Date#toISOString across years 0000-9999, leap days and edges", () => {
  const fixed = [
    0,
    -1,
    951_782_400_000, // 2000-02-29
    4_107_542_399_999, // 2100-02-28T23:59:59.999
    Date.UTC(1969, 11, 31, 23, 59, 59, 999),
    Date.UTC(0, 0, 1) - 0, // year 1900 (Date.UTC maps 0 to 1900)
    -62_167_219_200_000, // 0000-01-01
    253_402_300_799_999, // 9999-12-31T23:59:59.999
  ];
  for (const ms of fixed) {
    assertEquals(isoString(ms), new Date(ms).toISOString(), String(ms));
  }
  let seed = 42;
  const random = () =>
    (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.floor(
      -62_167_219_200_000 +
        random() * (253_402_300_799_999 + 62_167_219_200_000),
    );
    assertEquals(isoString(ms), new Date(ms).toISOString(), String(ms));
  }
});

Deno.test("parseRfc3339 reads RFC 3339 date-times with a zone, and nothing else", () => {
  const ok: [string, string][] = [
    ["2023-02-21T00:00:00Z", "2023-02-21T00:00:00.000Z"],
    ["2023-02-21t00:00:00z", "2023-02-21T00:00:00.000Z"],
    ["2023-02-21 00:00:00Z", "2023-02-21T00:00:00.000Z"],
    ["2024-01-15T14:30:00+01:00", "2024-01-15T13:30:00.000Z"],
    ["2024-01-15T14:30:00-08:00", "2024-01-15T22:30:00.000Z"],
    ["2024-01-15T14:30:00.25Z", "2024-01-15T14:30:00.250Z"],
    ["2024-01-15T14:30:00.123456789Z", "2024-01-15T14:30:00.123Z"],
    ["2024-02-29T23:59:59Z", "2024-02-29T23:59:59.000Z"],
    ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"],
  ];
  for (const [text, want] of ok) {
    assertEquals(new Date(parseRfc3339(text)!).toISOString(), want, text);
  }
  for (
    const bad of [
      "0",
      "12",
      "2023",
      "2023-02-21",
      "2023-02-21T00:00:00", // no zone: not read in the server's zone
      "2023-02-21T00:00Z",
      "2023-02-30T00:00:00Z",
      "2023-02-29T00:00:00Z",
      "2023-13-01T00:00:00Z",
      "2023-01-01T24:00:00Z",
      "2023-01-01T00:60:00Z",
      "2023-01-01T00:00:60Z",
      "2023-01-01T00:00:00+24:00",
      "2023-01-01T00:00:00+0100",
      "Tue, 21 Feb 2023 00:00:00 GMT",
      " 2023-02-21T00:00:00Z",
      "",
    ]
  ) assertEquals(parseRfc3339(bad), null, bad);
});
