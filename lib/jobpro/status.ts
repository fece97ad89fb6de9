/**
 * A job's status and the one table of legal transitions. Every status change
 * in the engine goes through {@link transition}; anything not in the table is
 * refused with a reason and changes nothing.
 *
 * ```
 *             start                    fire            run ends
 *  created ─────────► scheduled ───────────► running ─────────► scheduled (periodic)
 *     ▲                 │  ▲ resume                         └──► complete | failed (one-time)
 *     │ reschedule      │  │
 *     │         pause   ▼  │            stop: periodic ► stopped, one-time ► cancelled
 *     └──────────────  paused           start again: stopped | complete | failed | cancelled ► scheduled
 * ```
 *
 * @example
 * ```ts
 * transition({ type: "onetime", status: "scheduled" }, "stop"); // "cancelled"
 * ```
 * @module
 */
import { JobproError } from "./errors.ts";
import type { JobType } from "./job.ts";

/** The seed's statuses. */
export const JOB_STATUSES = [
  "created",
  "scheduled",
  "running",
  "paused",
  "stopped",
  "complete",
  "failed",
  "cancelled",
] as const;
export type JobStatus = typeof JOB_STATUSES[number];

/**
 * Where a run is: `running` until it ends one of the other ways, or first
 * `queued` when a concurrency limit holds it back (concurrency.ts). Who
 * moves a run out of `queued`: queue.ts, to `running` once a slot frees
 * (the server-wide cap on its node, its key's limit checked and taken in
 * the store), on whichever node owns its job (after a restart, or a
 * take-over of a dead node's jobs, it is still queued); or to `cancelled`
 * by a cancel, a stop, a delete or a replacing run. The shutdown leaves it
 * queued (stored; the next start runs it). Who moves a run out of
 * `running`: runner.ts (the action's end, a timeout, a cancel) and
 * recovery.ts or the reaper (failed, "interrupted").
 */
export const RUN_STATUSES = [
  "queued",
  "running",
  "complete",
  "failed",
  "cancelled",
] as const;
export type RunStatus = typeof RUN_STATUSES[number];

/**
 * What can happen to a job. `fire`, `finish` and `retry` are the engine's
 * own: a run starts; the last run ends; a one-time job's failed run will be
 * tried again (it waits, scheduled, for the retry).
 */
export type Operation =
  | "start"
  | "stop"
  | "pause"
  | "resume"
  | "reschedule"
  | "fire"
  | "finish"
  | "retry";

/** A target status, or a function of the job type that picks it (or throws a refusal). */
type Rule = JobStatus | ((type: JobType, outcome?: RunOutcome) => JobStatus);

/** How the last run of a one-time job ended, for `finish`. */
export type RunOutcome = "complete" | "failed" | "cancelled";

const stopped = (type: JobType): JobStatus =>
  type === "onetime" ? "cancelled" : "stopped";

/** The legal transitions: operation → current status → next status. */
export const TRANSITIONS: Record<
  Operation,
  Partial<Record<JobStatus, Rule>>
> = {
  start: {
    created: "scheduled",
    stopped: "scheduled",
    complete: "scheduled",
    failed: "scheduled",
    cancelled: "scheduled",
  },
  stop: {
    created: stopped,
    scheduled: stopped,
    running: stopped,
    paused: stopped,
  },
  pause: {
    scheduled: "paused",
    running: (type) => {
      if (type === "onetime") {
        throw new JobproError(
          "conflict",
          "a running one-time job cannot be paused; stop it instead",
        );
      }
      return "paused";
    },
  },
  resume: { paused: "scheduled" },
  reschedule: { created: "created", scheduled: "scheduled" },
  fire: { scheduled: "running", running: "running" },
  finish: {
    running: (type, outcome) =>
      type === "periodic"
        ? "scheduled"
        : outcome === "complete"
        ? "complete"
        : outcome === "cancelled"
        ? "cancelled"
        : "failed",
  },
  retry: { running: "scheduled" },
};

/**
 * The status after `op`, or a `conflict` error saying why it is not allowed.
 *
 * @example
 * ```ts
 * transition({ type: "periodic", status: "paused" }, "resume"); // "scheduled"
 * transition({ type: "periodic", status: "created" }, "resume"); // throws conflict
 * ```
 */
export function transition(
  job: { type: JobType; status: JobStatus },
  op: Operation,
  outcome?: RunOutcome,
): JobStatus {
  const rule = TRANSITIONS[op][job.status];
  if (rule === undefined) {
    throw new JobproError(
      "conflict",
      `cannot ${op} a job that is ${job.status}`,
    );
  }
  return typeof rule === "function" ? rule(job.type, outcome) : rule;
}

/** Whether `op` is legal now, without throwing. */
export function canTransition(
  job: { type: JobType; status: JobStatus },
  op: Operation,
): boolean {
  try {
    transition(job, op);
    return true;
  } catch {
    return false;
  }
}

/** Statuses in which the scheduler keeps a timer for the job. */
export function isArmed(status: JobStatus): boolean {
  return status === "scheduled" || status === "running";
}
