/**
 * What a job looks like to the outside: its view (ISO times, counters, the
 * schedule in English), cached per entry until the job, its counters or its
 * number of runs going change — a dashboard polling 50 rows costs 50
 * lookups, not 250 dates.
 *
 * @example
 * ```ts
 * const v = viewOf(e); // the same object until something about the job changes
 * ```
 * @module
 */
import { type Job, type JobView, jobView } from "./job.ts";
import { describeSchedule } from "./describe.ts";
import { isReboot, parseSchedule } from "./schedule.ts";
import type { Entry } from "./state.ts";
import { effectiveZone } from "./default_zone.ts";

const HOUR = 3_600_000;

/** The job's schedule parsed in its zone, relative times counted from `now`. */
export function scheduleOf(
  job: Pick<Job, "schedule" | "timezone">,
  now: number,
) {
  return parseSchedule(job.schedule, {
    timezone: job.timezone ?? undefined,
    now: new Date(now),
  });
}

const descriptions = new Map<string, string>();

/** The schedule in English; periodic ones memoized, as 10,000 jobs share few schedules. */
export function describe(job: Job): string {
  if (job.type === "onetime") return describeOnce(job);
  const key = `${effectiveZone(job)}\u0000${job.schedule}`;
  let text = descriptions.get(key);
  if (text === undefined) {
    text = describeSchedule(scheduleOf(job, job.createdAt));
    if (descriptions.size > 10_000) descriptions.clear();
    descriptions.set(key, text);
  }
  return text;
}

function describeOnce(job: Job): string {
  if (!job.schedule) return "manual";
  if (isReboot(job.schedule)) return "At each server start (@reboot)";
  const stamp = (ms: number) =>
    `${new Date(ms).toISOString().replace("T", " ").slice(0, 19)} UTC`;
  if (job.nextRunAt !== null) return `Once at ${stamp(job.nextRunAt)}`;
  const a = scheduleOf(job, 0), b = scheduleOf(job, HOUR);
  if (a.kind !== "once" || b.kind !== "once") return job.schedule;
  const relative = a.at.getTime() !== b.at.getTime();
  return relative
    ? `Once, ${job.schedule.replace(/^(in\s+|\+)/, "")} after it starts`
    : `Once at ${stamp(a.at.getTime())}`;
}

/**
 * The API's view of a job, cached until the job, its counters or its number
 * of runs going change (they are replaced, never mutated, so identity tells).
 */
export function viewOf(e: Entry): JobView {
  const c = e.view;
  const active = e.running.size;
  if (
    c && c.job === e.job && c.counts === e.counts && c.active === active &&
    c.queued === e.queuedRuns
  ) {
    return c.value;
  }
  const value = jobView(
    e.job,
    e.counts,
    describe(e.job),
    e.running.size,
    e.queuedRuns,
  );
  e.view = {
    job: e.job,
    counts: e.counts,
    active,
    queued: e.queuedRuns,
    value,
  };
  return value;
}
