/**
 * `jobs logs ID [RUN_ID] [--follow]`: a run's output (the job's latest run
 * by default). With `--follow`, a run that is going is streamed as it
 * writes — the event stream's `run-output` pieces of the job, after the
 * output so far read once the stream is open, joined by offset so nothing
 * is printed twice or skipped — until the run ends; the exit code then says
 * how it ended.
 *
 * @example
 * ```ts
 * const code = await logsCommand.run(ctx, parse(["nightly", "--follow"], logsCommand.options));
 * ```
 * @module
 */
import {
  MAX_OUTPUT_CHARS,
  mergeOutput,
  type RunOutputChunk,
  type RunView,
} from "@/lib/jobpro/runtime.ts";
import { jobPath, queryString } from "@/lib/client/api.ts";
import type { Command, Ctx } from "./commands.ts";
import { CliError, EXIT, usage } from "./errors.ts";
import { followEvents } from "./sse.ts";

/** The run asked for, or the job's newest. */
async function runOf(ctx: Ctx, id: string, runId?: string): Promise<number> {
  if (runId !== undefined) {
    if (!/^\d+$/.test(runId)) {
      throw usage(`RUN_ID must be a run number, got "${runId}"`);
    }
    return Number(runId);
  }
  const { runs } = await ctx.client.request<{ runs: RunView[] }>(
    "GET",
    jobPath(id, "runs") + queryString({ limit: 1 }),
  );
  if (!runs.length) {
    throw new CliError(`job "${id}" has no runs yet`, EXIT.notFound, {
      status: 404,
      code: "not_found",
    });
  }
  return runs[0].id;
}

/** A finished run's output cut to its last 64 KiB no longer says where it starts. */
const isCut = (output: string) =>
  output.length >= MAX_OUTPUT_CHARS && output.startsWith("…");

/** How much of what was printed places a cut output after it. */
const TAIL = 4096;

/** What `--follow` has printed, and the line it has not ended yet. */
function printer(ctx: Ctx) {
  let have: number | null = null; // the stream's offset printed up to
  let line = "";
  let last = ""; // the end of what was printed, to place a cut output
  const print = (added: string, at: number) => {
    last = (last + added).slice(-TAIL);
    if (ctx.json) {
      if (added) ctx.out(JSON.stringify({ offset: at, chunk: added }));
      return;
    }
    const lines = (line + added).split("\n");
    line = lines.pop()!;
    for (const l of lines) ctx.out(l);
  };
  return {
    /** Adds a piece at its offset; the count of characters missed before it. */
    add(piece: { offset: number; chunk: string }): number {
      const next = mergeOutput({ offset: have ?? 0, text: "" }, piece);
      if (next.added) {
        print(
          next.added,
          piece.offset + piece.chunk.length - next.added.length,
        );
      }
      have = Math.max(have ?? 0, piece.offset + piece.chunk.length);
      return next.missed;
    },
    /** A read of the run: its output so far, or its whole output once it ended. */
    read(run: RunView) {
      const text = run.output ?? "";
      if (run.status === "running") {
        return void this.add({ offset: run.outputOffset ?? 0, chunk: text });
      }
      if (have === null || !isCut(text)) this.add({ offset: 0, chunk: text });
      else {
        // Cut, its offset is unknown: what follows the end of what was
        // printed is new (the last part a node other than the run's wrote).
        const at = last ? text.lastIndexOf(last) : -1;
        if (at >= 0) {
          const added = text.slice(at + last.length);
          if (added) print(added, have);
          have += added.length;
        }
      }
    },
    end() {
      if (line && !ctx.json) ctx.out(line);
      line = "";
    },
  };
}

/** Streams the run until it ends; the run as it ended. */
async function follow(ctx: Ctx, id: string, runId: number): Promise<RunView> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  ctx.signal?.addEventListener("abort", stop, { once: true });
  const out = printer(ctx);
  const path = jobPath(id, "runs", runId);
  let ended: RunView | null = null;
  const read = async () => {
    const run = await ctx.client.request<RunView>("GET", path);
    out.read(run);
    if (run.status !== "running") {
      ended = run;
      ac.abort();
    }
  };
  try {
    await followEvents(ctx.client, {
      signal: ac.signal,
      query: queryString({ types: "run-finished", output: id }),
      onStatus: () => {},
      // Connected first, then read: what is written meanwhile comes as
      // events, and the offsets drop what the read already had.
      onOpen: read,
      onEvent(e) {
        if (ended) return;
        if (e.event === "run-output") {
          const piece = JSON.parse(e.data) as RunOutputChunk;
          if (piece.runId !== runId) return;
          // Missed some (it printed faster than it was sent): what is still
          // kept of it comes with a read of the run.
          if (out.add(piece) > 0) void read().catch(() => {});
        } else if (e.event === "run-finished") {
          const run = JSON.parse(e.data) as RunView;
          if (run.id === runId) void read().catch(() => {});
        }
      },
    });
  } finally {
    ctx.signal?.removeEventListener("abort", stop);
    out.end();
  }
  // Interrupted (Ctrl-C, a test's signal) before the run ended.
  return ended ?? await ctx.client.request<RunView>("GET", path);
}

/** The `logs` command. */
export const logsCommand: Command = {
  name: "logs",
  args: "ID [RUN_ID] [--follow]",
  summary: "print a run's output (the job's latest run by default)",
  flags: [
    "RUN_ID      the run (default: the job's newest run)",
    "--follow    stream the output of a run that is going until it ends (-f)",
    "--json      with --follow, one JSON object per piece: { offset, chunk }",
    "A run keeps the last 64 KiB of its output. Exit codes with --follow: 0 the run",
    "completed, 5 it failed or was cancelled (or was still going when interrupted),",
    "3 no such job or run; without --follow 0 whenever the output was printed.",
  ],
  examples: [
    "deno task jobs logs nightly-report",
    "deno task jobs logs nightly-report 42 --follow",
  ],
  options: { follow: { type: "boolean", short: "f" } },
  positionals: [1, 2],
  async run(ctx, { positionals: [id, raw], values }) {
    const runId = await runOf(ctx, id, raw);
    if (!values.follow) {
      const run = await ctx.client.request<RunView>(
        "GET",
        jobPath(id, "runs", runId),
      );
      if (ctx.json) ctx.out(JSON.stringify(run, null, 2));
      else if (run.output) ctx.out(run.output.replace(/\n$/, ""));
      return EXIT.ok;
    }
    const run = await follow(ctx, id, runId);
    if (ctx.json) ctx.out(JSON.stringify(run));
    if (run.status === "complete") return EXIT.ok;
    ctx.err(
      `jobs logs: run #${run.id} of ${id} ${run.status}${
        run.error ? `: ${run.error}` : ""
      }`,
    );
    return EXIT.runFailed;
  },
};
