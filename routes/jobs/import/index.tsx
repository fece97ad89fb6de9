import { page } from "fresh";
import { Head } from "fresh/runtime";
import { define } from "@/utils.ts";
import ImportJobs from "@/islands/ImportJobs.tsx";

/**
 * GET: the import and export page: a link that downloads every job's
 * definition (`/jobs/export?download=1`), and a form that previews and
 * applies a jobs document or a crontab (`POST /jobs/apply`, `POST
 * /jobs/import/crontab`).
 */
export const handler = define.handlers({
  GET(ctx) {
    return page({
      allowShell: ctx.state.config.allowShell,
      canWrite: ctx.state.access === "full",
    });
  },
});

export default define.page<typeof handler>(function ImportPage({ data }) {
  return (
    <main class="page" id="main">
      <Head>
        <title>Import and export · jobpro</title>
      </Head>
      <div class="page-head">
        <h1>Import and export</h1>
        <a class="btn" href="/jobs/export?download=1" download="jobs.json">
          Export all jobs (jobs.json)
        </a>
      </div>
      <p class="hint">
        The export holds every job's definition, the document apply takes
        (<code>deno task jobs export</code> and{" "}
        <code>deno task jobs apply -f jobs.json</code> do the same).
      </p>
      <ImportJobs allowShell={data.allowShell} canWrite={data.canWrite} />
    </main>
  );
});
