/**
 * Live output: what a run going has written so far, while it is going.
 *
 * A run's output is one stream of characters (an http action's status line
 * and body, a program's stdout and stderr, a function's `log` lines), and a
 * character's place in it is its *offset*. Of that stream the last
 * {@link MAX_OUTPUT_CHARS} are kept; `offset` says where the kept text
 * starts, so how much was dropped before it.
 *
 * - The runner feeds a {@link LiveOutput} per run as the action writes. It
 *   blanks the action's secrets out as they come (holding back the few
 *   characters a secret could still be cut across) and hands what it holds
 *   to the writer at most every {@link OUTPUT_INTERVAL_MS} per run, and once
 *   more when the run ends, so a run printing 10 MB fast costs four writes a
 *   second, each at most 64 KiB.
 * - The writer writes it to the run's running row (so another node, and a
 *   restart after a crash, read it) and logs a `run-output` event, in the
 *   same group commit as the rest.
 * - Once committed, each node's watchers get a `run-output` event with the
 *   part not yet sent (at most {@link MAX_CHUNK_CHARS}) and its offset: from
 *   the writer's copy on a single node, from the row on a cluster's nodes
 *   (follower.ts). A reader that has everything up to `offset` appends the
 *   chunk; one that already has part of it skips that part; one that sees
 *   an offset past what it has missed some, and may read the run again
 *   (GET answers the output so far with its offset) — see {@link mergeOutput}.
 *
 * The running row stores the kept text behind a small header with its
 * offset ({@link encodeLiveOutput}), since the row has no column for it;
 * rows.ts reads it back. A finished run's output is what it always was.
 *
 * @example
 * ```ts
 * const live = createLiveOutput({ jobId: "a", runId: 7, secrets: [], hand: (o) => writer.runOutput(o) });
 * live.push("line 1\n");
 * live.finish();
 * ```
 * @module
 */
import { MAX_OUTPUT_CHARS } from "./run.ts";

/** A run's output reaches the store (and other nodes) at most this often. */
export const OUTPUT_INTERVAL_MS = 250;

/** A `run-output` event carries at most this much (the newest part of what is new). */
export const MAX_CHUNK_CHARS = 16 * 1024;

/** A run's output so far, as a batch writes it to the run's running row. */
export interface RunOutput {
  jobId: string;
  runId: number;
  /** Where `text` starts in all the run wrote: how many characters were dropped before it. */
  offset: number;
  /** The last characters written so far, at most {@link MAX_OUTPUT_CHARS}. */
  text: string;
}

/** What a `run-output` event carries: a piece of the stream and where it starts. */
export interface RunOutputChunk {
  jobId: string;
  runId: number;
  offset: number;
  chunk: string;
}

/** What the runner feeds as a run's action writes. */
export interface LiveOutput {
  /** Appends what the action wrote. */
  push(text: string): void;
  /** The output so far (secrets blanked out) and where it starts. */
  snapshot(): RunOutput;
  /** The run ended: hands what is left over at once and stops. */
  finish(): void;
}

/** How a {@link LiveOutput} is set up. */
export interface LiveOutputOptions {
  jobId: string;
  runId: number;
  /** Values blanked out of the output (secrets.ts `secretValues`). */
  secrets: readonly string[];
  /** Where the output goes (the writer), at most every `intervalMs`. */
  hand: (output: RunOutput) => void;
  intervalMs?: number;
  max?: number;
}

const REDACTED = "[redacted]";

/**
 * A run's live output buffer (see the module comment).
 *
 * @example
 * ```ts
 * const live = createLiveOutput({ jobId: "a", runId: 1, secrets: ["s3cret"], hand: console.log });
 * live.push("token s3c"); live.push("ret\n"); live.snapshot().text; // "token [redacted]\n"
 * ```
 */
export function createLiveOutput(opts: LiveOutputOptions): LiveOutput {
  const max = opts.max ?? MAX_OUTPUT_CHARS;
  const interval = opts.intervalMs ?? OUTPUT_INTERVAL_MS;
  const secrets = opts.secrets.filter((s) => s.length > 0);
  const hold = Math.max(0, ...secrets.map((s) => s.length - 1));
  // A secret spans no line break (most): a complete line is safe to show.
  const lineSafe = !secrets.some((s) => s.includes("\n"));
  // Up to twice the cap before it is cut: a run of tiny writes at the cap
  // copies 64 KiB once per 64 KiB, not once per write.
  let buf = "";
  let bufOffset = 0;
  let pending = ""; // redacted, not yet part of the stream: a secret may go on
  let handed = 0; // the stream's length when it was last handed over
  let lastHand = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done = false;
  const redact = (s: string) => {
    for (const v of secrets) s = s.split(v).join(REDACTED);
    return s;
  };
  const append = (s: string) => {
    buf += s;
    if (buf.length > 2 * max) {
      bufOffset += buf.length - max;
      buf = buf.slice(buf.length - max);
    }
  };
  const snapshot = (): RunOutput => {
    const cut = Math.max(0, buf.length - max);
    return {
      jobId: opts.jobId,
      runId: opts.runId,
      offset: bufOffset + cut,
      text: cut ? buf.slice(cut) : buf,
    };
  };
  const handNow = () => {
    timer = undefined;
    const end = bufOffset + buf.length;
    if (end === handed) return;
    handed = end;
    lastHand = performance.now();
    opts.hand(snapshot());
  };
  return {
    push(text) {
      if (done || !text) return;
      const red = redact(pending + text);
      const keep = hold && !(lineSafe && red.endsWith("\n"))
        ? Math.min(hold, red.length)
        : 0;
      pending = red.slice(red.length - keep);
      append(red.slice(0, red.length - keep));
      if (timer === undefined) {
        const wait = Math.max(0, lastHand + interval - performance.now());
        timer = setTimeout(handNow, wait);
      }
    },
    snapshot,
    finish() {
      if (done) return;
      done = true;
      clearTimeout(timer);
      append(redact(pending));
      pending = "";
      handNow();
    },
  };
}

/**
 * The part of `out` a reader that has the stream up to `have` lacks, as a
 * chunk (at most `maxChunk`, the newest part), or null when it has it all.
 *
 * @example
 * ```ts
 * chunkAfter({ jobId: "a", runId: 1, offset: 0, text: "abcdef" }, 4); // { ..., offset: 4, chunk: "ef" }
 * ```
 */
export function chunkAfter(
  out: RunOutput,
  have: number,
  maxChunk = MAX_CHUNK_CHARS,
): RunOutputChunk | null {
  const end = out.offset + out.text.length;
  if (end <= have) return null;
  const start = Math.max(have, out.offset, end - maxChunk);
  return {
    jobId: out.jobId,
    runId: out.runId,
    offset: start,
    chunk: out.text.slice(start - out.offset),
  };
}

/** What a reader of a run's live output holds: the text it shows and where it starts. */
export interface OutputSoFar {
  /** Where `text` starts in the run's output stream. */
  offset: number;
  text: string;
}

/**
 * Adds a chunk (or a read of the run: its `output` at `outputOffset`) to
 * what a reader shows, keeping the last `max` characters: the part it has
 * already is skipped; `missed` is how many characters came between what it
 * had and the chunk (0: none; the reader may read the run again to fill
 * them, when they are still kept). Used by the dashboard and the CLI.
 *
 * @example
 * ```ts
 * mergeOutput({ offset: 0, text: "abc" }, { offset: 2, chunk: "cde" }); // { offset: 0, text: "abcde", added: "de", missed: 0 }
 * ```
 */
export function mergeOutput(
  shown: OutputSoFar,
  next: { offset: number; chunk: string },
  max = MAX_OUTPUT_CHARS,
): OutputSoFar & { added: string; missed: number } {
  const have = shown.offset + shown.text.length;
  const end = next.offset + next.chunk.length;
  if (end <= have) return { ...shown, added: "", missed: 0 };
  const missed = Math.max(0, next.offset - have);
  const added = next.chunk.slice(Math.max(0, have - next.offset));
  let text = missed ? added : shown.text + added;
  let offset = missed ? next.offset : shown.offset;
  if (text.length > max) {
    offset += text.length - max;
    text = text.slice(text.length - max);
  }
  return { offset, text, added, missed };
}

// A record separator (U+001E) on each side of the offset: not text a
// program prints at the very start of its output.
// deno-lint-ignore no-control-regex
const HEADER = /^\u001e(\d+)\u001e/;

/**
 * The running row's output column: the kept text behind a header with its
 * offset (the row has no column of its own for it). NUL, which PostgreSQL's
 * text refuses, becomes U+FFFD.
 *
 * @example
 * ```ts
 * encodeLiveOutput({ jobId: "a", runId: 1, offset: 5, text: "hi" }); // "\u001e5\u001ehi"
 * ```
 */
export function encodeLiveOutput(out: RunOutput): string {
  return `\u001e${out.offset}\u001e${out.text.replaceAll("\u0000", "\ufffd")}`;
}

/**
 * A running row's output column read back: the text and its offset (text
 * without a header, from a process before live output, starts at 0).
 *
 * @example
 * ```ts
 * decodeLiveOutput("\u001e5\u001ehi"); // { offset: 5, text: "hi" }
 * ```
 */
export function decodeLiveOutput(stored: string): OutputSoFar {
  const m = HEADER.exec(stored);
  return m
    ? { offset: Number(m[1]), text: stored.slice(m[0].length) }
    : { offset: 0, text: stored };
}
