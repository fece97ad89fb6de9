/**
 * The job page's live output viewer as plain data (lib/dashboard/run_output.ts):
 * pieces are appended by offset, once; a gap is reported; a read that comes
 * back older than the pieces since never takes them away; a finished run is
 * left as its read says.
 */
import { assertEquals } from "@std/assert";
import type { RunView } from "@/lib/jobpro/runtime.ts";
import { afterRead, withOutputPiece } from "@/lib/dashboard/run_output.ts";

const going: RunView = {
  id: 7,
  jobId: "a",
  trigger: "manual",
  attempt: 1,
  scheduledFor: null,
  startedAt: "2024-01-15T12:00:00.000Z",
  endedAt: null,
  durationMs: null,
  status: "running",
  message: null,
  error: null,
  parentJobId: null,
  parentRunId: null,
  output: "one\n",
  outputOffset: 0,
};

Deno.test("run output: pieces append by offset, once; a gap is counted", () => {
  const a = withOutputPiece(going, { offset: 4, chunk: "two\n" });
  assertEquals([a.run.output, a.missed], ["one\ntwo\n", 0]);
  const again = withOutputPiece(a.run, { offset: 0, chunk: "one\ntwo\n" });
  assertEquals(again.run, a.run); // nothing new: the same object
  const gap = withOutputPiece(a.run, { offset: 20, chunk: "far\n" });
  assertEquals([gap.run.output, gap.run.outputOffset, gap.missed], [
    "far\n",
    20,
    12,
  ]);
  const ended = { ...going, status: "complete" as const };
  assertEquals(withOutputPiece(ended, { offset: 4, chunk: "x" }).run, ended);
});

Deno.test("run output: a read older than the pieces keeps them; a finished read wins", () => {
  const shown = withOutputPiece(going, { offset: 4, chunk: "two\n" }).run;
  const stale = afterRead(shown, { ...going, durationMs: 5 });
  assertEquals([stale.output, stale.durationMs], ["one\ntwo\n", 5]);
  const newer = afterRead(shown, { ...going, output: "one\ntwo\nthree\n" });
  assertEquals(newer.output, "one\ntwo\nthree\n");
  const done = { ...going, status: "complete" as const, output: "all\n" };
  assertEquals(afterRead(shown, done), done);
  assertEquals(afterRead(null, going), going);
});
