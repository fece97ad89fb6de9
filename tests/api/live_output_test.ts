/**
 * Live output over HTTP, on a real jobpro (random port, a DuckDB file in a
 * temp dir): `GET /jobs/events?output=JOB` streams `run-output` events of a
 * running program (each with the offset of its chunk), a viewer that comes
 * in mid-run reads the output so far (`GET` of the run: `output` and
 * `outputOffset`) and then gets the rest with no gap and no repeat, a
 * stream that did not ask gets no output at all, and bad parameters are
 * 400/404 naming the field. The program waits for a file the test creates,
 * so chunk 1 is seen before chunk 2 exists.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { mergeOutput } from "@/lib/jobpro/live_output.ts";
import { call, openSse, type SseClient, withServer } from "./helpers.ts";

/** The output a viewer shows from a read and then the stream's pieces. */
function merged(
  start: { offset: number; text: string },
  sse: SseClient,
  runId: number,
) {
  let shown = start;
  let repeated = 0;
  let missed = 0;
  for (const e of sse.events) {
    if (e.event !== "run-output") continue;
    const piece = JSON.parse(e.data);
    if (piece.runId !== runId) continue;
    const next = mergeOutput(shown, piece);
    repeated += piece.chunk.length - next.added.length;
    missed += next.missed;
    shown = { offset: next.offset, text: next.text };
  }
  return { text: shown.text, repeated, missed };
}

Deno.test("run-output events stream a running program; a viewer that comes in mid-run gets the output so far, then the rest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jobpro-live-" });
  try {
    await withServer(async (jp) => {
      const gate = `${dir}/go`;
      const made = await call(jp, "POST", "/jobs", {
        id: "chatty",
        name: "Chatty",
        schedule: "",
        autoStart: false,
        action: {
          type: "shell",
          command: [
            "sh",
            "-c",
            `echo one; while [ ! -e "$0" ]; do sleep 0.01; done; echo two`,
            gate,
          ],
        },
      });
      assertEquals(made.status, 201, made.text);
      const early = await openSse(`${jp.url}/jobs/events?output=chatty`);
      const table = await openSse(`${jp.url}/jobs/events`);
      try {
        const ran = await call(jp, "POST", "/jobs/chatty/run");
        assertEquals(ran.status, 200, ran.text);
        const runId: number = ran.body.run?.id ?? ran.body.id;
        await early.until(
          () => merged({ offset: 0, text: "" }, early, runId).text === "one\n",
          "chunk 1",
        );
        const first = early.events.find((e) => e.event === "run-output")!;
        const piece = JSON.parse(first.data);
        assertEquals(piece, {
          jobId: "chatty",
          runId,
          offset: 0,
          chunk: "one\n",
        });
        assert(first.id !== null, "a run-output event has an id");
        // A viewer opening now: connect first, then read the run.
        const late = await openSse(`${jp.url}/jobs/events?output=chatty`);
        try {
          const mid = await call(jp, "GET", `/jobs/chatty/runs/${runId}`);
          assertEquals(mid.status, 200, mid.text);
          assertEquals(mid.body.status, "running");
          assertEquals(mid.body.output, "one\n");
          assertEquals(mid.body.outputOffset, 0);
          await Deno.writeTextFile(gate, "");
          await late.until(
            () => late.events.some((e) => e.event === "run-finished"),
            "the run's end",
          );
          const lateView = merged(
            { offset: mid.body.outputOffset, text: mid.body.output },
            late,
            runId,
          );
          assertEquals(lateView, {
            text: "one\ntwo\n",
            repeated: 0,
            missed: 0,
          });
        } finally {
          await late.close();
        }
        await early.until(
          () => early.events.some((e) => e.event === "run-finished"),
          "the run's end",
        );
        const earlyView = merged({ offset: 0, text: "" }, early, runId);
        assertEquals(earlyView, { text: "one\ntwo\n", repeated: 0, missed: 0 });
        // Each chunk's offset is where the one before ended.
        const pieces = early.events.filter((e) => e.event === "run-output")
          .map((e) => JSON.parse(e.data));
        pieces.reduce(
          (at, p) => (assertEquals(p.offset, at), at + p.chunk.length),
          0,
        );
        const done = await call(jp, "GET", `/jobs/chatty/runs/${runId}`);
        assertEquals(done.body.status, "complete");
        assertEquals(done.body.output, "one\ntwo\n");
        assertEquals(done.body.outputOffset, undefined);
        // A viewer that reconnects with Last-Event-ID gets the pieces it missed.
        const back = await openSse(`${jp.url}/jobs/events?output=chatty`, {
          "last-event-id": String(Number(first.id) - 1),
        });
        try {
          await back.until(
            () => back.events.some((e) => e.event === "run-finished"),
            "the replay up to the run's end",
          );
          assertEquals(merged({ offset: 0, text: "" }, back, runId), {
            text: "one\ntwo\n",
            repeated: 0,
            missed: 0,
          });
        } finally {
          await back.close();
        }
        // The table's stream did not ask for output and got none.
        await table.until(
          () => table.events.some((e) => e.event === "run-finished"),
          "the table's run-finished",
        );
        assert(!table.events.some((e) => e.event === "run-output"));
      } finally {
        await early.close();
        await table.close();
      }

      const empty = await call(jp, "GET", "/jobs/events?output=", undefined, {
        accept: "text/event-stream",
      });
      assertEquals(empty.status, 400, empty.text);
      assertEquals(empty.body.error.field, "output");
      assertStringIncludes(empty.body.error.message, "output");
      const unknown = await call(
        jp,
        "GET",
        "/jobs/events?output=nope",
        undefined,
        {
          accept: "text/event-stream",
        },
      );
      assertEquals(unknown.status, 404, unknown.text);
      const all = await openSse(`${jp.url}/jobs/events?types=run-output`);
      await all.close();
    }, { JOBPRO_ALLOW_SHELL: "1" });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
