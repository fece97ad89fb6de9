import { page, prefersHtml } from "fresh";
import { jobQuery, json, readJson } from "@/lib/api.ts";
import { define } from "@/utils.ts";
import JobsTable from "@/islands/JobsTable.tsx";

/**
 * GET: the dashboard for a browser, the job list `{ jobs, total }` for JSON.
 * POST: creates a job from JSON → 201 with the job and a Location header.
 */
export const handler = define.handlers({
  GET(ctx) {
    const query = jobQuery(ctx.url);
    const list = ctx.state.manager.list(query);
    if (!prefersHtml(ctx.req)) {
      return json({ ...list, offset: query.offset, limit: query.limit });
    }
    return page(list);
  },
  async POST(ctx) {
    const job = await ctx.state.manager.create(await readJson(ctx.req));
    return json(job, 201, { location: `/jobs/${encodeURIComponent(job.id)}` });
  },
});

export default define.page<typeof handler>(function JobsPage({ data }) {
  return (
    <main class="page">
      <header class="page-head">
        <h1>Jobs</h1>
        <p class="muted">
          Live: rows update as jobs run. JSON at the same URL with Accept:
          application/json.
        </p>
      </header>
      <JobsTable jobs={data.jobs} total={data.total} />
    </main>
  );
});
