import { assertEquals } from "@std/assert";
import { isoString } from "@/lib/jobpro/iso.ts";

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
