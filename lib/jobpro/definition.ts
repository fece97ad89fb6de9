/**
 * Job definitions: what a client sends, checked and made a job. A schedule
 * or zone that does not parse, or an action the engine will not run, is
 * refused here, before anything changes.
 *
 * @example
 * ```ts
 * const job = defineJob(state, input, freshId(state, input.name), Date.now());
 * ```
 * @module
 */
import { checkAction } from "./actions.ts";
import { refuseRedacted } from "./redacted.ts";
import { invalid } from "./errors.ts";
import { heartbeatProblem, withPingKey } from "./heartbeat.ts";
import { checkChains } from "./chains.ts";
import type { Job, JobInput, JobPatch, JobType } from "./job.ts";
import { keepNotifySecrets } from "./notify.ts";
import { isPeriodic, scheduleZone } from "./schedule.ts";
import { keepSecrets } from "./secrets.ts";
import type { EngineState } from "./state.ts";
import { scheduleOf } from "./views.ts";

function slug(name: string): string {
  return name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "").slice(0, 60) || "job";
}

/** A definition checked and made a job (status, next run and version kept from `prev`). */
export function defineJob(
  state: EngineState,
  input: JobInput,
  id: string,
  now: number,
  prev?: Job,
): Job {
  const type: JobType = isPeriodic(input.schedule) ? "periodic" : "onetime";
  // Parse now so a bad schedule or zone (or a zone given twice, as a
  // CRON_TZ= prefix and a different timezone) is refused before anything
  // changes. The prefix sets the job's zone.
  scheduleOf(
    { schedule: input.schedule, timezone: input.timezone || null },
    now,
  );
  checkAction(input.action, state.settings);
  // A hidden secret sent back with nothing stored to keep: never stored as the text.
  refuseRedacted(input.action, input.notify);
  const heartbeat = heartbeatProblem(input, type === "periodic");
  if (heartbeat) throw invalid(heartbeat.field, heartbeat.message);
  const chains = {
    onSuccess: input.onSuccess ?? [],
    onFailure: input.onFailure ?? [],
  };
  checkChains(state.entries, id, chains, input.action.type === "heartbeat");
  return {
    id,
    name: input.name,
    description: input.description ?? null,
    type,
    schedule: input.schedule.trim(),
    timezone: scheduleZone(input.schedule) ?? (input.timezone || null),
    action: withPingKey(input.action),
    timeoutMs: input.timeoutMs ?? null,
    retries: input.retries,
    retryDelayMs: input.retryDelayMs,
    overlap: input.overlap,
    catchUp: input.catchUp,
    autoStart: input.autoStart,
    tags: input.tags ?? [],
    notify: input.notify ?? [],
    ...chains,
    concurrencyKey: input.concurrencyKey ?? null,
    status: prev?.status ?? "created",
    nextRunAt: prev?.nextRunAt ?? null,
    createdAt: prev?.createdAt ?? now,
    updatedAt: now,
    version: prev?.version ?? 1,
  };
}

/** A patch merged onto the job as a full definition (secrets written back as [redacted] kept). */
export function mergePatch(job: Job, patch: JobPatch): JobInput {
  const m = { ...job, ...patch } as Job;
  // A new schedule with a CRON_TZ= prefix brings its own zone.
  if (patch.schedule !== undefined && patch.timezone === undefined) {
    m.timezone = scheduleZone(patch.schedule) ?? m.timezone;
  }
  if (patch.action) m.action = keepSecrets(patch.action, job.action);
  if (patch.notify) {
    m.notify = keepNotifySecrets(patch.notify, job.notify ?? []);
  }
  return {
    id: job.id,
    name: m.name,
    description: m.description ?? null,
    schedule: m.schedule,
    timezone: m.timezone,
    action: m.action,
    timeoutMs: m.timeoutMs,
    retries: m.retries,
    retryDelayMs: m.retryDelayMs,
    overlap: m.overlap,
    catchUp: m.catchUp,
    autoStart: m.autoStart,
    tags: m.tags ?? [],
    notify: m.notify ?? [],
    onSuccess: m.onSuccess ?? [],
    onFailure: m.onFailure ?? [],
    concurrencyKey: m.concurrencyKey ?? null,
  };
}

/** An id from the job's name that no job has (nor a reserved name). */
export function freshId(state: EngineState, name: string): string {
  const taken = (id: string) => state.entries.has(id) || state.creating.has(id);
  const s = slug(name);
  const base = state.settings.reservedIds.has(s) ? `${s}-job` : s;
  if (!taken(base)) return base;
  for (let i = 2;; i++) {
    if (!taken(`${base}-${i}`)) return `${base}-${i}`;
  }
}
