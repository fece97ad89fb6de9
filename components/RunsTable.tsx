import type { RunView } from "@/lib/jobpro/runtime.ts";
import { duration } from "@/lib/format.ts";
import { nodeLabel, showsNode } from "@/lib/dashboard/run_nodes.ts";
import { StatusBadge } from "./StatusBadge.tsx";
import { LocalTime } from "./Time.tsx";
import { ParentRunLink } from "./JobChains.tsx";

/** Where a run's detail lives: the job page with `?run=`. */
export function runHref(run: Pick<RunView, "id" | "jobId">): string {
  return `/jobs/${encodeURIComponent(run.jobId)}?run=${run.id}`;
}

/**
 * A job's runs, newest first: number, start, duration, status, message or
 * error, attempt, and on a cluster the node that ran each (the column only
 * when some run names its node). `onSelect` turns the run links into
 * in-page selection; with `onCancel`, a running run has a Cancel button.
 */
export function RunsTable(
  { runs, caption, selected, onSelect, href = runHref, onCancel, cancelling }: {
    runs: RunView[];
    caption: string;
    selected?: number | null;
    onSelect?: (run: RunView) => void;
    href?: (run: RunView) => string;
    /** Asks to cancel a running run (the caller confirms first). */
    onCancel?: (run: RunView) => void;
    /** The run whose cancel is in flight: its button shows busy. */
    cancelling?: number | null;
  },
) {
  const withNode = showsNode(runs);
  return (
    <table class="runs-table">
      <caption class="sr-only">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Started</th>
          <th scope="col">Duration</th>
          <th scope="col">Status</th>
          <th scope="col">Message or error</th>
          <th scope="col">Attempt</th>
          {withNode && <th scope="col">Node</th>}
        </tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr
            key={run.id}
            id={`run-${run.id}`}
            class={run.id === selected ? "selected" : undefined}
            aria-current={run.id === selected ? "true" : undefined}
          >
            <td data-label="Run">
              <a
                href={href(run)}
                class="run-link"
                onClick={onSelect &&
                  ((e) => {
                    if (e.ctrlKey || e.metaKey || e.shiftKey) return;
                    e.preventDefault();
                    onSelect(run);
                  })}
              >
                #{run.id}
              </a>
            </td>
            <td data-label="Started">
              <LocalTime iso={run.startedAt} />
            </td>
            <td data-label="Duration" class="num">
              {run.status === "running" || run.status === "queued"
                ? "…"
                : duration(run.durationMs)}
            </td>
            <td data-label="Status">
              <StatusBadge status={run.status} />
              {onCancel &&
                (run.status === "running" || run.status === "queued") && (
                <button
                  type="button"
                  class="btn btn-cancel-run"
                  disabled={cancelling === run.id}
                  aria-busy={cancelling === run.id ? "true" : undefined}
                  aria-label={`Cancel run #${run.id}`}
                  onClick={() => onCancel(run)}
                >
                  Cancel
                </button>
              )}
            </td>
            <td data-label="Message or error" class="run-message">
              {run.error
                ? <span class="error-text" title={run.error}>{run.error}</span>
                : <span title={run.message ?? ""}>{run.message ?? ""}</span>}
            </td>
            <td data-label="Attempt" class="num">
              {run.attempt}
              {run.trigger !== "schedule" && (
                <span class="muted trigger">{run.trigger}</span>
              )}
              {run.parentRunId != null && (
                <>
                  {" "}
                  <ParentRunLink run={run} />
                </>
              )}
            </td>
            {withNode && (
              <td data-label="Node" class="run-node">{nodeLabel(run)}</td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
