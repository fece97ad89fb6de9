/**
 * What a batch of `/jobs/events` does to what the dashboard shows: the jobs
 * table's rows, a row's run history, the job page's run list. Pure
 * functions of plain data, so the islands only hold state and render, and
 * every rule here is tested without a DOM.
 *
 * Events come in arrival order; within a batch the newest news of a job
 * wins, a deletion cancels earlier updates, and a run seen again replaces
 * the one shown.
 *
 * @example
 * ```ts
 * const batch = readBatch(events, { job: (id) => id === "nightly", run: (id) => id === "nightly" });
 * const { runs, added } = withRunsInView(shown, view, batch.runs);
 * ```
 * @module
 */
import { hasTags, type JobView, type RunView } from "@/lib/jobpro/runtime.ts";

/** One event off the wire; `data` is still JSON text. */
export interface WireEvent {
  type: string;
  data: string;
}

/** What a batch says, for the jobs its reader cares about. */
export interface Batch {
  /** Each updated job's newest definition, in the order first seen. */
  updated: Map<string, JobView>;
  /** Jobs deleted. */
  deleted: Set<string>;
  /** Runs started or finished, in arrival order. */
  runs: RunView[];
}

/** Which jobs a reader cares about; the rest are not even parsed. */
export interface Interest {
  /** Whether to read a `job-update` of this job. */
  job(id: string): boolean;
  /** Whether to read a `run-started` or `run-finished` of this job. */
  run(jobId: string): boolean;
}

const JOB_ID = /^\{"id":"([^"\\]*)"/;
const RUN_JOB_ID = /"jobId":"([^"\\]*)"/;

/**
 * The id of the job an event is about, read without parsing its JSON (a
 * job's `id` and a run's `jobId` come first), so events for jobs not shown
 * cost next to nothing; undefined when it cannot tell.
 *
 * @example
 * ```ts
 * jobOf({ type: "job-deleted", data: '{"id":"nightly"}' }); // "nightly"
 * ```
 */
export function jobOf(event: WireEvent): string | undefined {
  const re = event.type.startsWith("run-") ? RUN_JOB_ID : JOB_ID;
  return re.exec(event.data)?.[1];
}

/**
 * Sorts a batch of events into updates, deletions and runs of the jobs of
 * interest. Unknown event types are passed over.
 *
 * @example
 * ```ts
 * readBatch([{ type: "job-deleted", data: '{"id":"a"}' }], everything).deleted; // Set { "a" }
 * ```
 */
export function readBatch(events: WireEvent[], interest: Interest): Batch {
  const batch: Batch = { updated: new Map(), deleted: new Set(), runs: [] };
  for (const ev of events) {
    const about = jobOf(ev);
    if (ev.type === "job-update") {
      if (about !== undefined && !interest.job(about)) continue;
      const job = JSON.parse(ev.data) as JobView;
      if (interest.job(job.id)) batch.updated.set(job.id, job);
    } else if (ev.type === "job-deleted") {
      const { id } = JSON.parse(ev.data) as { id: string };
      batch.deleted.add(id);
      batch.updated.delete(id);
    } else if (ev.type === "run-started" || ev.type === "run-finished") {
      if (about !== undefined && !interest.run(about)) continue;
      const run = JSON.parse(ev.data) as RunView;
      if (interest.run(run.jobId)) batch.runs.push(run);
    }
  }
  return batch;
}

/** The jobs table's filters, as far as a new job is checked against them. */
export interface RowFilter {
  status: string;
  type: string;
  q: string;
  /** Tags a job must all have. */
  tag?: string[];
  sort: string;
  order: string;
  offset: number;
  limit: number;
}

/** The rows of the jobs table. */
export interface Rows {
  jobs: JobView[];
  total: number;
  query: RowFilter;
}

/**
 * Whether a job belongs in a view with these filters (status, type, tags,
 * and `q` as a case-blind substring of id or name).
 *
 * @example
 * ```ts
 * matches(job, { status: "", type: "periodic", q: "back" });
 * ```
 */
export function matches(
  job: JobView,
  q: Pick<RowFilter, "status" | "type" | "q" | "tag">,
): boolean {
  if (q.status && job.status !== q.status) return false;
  if (q.type && job.type !== q.type) return false;
  if (q.tag?.length && !hasTags(job.tags, q.tag)) return false;
  const needle = q.q.toLowerCase();
  return !needle || job.id.toLowerCase().includes(needle) ||
    job.name.toLowerCase().includes(needle);
}

/** What a batch did to the rows. */
export interface RowsChange<R extends Rows> {
  rows: R;
  /** Rows replaced by newer news. */
  updated: string[];
  /** New jobs added at the end of the view. */
  appended: string[];
  /** New matching jobs that belong on another page or in another order. */
  elsewhere: string[];
  /** Jobs that neither are shown nor are new: later news of them can be skipped. */
  ignored: string[];
}

/**
 * Applies a batch to the table's rows. A shown job is replaced; a deleted
 * one is removed; a job created after `since` that matches the filters is
 * appended when the view is the last page in creation order with room
 * left, else counted as elsewhere.
 *
 * @example
 * ```ts
 * const { rows, appended } = applyToRows(current, batch, Date.parse(props.since));
 * ```
 */
export function applyToRows<R extends Rows>(
  before: R,
  batch: Batch,
  since: number,
): RowsChange<R> {
  const shown = new Set(before.jobs.map((j) => j.id));
  const change: RowsChange<R> = {
    rows: before,
    updated: [],
    appended: [],
    elsewhere: [],
    ignored: [],
  };
  const created: JobView[] = [];
  for (const [id, job] of batch.updated) {
    if (shown.has(id)) change.updated.push(id);
    else if (Date.parse(job.createdAt) >= since && matches(job, before.query)) {
      created.push(job);
    } else change.ignored.push(id);
  }
  if (!change.updated.length && !created.length && !batch.deleted.size) {
    return change;
  }
  let jobs = before.jobs.filter((j) => !batch.deleted.has(j.id));
  let total = before.total - (before.jobs.length - jobs.length);
  jobs = jobs.map((j) => batch.updated.get(j.id) ?? j);
  const q = before.query;
  const atEnd = q.sort === "createdAt" && q.order === "asc" &&
    q.offset + before.jobs.length >= before.total;
  for (const job of created) {
    if (atEnd && jobs.length < q.limit) {
      jobs = [...jobs, job];
      total++;
      change.appended.push(job.id);
    } else change.elsewhere.push(job.id);
  }
  change.rows = { ...before, jobs, total };
  return change;
}

/** A run list as far as it is loaded, and how many runs there are in all. */
export interface RunList {
  runs: RunView[];
  total: number;
}

/**
 * A row's history with a run added: a known run is replaced; a new one
 * goes on top, keeping the number shown (at least `page`), so a burst cannot
 * grow the list and "load more" still continues where it ends. A run older
 * than the newest shown is one the list will load in its turn.
 *
 * @example
 * ```ts
 * withRun({ runs: [], total: 0 }, run, 10); // { runs: [run], total: 1 }
 * ```
 */
export function withRun<H extends RunList>(
  h: H,
  run: RunView,
  page: number,
): H {
  if (h.runs.some((r) => r.id === run.id)) {
    return { ...h, runs: h.runs.map((r) => r.id === run.id ? run : r) };
  }
  if (h.runs.length && run.id < h.runs[0].id) return h;
  const runs = [run, ...h.runs].slice(0, Math.max(page, h.runs.length));
  return { ...h, runs, total: h.total + 1 };
}

/** The job page's page of runs: a status filter, where it starts, its size. */
export interface RunsPage {
  status: string;
  offset: number;
  limit: number;
}

/**
 * The job page's run list with new runs applied: a run shown is replaced;
 * a new one that fits the filter counts toward the total and, on the first
 * page, goes on top (the page keeps its size).
 *
 * @example
 * ```ts
 * withRunsInView(list, { status: "", offset: 0, limit: 20 }, batch.runs); // { runs, added }
 * ```
 */
export function withRunsInView(
  shown: RunView[],
  page: RunsPage,
  runs: RunView[],
): { runs: RunView[]; added: number } {
  let list = shown, added = 0;
  for (const r of runs) {
    if (list.some((x) => x.id === r.id)) {
      list = list.map((x) => x.id === r.id ? r : x);
    } else if (
      (!page.status || r.status === page.status) &&
      !(list.length && r.id < list[0].id)
    ) {
      added++;
      if (page.offset === 0) list = [r, ...list].slice(0, page.limit);
    }
  }
  return { runs: list, added };
}
