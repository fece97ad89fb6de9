/**
 * The list views' query strings, read one way for the API, the pages and
 * the islands alike. Each reader returns the query and the problems it
 * found: the API answers the first problem as a 400, a page shows the
 * defaults instead (a bad link never becomes an error page). Browser-safe.
 *
 * @example
 * ```ts
 * const { query, problems } = readRunsQuery(new URLSearchParams("offset=x"));
 * query.offset; // 0
 * problems[0].message; // 'offset: must be a non-negative integer, got "x"'
 * ```
 * @module
 */
import {
  JOB_STATUSES,
  type JobStatus,
  type JobType,
  RUN_STATUSES,
  type RunStatus,
  splitTags,
  tagProblem,
} from "@/lib/jobpro/runtime.ts";

/** What the list queries accept, shared with the OpenAPI document. */
export const QUERY = {
  jobStatus: JOB_STATUSES,
  jobType: ["periodic", "onetime"] as readonly JobType[],
  jobSort: ["name", "nextRunAt", "lastRunAt", "createdAt"] as const,
  order: ["asc", "desc"] as const,
  runStatus: RUN_STATUSES,
  /** Largest page; a bigger `limit` is a problem (the API's 400), not a silent cut. */
  maxLimit: 1000,
  /** The API's default page sizes. */
  jobLimit: 100,
  runLimit: 10,
} as const;

/** A query parameter that is not what it must be. */
export interface QueryProblem {
  /** The parameter, e.g. "offset". */
  name: string;
  /** A sentence naming it and what it must be. */
  message: string;
}

/** A query read from a URL, with whatever in it was wrong. */
export interface Read<T> {
  query: T;
  problems: QueryProblem[];
}

/** The job list's filters, sort and page. */
export interface JobsQuery {
  status?: JobStatus;
  type?: JobType;
  q?: string;
  /** Tags a job must all have; absent when none is asked for. */
  tags?: string[];
  sort?: typeof QUERY.jobSort[number];
  order?: typeof QUERY.order[number];
  offset: number;
  limit: number;
}

/** A job's runs: a status filter and a page, newest first. */
export interface RunsQuery {
  status?: RunStatus;
  offset: number;
  limit: number;
}

/**
 * Reads the job list's query: `status`, `type`, `q`, `tag` (repeated, or a
 * comma list: a job must have them all), `sort`, `order`, `offset`, `limit`
 * (default `limit` as given, at most {@link QUERY}.maxLimit).
 *
 * @example
 * ```ts
 * readJobsQuery(new URLSearchParams("status=paused")).query.status; // "paused"
 * ```
 */
export function readJobsQuery(
  params: URLSearchParams,
  limit: number = QUERY.jobLimit,
): Read<JobsQuery> {
  const r = new QueryReader(params);
  const query: JobsQuery = {
    status: r.oneOf("status", QUERY.jobStatus),
    type: r.oneOf("type", QUERY.jobType),
    q: params.get("q") || undefined,
    tags: r.tags("tag"),
    sort: r.oneOf("sort", QUERY.jobSort),
    order: r.oneOf("order", QUERY.order),
    offset: r.count("offset", 0),
    limit: r.count("limit", limit, QUERY.maxLimit),
  };
  return { query, problems: r.problems };
}

/**
 * Reads a job's runs query: `status`, `offset`, `limit`.
 *
 * @example
 * ```ts
 * readRunsQuery(new URLSearchParams("status=failed")).query; // { status: "failed", offset: 0, limit: 10 }
 * ```
 */
export function readRunsQuery(
  params: URLSearchParams,
  limit: number = QUERY.runLimit,
): Read<RunsQuery> {
  const r = new QueryReader(params);
  const query: RunsQuery = {
    status: r.oneOf("status", QUERY.runStatus),
    offset: r.count("offset", 0),
    limit: r.count("limit", limit, QUERY.maxLimit),
  };
  return { query, problems: r.problems };
}

/** The job page's view of its runs, as in its URL: `?status=&offset=&run=`. */
export interface RunsView {
  status: RunStatus | "";
  offset: number;
  limit: number;
  /** The run shown in detail. */
  run: number | null;
}

/**
 * The job page's runs view from its URL, for a page of `limit` runs; what
 * is not understood falls back to the default.
 *
 * @example
 * ```ts
 * readRunsView(new URLSearchParams("run=12&status=nope"), 20); // { status: "", offset: 0, limit: 20, run: 12 }
 * ```
 */
export function readRunsView(
  params: URLSearchParams,
  limit: number,
): RunsView {
  const { query } = readRunsQuery(params, limit);
  const run = new QueryReader(params).count("run", 0);
  return {
    status: query.status ?? "",
    offset: query.offset,
    limit,
    run: run > 0 ? run : null,
  };
}

/**
 * Reads parameters one by one, noting each one that is wrong.
 *
 * @example
 * ```ts
 * const r = new QueryReader(new URLSearchParams("count=x"));
 * r.count("count", 5); // 5, and r.problems names count
 * ```
 */
export class QueryReader {
  readonly problems: QueryProblem[] = [];
  constructor(private readonly params: URLSearchParams) {}

  /** A non-negative integer, or `fallback` when absent or wrong. */
  count(name: string, fallback: number, max?: number): number {
    const raw = this.params.get(name);
    if (raw === null || raw === "") return fallback;
    const n = Number(raw);
    if (max !== undefined && /^\d+$/.test(raw) && n > max) {
      this.problems.push({
        name,
        message: `${name}: must be at most ${max}, got ${raw}`,
      });
      return max;
    }
    if (/^\d+$/.test(raw) && Number.isSafeInteger(n)) return n;
    this.problems.push({
      name,
      message: `${name}: must be a non-negative integer, got "${raw}"`,
    });
    return fallback;
  }

  /**
   * Tags from every `name=` (each one tag or a comma list), without
   * duplicates; undefined when there are none. A bad tag is a problem and
   * is left out.
   */
  tags(name: string): string[] | undefined {
    const tags = new Set<string>();
    for (const raw of this.params.getAll(name)) {
      for (const tag of splitTags(raw)) {
        const problem = tagProblem(tag);
        if (problem) {
          this.problems.push({
            name,
            message: `${name}: ${JSON.stringify(tag)} ${problem}`,
          });
        } else tags.add(tag);
      }
    }
    return tags.size ? [...tags] : undefined;
  }

  /** One of `allowed`, or undefined when absent or wrong. */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const raw = this.params.get(name);
    if (raw === null || raw === "") return undefined;
    if (allowed.includes(raw as T)) return raw as T;
    this.problems.push({
      name,
      message: `${name}: must be one of ${allowed.join(", ")}, got "${raw}"`,
    });
    return undefined;
  }
}
