/**
 * The cluster bench reports the median of several bursts (a peer's poll
 * phase decides one burst): the median and its range, a failed burst
 * counted as the lowest and noted.
 */
import { assertEquals } from "@std/assert";
import { medianRate, type Rate } from "@/bench/cluster.ts";

const r = (perSecond: number, note?: string): Rate => ({
  runs: 1000,
  recorded: 1000,
  ms: Math.round(1_000_000 / perSecond),
  perSecond,
  submitPerSecond: 1000,
  ...note ? { note } : {},
});

Deno.test("bench: the median of five bursts, with their range", () => {
  const m = medianRate([r(3650), r(15385), r(5000), r(2000), r(9000)]);
  assertEquals(typeof m === "string" ? m : [m.perSecond, m.of], [5000, {
    n: 5,
    min: 2000,
    max: 15385,
  }]);
});

Deno.test("bench: a failed burst counts as the lowest and is noted; all failed is the failure", () => {
  const m = medianRate(["failed: boom", r(4000, "late"), r(6000)]);
  assertEquals(
    typeof m === "string" ? m : [m.perSecond, m.of, m.note],
    [4000, { n: 3, min: 0, max: 6000 }, "1 failed, first: failed: boom; late"],
  );
  assertEquals(medianRate(["failed: a", "failed: b"]), "failed: a");
});
