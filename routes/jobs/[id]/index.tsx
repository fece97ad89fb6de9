import { page, prefersHtml } from "fresh";
import { json, readJson } from "@/lib/api.ts";
import { define } from "@/utils.ts";

import { StatusBadge } from "@/components/StatusBadge.tsx";
import { duration, utc } from "@/lib/format.ts";

/**
 * GET: the job's page for a browser, the job as JSON otherwise.
 * PATCH: edits the job's definition and re-plans its next run.
 * DELETE: deletes the job and its history → 204.
 */
export const handler = define.handlers({
  async GET(ctx) {
    const manager = ctx.state.manager;
    const job = manager.get(ctx.params.id);
    if (!prefersHtml(ctx.req)) return json(job);
    const { runs, total } = await manager.runs(job.id, { limit: 20 });
    return page({ job, runs, total });
  },
  async PATCH(ctx) {
    return json(
      await ctx.state.manager.update(ctx.params.id, await readJson(ctx.req)),
    );
  },
  async DELETE(ctx) {
    await ctx.state.manager.delete(ctx.params.id);
    return new Response(null, { status: 204 });
  },
});

export default define.page<typeof handler>(function JobPage({ data }) {
  const { job, runs, total } = data;
  return (
    <main class="page">
      <p>
        <a href="/jobs">← All jobs</a>
      </p>
      <header class="page-head">
        <h1>{job.name}</h1>
        <StatusBadge status={job.status} />
      </header>
      <dl class="definition">
        <dt>Id</dt>
        <dd>
          <code>{job.id}</code>
        </dd>
        <dt>Type</dt>
        <dd>{job.type}</dd>
        <dt>Schedule</dt>
        <dd>
          <code>{job.schedule || "manual"}</code> — {job.description}
          {job.timezone ? ` (${job.timezone})` : ""}
        </dd>
        <dt>Next run</dt>
        <dd>{job.nextRunAt ? utc(job.nextRunAt) : "–"}</dd>
        <dt>Action</dt>
        <dd>
          <code>{JSON.stringify(job.action)}</code>
        </dd>
        <dt>Runs</dt>
        <dd>
          {job.runCount} ({job.successRate === null
            ? "no runs yet"
            : `${job.successRate}% succeeded`})
        </dd>
      </dl>
      <h2>Recent runs ({runs.length} of {total})</h2>
      <table class="runs-table">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Trigger</th>
            <th scope="col">Started (UTC)</th>
            <th scope="col">Duration</th>
            <th scope="col">Status</th>
            <th scope="col">Message or error</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id}>
              <td>#{r.id} (attempt {r.attempt})</td>
              <td>{r.trigger}</td>
              <td>{utc(r.startedAt)}</td>
              <td>{duration(r.durationMs)}</td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td>{r.error ?? r.message ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
});
