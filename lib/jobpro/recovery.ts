/**
 * Recovery at start: runs that were going when the last process died end
 * `failed` with "interrupted" (never run again), and every stored job is
 * restored and re-armed. A job left `running` goes back to `scheduled`
 * (periodic) or `failed` (one-time). A periodic tick in the past may have run
 * before the crash, so it is never run again: the job moves on to its next
 * tick, and `catchUp: "once"` makes one `startup` run when ticks were missed.
 * A one-time job that came due while down runs once; one that was waiting to
 * retry keeps its attempt count.
 *
 * @example
 * ```ts
 * await recover(state); // before the scheduler goes live
 * ```
 * @module
 */
import { arm, countMissed, isMine, moveNext, nextTick } from "./planner.ts";
import { heartbeatOf } from "./heartbeat.ts";
import { fire, setStatus } from "./runner.ts";
import { restoreQueued } from "./queue.ts";
import type { StoredJob } from "./store.ts";
import { deliveriesFor, type Delivery, runFacts } from "./notify.ts";
import type { Run } from "./run.ts";
import { type EngineState, type Entry, newEntry, RETRY_KEY } from "./state.ts";
import { isArmed, transition } from "./status.ts";
import { isReboot } from "./schedule.ts";
import { retryAt } from "./retry.ts";

/**
 * Restores every stored job into `state`; returns how many runs were
 * interrupted. On a node of a cluster the jobs are only loaded: the runs of
 * dead nodes are the reaper's, and a job is restored when this node takes it
 * over (cluster_node.ts).
 */
export async function recover(state: EngineState): Promise<number> {
  if (state.node) {
    for (const { job, counts } of await state.store.loadJobs()) {
      state.entries.set(job.id, newEntry(job, counts));
    }
    return 0;
  }
  const interrupted = await state.store.recoverInterrupted(state.clock.now());
  for (const r of interrupted) {
    state.log(
      "warn",
      `job ${r.jobId} run ${r.id} was interrupted by a restart`,
    );
  }
  state.nextRunId = (await state.store.maxRunId()) + 1;
  const now = state.clock.now();
  for (const stored of await state.store.loadJobs()) {
    restore(state, stored, now);
  }
  alertInterrupted(state, interrupted);
  // Runs that were queued wait on, and start once they may (queue.ts).
  await restoreQueued(state);
  endLeftRunning(state, [...state.entries.keys()]);
  await state.writer.flush();
  return interrupted.length;
}

/**
 * Runs interrupted by a crash (here at restart, or a dead node's, by the
 * reaper) failed: their jobs' failure alerts go out, written with the next
 * batch. Once each: the outbox keys a delivery by run, and only the one
 * process that recorded a run interrupted hears of it.
 */
export function alertInterrupted(state: EngineState, runs: readonly Run[]) {
  const now = state.clock.now();
  const out: Delivery[] = [];
  for (const run of runs) {
    const e = state.entries.get(run.jobId);
    if (!e) continue;
    e.failing = true; // the next success is a recovery
    out.push(...deliveriesFor(
      e.job,
      state.settings.notifyDefaults,
      ["failure"],
      runFacts(e.job, run),
      `run:${run.id}`,
      now,
    ));
  }
  state.writer.deliver(out);
}

function restore(state: EngineState, { job, counts }: StoredJob, now: number) {
  if (state.settings.reservedIds.has(job.id.toLowerCase())) {
    // Created before its id was reserved: it still runs, but the address
    // that would name it now names something else.
    state.log(
      "warn",
      `job ${job.id}: its id is now reserved, so its own address answers something else; it keeps running (recreate it under another id to reach it)`,
    );
  }
  const e = newEntry(job, counts);
  state.entries.set(job.id, e);
  restoreEntry(state, e, now);
  if (isReboot(job.schedule)) rebooted(state, e, now);
}

/**
 * An `@reboot` job runs once at each start: one started before (its last
 * run ended, or it waits for its first) is started again now. One paused,
 * stopped, cancelled or never started stays as it is. (On a cluster, each
 * node does this for the jobs it owns once it has joined: cluster_node.ts.)
 */
export function rebooted(state: EngineState, e: Entry, now: number) {
  const status = e.job.status;
  if (status !== "complete" && status !== "failed" && status !== "scheduled") {
    return;
  }
  if (status !== "scheduled") setStatus(state, e, transition(e.job, "start"));
  if (e.job.nextRunAt === null) void moveNext(state, e, now);
  arm(state, e);
}

/**
 * Once the queued runs of these jobs are loaded (queue.ts): a one-time job
 * left running with no run going or queued here died mid-run (its run was
 * marked interrupted), so it ends failed.
 */
export function endLeftRunning(state: EngineState, ids: readonly string[]) {
  for (const id of ids) {
    const e = state.entries.get(id);
    const job = e?.job;
    if (!e || job?.status !== "running" || e.running.size > 0) continue;
    if (job.type !== "onetime" || (state.node && !isMine(state, id))) continue;
    setStatus(state, e, transition(job, "finish", "failed"));
    if (job.nextRunAt !== null) void moveNext(state, e, null);
  }
}

/**
 * A job whose runs ended with the process (or node) that ran them, made
 * ready to run again here: a job left running goes back to scheduled
 * (periodic) or failed (one-time); ticks in the past are passed over (but
 * those within `lateGraceMs`, which fire late), with one `startup` run for
 * `catchUp: "once"`; a job waiting to retry keeps its attempt.
 */
export function restoreEntry(state: EngineState, e: Entry, now: number) {
  const job = e.job;
  if (job.status === "running" && e.running.size === 0) {
    // A one-time job's run may be queued (stored; it fired the job): it
    // ends, if it has no run, once those are loaded (endLeftRunning).
    if (job.type === "onetime") return;
    // It died mid-run: the run was marked interrupted (failed).
    setStatus(state, e, transition(job, "finish", "failed"));
  }
  if (!isArmed(e.job.status)) return;
  const due = e.job.nextRunAt;
  if (e.job.type === "periodic") {
    const late = now - state.settings.lateGraceMs;
    // A heartbeat job's stored tick is its first check not yet done: it is
    // done once armed, however late (heartbeat.ts).
    if (due === null || (due <= late && !heartbeatOf(e.job))) {
      const next = nextTick(state, e.job, due ?? now, late);
      // Taken over from a node gone longer than the grace: the ticks it
      // left are counted missed (and logged), never passed over silently.
      if (state.node && due !== null) countMissed(state, e, due - 1, next, now);
      void moveNext(state, e, next);
      if (due !== null && e.job.catchUp === "once") {
        fire(state, e, "startup", now, 1);
      }
    }
    arm(state, e);
    restoreRetry(state, e);
  } else if (due !== null) {
    const last = retryPending(e);
    if (last) {
      // It was waiting to retry: keep counting attempts, don't start over.
      // Its retry is its next run, stored.
      e.retryAttempt = last.attempt + 1;
      state.timers.set(RETRY_KEY + e.job.id, due);
    } else {
      arm(state, e); // a due one-time job fires at once
    }
  }
}

/**
 * The job's last run, when it failed with retries left: the job was
 * waiting for its retry when the process (or the node) that planned it
 * ended. One that ended "interrupted" is not retried (an interrupted run
 * never runs again).
 */
function retryPending(e: Entry) {
  const last = e.counts.lastRun;
  return last?.status === "failed" && last.error !== "interrupted" &&
      last.attempt <= e.job.retries && !heartbeatOf(e.job)
    ? last
    : null;
}

/**
 * A periodic job's retry, planned again: at the time the failed run's end
 * gives (retry.ts), as its first planner had it.
 */
function restoreRetry(state: EngineState, e: Entry) {
  const last = retryPending(e);
  if (!last) return;
  e.retryAttempt = last.attempt + 1;
  state.timers.set(
    RETRY_KEY + e.job.id,
    retryAt(last, e.job.retryDelayMs, state.clock.now()),
  );
}
