/**
 * Bulk actions: pause, resume, run now or delete many jobs in one request,
 * named by id or selected by the job list's filters. Each job's operation is
 * the manager's own (the same checks, commits and events as one at a time),
 * a few at once; the answer says, job by job, what happened.
 *
 * A filter that narrows nothing selects every job, so it must say so
 * (`all: true`); a request reaches at most {@link MAX_BULK} jobs.
 *
 * @example
 * ```ts
 * const req = parseBulk({ action: "pause", filter: { tag: "billing" } });
 * const answer = await runBulk(state, req, manager);
 * ```
 * @module
 */
import { z } from "zod";
import { invalid, JobproError } from "./errors.ts";
import { firstIssue, type JobType, type JobView } from "./job.ts";
import { listJobs } from "./job_list.ts";
import type { Manager } from "./manager.ts";
import type { EngineState } from "./state.ts";
import { JOB_STATUSES, type JobStatus } from "./status.ts";
import { splitTags, tagProblem } from "./tags.ts";
import { viewOf } from "./views.ts";

/** What a bulk request can do to each job. */
export const BULK_ACTIONS = ["pause", "resume", "run", "delete"] as const;
export type BulkAction = typeof BULK_ACTIONS[number];

/** Most jobs one bulk request reaches. */
export const MAX_BULK = 1000;
/** Jobs operated on at once. */
const CONCURRENCY = 8;

/** The job list's filters, as a bulk request selects with them. */
export const BulkFilterSchema = z.strictObject({
  tag: z.union([z.string(), z.array(z.string())]).optional().meta({
    description:
      'Tags a job must all have: one, a comma list ("billing,nightly") or an array',
  }),
  status: z.enum(JOB_STATUSES).optional(),
  type: z.enum(["periodic", "onetime"]).optional(),
  q: z.string().max(200).optional().meta({
    description: "Substring of the id or name, any case",
  }),
});

/** The body of a bulk request: an action and exactly one of `ids` or `filter`. */
export const BulkSchema = z.strictObject({
  action: z.enum(BULK_ACTIONS),
  ids: z.array(z.string().min(1)).min(1, "must name at least one job").max(
    MAX_BULK,
    `at most ${MAX_BULK} jobs per request`,
  ).optional().meta({ description: "The jobs, by id (no id twice)" }),
  filter: BulkFilterSchema.optional().meta({
    description:
      "The jobs the list's filters select; one that narrows nothing (`{}`) needs `all: true`",
  }),
  all: z.boolean().optional().meta({
    description:
      "With `filter`: confirms that it may select every job (required for `{}`)",
  }),
});

export type BulkRequest = z.infer<typeof BulkSchema>;

/** What happened to one job. */
export type BulkResult =
  | {
    id: string;
    ok: true;
    /** The job's status afterwards; "deleted" once deleted. */
    status: JobStatus | "deleted";
    /** With `run`: the run it started. */
    runId?: number;
  }
  | { id: string; ok: false; code: string; error: string };

/** The answer: the action, counts, and each job's result in order. */
export interface BulkAnswer {
  action: BulkAction;
  matched: number;
  succeeded: number;
  failed: number;
  results: BulkResult[];
}

/**
 * Checks a bulk request; throws `invalid` naming the field.
 *
 * @example
 * ```ts
 * parseBulk({ action: "run", ids: ["a", "b"] });
 * ```
 */
export function parseBulk(body: unknown): BulkRequest {
  const r = BulkSchema.safeParse(body, { reportInput: true });
  if (!r.success) firstIssue(r.error);
  const req = r.data;
  if ((req.ids === undefined) === (req.filter === undefined)) {
    throw invalid("ids", "give exactly one of ids or filter");
  }
  if (req.all !== undefined && req.filter === undefined) {
    throw invalid("all", "only goes with filter");
  }
  const seen = new Map<string, number>();
  for (const [i, id] of (req.ids ?? []).entries()) {
    if (seen.has(id)) {
      throw invalid(
        `ids.${i}`,
        `"${id}" is given twice (also at ${seen.get(id)})`,
      );
    }
    seen.set(id, i);
  }
  return req;
}

/**
 * The tags of a filter, from one tag, a comma list or an array; a bad one
 * is `invalid` naming `field`.
 *
 * @example
 * ```ts
 * filterTags(["billing,nightly"], "tag"); // ["billing", "nightly"]
 * ```
 */
export function filterTags(
  raw: string | readonly string[] | undefined,
  field: string,
): string[] {
  if (raw === undefined) return [];
  const tags = (typeof raw === "string" ? [raw] : raw).flatMap((t) =>
    splitTags(t)
  );
  for (const tag of tags) {
    const problem = tagProblem(tag);
    if (problem) throw invalid(field, `${JSON.stringify(tag)} ${problem}`);
  }
  return [...new Set(tags)];
}

/** The ids a request names, or its filter selects (in the list's order). */
function targets(state: EngineState, req: BulkRequest): string[] {
  if (req.ids) return req.ids;
  const f = req.filter!;
  const query = {
    status: f.status,
    type: f.type as JobType | undefined,
    q: f.q || undefined,
    tags: filterTags(f.tag, "filter.tag"),
  };
  const narrows = query.status || query.type || query.q || query.tags.length;
  if (!narrows && req.all !== true) {
    throw invalid(
      "filter",
      "selects every job; say so with all: true, or narrow it (tag, status, type, q)",
    );
  }
  const { jobs, total } = listJobs(
    state.entries,
    { ...query, limit: MAX_BULK },
    viewOf,
  );
  if (total > MAX_BULK) {
    throw invalid(
      "filter",
      `selects ${total} jobs; a bulk request reaches at most ${MAX_BULK}: narrow the filter, or send several requests by ids`,
    );
  }
  return jobs.map((j) => j.id);
}

/** The manager's operations a bulk request uses. */
type Ops = Pick<Manager, "pause" | "resume" | "runNow" | "delete">;

/** One job's operation, as its result. */
function operation(
  state: EngineState,
  action: BulkAction,
  ops: Ops,
): (id: string) => Promise<BulkResult> {
  const statusOf = (id: string) => state.entries.get(id)?.job.status;
  const done = (v: JobView) => ({
    id: v.id,
    ok: true as const,
    status: v.status,
  });
  switch (action) {
    case "pause":
      return async (id) => done(await ops.pause(id));
    case "resume":
      return async (id) => done(await ops.resume(id));
    case "run":
      return async (id) => {
        const run = await ops.runNow(id);
        return {
          id,
          ok: true,
          status: statusOf(id) ?? "deleted",
          runId: run.id,
        };
      };
    case "delete":
      return async (id) => {
        await ops.delete(id);
        return { id, ok: true, status: "deleted" };
      };
  }
}

/** A refusal as a result; anything else (a bug) is logged once and reported. */
function failure(state: EngineState, id: string, err: unknown): BulkResult {
  if (err instanceof JobproError) {
    return { id, ok: false, code: err.code, error: err.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  state.log("error", `bulk action on job ${id} failed: ${message}`);
  return { id, ok: false, code: "internal", error: message };
}

/**
 * Runs a checked bulk request through the manager's operations, a few jobs
 * at a time; resolves with every job's result, in the order of its targets.
 *
 * @example
 * ```ts
 * const { succeeded, results } = await runBulk(state, parseBulk(body), manager);
 * ```
 */
export async function runBulk(
  state: EngineState,
  req: BulkRequest,
  ops: Ops,
): Promise<BulkAnswer> {
  const ids = targets(state, req);
  const one = operation(state, req.action, ops);
  const results: BulkResult[] = new Array(ids.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < ids.length; i = next++) {
      try {
        results[i] = await one(ids[i]);
      } catch (err) {
        results[i] = failure(state, ids[i], err);
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, ids.length) }, worker),
  );
  const succeeded = results.filter((r) => r.ok).length;
  return {
    action: req.action,
    matched: ids.length,
    succeeded,
    failed: ids.length - succeeded,
    results,
  };
}
