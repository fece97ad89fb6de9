import type { JobView, RunView } from "@/lib/jobpro/runtime.ts";

/** A job that chains to this one, and on which outcome. */
export interface Upstream {
  jobId: string;
  on: "success" | "failure";
}

const jobHref = (id: string) => `/jobs/${encodeURIComponent(id)}`;

/** Job links, comma separated; "none" when there are none. */
function JobLinks({ ids, label }: { ids: string[]; label: string }) {
  if (!ids.length) return <span class="muted">none</span>;
  return (
    <ul class="chain-links" aria-label={label}>
      {ids.map((id) => (
        <li key={id}>
          <a href={jobHref(id)}>{id}</a>
        </li>
      ))}
    </ul>
  );
}

/**
 * A job's chains as rows of its definition list: the jobs whose runs start
 * it ("Runs after"), and those its own runs start on success and on
 * failure, each a link to its page.
 */
export function JobChains(
  { job, upstream }: { job: JobView; upstream: Upstream[] },
) {
  const after = (on: Upstream["on"]) =>
    upstream.filter((u) => u.on === on).map((u) => u.jobId);
  return (
    <>
      <dt>Runs after</dt>
      <dd class="chain-upstream">
        {upstream.length
          ? (
            <>
              {after("success").length > 0 && (
                <span>
                  success of{" "}
                  <JobLinks
                    ids={after("success")}
                    label="Runs after success of"
                  />
                </span>
              )}
              {after("failure").length > 0 && (
                <span>
                  failure of{" "}
                  <JobLinks
                    ids={after("failure")}
                    label="Runs after failure of"
                  />
                </span>
              )}
            </>
          )
          : <span class="muted">no other job</span>}
      </dd>
      <dt>On success runs</dt>
      <dd class="chain-success">
        <JobLinks ids={job.onSuccess ?? []} label="On success runs" />
      </dd>
      <dt>On failure runs</dt>
      <dd class="chain-failure">
        <JobLinks ids={job.onFailure ?? []} label="On failure runs" />
      </dd>
    </>
  );
}

/** Where a chained run's parent run lives (its job's page, `?run=`), or null. */
export function parentHref(run: RunView): string | null {
  if (run.parentJobId == null || run.parentRunId == null) return null;
  return `${jobHref(run.parentJobId)}?run=${run.parentRunId}`;
}

/** A link to a chained run's parent run: "a #12". */
export function ParentRunLink({ run }: { run: RunView }) {
  const href = parentHref(run);
  if (!href) return null;
  return (
    <a
      class="parent-run"
      href={href}
      title="The run whose end started this one"
    >
      {run.parentJobId} #{run.parentRunId}
    </a>
  );
}
