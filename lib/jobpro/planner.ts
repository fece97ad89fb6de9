/**
 * The planner: when each job runs next, the timer queue, and the claims of
 * ticks. A job's `nextRunAt` only ever moves by a claim (a compare-and-set in
 * the store, see store.ts) or by an operation's versioned write, so the store
 * always knows which tick is a job's to run next.
 *
 * A periodic tick `t` is claimed when the tick before it fires (the claim
 * moves `nextRunAt` from that tick to `t`), so by the time `t` is due its
 * claim is normally long committed; a tick whose claim is still being written
 * waits for it. After a crash, a claimed tick in the past is never run again.
 * A one-time job's tick is claimed (moved to null) when it fires, and its
 * action waits until that claim is committed.
 *
 * Who moves a job out of a status is in status.ts; this file only decides
 * when `scheduled` and `running` jobs run next.
 *
 * @example
 * ```ts
 * arm(state, e); // the timer for e.job.nextRunAt, or none
 * ```
 * @module
 */
import type { Job } from "./job.ts";
import { resyncNext } from "./follower.ts";
import { deliveriesFor } from "./notify.ts";
import { checkDelay, heartbeatOf, onDeadline } from "./heartbeat.ts";
import { fire } from "./runner.ts";
import { nextRun, nextTickAfter } from "./schedule.ts";
import { type EngineState, type Entry, RETRY_KEY } from "./state.ts";
import { isArmed } from "./status.ts";
import { scheduleOf } from "./views.ts";

/**
 * The next fire time of a periodic job strictly after `after`, and after
 * `now` too: a scheduler so late that the next tick has passed moves on to
 * the first one still ahead rather than fire a backlog. Memoized per
 * (schedule, instant): many jobs share a schedule and fire together.
 */
export function nextTick(
  state: EngineState,
  job: Job,
  after: number,
  now = after,
): number | null {
  const key = `${job.timezone ?? ""}\u0000${job.schedule}`;
  let memo = state.ticks.get(key);
  if (!memo) {
    if (state.ticks.size > 50_000) state.ticks.clear();
    memo = { after: NaN, next: null, schedule: scheduleOf(job, after) };
    state.ticks.set(key, memo);
  }
  if (memo.after !== after) {
    memo.after = after;
    memo.next = nextRun(memo.schedule, new Date(after))?.getTime() ?? null;
  }
  if (memo.next === null || memo.next > now) return memo.next;
  return nextTickAfter(memo.schedule, after, now);
}

/** The job with its first run planned, after a start, a resume or a new schedule. */
export function planned(state: EngineState, job: Job, now: number): Job {
  if (job.type === "periodic") {
    return { ...job, nextRunAt: nextTick(state, job, now) };
  }
  if (job.schedule.trim() === "") return { ...job, nextRunAt: now }; // manual: runs when started
  const s = scheduleOf(job, now);
  return { ...job, nextRunAt: s.kind === "once" ? s.at.getTime() : now };
}

/** Arms (or disarms) the timer for the job's `nextRunAt`. */
export function arm(state: EngineState, e: Entry): void {
  const { id, nextRunAt, status } = e.job;
  if (nextRunAt === null || !isArmed(status) || !isMine(state, id)) {
    return state.timers.delete(id);
  }
  // A heartbeat job's timer is its tick's check, a grace after it (heartbeat.ts).
  state.timers.set(id, nextRunAt + checkDelay(e.job));
}

/** Whether this process plans the job: always, but on a node of a cluster only the jobs it owns. */
export function isMine(state: EngineState, id: string): boolean {
  return !state.node || state.node.owned.has(id);
}

/** No timer and no retry for the job. */
export function disarm(state: EngineState, e: Entry): void {
  state.timers.delete(e.job.id);
  state.timers.delete(RETRY_KEY + e.job.id);
  e.retryAttempt = null;
}

/**
 * Moves the job's next run time by a claim; resolves, once committed, with
 * whether the claim won (false: the store's time was no longer the job's).
 */
export function moveNext(
  state: EngineState,
  e: Entry,
  next: number | null,
): Promise<boolean> {
  const tick = e.job.nextRunAt;
  e.job = { ...e.job, nextRunAt: next };
  const claimed = state.writer.claim(e.job.id, tick, next);
  claimed.then((won) => {
    // (Unless the job was re-planned since: another node's change, say.)
    if (!won && state.entries.get(e.job.id) === e && e.job.nextRunAt === next) {
      // On a cluster's node, another node moved it: its row says where it is.
      if (state.node) {
        return void resyncNext(state, e.job.id).catch((err) =>
          state.log("warn", `job ${e.job.id}: cannot read it again: ${err}`)
        );
      }
      state.log(
        "error",
        `job ${e.job.id}: its claim of ${
          next === null ? "its run" : new Date(next).toISOString()
        } was refused (the stored next run was not ${
          tick === null ? "empty" : new Date(tick).toISOString()
        }); it is disarmed until it is changed again`,
      );
      disarm(state, e);
    }
  });
  return claimed;
}

/** A tick came due: claim the next one, then fire this one. */
export async function onDue(
  state: EngineState,
  id: string,
  at: number,
): Promise<void> {
  const e = state.entries.get(id);
  if (e && heartbeatOf(e.job)) return await onDeadline(state, id, at);
  if (!e || !due(state, e, at)) return;
  // An operation being committed decides first (it may pause, stop or
  // re-plan the job); then the tick is looked at again.
  if (e.busy) return void e.busy.then(() => onDue(state, id, at));
  // The tick must be durably ours: the claim that made it `nextRunAt`.
  if (state.writer.isPending(id)) await state.writer.flush().catch(() => {});
  if (state.entries.get(id) !== e || !due(state, e, at)) return;
  const busy = e.busy as Promise<void> | null; // set while the flush waited
  if (busy) return void busy.then(() => onDue(state, id, at));
  if (e.job.type === "periodic") {
    const now = state.clock.now();
    // On a cluster's node, ticks a dead node left unstarted still fire late.
    const next = nextTick(state, e.job, at, now - state.settings.lateGraceMs);
    countMissed(state, e, at, next, now);
    void moveNext(state, e, next);
    arm(state, e);
    fire(state, e, "schedule", at, 1);
  } else {
    // The action waits for this claim to be committed.
    fire(state, e, "schedule", at, 1, moveNext(state, e, null));
  }
}

function due(state: EngineState, e: Entry, at: number): boolean {
  return !state.closing && e.job.nextRunAt === at && isArmed(e.job.status) &&
    isMine(state, e.job.id);
}

/** Most ticks counted one by one when a late scheduler skips ahead. */
const MAX_COUNTED = 100_000;

/**
 * The ticks between `at` (about to fire) and `next` that the scheduler was
 * too late for: counted on the job (`missedRuns`), logged once per episode,
 * never skipped without trace.
 */
export function countMissed(
  state: EngineState,
  e: Entry,
  at: number,
  next: number | null,
  now: number,
) {
  const s = state.ticks.get(`${e.job.timezone ?? ""}\u0000${e.job.schedule}`)
    ?.schedule;
  const first = s && nextRun(s, new Date(at));
  if (!s || !first || (next !== null && first.getTime() >= next)) {
    if (e.missingSince !== null) {
      state.log("info", `job ${e.job.id}: ticks fire on time again`);
      e.missingSince = null;
    }
    return;
  }
  let missed = 0;
  for (
    let t: Date | null = first;
    t && (next === null || t.getTime() < next) && missed < MAX_COUNTED;
    t = nextRun(s, t)
  ) missed++;
  e.counts = { ...e.counts, missed: e.counts.missed + missed };
  if (e.missingSince === null) {
    e.missingSince = at;
    state.log(
      "warn",
      `job ${e.job.id}: ${missed} tick(s) after ${
        new Date(at).toISOString()
      } were missed, the scheduler running ${
        Math.round(now - at)
      } ms late (counted in missedRuns; not logged again until ticks are on time)`,
    );
    missedAlert(state, e, at, missed, now);
  }
}

/** The "missed" alert of an episode (notify.ts): once, at its start. */
function missedAlert(
  state: EngineState,
  e: Entry,
  at: number,
  count: number,
  now: number,
) {
  const facts = {
    job: { id: e.job.id, name: e.job.name },
    run: null,
    missed: { since: new Date(at).toISOString(), count },
  };
  state.writer.deliver(
    deliveriesFor(
      e.job,
      state.settings.notifyDefaults,
      ["missed"],
      facts,
      `missed:${e.job.id}:${at}`,
      now,
    ),
  );
}
