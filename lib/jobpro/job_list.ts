/**
 * The job list: filters (status, type, a substring of id or name, tags),
 * sort and paging over the jobs in memory.
 *
 * @example
 * ```ts
 * listJobs(state.entries, { status: "paused", sort: "name" }, viewOf);
 * ```
 * @module
 */
import type { JobType, JobView } from "./job.ts";
import type { Entry } from "./state.ts";
import type { JobStatus } from "./status.ts";
import { hasTags } from "./tags.ts";

/** Filters, sort and paging for the job list. */
export interface JobQuery {
  status?: JobStatus;
  type?: JobType;
  /** Substring of id or name, case-insensitive. */
  q?: string;
  /** Tags a job must all have (AND). */
  tags?: string[];
  sort?: "name" | "nextRunAt" | "lastRunAt" | "createdAt";
  order?: "asc" | "desc";
  offset?: number;
  limit?: number;
}

/** Most jobs one page holds. */
export const MAX_PAGE = 1000;

/**
 * A page of jobs and how many match.
 *
 * @example
 * ```ts
 * listJobs(entries, { q: "sync", limit: 25 }, viewOf).total;
 * ```
 */
export function listJobs(
  entries: Map<string, Entry>,
  q: JobQuery,
  view: (e: Entry) => JobView,
): { jobs: JobView[]; total: number } {
  const offset = Math.max(0, q.offset ?? 0);
  const limit = Math.min(Math.max(0, q.limit ?? 100), MAX_PAGE);
  const plain = !q.status && !q.type && !q.q && !q.tags?.length;
  const key = q.sort ?? "createdAt";
  // Entries are kept in creation order (restored oldest first, new ones
  // appended): the default page of 100,000 jobs needs no copy and no sort.
  if (plain && key === "createdAt" && q.order !== "desc") {
    const jobs: JobView[] = [];
    let i = 0;
    for (const e of entries.values()) {
      if (i++ < offset) continue;
      if (jobs.length >= limit) break;
      jobs.push(view(e));
    }
    return { jobs, total: entries.size };
  }
  const all = filtered([...entries.values()], q);
  const dir = q.order === "desc" ? -1 : 1;
  if (key === "createdAt") {
    if (dir === -1) all.reverse();
  } else {
    const value = sortKey(key);
    all.sort((a, b) => {
      const va = value(a), vb = value(b);
      return (va < vb ? -1 : va > vb ? 1 : a.job.id < b.job.id ? -1 : 1) * dir;
    });
  }
  return {
    jobs: all.slice(offset, offset + limit).map(view),
    total: all.length,
  };
}

function filtered(all: Entry[], q: JobQuery): Entry[] {
  if (q.status) all = all.filter((e) => e.job.status === q.status);
  if (q.type) all = all.filter((e) => e.job.type === q.type);
  const tags = q.tags;
  if (tags?.length) all = all.filter((e) => hasTags(e.job.tags, tags));
  if (q.q) {
    const needle = q.q.toLowerCase();
    all = all.filter((e) =>
      e.job.id.toLowerCase().includes(needle) ||
      e.job.name.toLowerCase().includes(needle)
    );
  }
  return all;
}

function sortKey(key: "name" | "nextRunAt" | "lastRunAt") {
  return (e: Entry): string | number =>
    key === "name"
      ? e.job.name.toLowerCase()
      : key === "nextRunAt"
      ? e.job.nextRunAt ?? Infinity
      : e.counts.lastRun?.startedAt ?? -Infinity;
}
