/**
 * The runner: a run from firing to its end — overlap (skip, allow,
 * replace), starting the action, timeouts, cancellation, settling the
 * result, and retries with backoff.
 *
 * A run is `running` from its start until it ends `complete`, `failed` or
 * `cancelled`; the runner is what moves it: the action's end, a timeout
 * (failed), a stop, a delete, a replacing run or the shutdown (cancelled).
 * One that was running when the process died is moved by recovery.ts
 * (failed, "interrupted"), never run again. A run over a concurrency limit
 * waits `queued` first (queue.ts), and comes back here when it may start.
 *
 * A run's action starts only once its start is committed. On a node of a
 * cluster that commit goes through the store's fence (this node still holds
 * its lease and owns the job, and no node started that tick): a start the
 * store refuses never ran here, so it is dropped, not recorded.
 *
 * @example
 * ```ts
 * fire(state, e, "manual", null, 1);
 * ```
 * @module
 */
import { ActionError, runAction } from "./actions.ts";
import { retryAt } from "./retry.ts";
import {
  endRun,
  newRun,
  type Run,
  type RunStatus,
  summarize,
  type Trigger,
} from "./run.ts";
import {
  Abort,
  type EngineState,
  type Entry,
  type Going,
  RETRY_KEY,
} from "./state.ts";
import { redactOutput, secretValues } from "./secrets.ts";
import { createLiveOutput, type LiveOutput } from "./live_output.ts";
import type { Action, JobCounts } from "./job.ts";
import { isArmed, type JobStatus, transition } from "./status.ts";
import { moveNext } from "./planner.ts";
import { takeRunId } from "./run_ids.ts";
import { deliveriesFor, type Delivery, runEvents, runFacts } from "./notify.ts";
import { triggersFor } from "./chains.ts";
import { enqueue, slotFreed, wouldQueue } from "./queue.ts";

/** A status change the engine makes itself, written with the next batch. */
export function setStatus(state: EngineState, e: Entry, status: JobStatus) {
  e.job = { ...e.job, status, updatedAt: state.clock.now() };
  state.writer.touchStatus(e.job.id);
}

/** A new run of the job, not yet started. */
export function nextRun(
  state: EngineState,
  e: Entry,
  trigger: Trigger,
  scheduledFor: number | null,
  attempt: number,
): Run {
  return newRun({
    id: takeRunId(state),
    jobId: e.job.id,
    trigger,
    attempt,
    scheduledFor,
    now: state.clock.now(),
  });
}

/**
 * Fires a run of the job, honoring its overlap policy for scheduled runs
 * (manual runs always go). With `claim`, the action starts only once that
 * claim is committed and won. Returns the run, or null when skipped.
 */
export function fire(
  state: EngineState,
  e: Entry,
  trigger: Trigger,
  scheduledFor: number | null,
  attempt: number,
  claim?: Promise<boolean>,
): Run | null {
  const job = e.job;
  if (trigger !== "manual" && e.running.size > 0) {
    if (job.overlap === "skip") {
      e.counts = { ...e.counts, skipped: e.counts.skipped + 1 };
      state.writer.touchStatus(job.id); // so watchers see the count move
      state.log(
        "info",
        `job ${job.id}: tick at ${
          new Date(scheduledFor ?? 0).toISOString()
        } skipped, previous run still going`,
      );
      // A one-time job's tick is claimed before it fires: skipped, it has
      // no run left, so it ends with the run going (as when that run starts
      // while it is scheduled) instead of staying scheduled for nothing.
      if (job.type === "onetime" && job.status === "scheduled") {
        setStatus(state, e, transition(job, "fire"));
      }
      return null;
    }
    if (job.overlap === "replace") {
      abortRuns(e, new Abort("cancelled", "replaced by a newer run"));
    }
  }
  let run: Run;
  try {
    run = nextRun(state, e, trigger, scheduledFor, attempt);
  } catch (err) {
    // A tick that could not start is missed, and counted so.
    if (trigger === "schedule") {
      e.counts = { ...e.counts, missed: e.counts.missed + 1 };
      state.writer.touchStatus(job.id);
    }
    state.log(
      "error",
      `job ${job.id}: no run started: ${(err as Error).message}`,
    );
    return null;
  }
  // Over a concurrency limit it waits, queued (queue.ts).
  if (wouldQueue(state, e)) return enqueue(state, e, run, claim);
  // The action waits for its start to be committed, so a crash never
  // leaves an execution without its run (and, on a cluster's node, the
  // fenced start says the tick is this node's).
  begin(state, e, run, claim, true);
  return run;
}

/**
 * Counts the run as going and starts its action: after `claim` is won, and
 * with `record` after its start is committed (an operation's run is
 * committed with the operation).
 */
export function begin(
  state: EngineState,
  e: Entry,
  run: Run,
  claim?: Promise<boolean>,
  record = false,
): void {
  if (e.job.status === "scheduled") {
    setStatus(state, e, transition(e.job, "fire"));
  }
  e.counts = { ...e.counts, lastRun: summarize(run) };
  e.running.set(run.id, start(state, e, run, claim, record));
  state.activeRuns++;
}

/**
 * Starts a run's action. The run ends when the action does or, if the
 * action ignores its abort signal, a grace period after the abort. No
 * listeners or wrapper promises: a burst of 10,000 fires stays cheap.
 */
function start(
  state: EngineState,
  e: Entry,
  run: Run,
  claim: Promise<boolean> | undefined,
  record: boolean,
): Going {
  const controller = new AbortController();
  let ended = false;
  let timeout: ReturnType<typeof setTimeout> | undefined;
  let grace: ReturnType<typeof setTimeout> | undefined;
  // Made only if someone waits (shutdown), not for every run.
  let resolveDone: (() => void) | undefined;
  let done: Promise<void> | undefined;
  const action = e.job.action;
  // Made when the action first writes (most write nothing while they run).
  let live: LiveOutput | undefined;
  const end = (result: Parameters<typeof endRun>[1]) => {
    if (ended) return;
    ended = true;
    clearTimeout(timeout);
    clearTimeout(grace);
    live?.finish(); // its last part goes out before the end
    // Output is kept with the secrets of the action it ran blanked out (an
    // endpoint that echoes its request would show them to every reader).
    const output = redactOutput(result.output ?? null, action);
    settle(state, e, endRun(run, { ...result, output }, state.clock.now()));
    resolveDone?.();
  };
  const cancel = (reason: Abort) => {
    if (ended || controller.signal.aborted) return;
    controller.abort(reason);
    grace = setTimeout(
      () => end({ status: reason.status, error: reason.message }),
      state.settings.killGraceMs + 100,
    );
  };
  const timeoutMs = e.job.timeoutMs;
  if (timeoutMs) {
    timeout = setTimeout(
      () => cancel(new Abort("failed", `timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  }
  const s = state.settings;
  const go = () =>
    runAction(action, {
      signal: controller.signal,
      run,
      functions: s.functions,
      allowShell: s.allowShell,
      killGraceMs: s.killGraceMs,
      outbound: state.outbound,
      processes: state.processes,
      httpClient: state.httpClient,
      httpTimeoutMs: s.httpTimeoutMs,
      shellEnv: s.shellEnv,
      onOutput: (text) =>
        (live ??= liveOutputOf(state, run, action)).push(text),
    }).then(
      (r) => end({ status: "complete", message: r.message, output: r.output }),
      (err) => end(failure(err, controller.signal)),
    );
  // While the claim or the start cannot be written the action waits (a
  // stop or a timeout still ends the run); a claim another took never
  // runs, and a start the store refused is not this node's to run.
  const epoch = state.node?.epoch;
  const decide = (won: boolean, ours: boolean) => {
    state.awaitingStart.delete(run.id);
    if (ended) return;
    // A node that lost its lease meanwhile starts nothing (the reaper
    // records the run interrupted).
    if (!ours || (state.node && state.node.epoch !== epoch)) {
      ended = true;
      clearTimeout(timeout);
      clearTimeout(grace);
      drop(state, e, run);
      resolveDone?.();
    } else if (controller.signal.aborted) {
      end(failure(controller.signal.reason, controller.signal));
    } else if (won) go();
    else {
      end({ status: "cancelled", error: "its tick was claimed by another" });
    }
  };
  if (claim || record) {
    state.awaitingStart.set(run.id, {
      jobId: run.jobId,
      since: performance.now(),
    });
  }
  if (claim && record) {
    const recorded = new Promise<boolean>((r) =>
      state.writer.recordStart(run, r)
    );
    Promise.all([claim, recorded]).then(([won, ours]) => decide(won, ours));
  } else if (claim) claim.then((won) => decide(won, true));
  else if (record) state.writer.recordStart(run, (ours) => decide(true, ours));
  else go();
  return {
    run,
    cancel,
    get output() {
      return live;
    },
    get done() {
      if (ended) return Promise.resolve();
      return done ??= new Promise<void>((resolve) => (resolveDone = resolve));
    },
  };
}

/** A run's live output, handed to the writer (live_output.ts). */
function liveOutputOf(state: EngineState, run: Run, action: Action) {
  return createLiveOutput({
    jobId: run.jobId,
    runId: run.id,
    secrets: secretValues(action),
    hand: (o) => state.writer.runOutput(o),
    intervalMs: state.settings.outputIntervalMs,
  });
}

/** How a run that threw (or was aborted) ends. */
function failure(
  err: unknown,
  signal: AbortSignal,
): Parameters<typeof endRun>[1] {
  const reason = signal.aborted ? signal.reason : err;
  return {
    status: reason instanceof Abort ? reason.status : "failed",
    error: reason instanceof Error ? reason.message : String(reason),
    output: err instanceof ActionError ? err.output : null,
  };
}

/**
 * A run whose fenced start the store refused: it never ran here (another
 * node owns the job, or ran that tick), so nothing of it is recorded.
 */
function drop(state: EngineState, e: Entry, run: Run) {
  if (e.running.delete(run.id)) state.activeRuns--;
  slotFreed(state); // its slot of the cap was held: a queued run may start
  if (state.entries.get(run.jobId) !== e) return;
  state.log(
    "info",
    `job ${run.jobId}: run ${run.id} not started here (the job's tick is another node's)`,
  );
  if (e.counts.lastRun?.id === run.id) {
    e.counts = { ...e.counts, lastRun: null };
  }
  if (
    e.job.status === "running" && e.running.size === 0 &&
    e.job.type === "periodic"
  ) setStatus(state, e, transition(e.job, "finish", "cancelled"));
}

/** A job's counters once `run` has ended (the store counts it by delta too). */
export function countsAfter(counts: JobCounts, run: Run): JobCounts {
  const ok = run.status === "complete";
  return {
    ...counts,
    runs: counts.runs + 1,
    successes: counts.successes + (ok ? 1 : 0),
    lastRun: summarize(run),
    // To the millisecond, as the stores keep it (a cluster's clock has
    // fractions): every node then shows the same time.
    lastSuccessAt: ok ? Math.round(run.endedAt!) : counts.lastSuccessAt,
    lastFailureAt: run.status === "failed"
      ? Math.round(run.endedAt!)
      : counts.lastFailureAt,
  };
}

/** A run ended: count it, record it, plan a retry, move the job on. */
export function settle(state: EngineState, e: Entry, run: Run) {
  if (e.running.delete(run.id)) state.activeRuns--;
  slotFreed(state); // a queued run may start (queue.ts)
  if (state.entries.get(run.jobId) !== e) return; // deleted meanwhile
  const ok = run.status === "complete";
  e.counts = countsAfter(e.counts, run);
  const job = e.job;
  const retry = run.status === "failed" && run.attempt <= job.retries &&
    !state.closing &&
    (job.status === "running" || job.status === "scheduled");
  state.writer.runFinished(
    run,
    alertsOf(state, e, run, retry),
    triggersFor(job, run, retry, state.clock.now()),
  );
  if (ok) state.log("info", `job ${run.jobId} run ${run.id}: ${run.message}`);
  else {
    state.log(
      "warn",
      `job ${run.jobId} run ${run.id} ${run.status}: ${run.error}`,
    );
  }
  if (retry) scheduleRetry(state, e, run);
  if (job.status === "running" && e.running.size === 0) {
    const outcome = run.status as Exclude<RunStatus, "running" | "queued">;
    setStatus(
      state,
      e,
      retry && job.type === "onetime"
        ? transition(e.job, "retry")
        : transition(e.job, "finish", outcome),
    );
  }
}

/** The alerts a finished run causes (notify.ts), written with its finish. */
function alertsOf(
  state: EngineState,
  e: Entry,
  run: Run,
  retry: boolean,
): Delivery[] {
  const events = runEvents(run, e.failing, retry);
  if (run.status === "complete") e.failing = false;
  else if (events.includes("failure")) e.failing = true;
  // No rules and no server default: no alert work on the finish path.
  if (!e.job.notify?.length && !state.settings.notifyDefaults.length) return [];
  if (!events.length) return [];
  return deliveriesFor(
    e.job,
    state.settings.notifyDefaults,
    events,
    runFacts(e.job, run),
    `run:${run.id}`,
    state.clock.now(),
  );
}

function scheduleRetry(state: EngineState, e: Entry, failed: Run) {
  const at = retryAt(failed, e.job.retryDelayMs, state.clock.now());
  e.retryAttempt = failed.attempt + 1;
  // A one-time job's retry is its next run: stored, so a restart keeps it.
  if (e.job.type === "onetime") void moveNext(state, e, at);
  state.timers.set(RETRY_KEY + e.job.id, at);
}

/** A retry came due. */
export function onRetry(state: EngineState, id: string, due: number): void {
  const e = state.entries.get(id);
  const attempt = e?.retryAttempt;
  if (!e || !attempt || !isArmed(e.job.status) || state.closing) return;
  if (e.busy) return void e.busy.then(() => onRetry(state, id, due));
  e.retryAttempt = null;
  // Planned again after a restart or a take-over, but queued already.
  for (const g of e.running.values()) {
    if (g.run.trigger === "retry" && g.run.attempt === attempt) return;
  }
  // A one-time job's retry is claimed like its first attempt.
  const claim = e.job.type === "onetime" ? moveNext(state, e, null) : undefined;
  fire(state, e, "retry", due, attempt, claim);
}

/** Aborts every run of the job that is going. */
export function abortRuns(e: Entry, reason: Abort): void {
  for (const r of e.running.values()) r.cancel(reason);
}
