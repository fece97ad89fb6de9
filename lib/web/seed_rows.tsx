/**
 * The seed's HTML fragments, for its aliases: job table rows
 * (`GET /jobs/get-table-rows`) and run rows (`GET /jobs/results/:id`). The
 * seed's page swapped these into its table; scripts built on it still can.
 *
 * @example
 * ```ts
 * const html = jobRows(manager.list().jobs);
 * ```
 * @module
 */
import { renderToString } from "preact-render-to-string";
import { StatusBadge } from "@/components/StatusBadge.tsx";
import type { JobView, RunView } from "../jobpro/mod.ts";
import { utc } from "../format.ts";

/**
 * One `<tr>` per job: name, id, frequency (its English description as a
 * tooltip), status, created, updated.
 *
 * @example
 * ```ts
 * jobRows([job]); // '<tr id="job-a" data-id="a">...'
 * ```
 */
export function jobRows(jobs: JobView[]): string {
  return renderToString(
    <>
      {jobs.map((job) => (
        <tr id={`job-${job.id}`} data-id={job.id} key={job.id}>
          <td class="name">{job.name}</td>
          <td class="id">
            <code>{job.id}</code>
          </td>
          <td class="frequency" title={job.scheduleText}>
            {job.schedule || "manual"}
          </td>
          <td class="status">
            <StatusBadge status={job.status} />
          </td>
          <td class="created">{utc(job.createdAt)}</td>
          <td class="updated">{utc(job.updatedAt)}</td>
        </tr>
      ))}
    </>,
  );
}

/**
 * One `<tr>` per run (number, start, duration in ms, status, error), then a
 * "load more" row when runs remain: `(shown / total)`.
 *
 * @example
 * ```ts
 * runRows("a", runs, { offset: 0, total: 37 });
 * ```
 */
export function runRows(
  jobId: string,
  runs: RunView[],
  page: { offset: number; total: number },
): string {
  const shown = page.offset + runs.length;
  const more = `/jobs/results/${encodeURIComponent(jobId)}?offset=${shown}`;
  return renderToString(
    <>
      {runs.map((r) => (
        <tr class="run" data-run={r.id} key={r.id}>
          <td>#{r.id}</td>
          <td>{utc(r.startedAt)}</td>
          <td>{r.durationMs === null ? "–" : `${r.durationMs} ms`}</td>
          <td>
            <StatusBadge status={r.status} />
          </td>
          <td>{r.error ?? ""}</td>
        </tr>
      ))}
      {shown < page.total && (
        <tr class="load-more">
          <td colSpan={5}>
            <a href={more} data-offset={shown}>
              Load more ({shown} / {page.total})
            </a>
          </td>
        </tr>
      )}
    </>,
  );
}
