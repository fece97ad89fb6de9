/**
 * Heartbeat checks, for crons that run elsewhere: a job whose action is
 * `{ type: "heartbeat", graceMs }` runs nothing; it expects a ping (ping.ts)
 * at each tick of its schedule. The check of tick `t` is due at
 * `t + graceMs` (the planner arms the job's timer there, not at `t`): a ping
 * of any kind (success, start or fail) received from `t - graceMs` on
 * covers it; without one, a failed run "missed heartbeat" is recorded for
 * the tick (trigger `schedule`, `scheduledFor` t).
 *
 * The check moves the job's `nextRunAt` from `t` to the next tick whose
 * check is still ahead, by the planner's claim, in the same batch as the
 * missed run's start: so it is done once. On a cluster only the owner arms
 * the timer, its claim and the fenced start are refused to any other node,
 * and the store's one-run-per-tick key backs that; after a restart the
 * stored `nextRunAt` is the first check not yet done, which is then done
 * at once (the checks that came due while down after it are passed over
 * and raise nothing more).
 *
 * Alerts: a missed heartbeat is a failed run, and the first of an episode
 * (its job's previous run was not a missed heartbeat) sends, per rule of
 * the job (and server default), one delivery: "missed" if the rule listens
 * to it, else "failure" if it listens to that. Later misses of the episode
 * send nothing; the next ping ends it ("success", and "recovery" after a
 * failure, as for any run). The planner's own "missed ticks" alert never
 * comes for heartbeat jobs (their ticks never fire).
 *
 * The same check ends the job's ping-started runs that got no finish ping
 * within the job's `timeoutMs` (default: the grace) as failed.
 *
 * @example
 * ```ts
 * checkDelay(job); // the grace of a heartbeat job, 0 for any other
 * ```
 * @module
 */
import { randomBytes } from "node:crypto";
import type { Action, HeartbeatAction, Job } from "./job.ts";
import { deliveriesFor, type Delivery, runFacts } from "./notify.ts";
import { endRun, type Run } from "./run.ts";
import { arm, isMine, moveNext, nextTick } from "./planner.ts";
import { countsAfter, nextRun } from "./runner.ts";
import { serially } from "./operations.ts";
import { REDACTED } from "./secrets.ts";
import type { EngineState, Entry } from "./state.ts";
import { isArmed } from "./status.ts";
import { expireStarts } from "./ping.ts";

/** The error of a run recorded for a tick no ping came for. */
export const MISSED_HEARTBEAT = "missed heartbeat";

/** The job's heartbeat action, or null when it runs something. */
export function heartbeatOf(job: Pick<Job, "action">): HeartbeatAction | null {
  return job.action.type === "heartbeat" ? job.action : null;
}

/** How long after its tick a job's timer is due: the grace of a heartbeat job, else 0. */
export function checkDelay(job: Pick<Job, "action">): number {
  return heartbeatOf(job)?.graceMs ?? 0;
}

/** A fresh ping key: 24 random bytes, URL-safe (32 characters). */
export function newPingKey(): string {
  return randomBytes(24).toString("base64url");
}

/** The action with a ping key: the one given, else a fresh one. */
export function withPingKey(action: Action): Action {
  if (action.type !== "heartbeat") return action;
  if (action.pingKey !== undefined && action.pingKey !== REDACTED) {
    return action;
  }
  return { ...action, pingKey: newPingKey() };
}

/**
 * The definition's problem as a heartbeat job, or null: it needs a
 * periodic schedule (when pings are due), and has nothing to retry, no
 * concurrency slot to take and no chain to start (its runs are pings and
 * checks, not runs of anything).
 */
export function heartbeatProblem(
  def: {
    action: Action;
    retries: number;
    concurrencyKey?: string | null;
    onSuccess?: string[];
    onFailure?: string[];
  },
  periodic: boolean,
): { field: string; message: string } | null {
  if (def.action.type !== "heartbeat") return null;
  if (!periodic) {
    return {
      field: "schedule",
      message:
        'a heartbeat job needs a periodic schedule (cron, such as "*/5 * * * *"): its ticks are when pings are due',
    };
  }
  if (def.retries > 0) {
    return {
      field: "retries",
      message: "must be 0 for a heartbeat job: it runs nothing to retry",
    };
  }
  if (def.concurrencyKey != null) {
    return {
      field: "concurrencyKey",
      message:
        "a heartbeat job runs nothing, so it takes no concurrency slot: leave concurrencyKey out",
    };
  }
  for (const field of ["onSuccess", "onFailure"] as const) {
    if (def[field]?.length) {
      return {
        field,
        message:
          "a heartbeat job runs nothing; chains start from jobs that run",
      };
    }
  }
  return null;
}

/**
 * The job's timer came due (planner.ts `onDue`): if it is the check of its
 * claimed tick (`nextRunAt + graceMs` has come), the check is done.
 */
export async function onDeadline(
  state: EngineState,
  id: string,
  at: number,
): Promise<void> {
  const e = state.entries.get(id);
  if (!e || !checkDue(state, e, at)) return;
  if (e.busy) return void e.busy.then(() => onDeadline(state, id, at));
  if (state.writer.isPending(id)) await state.writer.flush().catch(() => {});
  if (state.entries.get(id) !== e || !checkDue(state, e, at)) return;
  const busy = e.busy as Promise<void> | null; // set while the flush waited
  if (busy) return void busy.then(() => onDeadline(state, id, at));
  await serially(e, check(state, e)).catch((err) => {
    // The store could not be read: the check is tried again shortly.
    state.log("warn", `job ${id}: heartbeat check failed: ${err}`);
    if (state.entries.get(id) === e && !state.closing) {
      state.timers.set(id, state.clock.now() + 1000);
    }
  });
}

function checkDue(state: EngineState, e: Entry, at: number): boolean {
  const hb = heartbeatOf(e.job);
  const tick = e.job.nextRunAt;
  return !state.closing && hb !== null && tick !== null &&
    at >= tick + hb.graceMs && isArmed(e.job.status) &&
    isMine(state, e.job.id);
}

async function check(state: EngineState, e: Entry): Promise<void> {
  const tick = e.job.nextRunAt!;
  const grace = heartbeatOf(e.job)!.graceMs;
  // The store's, not this node's memory: any node may have taken the ping.
  const last = await state.store.lastPing(e.job.id);
  if (state.entries.get(e.job.id) !== e || e.job.nextRunAt !== tick) return;
  const now = state.clock.now();
  // The next tick whose check is still ahead.
  const next = nextTick(state, e.job, tick, now - grace);
  void moveNext(state, e, next);
  arm(state, e);
  if (last === null || last < tick - grace) recordMissed(state, e, tick);
  await expireStarts(state, e, now);
}

/** A failed run "missed heartbeat" for the tick: started (fenced) with the claim, then ended. */
function recordMissed(state: EngineState, e: Entry, tick: number) {
  let run: Run;
  try {
    run = nextRun(state, e, "schedule", tick, 1);
  } catch (err) {
    state.log("error", `job ${e.job.id}: no missed run recorded: ${err}`);
    return;
  }
  const prev = e.counts.lastRun;
  state.log(
    "warn",
    `job ${e.job.id}: missed heartbeat (no ping for the tick at ${
      new Date(tick).toISOString()
    })`,
  );
  state.writer.recordStart(run, (ok) => {
    if (!ok || state.entries.get(e.job.id) !== e) return;
    const ended = endRun(
      run,
      { status: "failed", error: MISSED_HEARTBEAT },
      state.clock.now(),
    );
    const first = prev?.error !== MISSED_HEARTBEAT;
    const alerts = first ? missedAlerts(state, e.job, ended, tick) : [];
    countEnded(e, ended);
    state.writer.runFinished(ended, alerts);
  });
}

/** A run of the job ended here: counted (the store counts it by delta too). */
export function countEnded(e: Entry, run: Run): void {
  e.counts = countsAfter(e.counts, run);
  if (run.status === "complete") e.failing = false;
  else if (run.status === "failed") e.failing = true;
}

/**
 * The alerts of an episode's first missed heartbeat: per rule, one
 * delivery, "missed" when the rule listens to it, else "failure".
 */
export function missedAlerts(
  state: EngineState,
  job: Job,
  run: Run,
  tick: number,
): Delivery[] {
  const facts = {
    ...runFacts(job, run),
    missed: { since: new Date(tick).toISOString(), count: 1 },
  };
  const out = new Map<string, Delivery>();
  for (
    const rule of [...(job.notify ?? []), ...state.settings.notifyDefaults]
  ) {
    const event = rule.on.includes("missed")
      ? "missed"
      : rule.on.includes("failure")
      ? "failure"
      : null;
    if (!event) continue;
    const one = { ...job, notify: [rule] };
    const made = deliveriesFor(
      one,
      [],
      [event],
      facts,
      `run:${run.id}`,
      run.endedAt ?? tick,
    );
    for (const d of made) out.set(d.id, d);
  }
  return [...out.values()];
}
