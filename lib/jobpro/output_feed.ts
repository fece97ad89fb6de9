/**
 * The `run-output` events a node's watchers get: per run, the part of its
 * output this node has not sent yet, from the output a committed batch
 * wrote (a single node: the writer's copy) or from the run's row (a
 * cluster's node, whose follower reads every node's events). What was sent
 * is remembered per run until its end, so an event never repeats a part,
 * and a part dropped meanwhile (more than 64 KiB, or one chunk's worth,
 * came at once) shows as an offset past what the reader has.
 *
 * @example
 * ```ts
 * feedOutput(state, { jobId: "a", runId: 7, offset: 0, text: "hi\n" }, 42);
 * endOutput(state, 7);
 * ```
 * @module
 */
import { chunkAfter, type RunOutput } from "./live_output.ts";
import { MAX_OUTPUT_CHARS, type Run } from "./run.ts";
import type { EngineState, Going } from "./state.ts";

/** Per state: how far each run's output has been sent. */
const sent = new WeakMap<EngineState, Map<number, number>>();

function sentOf(state: EngineState): Map<number, number> {
  let m = sent.get(state);
  if (!m) sent.set(state, m = new Map());
  return m;
}

/** Publishes, under `seq`, the part of the run's output not sent yet (if any). */
export function feedOutput(
  state: EngineState,
  out: RunOutput,
  seq: number,
): void {
  const m = sentOf(state);
  const chunk = chunkAfter(out, m.get(out.runId) ?? 0);
  if (!chunk) return;
  m.set(out.runId, chunk.offset + chunk.chunk.length);
  state.events.publish({ type: "run-output", output: chunk }, seq);
}

/** The run ended: nothing more of it is sent. */
export function endOutput(state: EngineState, runId: number): void {
  sent.get(state)?.delete(runId);
}

/**
 * A run's output as its row has it: the output so far of a run going; the
 * whole output of a finished run when it was not cut (a cut one no longer
 * says where it starts); null when there is none to send.
 *
 * @example
 * ```ts
 * outputOfRow(run); // { jobId, runId, offset: 0, text: "..." }
 * ```
 */
export function outputOfRow(run: Run): RunOutput | null {
  if (run.output === null) return null;
  const base = { jobId: run.jobId, runId: run.id, text: run.output };
  if (run.status === "running") {
    return { ...base, offset: run.outputOffset ?? 0 };
  }
  const cut = run.output.length >= MAX_OUTPUT_CHARS &&
    run.output.startsWith("…");
  return cut ? null : { ...base, offset: 0 };
}

/**
 * A run going here, with its output so far (from memory: newer than its
 * row) and where that starts.
 *
 * @example
 * ```ts
 * withOutputSoFar(going).outputOffset; // 0 until 64 KiB were written
 * ```
 */
export function withOutputSoFar(going: Going): Run {
  const live = going.output?.snapshot();
  return {
    ...going.run,
    output: live?.text ?? null,
    outputOffset: live?.offset ?? 0,
  };
}
