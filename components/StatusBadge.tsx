import type { JobStatus } from "@/lib/jobpro/runtime.ts";

/** A job or run status as a colored badge, in the seed's colors. */
export function StatusBadge(
  { status }: {
    status:
      | JobStatus
      | "complete"
      | "failed"
      | "cancelled"
      | "running"
      | "queued";
  },
) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}

/** How many of a job's runs wait `queued` for a concurrency slot. */
export function QueuedBadge({ count }: { count: number }) {
  return (
    <span
      class="badge badge-queued"
      title="Runs waiting for a concurrency slot (a key's limit or the server's cap)"
    >
      {count} queued
    </span>
  );
}
