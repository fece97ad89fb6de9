/**
 * Cancelling one run: a client asks that a run going end now. Like every
 * operation it is committed before it takes effect — as a `run-cancel`
 * event in the store's log, naming the run and who asked — and then
 * applied: at once when the run is going in this process, and on a cluster
 * by the node that runs it, whose follower reads the event from the log
 * (follower.ts). The action is aborted as a stop aborts it (runner.ts: an
 * http request is aborted, a program's process group gets SIGTERM, then
 * SIGKILL after the kill grace) and the run ends `cancelled` with the error
 * "cancelled by <who>".
 *
 * The job is not changed: its schedule goes on, and its status is what it
 * is after any cancelled run (status.ts, `finish`: a periodic job is
 * scheduled again, a one-time job ends cancelled); a cancelled run is not
 * retried.
 *
 * The caller hears of the run once its end is committed, or as it still is
 * when it has not ended within the kill grace and a margin (its node stopped
 * answering; the cancel stays committed). A run that is not going is not
 * found or has ended (a conflict); so has one whose node is no longer live
 * (the reaper records it failed, "interrupted").
 *
 * @example
 * ```ts
 * const { run, ended } = await cancelRun(state, "nightly", 42, "api");
 * run.error; // "cancelled by api"
 * ```
 * @module
 */
import { JobproError } from "./errors.ts";
import { endRun, type Run } from "./run.ts";
import { Abort, type EngineState, entryOf, notFound } from "./state.ts";

/** How much longer than the kill grace a cancel waits for the run's end. */
export const CANCEL_MARGIN_MS = 2000;

/** What came of a cancel. */
export interface Cancelled {
  /** The run: ended, or as it still is when `ended` is false. */
  run: Run;
  /** Whether its end was committed within the wait. */
  ended: boolean;
}

/**
 * Cancels a run going, on whichever node runs it (see the module comment);
 * `by` says who asked. Throws `not_found` for an unknown job or run,
 * `conflict` for a run that has ended (or ended otherwise before the cancel
 * reached it), `unavailable` when the cancel could not be committed.
 */
export async function cancelRun(
  state: EngineState,
  jobId: string,
  runId: number,
  by: string,
): Promise<Cancelled> {
  const e = entryOf(state, jobId);
  // Listening before anything is read: an end that comes meanwhile is heard.
  const end = endOf(
    state,
    jobId,
    runId,
    state.settings.killGraceMs + CANCEL_MARGIN_MS,
  );
  try {
    const going = e.running.get(runId)?.run ??
      await goingElsewhere(state, jobId, runId);
    await state.writer.commit(
      { events: [{ type: "run-cancel", jobId, runId, by }] },
      () => cancelHere(state, jobId, runId, by),
    );
    const how = await end.heard;
    if (how === "deleted") throw notFound(jobId);
    const now = state.entries.get(jobId)?.running.get(runId)?.run ??
      await state.store.getRun(jobId, runId);
    if (!now) throw noRun(jobId, runId);
    if (how === "timeout" && now.status === "queued") {
      return { run: await endQueuedHere(state, now, by), ended: true };
    }
    if (how === "timeout" && now.status === "running") {
      return { run: now, ended: false };
    }
    if (now.status !== "cancelled") throw endedAlready(now, going, true);
    return { run: now, ended: true };
  } finally {
    end.stop();
  }
}

/**
 * Aborts the run if it is going here (what a committed `run-cancel` does on
 * every node; on the others it is not theirs and nothing happens).
 */
export function cancelHere(
  state: EngineState,
  jobId: string,
  runId: number,
  by: string,
): void {
  state.entries.get(jobId)?.running.get(runId)?.cancel(
    new Abort("cancelled", `cancelled by ${by}`),
  );
}

/** A run not going here: as the store has it, if it is going elsewhere. */
async function goingElsewhere(
  state: EngineState,
  jobId: string,
  runId: number,
): Promise<Run> {
  // A run that has just ended here is read as ended, not as going.
  await state.writer.settle();
  const run = await state.store.getRun(jobId, runId);
  if (!run) throw noRun(jobId, runId);
  // A queued run (queue.ts) waits in the store for its job's owner: any node may cancel it.
  if (run.status === "queued") return run;
  if (run.status !== "running") throw endedAlready(run, run, false);
  const node = state.node;
  if (node && run.node && !node.live.some((n) => n.name === run.node)) {
    throw new JobproError(
      "conflict",
      `run ${runId} of job "${jobId}" was going on node ${run.node}, which is no longer live: it cannot be cancelled, and ends failed ("interrupted") once the cluster notices`,
    );
  }
  return run;
}

/**
 * A queued run no node held (its job between owners): it ends here, in the
 * store (a finish takes only while the run is still in flight).
 */
async function endQueuedHere(
  state: EngineState,
  run: Run,
  by: string,
): Promise<Run> {
  const ended = endRun(
    run,
    { status: "cancelled", error: `cancelled by ${by}` },
    state.clock.now(),
  );
  state.writer.runFinished(ended);
  await state.writer.flush();
  return ended;
}

const noRun = (jobId: string, runId: number) =>
  new JobproError("not_found", `job "${jobId}" has no run ${runId}`);

function endedAlready(run: Run, was: Run, racing: boolean): JobproError {
  const how = `${run.status}${run.error ? ` (${run.error})` : ""}`;
  return new JobproError(
    "conflict",
    `run ${was.id} of job "${was.jobId}" ${
      racing ? "ended before the cancel reached it" : "has already ended"
    }: ${how}`,
  );
}

/** Waits for the run's end (or its job's delete) on the event bus, up to `timeoutMs`. */
function endOf(
  state: EngineState,
  jobId: string,
  runId: number,
  timeoutMs: number,
) {
  let stop = () => {};
  // Resolved, never rejected: nobody may be waiting yet when it settles.
  const heard = new Promise<"ended" | "deleted" | "timeout">((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), timeoutMs);
    const unsubscribe = state.events.subscribe((ev) => {
      if (ev.type === "run-finished") {
        if (ev.run.id === runId && ev.run.jobId === jobId) resolve("ended");
      } else if (ev.type === "job-deleted" && ev.id === jobId) {
        resolve("deleted");
      }
    });
    stop = () => {
      clearTimeout(timer);
      unsubscribe();
    };
  });
  return { heard, stop };
}
