/**
 * What each client operation does to a job: a plan from the job as
 * committed to the row to commit, checked against the status table
 * (status.ts). A plan that is refused throws and changes nothing; the
 * manager commits the rest through {@link changeJob}.
 *
 * @example
 * ```ts
 * await changeJob(state, "nightly", (job, now) => pausePlan(state, job, now));
 * ```
 * @module
 */
import { defineJob, mergePatch } from "./definition.ts";
import { JobproError } from "./errors.ts";
import type { Job, JobPatch } from "./job.ts";
import type { Change } from "./operations.ts";
import { disarm, planned } from "./planner.ts";
import { abortRuns } from "./runner.ts";
import { isPeriodic } from "./schedule.ts";
import { Abort, type EngineState } from "./state.ts";
import { isArmed, transition } from "./status.ts";
import { scheduleOf } from "./views.ts";

/** The job started: its first run planned. */
export function started(state: EngineState, job: Job, now: number): Job {
  return planned(
    state,
    { ...job, status: transition(job, "start"), updatedAt: now },
    now,
  );
}

export function startPlan(state: EngineState, job: Job, now: number): Change {
  return { job: started(state, job, now) };
}

/** Stopped: no next run, and the runs going are cancelled. */
export function stopPlan(state: EngineState, job: Job, now: number): Change {
  return {
    job: {
      ...job,
      status: transition(job, "stop"),
      nextRunAt: null,
      updatedAt: now,
    },
    after: (e) => {
      disarm(state, e);
      abortRuns(e, new Abort("cancelled", "stopped"));
    },
  };
}

/** Paused: a periodic job forgets its next tick; a one-time job keeps its time. */
export function pausePlan(state: EngineState, job: Job, now: number): Change {
  return {
    job: {
      ...job,
      status: transition(job, "pause"),
      nextRunAt: job.type === "periodic" ? null : job.nextRunAt,
      updatedAt: now,
    },
    after: (e) => disarm(state, e),
  };
}

/** Resumed: a periodic job plans its next tick from now. */
export function resumePlan(state: EngineState, job: Job, now: number): Change {
  const next = { ...job, status: transition(job, "resume"), updatedAt: now };
  return { job: job.type === "periodic" ? planned(state, next, now) : next };
}

/** A one-time job moved to a new time. */
export function reschedulePlan(
  state: EngineState,
  job: Job,
  schedule: string,
  now: number,
): Change {
  if (job.type !== "onetime" || isPeriodic(schedule)) {
    throw new JobproError(
      "conflict",
      "reschedule is for one-time jobs; a periodic job's schedule is changed by editing the job",
    );
  }
  const status = transition(job, "reschedule");
  scheduleOf({ schedule, timezone: job.timezone }, now);
  const next = { ...job, status, schedule: schedule.trim(), updatedAt: now };
  return { job: status === "scheduled" ? planned(state, next, now) : next };
}

/** The definition edited; a new schedule or zone is planned again. */
export function updatePlan(
  state: EngineState,
  job: Job,
  patch: JobPatch,
  now: number,
): Change {
  const next = defineJob(state, mergePatch(job, patch), job.id, now, job);
  const replanned = patch.schedule !== undefined ||
    patch.timezone !== undefined;
  return {
    job: replanned && isArmed(next.status) ? planned(state, next, now) : next,
  };
}
