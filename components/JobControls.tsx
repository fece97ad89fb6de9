import { canTransition, type JobView } from "@/lib/jobpro/runtime.ts";

/** What the buttons ask the server to do (`run` is "run now"). */
export type JobOp = "start" | "stop" | "pause" | "resume" | "run";

const LABELS: Record<JobOp, string> = {
  start: "Start",
  stop: "Stop",
  pause: "Pause",
  resume: "Resume",
  run: "Run now",
};

/**
 * The operations a job's status allows, from the engine's own transition
 * table, plus run now, which is always allowed.
 *
 * @example
 * ```ts
 * jobOps({ type: "periodic", status: "paused" }); // ["resume", "stop", "run"]
 * ```
 */
export function jobOps(
  job: Pick<JobView, "type" | "status"> & { action?: JobView["action"] },
): JobOp[] {
  const ops = (["start", "resume", "pause", "stop"] as const).filter((op) =>
    canTransition(job, op)
  );
  // A heartbeat job runs nothing: its runs come from pings.
  return job.action?.type === "heartbeat" ? ops : [...ops, "run"];
}

/** The past tense, for the announcement after an operation. */
export const DONE: Record<JobOp | "delete", string> = {
  start: "started",
  stop: "stopped",
  pause: "paused",
  resume: "resumed",
  run: "run started",
  delete: "deleted",
};

/**
 * A job's buttons by status: start, stop, pause, resume, run now, then edit
 * and delete. Each is named with the job, for screen readers in a long table.
 */
export function JobControls(
  { job, busy, onOp, onEdit, onDelete }: {
    job: JobView;
    /** The operation in flight, if any: its button shows busy, the others wait. */
    busy: JobOp | "delete" | null;
    onOp(op: JobOp): void;
    onEdit(): void;
    onDelete(): void;
  },
) {
  return (
    <div class="controls" role="group" aria-label={`Actions for ${job.name}`}>
      {jobOps(job).map((op) => (
        <button
          type="button"
          key={op}
          class={`btn btn-${op}`}
          disabled={busy !== null}
          aria-busy={busy === op ? "true" : undefined}
          aria-label={`${LABELS[op]} ${job.name}`}
          onClick={() => onOp(op)}
        >
          {LABELS[op]}
        </button>
      ))}
      <button
        type="button"
        class="btn btn-edit"
        disabled={busy !== null}
        aria-label={`Edit ${job.name}`}
        onClick={onEdit}
      >
        Edit
      </button>
      <button
        type="button"
        class="btn btn-delete"
        disabled={busy !== null}
        aria-busy={busy === "delete" ? "true" : undefined}
        aria-label={`Delete ${job.name}`}
        onClick={onDelete}
      >
        Delete
      </button>
    </div>
  );
}
