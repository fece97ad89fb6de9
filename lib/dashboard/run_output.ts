/**
 * The job page's live output viewer, as plain data: a running run shown
 * with its output so far takes each `run-output` piece of it by offset
 * (what it has is skipped, what it lacks appended, the last 64 KiB kept),
 * and a read of the run (GET) is merged the same way, so a read that comes
 * back after newer pieces never takes them away.
 *
 * @example
 * ```ts
 * const { run: next, missed } = withOutputPiece(run, { offset: 4, chunk: "two\n" });
 * if (missed) reread(run.id); // it printed faster than it was sent
 * ```
 * @module
 */
import { mergeOutput, type RunView } from "@/lib/jobpro/runtime.ts";

/**
 * The run with a piece of its live output added; `missed` counts the
 * characters between what it had and the piece (a read of the run fills
 * them, while they are kept). A run no longer running is left as it is:
 * its stored output is the whole story.
 *
 * @example
 * ```ts
 * withOutputPiece({ ...run, status: "running", output: "a", outputOffset: 0 }, { offset: 1, chunk: "b" }).run.output; // "ab"
 * ```
 */
export function withOutputPiece(
  run: RunView,
  piece: { offset: number; chunk: string },
): { run: RunView; missed: number } {
  if (run.status !== "running") return { run, missed: 0 };
  const shown = { offset: run.outputOffset ?? 0, text: run.output ?? "" };
  const next = mergeOutput(shown, piece);
  if (!next.added && !next.missed) return { run, missed: 0 };
  return {
    run: { ...run, output: next.text, outputOffset: next.offset },
    missed: next.missed,
  };
}

/**
 * What the viewer shows after reading the run: the read, with the output
 * it already had kept when both are the same run going (the read may be
 * older than pieces that came since).
 *
 * @example
 * ```ts
 * setRun((shown) => afterRead(shown, read));
 * ```
 */
export function afterRead(shown: RunView | null, read: RunView): RunView {
  if (
    !shown || shown.id !== read.id || shown.status !== "running" ||
    read.status !== "running"
  ) return read;
  const { run } = withOutputPiece(shown, {
    offset: read.outputOffset ?? 0,
    chunk: read.output ?? "",
  });
  return { ...read, output: run.output, outputOffset: run.outputOffset };
}
