/**
 * Jobs as configuration: each job's definition in the native format (what
 * a create takes, with its id), without state, counters or versions,
 * and the way back from what a list or an export printed to a definition.
 * The fields are the definition schema's own (job.ts), so a field a later
 * issue adds to it is exported and applied with no change here.
 *
 * @example
 * ```ts
 * const doc = exportJobs(state.entries.values(), { reveal: false });
 * // { jobs: [{ id: "nightly", name: "Nightly", schedule: "0 2 * * *", ... }] }
 * ```
 * @module
 */
import { type Job, JobInputSchema, jobView } from "./job.ts";
import { redactNotify } from "./notify.ts";
import { redactAction } from "./secrets.ts";

/** A document of job definitions, as export answers and apply takes. */
export interface JobsDocument {
  jobs: Record<string, unknown>[];
}

/** The fields of a definition, in the schema's order (`id` first). */
export const DEFINITION_FIELDS: readonly string[] = Object.keys(
  JobInputSchema.shape,
);

/** Definition fields that take null (the others are left out when null). */
const NULLABLE = new Set(
  DEFINITION_FIELDS.filter((f) =>
    (JobInputSchema.shape as Record<
      string,
      { safeParse(v: unknown): { success: boolean } }
    >)[f]
      .safeParse(null).success
  ),
);

/**
 * Fields a job's JSON has (a list, a job read, an export of another tool
 * version) that are its state or counters, not its definition: ignored when
 * a definition is read back, unless the schema has made one a definition
 * field since.
 */
const READ_ONLY_FIELDS = [
  ...viewOnlyFields(),
  "type",
  "status",
  "description",
  "nextRunAt",
  "lastRun",
  "runCount",
  "successCount",
  "activeRuns",
  "queuedRuns",
  "skippedRuns",
  "missedRuns",
  "successRate",
  "createdAt",
  "updatedAt",
  "version",
].filter((f) => !DEFINITION_FIELDS.includes(f));

/** The fields of a job's view (job.ts `jobView`) that are not definition fields. */
function viewOnlyFields(): string[] {
  const sample = {
    id: "x",
    name: "x",
    type: "onetime",
    schedule: "",
    timezone: null,
    action: { type: "function", name: "noop" },
    timeoutMs: null,
    retries: 0,
    retryDelayMs: 0,
    overlap: "skip",
    catchUp: "skip",
    autoStart: false,
    tags: [],
    notify: [],
    status: "created",
    nextRunAt: null,
    createdAt: 0,
    updatedAt: 0,
    version: 1,
  } as unknown as Job;
  const counts = {
    runs: 0,
    successes: 0,
    lastRun: null,
    skipped: 0,
    missed: 0,
  };
  try {
    return Object.keys(jobView(sample, counts, "manual"));
  } catch {
    return []; // the static list below still holds the known ones
  }
}

/**
 * A job's definition: the schema's fields it has set (absent optional ones
 * left out), `[]` for its lists when none; secrets in clear unless redacted.
 *
 * @example
 * ```ts
 * definitionOf(job, { reveal: false }).action; // headers shown as "[redacted]"
 * ```
 */
export function definitionOf(
  job: Job,
  { reveal }: { reveal: boolean },
): Record<string, unknown> {
  const source = job as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of DEFINITION_FIELDS) {
    const value = source[field];
    if (value === undefined || (value === null && !NULLABLE.has(field))) {
      continue;
    }
    out[field] = value;
  }
  out.notify = job.notify ?? [];
  if (!reveal) {
    out.action = redactAction(job.action);
    out.notify = redactNotify(job.notify ?? []);
  }
  return out;
}

/**
 * Every job's definition, in creation order.
 *
 * @example
 * ```ts
 * exportJobs([...state.entries.values()], { reveal: true }).jobs.length;
 * ```
 */
export function exportJobs(
  entries: Iterable<{ job: Job }>,
  opts: { reveal: boolean },
): JobsDocument {
  return { jobs: [...entries].map((e) => definitionOf(e.job, opts)) };
}

/**
 * A definition read back from a job's JSON: its read-only fields (status,
 * counters, times) dropped, the rest as it was.
 *
 * @example
 * ```ts
 * withoutReadOnly({ id: "a", status: "paused", runCount: 3, name: "A" }); // { id: "a", name: "A" }
 * ```
 */
export function withoutReadOnly(def: unknown): unknown {
  if (typeof def !== "object" || def === null || Array.isArray(def)) {
    return def;
  }
  const out = { ...def } as Record<string, unknown>;
  for (const field of READ_ONLY_FIELDS) delete out[field];
  return out;
}
