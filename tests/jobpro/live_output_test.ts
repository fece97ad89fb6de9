/**
 * Live output in the engine: a shell run's output reaches watchers while it
 * runs (in order, by offset, no gap and no repeat), a read mid-run answers
 * the output so far (from memory and from the store's running row), the
 * 64 KiB bound holds for a program printing 10 MB at once without flooding
 * the event log, a function writes through `log`, secrets are blanked out
 * even cut across writes (the stores' part, a crash included, is in
 * output_contract.ts). Real DuckDB files, real child processes; each
 * program waits for a file the test creates, so the test sees chunk 1
 * before chunk 2 exists.
 */
import { assert, assertEquals } from "@std/assert";
import {
  createManager,
  type Delivered,
  type Manager,
  openDuckDBStore,
} from "@/lib/jobpro/mod.ts";
import { createRegistry, registerBuiltins } from "@/lib/jobs/mod.ts";
import {
  chunkAfter,
  createLiveOutput,
  decodeLiveOutput,
  encodeLiveOutput,
  MAX_CHUNK_CHARS,
  mergeOutput,
  type RunOutput,
  type RunOutputChunk,
} from "@/lib/jobpro/live_output.ts";
import { MAX_OUTPUT_CHARS, newRun } from "@/lib/jobpro/run.ts";
import { type Committed, createWriter } from "@/lib/jobpro/writer.ts";
import type { Store } from "@/lib/jobpro/store.ts";
import { localServer, tempDb, waitFor } from "../helpers.ts";

/** A shell job that prints `first`, waits for `gate` to exist, then prints `second`. */
function gated(first: string, gate: string, second = "echo two") {
  return {
    type: "shell" as const,
    command: [
      "sh",
      "-c",
      `${first}; while [ ! -e "$0" ]; do sleep 0.01; done; ${second}`,
      gate,
    ],
  };
}

/** Every run-output chunk of a run the bus delivers, merged as a viewer would. */
function watch(m: Manager, runOf: () => number | null) {
  const chunks: RunOutputChunk[] = [];
  let shown = { offset: 0, text: "" };
  let missed = 0;
  const stop = m.events.subscribe((e: Delivered) => {
    if (e.type !== "run-output" || e.output.runId !== runOf()) return;
    chunks.push(e.output);
    const next = mergeOutput(shown, e.output);
    missed += next.missed;
    shown = { offset: next.offset, text: next.text };
  });
  return {
    chunks,
    get text() {
      return shown.text;
    },
    get missed() {
      return missed;
    },
    stop,
  };
}

async function withEngine(
  fn: (m: Manager, ctx: { store: Store; dir: string }) => Promise<void>,
  opts: { functions?: ReturnType<typeof createRegistry> } = {},
) {
  const db = await tempDb();
  const store = await openDuckDBStore(db.path);
  const m = await createManager({
    store,
    allowShell: true,
    functions: opts.functions,
    log: (l, msg) => l === "error" && console.error(msg),
  });
  try {
    await fn(m, { store, dir: db.dir });
  } finally {
    await m.shutdown({ graceMs: 2000 });
    await db.cleanup();
  }
}

Deno.test("a shell run's output streams while it runs: chunk 1, the output so far, then the rest", async () => {
  await withEngine(async (m, { store, dir }) => {
    const gate = `${dir}/go`;
    await m.create({
      id: "chatty",
      name: "Chatty",
      schedule: "",
      autoStart: false,
      action: gated("echo one", gate),
    });
    let runId: number | null = null;
    const seen = watch(m, () => runId);
    runId = (await m.runNow("chatty")).id;
    await waitFor(() => seen.text === "one\n", { what: "chunk 1" });
    // Read mid-run: from this node's memory, and as another node reads it,
    // from the store's running row.
    const mid = await m.run("chatty", runId);
    assertEquals(mid.status, "running");
    assertEquals(mid.output, "one\n");
    assertEquals(mid.outputOffset, 0);
    const row = await waitFor(async () => {
      const r = await store.getRun("chatty", runId!);
      return r?.output === "one\n" && r;
    }, { what: "the running row's output" });
    assertEquals(row.outputOffset, 0);
    assertEquals(row.status, "running");
    await Deno.writeTextFile(gate, "");
    await waitFor(async () =>
      (await m.run("chatty", runId!)).status !== "running"
    );
    const done = await m.run("chatty", runId);
    assertEquals(done.status, "complete");
    assertEquals(done.output, "one\ntwo\n"); // the finished output, as before
    assertEquals(done.outputOffset, undefined);
    await waitFor(() => seen.text === "one\ntwo\n", { what: "chunk 2" });
    assertEquals(seen.missed, 0);
    // Offsets: each chunk starts where the one before ended.
    let at = 0;
    for (const c of seen.chunks) {
      assertEquals(c.offset, at);
      at += c.chunk.length;
    }
    seen.stop();
  });
});

Deno.test("10 MB printed at once: 64 KiB kept with what was dropped, a few writes, not thousands", async () => {
  await withEngine(async (m, { store, dir }) => {
    const gate = `${dir}/go`;
    const total = 10_000_000;
    await m.create({
      id: "flood",
      name: "Flood",
      schedule: "",
      autoStart: false,
      action: gated(
        `head -c ${total} /dev/zero | tr '\\000' x`,
        gate,
        "printf end",
      ),
    });
    const seq0 = await store.lastEventSeq();
    let runId: number | null = null;
    const seen = watch(m, () => runId);
    const started = performance.now();
    runId = (await m.runNow("flood")).id;
    const mid = await waitFor(async () => {
      const r = await m.run("flood", runId!);
      return (r.outputOffset ?? 0) + (r.output?.length ?? 0) === total && r;
    }, { what: "all 10 MB written", timeoutMs: 20_000 });
    assertEquals(mid.output!.length, MAX_OUTPUT_CHARS);
    assertEquals(mid.outputOffset, total - MAX_OUTPUT_CHARS);
    // The store's row has the same bound (written at most every 250 ms).
    const row = await waitFor(async () => {
      const r = await store.getRun("flood", runId!);
      return r && (r.outputOffset ?? 0) + (r.output?.length ?? 0) === total &&
        r;
    }, { what: "the row caught up" });
    assertEquals(row.output!.length, MAX_OUTPUT_CHARS);
    await Deno.writeTextFile(gate, "");
    await waitFor(async () =>
      (await m.run("flood", runId!)).status !== "running"
    );
    const elapsed = performance.now() - started;
    const done = await m.run("flood", runId);
    assertEquals(done.output!.length, MAX_OUTPUT_CHARS);
    assert(done.output!.startsWith("…") && done.output!.endsWith("xxend"));
    const events = (await store.eventsSince(seq0, 100_000))!.filter((e) =>
      e.type === "run-output"
    );
    // At most one write per 250 ms, and one at the end.
    assert(
      events.length >= 1 && events.length <= 2 + elapsed / 250,
      `${events.length} run-output events in ${elapsed} ms`,
    );
    assert(seen.chunks.every((c) => c.chunk.length <= MAX_CHUNK_CHARS));
    assert(seen.text.endsWith("xxend"), "the last chunk arrived");
    seen.stop();
  });
});

Deno.test("an http run's status line and body stream while the answer is still coming", async () => {
  let release = () => {};
  const rest = new Promise<void>((r) => (release = r));
  const target = localServer(() =>
    new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(new TextEncoder().encode("part 1\n"));
          await rest;
          c.enqueue(new TextEncoder().encode("part 2\n"));
          c.close();
        },
      }),
      { status: 200, headers: { "content-type": "text/plain" } },
    )
  );
  try {
    await withEngine(async (m) => {
      await m.create({
        id: "web",
        name: "Web",
        schedule: "",
        autoStart: false,
        action: { type: "http", method: "GET", url: target.url },
      });
      let runId: number | null = null;
      const seen = watch(m, () => runId);
      runId = (await m.runNow("web")).id;
      const head = "HTTP 200 OK\npart 1\n";
      await waitFor(() => seen.text === head, { what: "the first part" });
      assertEquals((await m.run("web", runId)).output, head);
      release();
      await waitFor(async () =>
        (await m.run("web", runId!)).status === "complete"
      );
      assertEquals((await m.run("web", runId)).output, head + "part 2\n");
      await waitFor(() => seen.text === head + "part 2\n", {
        what: "the rest",
      });
      seen.stop();
    });
  } finally {
    await target.close();
  }
});

Deno.test("a function writes to its run's output through ctx.log", async () => {
  const functions = createRegistry();
  registerBuiltins(functions);
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  functions.register("steps", async (_params, _signal, ctx) => {
    ctx?.log("step", 1);
    await gate;
    ctx?.log({ step: 2 });
    return "done";
  });
  await withEngine(async (m) => {
    await m.create({
      id: "fn",
      name: "Fn",
      schedule: "",
      autoStart: false,
      action: { type: "function", name: "steps" },
    });
    let runId: number | null = null;
    const seen = watch(m, () => runId);
    runId = (await m.runNow("fn")).id;
    await waitFor(() => seen.text === "step 1\n", { what: "the first line" });
    assertEquals((await m.run("fn", runId)).output, "step 1\n");
    release();
    await waitFor(async () =>
      (await m.run("fn", runId!)).status === "complete"
    );
    const done = await m.run("fn", runId);
    assertEquals(done.message, "done");
    assertEquals(done.output, 'step 1\n{"step":2}\n');
    await waitFor(() => seen.text === done.output, { what: "the last line" });
    seen.stop();
  }, { functions });
});

Deno.test("the writer keeps the newest output per run and logs it before the run's end", async () => {
  const store = await openDuckDBStore(":memory:");
  try {
    const commits: Committed[] = [];
    const writer = createWriter({
      store,
      statusOf: () => undefined,
      onCommit: (c) => commits.push(c),
    });
    const run = newRun({
      id: 1,
      jobId: "a",
      trigger: "manual",
      attempt: 1,
      scheduledFor: null,
      now: Date.now(),
    });
    writer.runOutput({ jobId: "a", runId: 1, offset: 0, text: "one\n" });
    writer.runOutput({ jobId: "a", runId: 1, offset: 0, text: "one\ntwo\n" });
    writer.runFinished({ ...run, status: "complete", endedAt: run.startedAt });
    await writer.flush();
    const events = commits.flatMap((c) => c.events.map((e) => e.type));
    assertEquals(events.filter((t) => t.startsWith("run-")), [
      "run-output",
      "run-finished",
    ]);
    assertEquals(commits.flatMap((c) => c.outputs ?? []).map((o) => o.text), [
      "one\ntwo\n",
    ]);
    await writer.close();
  } finally {
    await store.close();
  }
});

Deno.test("secrets are blanked out of live output, even cut across two writes", () => {
  const handed: RunOutput[] = [];
  const live = createLiveOutput({
    jobId: "a",
    runId: 1,
    secrets: ["hunter2-secret"],
    hand: (o) => handed.push(o),
    intervalMs: 0,
  });
  live.push("token=hunter2-");
  assert(!live.snapshot().text.includes("hunter2"), live.snapshot().text);
  live.push("secret ok\n");
  assertEquals(live.snapshot().text, "token=[redacted] ok\n");
  live.push("tail hunt");
  live.finish();
  assertEquals(live.snapshot().text, "token=[redacted] ok\ntail hunt");
  assertEquals(handed.at(-1)!.text, "token=[redacted] ok\ntail hunt");
  // A secret across a line break is held back across it too.
  const multi = createLiveOutput({
    jobId: "a",
    runId: 2,
    secrets: ["line1\nline2"],
    hand: () => {},
    intervalMs: 0,
  });
  multi.push("x line1\n");
  assert(!multi.snapshot().text.includes("line1"), multi.snapshot().text);
  multi.push("line2 y\n");
  multi.finish();
  assertEquals(multi.snapshot().text, "x [redacted] y\n");
});

Deno.test("chunks and merges: offsets skip what a reader has and show what it missed", () => {
  const out = { jobId: "a", runId: 1, offset: 10, text: "abcdef" };
  assertEquals(chunkAfter(out, 12)?.chunk, "cdef");
  assertEquals(chunkAfter(out, 12)?.offset, 12);
  assertEquals(chunkAfter(out, 16), null);
  assertEquals(chunkAfter(out, 0)?.offset, 10); // 0..10 were dropped
  assertEquals(chunkAfter(out, 0, 2)?.chunk, "ef"); // at most one chunk's worth
  const shown = { offset: 0, text: "abc" };
  assertEquals(mergeOutput(shown, { offset: 1, chunk: "bcd" }).text, "abcd");
  assertEquals(mergeOutput(shown, { offset: 0, chunk: "ab" }).added, "");
  const gap = mergeOutput(shown, { offset: 5, chunk: "fg" });
  assertEquals([gap.offset, gap.text, gap.missed], [5, "fg", 2]);
  const capped = mergeOutput(shown, { offset: 3, chunk: "defg" }, 4);
  assertEquals([capped.offset, capped.text], [3, "defg"]);
  const row = encodeLiveOutput({
    jobId: "a",
    runId: 1,
    offset: 7,
    text: "x\u0000y",
  });
  assertEquals(decodeLiveOutput(row), { offset: 7, text: "x\ufffdy" });
});
